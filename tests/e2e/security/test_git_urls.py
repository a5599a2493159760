"""Git URLs and addresses: what an author can make the operator connect to, and send.

Each attack is made against the real API server and operator. The test operator may
reach 127.0.0.1 (``--allow-git-host``), where the test bed's Git servers listen; every
other local address (127.0.0.2 here) is as forbidden as it is by default. The servers
under attack are recorders (tests/support/recorder.py): they count connections at
accept time and keep every Authorization header.

Secrets and Repositories are created by the cluster admin, who may read them: what is
shown is that the operator's network side keeps credentials from servers that did not
ask, and from redirects to other hosts, whoever may read the Secret.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from lanai.local import gitserver
from tests.support import manifests
from tests.support.cluster import Cluster, condition
from tests.support.operator import OperatorProcess
from tests.support.recorder import Recorder
from tests.support.team import AUTHOR, Team
from tests.support.waiting import wait_for

FORMS = "must be an https:// or http:// URL"
PASSWORD = "recorded-pass-4d1"  # a test fixture, not a secret
TOKEN = "recorded-token-9c2"  # a test fixture, not a secret
KPTFILE = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: open-pkg\n"

REFUSED_URLS = {
    "file": "file:///var/lib/lanai/cache/0123456789abcdef01234567",
    "bare-path": "/var/lib/lanai/cache/0123456789abcdef01234567",
    "ext": "ext::sh -c touch% /tmp/pwned",
    "git-protocol": "git://git.example.com/blueprints.git",
    "ssh": "ssh://git@git.example.com/blueprints.git",
    "scp-like": "git@git.example.com:platform/blueprints.git",
    "credentials": f"https://bob:{PASSWORD}@git.example.com/blueprints.git",
}


def _clone_spec(url: str, workspace: str, secret: str | None = None, **git: Any) -> dict[str, Any]:
    source: dict[str, Any] = {"repo": url, **git}
    if secret:
        source["secretRef"] = {"name": secret}
    return {
        "repository": "blueprints",
        "packageName": "cloned",
        "workspaceName": workspace,
        "lifecycle": "Draft",
        "source": {"cloneFrom": {"type": "git", "git": source}},
    }


def _secrets(cluster: Cluster, namespace: str) -> None:
    cluster.apply(manifests.basic_auth_secret("git-basic", namespace, "bot", PASSWORD))
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "git-token", "namespace": namespace},
            "data": {"bearerToken": base64.b64encode(TOKEN.encode()).decode()},
        }
    )


def _repository_refused(cluster: Cluster, namespace: str, name: str, words: str) -> None:
    """Ready=False saying ``words``, and a SyncFailed Event saying it too."""
    ready = wait_for(
        lambda: manifests.repository_ready(cluster, name, namespace, "False"),
        timeout=60,
        what=f"Repository {name} Ready=False",
    )
    assert words in ready["message"]
    wait_for(
        lambda: [
            e
            for e in manifests.events(cluster, namespace, name)
            if e["reason"] == "SyncFailed" and words in e["message"]
        ],
        what=f"a SyncFailed Event of {name} saying {words!r}",
    )


def _revision_refused(team: Team, name: str, words: str) -> None:
    settled = team.settled(name, ready="False")
    ready = condition(settled, "Ready")
    assert ready is not None
    assert ready["reason"] == "Rejected"
    assert words in ready["message"]
    assert any(e["reason"] == "Rejected" and words in e["message"] for e in team.events(name))


def _create_as_admin(cluster: Cluster, namespace: str, name: str, spec: dict[str, Any]) -> None:
    body = {
        "apiVersion": "porch.kpt.dev/v1alpha2",
        "kind": "PackageRevision",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    cluster.kubectl("create", "-f", "-", input=json.dumps(body))


def _delete_repositories(cluster: Cluster, namespace: str, *names: str) -> None:
    """Refused Repositories would be retried for the rest of the session; end them."""
    for name in names:
        cluster.kubectl("delete", "-n", namespace, "repository", name, "--wait=false")


@pytest.fixture
def package_repository(tmp_path: Path) -> Path:
    """A bare repository holding the package ``pkg`` on ``main``."""
    bare = gitserver.init_bare(tmp_path / "served" / "open.git")
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)
    (work / "pkg").mkdir()
    (work / "pkg" / "Kptfile").write_text(KPTFILE)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(work)]
    for args in (["add", "."], ["commit", "-qm", "pkg"], ["push", "-q", "origin", "main"]):
        subprocess.run([*git, *args], check=True)
    return bare


# -- admission -------------------------------------------------------------------------


@pytest.mark.parametrize("url", list(REFUSED_URLS.values()), ids=list(REFUSED_URLS))
def test_repository_urls_of_other_forms_are_refused_at_admission(
    cluster: Cluster, namespace: str, url: str
) -> None:
    body = manifests.repository("refused", namespace, url, None)
    done = cluster.kubectl("create", "-f", "-", input=json.dumps(body), check=False)
    assert done.returncode != 0
    assert f"spec.git.repo {FORMS}" in done.stderr
    assert cluster.get("repository", "refused", namespace) is None


@pytest.mark.parametrize("url", list(REFUSED_URLS.values()), ids=list(REFUSED_URLS))
def test_clone_sources_of_other_forms_are_refused_at_admission(
    team: Team, operator: OperatorProcess, url: str
) -> None:
    """As the author; ``file://`` of the operator's own cache among them (the attack that
    read another namespace's mirror)."""
    cache = operator.workdir / "cache"
    if url.startswith(("file://", "/")):
        url = url.replace("/var/lib/lanai/cache", str(cache))
    body = {
        "apiVersion": "porch.kpt.dev/v1alpha2",
        "kind": "PackageRevision",
        "metadata": {"name": "blueprints.cloned.v1", "namespace": team.namespace},
        "spec": _clone_spec(url, "v1"),
    }
    done = team.cluster.kubectl(
        "create", "-f", "-", input=json.dumps(body), check=False, user=AUTHOR
    )
    assert done.returncode != 0
    assert f"spec.source.cloneFrom.git.repo {FORMS}" in done.stderr
    assert team.get("blueprints.cloned.v1") is None


