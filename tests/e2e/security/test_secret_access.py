"""Lanai reads a Secret only for a user who may read it (issue 13, item 1).

The attacks are made as the package-author role of config/rbac (alice), who may write
PackageRevisions but not read Secrets; the Secrets and the Git server are the admin's.
A small HTTP server records every request and Authorization header it receives, so
"no credential went out" is measured, not assumed.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lanai.local import gitserver
from tests.support import manifests
from tests.support.cluster import Cluster, condition
from tests.support.gitwork import GIT_PASSWORD
from tests.support.operator import OperatorProcess
from tests.support.team import AUTHOR, REPO, Team, init_spec
from tests.support.waiting import wait_for

SECRET = "prod-creds"
SECRET_PASSWORD = "s3cr3t-prod-password"
REQUESTED_BY = "lanai.porch.kpt.dev/requested-by"
REQUESTED_BY_GROUPS = "lanai.porch.kpt.dev/requested-by-groups"
CAROL = "carol@example.com"
"""May register Repositories in the namespace, but not read its Secrets."""


class _Recorder(http.server.ThreadingHTTPServer):
    requests: list[tuple[str, str | None]]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Recorder

    def do_GET(self) -> None:  # a challenge, so a client holding credentials would send them
        self.server.requests.append((self.path, self.headers.get("Authorization")))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="recorder"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    server = _Recorder(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _secret(team: Team) -> None:
    team.cluster.apply(
        manifests.basic_auth_secret(SECRET, team.namespace, "deploy-bot", SECRET_PASSWORD)
    )


def _clone_spec(package: str, url: str) -> dict[str, Any]:
    source = {"cloneFrom": {"type": "git", "git": {"repo": url, "ref": "main"}}}
    source["cloneFrom"]["git"]["secretRef"] = {"name": SECRET}
    return {**init_spec(package, "v1"), "source": source}


def _forbidden(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    ready = condition(obj, "Ready")
    return (
        ready if ready and ready["status"] == "False" and ready["reason"] == "Forbidden" else None
    )


def _no_secret_anywhere(team: Team, name: str, operator: OperatorProcess) -> None:
    shown = json.dumps([team.get(name), team.events(name)])
    assert SECRET_PASSWORD not in shown
    assert SECRET_PASSWORD not in operator.log()


def test_an_author_cannot_make_lanai_read_a_secret_the_author_cannot_read(
    team: Team, recorder: _Recorder, operator: OperatorProcess
) -> None:
    _secret(team)
    url = f"http://127.0.0.1:{recorder.server_address[1]}/private.git"
    name = f"{REPO}.stolen.v1"
    before = team.refs()
    team.create(name, _clone_spec("stolen", url), user=AUTHOR)

    ready = wait_for(lambda: _forbidden(team.get(name)), timeout=60, what="Forbidden")
    message = ready["message"]
    assert f'user "{AUTHOR}" may not get Secret "{SECRET}"' in message
    assert team.namespace in message
    assert "spec.source.cloneFrom.git.secretRef" in message
    wait_for(lambda: "Forbidden" in team.reasons(name), what="a Forbidden Event")
    # The Secret was never read, so nothing was sent anywhere: not even a connection.
    assert recorder.requests == []
    assert team.refs() == before
    assert team.get(name, "prr") is None
    _no_secret_anywhere(team, name, operator)


def test_the_recorded_requester_cannot_be_forged(team: Team) -> None:
    name = f"{REPO}.forged.v1"
    forged = {REQUESTED_BY: "system:admin", REQUESTED_BY_GROUPS: '["system:masters"]'}
    team.create(name, init_spec("forged", "v1"), user=AUTHOR, annotations=forged)
    annotations = (team.get(name) or {})["metadata"]["annotations"]
    assert annotations[REQUESTED_BY] == AUTHOR
    assert json.loads(annotations[REQUESTED_BY_GROUPS]) == ["system:authenticated"]

    # Changing them later records whoever tried, again.
    refused = team.cluster.merge_patch(
        "rpkg", name, team.namespace, {"metadata": {"annotations": forged}}, user=AUTHOR
    )
    assert refused == ""
    annotations = (team.get(name) or {})["metadata"]["annotations"]
    assert annotations[REQUESTED_BY] == AUTHOR
    assert "system:masters" not in annotations[REQUESTED_BY_GROUPS]


def _repository_registrar(cluster: Cluster, namespace: str) -> None:
    """carol: may write Repositories in ``namespace``, may not read its Secrets."""
    cluster.kubectl(
        "create", "role", "-n", namespace, "register-repositories",
        "--verb=get,list,watch,create,update,patch,delete",
        "--resource=repositories.config.porch.kpt.dev",
    )  # fmt: skip
    cluster.kubectl(
        "create", "rolebinding", "-n", namespace, "register-repositories",
        "--role=register-repositories", f"--user={CAROL}",
    )  # fmt: skip


def _register_as_carol(team: Team, git_server: gitserver.GitServer, name: str) -> None:
    url = git_server.create_repository(f"{team.namespace}-{name}")
    body = manifests.repository(name, team.namespace, url, "git-auth")
    team.cluster.apply(body, user=CAROL)


def test_a_repository_is_synced_only_if_its_registrant_may_read_its_secret(
    team: Team, operator: OperatorProcess, git_server: gitserver.GitServer
) -> None:
    _repository_registrar(team.cluster, team.namespace)
    name = "carols"
    _register_as_carol(team, git_server, name)

    def forbidden() -> dict[str, Any] | None:
        return _forbidden(team.cluster.get("repository", name, team.namespace))

    message = wait_for(forbidden, timeout=60, what="the Repository to be Forbidden")["message"]
    assert f'user "{CAROL}" may not get Secret "git-auth"' in message
    assert "spec.git.secretRef" in message
    assert 'grant "get" on secrets/git-auth' in message
    wait_for(lambda: "Forbidden" in team.reasons(name), what="a Forbidden Event")
    assert GIT_PASSWORD not in json.dumps(team.cluster.get("repository", name, team.namespace))

    # Once carol may read it, the Repository syncs by itself (no edit needed).
    team.let_read_secret("git-auth", user=CAROL)
    wait_for(
        lambda: manifests.repository_ready(team.cluster, name, team.namespace),
        timeout=60,
        what="the Repository to become Ready once carol may read the Secret",
    )


def test_operator_mode_reads_any_secret_for_single_tenant_installs(
    team: Team,
    operator: OperatorProcess,
    operator_factory: type[OperatorProcess],
    git_server: gitserver.GitServer,
) -> None:
    _repository_registrar(team.cluster, team.namespace)
    operator.stop()
    try:
        trusting = operator_factory(extra_args=["--secret-access=operator"]).start()
        name = "carols-trusted"
        _register_as_carol(team, git_server, name)
        wait_for(
            lambda: manifests.repository_ready(team.cluster, name, team.namespace),
            timeout=60,
            what="the Repository to be Ready with --secret-access=operator",
        )
        trusting.stop()
    finally:
        operator.start()
