"""What a PackageVariant may make the operator do: the review it asks, the refusals."""

from __future__ import annotations

from lanai.trust import onbehalf, secrets

ALICE = secrets.Requester("alice@example.com", ("team-a", "system:authenticated"))


def test_a_review_asks_for_the_requester_in_the_namespace() -> None:
    review = onbehalf.access_review(ALICE, "ns", onbehalf.APPROVE)
    assert review["kind"] == "SubjectAccessReview"
    assert review["spec"]["user"] == "alice@example.com"
    assert review["spec"]["groups"] == ["team-a", "system:authenticated"]
    assert review["spec"]["resourceAttributes"] == {
        "group": "porch.kpt.dev",
        "resource": "packagerevisions",
        "subresource": "approval",
        "verb": "update",
        "namespace": "ns",
    }
    named = onbehalf.access_review(ALICE, "ns", onbehalf.read_object("", "configmaps", "east"))
    assert named["spec"]["resourceAttributes"]["name"] == "east"
    assert named["spec"]["resourceAttributes"]["verb"] == "get"


def test_answers() -> None:
    assert onbehalf.allowed({"status": {"allowed": True}})
    assert not onbehalf.allowed({"status": {"allowed": True, "denied": True}})
    assert not onbehalf.allowed({})


def test_refusals_name_the_user_the_permission_and_what_to_do() -> None:
    message = onbehalf.refusal(ALICE, "ns", onbehalf.DELETE_REVISIONS)
    assert 'user "alice@example.com" may not "delete" on packagerevisions.porch.kpt.dev' in message
    assert "in namespace ns" in message
    assert "grant that permission" in message
    missing = onbehalf.refusal(None, "ns", onbehalf.CREATE_REVISIONS, "PackageVariantSet")
    assert "no requesting user is recorded on this PackageVariantSet" in missing
    assert "install config/policy" in missing


def test_secrets_are_never_read_for_a_variant() -> None:
    assert "committed to Git" in onbehalf.refused_kind("", "Secret")
    assert onbehalf.refused_kind("", "ConfigMap") == ""
    assert onbehalf.refused_kind("example.com", "Secret") == ""  # another group's kind
