"""What goes wrong in and around Git stays where it happened.

A malformed Kptfile marks its own revisions only; Git servers that never answer never
hold up other Repositories; and what Git holds comes back whole after a re-sync, a
re-registration and an operator restart, because Git is the source of truth.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanai.local import gitserver
from tests.support import gitwork, manifests
from tests.support.cluster import Cluster, condition
from tests.support.operator import OperatorProcess
from tests.support.team import REPO, Team, init_spec, make_team, publish
from tests.support.waiting import wait_for


def test_a_malformed_kptfile_marks_only_its_own_revisions(
    cluster: Cluster,
    namespace: str,
    git_server: gitserver.GitServer,
    operator: OperatorProcess,
    tmp_path: Path,
) -> None:
    url = git_server.create_repository(f"{namespace}-mixed")
    packages = {
        "good": {"Kptfile": gitwork.KPTFILE.format(name="good")},
        "bad": {"Kptfile": "kind: Kptfile\nmetadata: [unclosed\n"},
    }
    gitwork.seed(url, tmp_path / "work", packages, ("good/v1", "bad/v1"))
    manifests.register(cluster, namespace, "mixed", url)

    names = {"mixed.good.v1", "mixed.good.main", "mixed.bad.v1", "mixed.bad.main"}
    found = wait_for(
        lambda: (
            (r := manifests.revisions(cluster, namespace))
            and set(r) == names
            and all(condition(o, "Ready") for o in r.values())
            and r
        ),
        what=f"{sorted(names)} with their Ready condition",
    )
    for name in ("mixed.bad.v1", "mixed.bad.main"):
        ready = condition(found[name], "Ready")
        assert ready is not None
        assert (ready["status"], ready["reason"]) == ("False", "Error")
        assert "Kptfile" in ready["message"]
    for name in ("mixed.good.v1", "mixed.good.main"):
        assert condition(found[name], "Ready")["status"] == "True"  # type: ignore[index]
    assert found["mixed.good.v1"]["metadata"]["labels"]["porch.kpt.dev/latest-revision"] == "true"
    # The Repository's status is written when its sync is done, after the objects.
    repo = wait_for(
        lambda: (
            (r := cluster.get("repository", "mixed", namespace))
            and "packageCount" in (r.get("status") or {})
            and r
        ),
        what="the Repository's status after its sync",
    )
    assert condition(repo, "Ready")["status"] == "True"  # type: ignore[index]
    assert repo["status"]["packageCount"] == 2


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP listener on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


GIT_TIMEOUT = 30
"""Long enough that the healthy Repository's work ends while the silent servers still
hold the operator's threads, even on a busy machine; the order is what the test checks."""


def test_git_servers_that_never_answer_never_delay_other_repositories(
    cluster: Cluster,
    namespace: str,
    git_server: gitserver.GitServer,
    operator: OperatorProcess,
    operator_factory: type[OperatorProcess],
    silent_server: str,
) -> None:
    operator.stop()
    impatient = operator_factory(extra_args=[f"--git-timeout={GIT_TIMEOUT}"]).start()
    # More hanging Repositories than the operator has worker threads.
    stuck = [f"stuck{index}" for index in range(12)]
    try:
        for index, name in enumerate(stuck):
            url = f"{silent_server}/r{index}.git"
            cluster.apply(manifests.repository(name, namespace, url, None))
        team = make_team(cluster, namespace, git_server)
        draft = f"{REPO}.quick.v1"
        team.create(draft, init_spec("quick", "v1"))
        team.settled(draft)
        asked = manifests.sync_now(cluster, namespace, REPO)
        wait_for(
            lambda: manifests.synced_since(cluster, namespace, REPO, asked),
            timeout=15,
            what="an extra sync of the healthy Repository",
        )
        # All of it happened while every silent server still had the operator waiting.
        assert not any(manifests.repository_ready(cluster, n, namespace, "False") for n in stuck)
        for name in stuck:
            failed = wait_for(
                lambda name=name: manifests.repository_ready(cluster, name, namespace, "False"),
                timeout=GIT_TIMEOUT + 60,
                what=f"{name} to report the silent server",
            )
            assert failed["reason"] == "Error"
            assert "did not answer" in failed["message"]
    finally:
        cluster.kubectl("delete", "-n", namespace, "repository", *stuck, "--wait=false")
        impatient.stop()
        operator.start()


def test_revisions_come_back_after_resync_reregistration_and_restart(
    team: Team, operator: OperatorProcess
) -> None:
    v1 = f"{REPO}.app.v1"
    team.create(v1, init_spec("app", "v1"))
    publish(team, v1)
    draft = f"{REPO}.app.next"
    team.create(draft, {**init_spec("app", "next"), "source": {"copyFrom": {"name": v1}}})
    team.settled(draft)
    placeholder = f"{REPO}.app.main"
    names = {v1, draft, placeholder}

    def shown() -> dict[str, tuple[object, ...]] | None:
        objects = manifests.revisions(team.cluster, team.namespace)
        if set(objects) != names:
            return None
        facts = {
            name: (
                obj["spec"]["lifecycle"],
                (obj.get("status") or {}).get("revision"),
                (obj["metadata"].get("labels") or {}).get("porch.kpt.dev/latest-revision"),
                (obj.get("status") or {}).get("publishedBy"),
                ((obj.get("status") or {}).get("selfLock") or {}).get("git", {}).get("commit"),
            )
            for name, obj in objects.items()
        }
        # every revision carries its latest-revision label (a new Draft gets "false" on the
        # sync after its creation, as Porch's repository sync labels it)
        return facts if all(fact[4] and fact[2] for fact in facts.values()) else None

    before = wait_for(shown, what="the three revisions with their status")
    assert before[v1][:3] == ("Published", 1, "true")
    assert before[placeholder][:2] == ("Published", -1)
    assert before[draft][:2] == ("Draft", None)
    refs = team.refs()

    asked = manifests.sync_now(team.cluster, team.namespace, REPO)
    wait_for(lambda: manifests.synced_since(team.cluster, team.namespace, REPO, asked), what="sync")
    assert shown() == before

    repository = team.cluster.get("repository", REPO, team.namespace)
    assert repository is not None
    team.cluster.kubectl("delete", "-n", team.namespace, "repository", REPO)
    wait_for(
        lambda: not manifests.revisions(team.cluster, team.namespace), what="the objects to go"
    )
    assert team.refs() == refs  # Git keeps everything
    body = manifests.repository(REPO, team.namespace, team.url, "git-auth")
    team.cluster.apply(body)
    wait_for(lambda: shown() == before, timeout=60, what="the same revisions back")

    operator.restart()
    asked = manifests.sync_now(team.cluster, team.namespace, REPO)
    wait_for(lambda: manifests.synced_since(team.cluster, team.namespace, REPO, asked), what="sync")
    assert shown() == before
    assert team.refs() == refs
    # Numbering carries on from what Git holds.
    published = publish(team, draft)
    assert published["status"]["revision"] == 2