REFUSED_SOURCE_FIELDS = {
    "dotdot-directory": ({"directory": "blueprints/../../etc"}, "directory must stay inside"),
    "git-directory": ({"directory": "pkg/.GIT/hooks"}, "directory must not name a '.git'"),
    "control-directory": ({"directory": "pkg\nevil"}, "directory must not hold control"),
    "long-directory": ({"directory": "d" * 1025}, "directory: Too long"),
    "option-ref": ({"ref": "--upload-pack=touch /tmp/pwned"}, "ref must be a branch, tag"),
    "reflog-ref": ({"ref": "main@{1}"}, "ref must be a branch, tag"),
    "range-ref": ({"ref": "main..other"}, "ref must be a branch, tag"),
    "space-ref": ({"ref": "main other"}, "ref must be a branch, tag"),
}


@pytest.mark.parametrize(
    "fields", list(REFUSED_SOURCE_FIELDS.values()), ids=list(REFUSED_SOURCE_FIELDS)
)
def test_clone_directories_and_refs_that_leave_the_package_are_refused_at_admission(
    team: Team, fields: tuple[dict[str, str], str]
) -> None:
    git, words = fields
    body = {
        "apiVersion": "porch.kpt.dev/v1alpha2",
        "kind": "PackageRevision",
        "metadata": {"name": "blueprints.cloned.v1", "namespace": team.namespace},
        "spec": _clone_spec("https://git.example.com/blueprints.git", "v1", **git),
    }
    done = team.cluster.kubectl(
        "create", "-f", "-", input=json.dumps(body), check=False, user=AUTHOR
    )
    assert done.returncode != 0
    assert f"spec.source.cloneFrom.git.{words}" in done.stderr
    assert team.get("blueprints.cloned.v1") is None


def test_clone_directories_and_refs_of_the_usual_forms_are_accepted(team: Team) -> None:
    """What kpt and Porch users write: a nested directory with or without a leading '/',
    a tag with a '/', a commit."""
    for number, git in enumerate(
        [
            {"directory": "/network/basens", "ref": "main"},
            {"directory": "network/basens", "ref": "network/basens/v1"},
            {"directory": "", "ref": "0123456789abcdef0123456789abcdef01234567"},
        ]
    ):
        body = {
            "apiVersion": "porch.kpt.dev/v1alpha2",
            "kind": "PackageRevision",
            "metadata": {"name": f"blueprints.cloned.w{number}", "namespace": team.namespace},
            "spec": _clone_spec("https://git.example.com/blueprints.git", f"w{number}", **git),
        }
        done = team.cluster.kubectl(
            "create", "--dry-run=server", "-f", "-", input=json.dumps(body), user=AUTHOR,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("directory", "a/../../b", "spec.git.directory must stay inside"),
        ("directory", ".git", "spec.git.directory must not name a '.git'"),
        ("branch", "-main", "spec.git.branch must be a branch name"),
        ("branch", "a..b", "spec.git.branch must be a branch name"),
    ],
)
def test_repository_directories_and_branches_out_of_bounds_are_refused(
    cluster: Cluster, namespace: str, field: str, value: str, words: str
) -> None:
    body = manifests.repository("refused", namespace, "https://git.example.com/r.git", None)
    body["spec"]["git"][field] = value
    done = cluster.kubectl("create", "-f", "-", input=json.dumps(body), check=False)
    assert done.returncode != 0
    assert words in done.stderr
    assert cluster.get("repository", "refused", namespace) is None


