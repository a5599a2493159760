from __future__ import annotations

import pytest

from lanai.api import names


@pytest.mark.parametrize(
    ("repository", "package", "workspace", "expected"),
    [
        ("blueprints", "nginx", "v1", "blueprints.nginx.v1"),
        ("deploy", "sites/edge-1/nginx", "ws", "deploy.sites.edge-1.nginx.ws"),
    ],
)
def test_package_revision_name(
    repository: str, package: str, workspace: str, expected: str
) -> None:
    assert names.package_revision_name(repository, package, workspace) == expected


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("nginx", True),
        ("a/b-c/d1", True),
        ("", False),
        ("A", False),
        ("a//b", False),
        ("-a", False),
        ("a/", False),
        ("x" * 63, True),
        ("x" * 64, False),
    ],
)
def test_is_package_path(value: str, valid: bool) -> None:
    assert names.is_package_path(value) is valid
