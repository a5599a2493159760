"""Several people editing one Draft's files at once, and what they leave behind.

Editors act as themselves (impersonation, each bound to the example author role), each
patch carries a token unique to its editor and round, and a watch records every version
the object passes through, so a test can tell the last write of each file and see
whether older content ever came back.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tests.support.cluster import Cluster, condition
from tests.support.team import AUTHOR, Team
from tests.support.waiting import wait_for

EDITORS = (AUTHOR, "carol@example.com", "dave@example.com", "erin@example.com")
SHARED = "shared.yaml"
"""The file every editor writes in every round."""
TOKEN = re.compile(r"^  token: (\S+)$", re.MULTILINE)
SETTLE_TIMEOUT = 180.0


def own_file(editor: int) -> str:
    """The file only editor ``editor`` writes."""
    return f"editor-{editor}.yaml"


def configmap(name: str, token: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  token: {token}\n"


def token_of(text: str | None) -> str | None:
    found = TOKEN.search(text or "")
    return found.group(1) if found else None


def bind_editors(team: Team, editors: tuple[str, ...] = EDITORS) -> None:
    """Give each editor the author role in the team's namespace."""
    for user in editors:
        binding = f"author-{user.split('@')[0]}"
        if team.cluster.get("rolebinding", binding, team.namespace) is None:
            team.cluster.kubectl(
                "create", "rolebinding", "-n", team.namespace, binding,
                "--clusterrole=lanai-package-author", f"--user={user}",
            )  # fmt: skip


@dataclass(frozen=True)
class Edit:
    """One accepted patch: who, which round, the token, the generation it made."""

    editor: int
    round: int
    token: str
    generation: int
    files: tuple[str, ...]


@dataclass
class Session:
    """Editors patching one resources object; every accepted patch is logged."""

    team: Team
    name: str
    editors: tuple[str, ...] = EDITORS
    edits: list[Edit] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def patch(self, editor: int, round_: int, files: dict[str, str] | None = None) -> Edit:
        """Editor ``editor`` writes its own file and the shared one (a merge patch)."""
        token = f"e{editor}r{round_}"
        if files is None:
            files = {own_file(editor): configmap(f"editor-{editor}", token)}
            files[SHARED] = configmap("shared", token)
        done = self.team.cluster.kubectl(
            "patch", "-n", self.team.namespace, "prr", self.name, "--type=merge",
            "-p", json.dumps({"spec": {"resources": files}}), "-o", "json",
            user=self.editors[editor],
        )  # fmt: skip
        made = Edit(
            editor, round_, token, json.loads(done.stdout)["metadata"]["generation"], tuple(files)
        )
        with self._lock:
            self.edits.append(made)
        return made

    def round(self, round_: int, editors: range | None = None) -> None:
        """Every editor patches at the same moment (as near as processes allow)."""
        who = list(editors if editors is not None else range(len(self.editors)))
        start = threading.Barrier(len(who))

        def one(editor: int) -> Edit:
            start.wait()
            return self.patch(editor, round_)

        with ThreadPoolExecutor(len(who)) as pool:
            for future in [pool.submit(one, editor) for editor in who]:
                future.result()

    def last_writes(self) -> dict[str, str]:
        """File → token of the last accepted write (the highest generation)."""
        last: dict[str, tuple[int, str]] = {}
        for edit in self.edits:
            for path in edit.files:
                if path not in last or edit.generation > last[path][0]:
                    last[path] = (edit.generation, edit.token)
        return {path: token for path, (_, token) in last.items()}


