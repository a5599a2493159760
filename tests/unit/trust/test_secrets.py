"""Whose rights a Secret is read with: the recorded requester and the review asked."""

from __future__ import annotations

from typing import Any

import pytest

from lanai.trust import secrets
from lanai.trust.secrets import REQUESTED_BY, REQUESTED_BY_GROUPS, Requester


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        (None, None),
        ({}, None),
        ({REQUESTED_BY: ""}, None),
        ({REQUESTED_BY: 5}, None),
        ({REQUESTED_BY_GROUPS: '["system:masters"]'}, None),  # groups alone name nobody
        ({REQUESTED_BY: "alice"}, Requester("alice")),
        (
            {REQUESTED_BY: "alice", REQUESTED_BY_GROUPS: '["team-a", "system:authenticated"]'},
            Requester("alice", ("team-a", "system:authenticated")),
        ),
        # Group names with the characters the policy escapes.
        (
            {REQUESTED_BY: "a", REQUESTED_BY_GROUPS: '["x\\"y", "back\\\\slash", "c,d"]'},
            Requester("a", ('x"y', "back\\slash", "c,d")),
        ),
        ({REQUESTED_BY: "alice", REQUESTED_BY_GROUPS: "[]"}, Requester("alice")),
    ],
)
def test_the_requester_is_read_from_the_annotations(
    annotations: dict[str, Any] | None, expected: Requester | None
) -> None:
    assert secrets.requester_of(annotations) == expected


@pytest.mark.parametrize(
    "groups",
    [
        "system:masters",  # not JSON
        '["system:masters"',  # cut short
        '{"groups": ["system:masters"]}',  # not a list
        '["ok", 1]',  # not all strings
        '"system:masters"',  # a string, not a list
        '["a\x00"]',  # a control character: invalid JSON
    ],
)
def test_malformed_groups_count_as_none(groups: str) -> None:
    """A parse error may only narrow the rights reviewed, never widen them."""
    found = secrets.requester_of({REQUESTED_BY: "alice", REQUESTED_BY_GROUPS: groups})
    assert found == Requester("alice", ())


def test_the_review_asks_for_get_on_that_one_secret() -> None:
    review = secrets.access_review(Requester("alice", ("team-a",)), "team-a-ns", "prod-creds")
    assert review == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "alice",
            "groups": ["team-a"],
            "resourceAttributes": {
                "group": "",
                "version": "v1",
                "resource": "secrets",
                "verb": "get",
                "namespace": "team-a-ns",
                "name": "prod-creds",
            },
        },
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"allowed": True}, True),
        ({"allowed": True, "denied": False}, True),
        ({"allowed": False}, False),
        ({"allowed": False, "denied": True}, False),
        ({"allowed": True, "denied": True}, False),  # contradictory: refuse
        ({}, False),
        (None, False),
    ],
)
def test_only_an_allowed_review_allows(status: dict[str, Any] | None, expected: bool) -> None:
    assert secrets.allowed({"status": status}) is expected


def test_the_refusal_names_the_user_the_secret_and_the_permission() -> None:
    message = secrets.forbidden_message(
        Requester("alice"), "team-a", "prod-creds", "spec.git.secretRef"
    )
    assert 'user "alice" may not get Secret "prod-creds" in namespace team-a' in message
    assert "spec.git.secretRef" in message
    assert 'grant "get" on secrets/prod-creds' in message


def test_the_refusal_without_a_recorded_requester_says_how_to_record_one() -> None:
    message = secrets.forbidden_message(None, "team-a", "prod-creds", "spec.git.secretRef")
    assert 'Secret "prod-creds"' in message
    assert REQUESTED_BY in message
    assert "config/policy" in message


def test_secret_access_modes_are_the_flag_values() -> None:
    assert [str(m) for m in secrets.SecretAccess] == ["requester", "operator"]
