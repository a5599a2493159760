from __future__ import annotations

import argparse

import pytest

from lanai.cli import kube, repo


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/nephio-project/catalog.git", "catalog"),
        ("https://gitea.example/team/Blue_Prints/", "blue-prints"),
        ("git@github.com:team/deployments.git", "deployments"),
        ("http://127.0.0.1:8080/git/t-1-blueprints.git", "t-1-blueprints"),
    ],
)
def test_default_name_is_the_last_url_segment(url: str, name: str) -> None:
    assert repo.default_name(url) == name


def test_a_url_without_a_usable_segment_needs_a_name() -> None:
    with pytest.raises(kube.Usage, match="--name"):
        repo.default_name("https://host/___/")


def test_basic_auth_and_bearer_token_secrets() -> None:
    basic = repo.credentials("bp", "bot", "pw", None)
    assert basic == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "bp-auth"},
        "type": "kubernetes.io/basic-auth",
        "stringData": {"username": "bot", "password": "pw"},
    }
    bearer = repo.credentials("bp", None, None, "tok")
    assert bearer is not None
    assert bearer["type"] == "Opaque"
    assert bearer["stringData"] == {"bearerToken": "tok"}
    assert repo.credentials("bp", None, None, None) is None


@pytest.mark.parametrize(
    ("username", "password", "token"), [("u", None, None), ("u", "p", "t"), (None, "p", None)]
)
def test_incomplete_or_mixed_credentials_are_usage_errors(
    username: str | None, password: str | None, token: str | None
) -> None:
    with pytest.raises(kube.Usage):
        repo.credentials("bp", username, password, token)


def test_repository_body() -> None:
    args = argparse.Namespace(
        url="https://git/bp.git",
        branch="main",
        directory="pkgs",
        create_branch=True,
        deployment=False,
        description="blueprints",
        sync_schedule="*/10 * * * *",
    )
    body = repo.repository_body("bp", args, "bp-auth")
    assert body["metadata"] == {"name": "bp"}
    assert body["spec"] == {
        "type": "git",
        "content": "Package",
        "deployment": False,
        "description": "blueprints",
        "sync": {"schedule": "*/10 * * * *"},
        "git": {
            "repo": "https://git/bp.git",
            "branch": "main",
            "directory": "pkgs",
            "createBranch": True,
            "secretRef": {"name": "bp-auth"},
        },
    }
