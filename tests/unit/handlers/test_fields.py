"""When a failing render still pushes: the push-on-render-failure annotation."""

from __future__ import annotations

import pytest

from lanai.handlers import fields

PUSH = {"porch.kpt.dev/push-on-render-failure": "true"}


@pytest.mark.parametrize(
    ("revision", "resources", "push"),
    [
        (PUSH, None, True),  # on the PackageRevision, where Porch reads it
        (None, PUSH, True),  # on the resources object
        ({}, {}, False),
        ({"porch.kpt.dev/push-on-render-failure": "false"}, None, False),
        ({"porch.kpt.dev/push-on-render-failure": "yes"}, None, False),
    ],
)
def test_push_on_render_failure(
    revision: dict[str, str] | None, resources: dict[str, str] | None, push: bool
) -> None:
    assert fields.push_on_render_failure(revision, resources) is push
