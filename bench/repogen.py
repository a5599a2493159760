"""A bare Git repository with many published revisions, made in seconds.

Pushing 10,000 revisions through the operator or the git CLI would take longer than the
benchmark itself, so the history is written as one ``git fast-import`` stream: for each
revision number, one approval commit per package (its Kptfile changes, its ``kpt:`` line
names package, workspace and number, as Lanai's own approvals do) and a tag
``<package>/v<N>`` on it. The main branch ends up holding every package, so a sync sees
``packages * revisions`` published revisions plus one branch revision per package.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

KPTFILE = """apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: {name}
  annotations:
    config.kubernetes.io/local-config: "true"
info:
  description: {name} revision {n}
"""
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  key: value
"""
EPOCH = 1_700_000_000


@dataclass(frozen=True)
class Shape:
    packages: int
    revisions_per_package: int

    @property
    def published(self) -> int:
        return self.packages * self.revisions_per_package

    @property
    def objects(self) -> int:
        """PackageRevision objects a sync creates: every tag plus the branch revision."""
        return self.published + self.packages

    @classmethod
    def for_revisions(cls, revisions: int, per_package: int = 10) -> Shape:
        per_package = min(per_package, max(1, revisions))
        return cls(max(1, revisions // per_package), per_package)


def package_name(i: int) -> str:
    return f"blueprints/p{i:04d}"


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def stream(shape: Shape) -> bytes:
    out: list[bytes] = []
    mark = 0
    for n in range(1, shape.revisions_per_package + 1):
        for i in range(shape.packages):
            mark += 1
            package = package_name(i)
            name = package.rsplit("/", 1)[-1]
            note = {
                "package": package,
                "workspaceName": f"v{n}",
                "revision": n,
                "approvedBy": "bench",
                "task": {"type": "approve"},
            }
            message = f"Approve {package} v{n}\n\nkpt:{json.dumps(note, sort_keys=True)}\n"
            when = EPOCH + mark
            out.append(b"commit refs/heads/main\nmark :%d\n" % mark)
            out.append(b"author Bench <bench@lanai.invalid> %d +0000\n" % when)
            out.append(b"committer Bench <bench@lanai.invalid> %d +0000\n" % when)
            out.append(_data(message))
            if mark > 1:
                out.append(b"from :%d\n" % (mark - 1))
            out.append(f"M 644 inline {package}/Kptfile\n".encode())
            out.append(_data(KPTFILE.format(name=name, n=n)))
            if n == 1:
                out.append(f"M 644 inline {package}/configmap.yaml\n".encode())
                out.append(_data(CONFIGMAP.format(name=name)))
            out.append(b"\n")
            out.append(f"reset refs/tags/{package}/v{n}\nfrom :{mark}\n\n".encode())
    return b"".join(out)


def create(path: Path, shape: Shape) -> Path:
    """A bare repository at ``path`` (served as-is by lanai.local.gitserver)."""
    subprocess.run(["git", "init", "--bare", "--quiet", "-b", "main", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "config", "http.receivepack", "true"], check=True)
    subprocess.run(
        ["git", "-C", str(path), "fast-import", "--quiet", "--force"],
        input=stream(shape),
        check=True,
    )
    # One pack, packed refs and a commit-graph, as a long-lived hosting server has them
    # (10,000 loose refs would make every ref advertisement cost the server ~0.3 s, and
    # without the graph each push's connectivity check parses 10,000 commits).
    subprocess.run(["git", "-C", str(path), "repack", "-adq"], check=True)
    subprocess.run(["git", "-C", str(path), "pack-refs", "--all"], check=True)
    subprocess.run(["git", "-C", str(path), "commit-graph", "write", "--reachable"], check=True)
    return path