# -- addresses ---------------------------------------------------------------------------


@pytest.fixture
def forbidden() -> Iterator[Recorder]:
    """A Git server on 127.0.0.2: loopback, and not the address the operator may reach."""
    with Recorder(host="127.0.0.2") as running:
        yield running


def test_a_clone_from_a_forbidden_address_is_refused_without_connecting(
    team: Team, forbidden: Recorder
) -> None:
    team.create("blueprints.cloned.v1", _clone_spec(forbidden.repository_url, "v1"), user=AUTHOR)
    _revision_refused(team, "blueprints.cloned.v1", "127.0.0.2 is a loopback address")
    assert forbidden.connections == 0


def test_a_repository_at_a_forbidden_address_is_refused_without_connecting(
    cluster: Cluster, namespace: str, operator: OperatorProcess, forbidden: Recorder
) -> None:
    _secrets(cluster, namespace)
    cluster.apply(manifests.repository("local", namespace, forbidden.repository_url, "git-basic"))
    try:
        _repository_refused(cluster, namespace, "local", "127.0.0.2 is a loopback address")
    finally:
        _delete_repositories(cluster, namespace, "local")
    assert forbidden.connections == 0
    assert forbidden.authorizations == []


def test_a_clone_from_the_api_server_is_refused(team: Team) -> None:
    """The operator may reach 127.0.0.1, where the test API server listens too: its port
    stays refused (it would answer with the operator's own network position)."""
    config = yaml.safe_load(team.cluster.kubeconfig.read_text())
    server = urlsplit(config["clusters"][0]["cluster"]["server"])
    url = f"https://{server.hostname}:{server.port}/api/v1/secrets.git"
    team.create("blueprints.cloned.v1", _clone_spec(url, "v1"), user=AUTHOR)
    _revision_refused(team, "blueprints.cloned.v1", "is the Kubernetes API server")


# -- credentials ------------------------------------------------------------------------


def test_a_server_that_does_not_ask_receives_no_credentials(
    cluster: Cluster, namespace: str, operator: OperatorProcess, package_repository: Path
) -> None:
    """Both Secrets are readable and named; the server never challenges: it gets
    fetches, a push and a clone, and not one Authorization header."""
    _secrets(cluster, namespace)
    with Recorder(repository=package_repository) as open_server:
        url = open_server.repository_url
        # Two directories of one repository (the same one would be an overlap).
        cluster.apply(manifests.repository("basic", namespace, url, "git-basic", directory="a"))
        cluster.apply(manifests.repository("token", namespace, url, "git-token", directory="b"))
        try:
            for name in ("basic", "token"):
                wait_for(
                    lambda name=name: manifests.repository_ready(cluster, name, namespace),
                    timeout=60,
                    what=f"Repository {name} Ready",
                )
            spec = _clone_spec(url, "v1", "git-token", directory="pkg", ref="main")
            spec["repository"] = "basic"
            _create_as_admin(cluster, namespace, "basic.cloned.v1", spec)
            Team(cluster, namespace, url, package_repository, "basic").settled("basic.cloned.v1")
        finally:
            _delete_repositories(cluster, namespace, "basic", "token")
        assert "refs/heads/drafts/a/cloned/v1" in _refs(package_repository)
        assert open_server.requests
        assert open_server.authorizations == []


def test_a_redirect_to_another_origin_receives_no_credentials(
    team: Team, package_repository: Path
) -> None:
    """The server redirects to another origin that would challenge: the operator never
    connects there, and the redirecting server got no credentials either."""
    cluster, namespace = team.cluster, team.namespace
    _secrets(cluster, namespace)
    with (
        Recorder(repository=package_repository, challenge=True) as elsewhere,
        Recorder(redirect_to=elsewhere.url) as redirecting,
    ):
        url = redirecting.repository_url
        for name, secret, directory in (
            ("redirected", "git-basic", "a"),
            ("token", "git-token", "b"),
        ):
            body = manifests.repository(name, namespace, url, secret, directory=directory)
            cluster.apply(body)
        try:
            for name in ("redirected", "token"):
                _repository_refused(cluster, namespace, name, "redirected to another server")
            spec = _clone_spec(url, "v1", "git-token", directory="pkg", ref="main")
            _create_as_admin(cluster, namespace, "blueprints.cloned.v1", spec)
            _revision_refused(team, "blueprints.cloned.v1", "redirected to another server")
        finally:
            _delete_repositories(cluster, namespace, "redirected", "token")
        assert redirecting.requests
        assert redirecting.authorizations == []
        assert elsewhere.connections == 0
        assert elsewhere.authorizations == []


def _refs(bare: Path) -> list[str]:
    done = subprocess.run(
        ["git", "-C", str(bare), "for-each-ref", "--format=%(refname)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()
