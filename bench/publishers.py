"""Measure 3: many publishers approve drafts of one package at the same moment.

Each publisher is its own GitStorage with its own mirror (as separate operator replicas
would be), all pushing to one repository behind lanai.local.gitserver. They start
together at a barrier; each approves its own draft. Afterwards the remote must hold
tags v1..vN with no gap or duplicate, each naming a different workspace, and no
draft branch left over: zero duplicate revisions, zero lost writes.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

from bench import stats
from lanai.git import commitmsg, probe, storage
from lanai.local import gitserver
from tests.support import guards

USER, PASSWORD = "publisher", "publisher-pass"
PACKAGE = "blueprints/shared"
KPTFILE = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: shared\n"
AUTHOR = storage.Signature("Bench", "bench@lanai.invalid")


def run(publishers: int, workdir: Path, report: stats.Report) -> None:
    server = gitserver.GitServer(
        workdir / "git",
        gitserver.Credentials(users={USER: PASSWORD}),
    )
    server.start()
    try:
        _run(server, publishers, workdir, report)
    finally:
        server.stop()


def _run(server: gitserver.GitServer, publishers: int, workdir: Path, report: stats.Report) -> None:
    url = server.create_repository("shared")
    auth = probe.RemoteAuth(USER, PASSWORD)
    guard = guards.local()
    setup = storage.GitStorage(url, "main", "", workdir / "setup", auth, guard=guard)
    setup.fetch()
    for i in range(publishers):
        files = {"Kptfile": KPTFILE, "data.yaml": f"publisher: {i}\n".encode()}
        setup.create_draft(PACKAGE, f"ws{i:02d}", files, {"task": {"type": "init"}}, AUTHOR)
    mirrors = []
    for i in range(publishers):
        git = storage.GitStorage(url, "main", "", workdir / f"m{i:02d}", auth, guard=guard)
        git.fetch()
        mirrors.append(git)

    barrier = threading.Barrier(publishers)
    latencies: dict[int, float] = {}
    results: dict[int, int] = {}
    errors: dict[int, str] = {}

    def publish(i: int) -> None:
        barrier.wait()
        started = time.perf_counter()
        try:
            results[i] = mirrors[i].approve(PACKAGE, f"ws{i:02d}", AUTHOR).revision
        except Exception as error:
            errors[i] = f"{type(error).__name__}: {error}"
        latencies[i] = (time.perf_counter() - started) * 1000

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(publishers)]
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall

    refs = _remote_refs(server.repository_path("shared"))
    tags = {name: oid for name, oid in refs.items() if name.startswith(f"refs/tags/{PACKAGE}/v")}
    numbers = sorted(int(name.rsplit("/v", 1)[1]) for name in tags)
    workspaces = [_workspace(server.repository_path("shared"), oid) for oid in tags.values()]
    leftover = [
        name for name in refs if name.startswith(("refs/heads/drafts/", "refs/heads/proposed/"))
    ]
    duplicates = (len(numbers) - len(set(numbers))) + (len(workspaces) - len(set(workspaces)))
    duplicates += len(results) - len(set(results.values()))
    lost = publishers - len(set(workspaces))
    for i, message in sorted(errors.items())[:5]:
        print(f"    publisher {i} failed: {message}")
    report.add_percentiles(
        f"{publishers} concurrent approvals: latency", list(latencies.values()), "ms"
    )
    report.add(f"{publishers} concurrent approvals: wall time", wall, "s")
    report.add(
        f"{publishers} concurrent approvals: failed approve() calls", len(errors), "calls", 0
    )
    report.add(
        f"{publishers} concurrent approvals: duplicate revisions", duplicates, "revisions", 0
    )
    report.add(
        f"{publishers} concurrent approvals: lost writes",
        lost + len(leftover),
        "approvals",
        0,
        note=f"(tags v{numbers[0] if numbers else 0}..v{numbers[-1] if numbers else 0}, gapless: "
        f"{numbers == list(range(1, publishers + 1))}, leftover drafts: {len(leftover)})",
    )


def _remote_refs(path: Path) -> dict[str, str]:
    out = subprocess.run(
        ["git", "-C", str(path), "for-each-ref", "--format=%(refname) %(objectname)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def _workspace(path: Path, oid: str) -> str:
    message = subprocess.run(
        ["git", "-C", str(path), "log", "-1", "--format=%B", oid],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.dumps(commitmsg.parse(message).get("workspaceName"))