class Watch:
    """``kubectl get -w`` on one object: every version it passes through, in order."""

    def __init__(self, cluster: Cluster, kind: str, name: str, namespace: str) -> None:
        self.versions: list[tuple[float, dict[str, Any]]] = []
        self._process = subprocess.Popen(
            [
                "kubectl", f"--kubeconfig={cluster.kubeconfig}", "get", kind, name,
                "-n", namespace, "--watch", "--output-watch-events", "-o", "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_for(lambda: self.versions, timeout=60, what=f"the watch on {kind} {name}")

    def _read(self) -> None:
        decoder = json.JSONDecoder()
        buffer = ""
        assert self._process.stdout is not None
        for line in self._process.stdout:
            buffer += line
            while buffer.strip():
                try:
                    event, end = decoder.raw_decode(buffer.lstrip())
                except ValueError:
                    break
                buffer = buffer.lstrip()[end:]
                if isinstance(event, dict) and isinstance(event.get("object"), dict):
                    self.versions.append((time.monotonic(), event["object"]))

    def version(self, resource_version: str, timeout: float = 60) -> dict[str, Any]:
        """The version with ``resource_version``, once the watch has delivered it."""

        def seen() -> dict[str, Any] | None:
            for _when, obj in list(self.versions):
                if obj["metadata"].get("resourceVersion") == resource_version:
                    return obj
            return None

        found: dict[str, Any] = wait_for(
            seen, timeout=timeout, what=f"the watch to deliver version {resource_version}"
        )
        return found

    def stop(self) -> str:
        """Stop watching; the watch's own errors, if it ended by itself."""
        ended = self._process.poll() is not None
        self._process.terminate()
        _out, err = self._process.communicate(timeout=30)
        self._reader.join(timeout=30)
        return err if ended else ""


def reverted(versions: list[tuple[float, dict[str, Any]]]) -> list[str]:
    """Where a file's content went back to a token it had left (older content returning
    after newer content was seen): one line per such return."""
    seen: dict[str, list[str]] = {}
    found = []
    for _when, obj in versions:
        resources = (obj.get("spec") or {}).get("resources") or {}
        generation = obj["metadata"].get("generation")
        for path, text in resources.items():
            token = token_of(text)
            if token is None:
                continue
            history = seen.setdefault(path, [])
            if history and history[-1] == token:
                continue
            if token in history:
                found.append(f"{path}: {token} came back at generation {generation} ({history})")
            history.append(token)
    return found


def branch_files(team: Team, ref: str, package: str) -> dict[str, str]:
    """The package's files on ``ref``, read from the Git server's disk."""
    paths = [p for p in team.files(ref) if p.startswith(f"{package}/")]
    return {p.removeprefix(f"{package}/"): team.show(ref, p) for p in paths}


def commits(team: Team, since: str, ref: str) -> list[tuple[str, str]]:
    """(author email, subject) of each commit on ``ref`` after ``since``."""
    done = subprocess.run(
        ["git", "-C", str(team.git_dir), "log", "--format=%ae%x09%s", f"{since}..{ref}"],
        capture_output=True,
        text=True,
        check=True,
    )
    pairs = (line.split("\t", 1) for line in done.stdout.splitlines())
    return [(pair[0], pair[1]) for pair in pairs]


def changes(team: Team, since: str, ref: str) -> list[tuple[str, set[str]]]:
    """(author email, files changed) of each commit on ``ref`` after ``since``."""
    done = subprocess.run(
        [
            "git", "-C", str(team.git_dir), "log", "--format=@%ae", "--name-only",
            f"{since}..{ref}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    found: list[tuple[str, set[str]]] = []
    for line in done.stdout.splitlines():
        if line.startswith("@"):
            found.append((line[1:], set()))
        elif line.strip() and found:
            found[-1][1].add(line.strip())
    return found


def settled(team: Team, name: str, timeout: float = SETTLE_TIMEOUT) -> dict[str, Any]:
    """Wait until the last edit is committed: the resources object acted on, both
    objects Ready; returns the resources object."""

    def probe() -> dict[str, Any] | None:
        resources = team.get(name, "prr")
        revision = team.get(name)
        if not resources or not revision:
            return None
        generation = resources["metadata"]["generation"]
        if (resources.get("status") or {}).get("observedGeneration") != generation:
            return None
        ready = condition(resources, "Ready")
        if not ready or ready["status"] != "True" or ready.get("observedGeneration") != generation:
            return None
        shown = condition(revision, "Ready")
        return resources if shown and shown["status"] == "True" else None

    found: dict[str, Any] = wait_for(
        probe, timeout=timeout, interval=0.2, what=f"the edits of {name} to be committed"
    )
    return found
