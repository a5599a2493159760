from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from lanai.cli import kube
from lanai.kubeclient import client


def _refusal(status: int, reason: str, message: str) -> client.ApiError:
    return client.ApiError(status, reason, message)


def test_the_approval_policy_refusal_keeps_only_the_rule_message() -> None:
    error = _refusal(
        403,
        "Forbidden",
        'packagerevisions.porch.kpt.dev "b.x.v1" is forbidden: ValidatingAdmissionPolicy '
        "'lanai-packagerevision-approval' with binding 'lanai-packagerevision-approval' "
        "denied request: alice may not move b.x.v1 from Proposed to Published: that needs "
        "the update verb on packagerevisions/approval (ask an approver)",
    )
    assert kube.describe(error) == (
        'Error from server (Forbidden): packagerevisions.porch.kpt.dev "b.x.v1" is forbidden: '
        "alice may not move b.x.v1 from Proposed to Published: that needs the update verb on "
        "packagerevisions/approval (ask an approver)"
    )


def test_a_cel_refusal_is_one_line_without_the_object_placeholder() -> None:
    error = _refusal(
        422,
        "Invalid",
        'PackageRevision.porch.kpt.dev "b.x.v1" is invalid: spec: Invalid value: "object": '
        "spec.lifecycle cannot move from Published to Draft\n(allowed: ...)",
    )
    assert kube.describe(error) == (
        'Error from server (Invalid): PackageRevision.porch.kpt.dev "b.x.v1" is invalid: '
        "spec: spec.lifecycle cannot move from Published to Draft (allowed: ...)"
    )


def test_a_field_value_stays_in_a_cel_refusal_and_newer_servers_omit_the_object() -> None:
    field = _refusal(422, "Invalid", 'x is invalid: spec.workspaceName: Invalid value: "V1": no')
    assert kube.describe(field).endswith('spec.workspaceName: Invalid value: "V1": no')
    newer = _refusal(422, "Invalid", "x is invalid: spec: Invalid value: spec.lifecycle cannot")
    assert kube.describe(newer).endswith("x is invalid: spec: spec.lifecycle cannot")


def test_a_kind_the_server_does_not_serve_points_at_the_crds() -> None:
    error = _refusal(404, "NotFound", "the server could not find the requested resource")
    assert kube.describe(error).endswith(
        "(are Lanai's CRDs installed? kubectl apply -k config/crd)"
    )


def test_an_error_without_a_status_body_still_says_what_happened() -> None:
    error = client.ApiError(503, "Service Unavailable")
    assert kube.describe(error) == (
        "Error from server (Service Unavailable): the server answered 503 Service Unavailable"
    )


def test_resource_names_as_kubectl_prints_them() -> None:
    assert kube.REVISIONS.reference("a") == "packagerevision.porch.kpt.dev/a"
    assert kube.REPOSITORIES.api_version == "config.porch.kpt.dev/v1alpha1"
    assert kube.SECRETS.api_version == "v1"


@pytest.mark.parametrize(
    ("explicit", "context", "expected"),
    [("a", "b", "a"), (None, "b", "b"), (None, None, "default"), ("", None, "default")],
)
def test_namespace_comes_from_the_flag_then_the_context(
    explicit: str | None, context: str | None, expected: str
) -> None:
    assert kube.choose_namespace(explicit, context) == expected


KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- name: one
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: me
  user: {token: abc}
contexts:
- name: first
  context: {cluster: one, user: me, namespace: team-a}
- name: second
  context: {cluster: one, user: me}
current-context: first
"""


def _args(path: Path, **extra: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "kubeconfig": str(path),
        "context": None,
        "namespace": None,
        "as_user": None,
        "as_group": None,
    }
    values.update(extra)
    return argparse.Namespace(**values)


async def test_the_namespace_defaults_to_the_current_context_one(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    session = await kube.connect(_args(path))
    try:
        assert session.namespace == "team-a"
        assert session.api.connect().server == "https://127.0.0.1:6443"
    finally:
        await session.close()
    other = await kube.connect(_args(path, context="second", as_user="bob", as_group=["a", "b"]))
    try:
        assert other.namespace == "default"
        assert other.api.connect().extra_headers == (  # type: ignore[attr-defined]
            ("Impersonate-User", "bob"),
            ("Impersonate-Group", "a"),
            ("Impersonate-Group", "b"),
        )
    finally:
        await other.close()
    with pytest.raises(kube.Usage, match="needs --as"):
        await kube.connect(_args(path, as_group=["ops"]))


async def test_an_unknown_context_or_file_is_a_clear_failure(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    with pytest.raises(kube.Failure, match='context "nope" does not exist'):
        await kube.connect(_args(path, context="nope"))
    with pytest.raises(kube.Failure, match="does not exist"):
        await kube.connect(_args(tmp_path / "missing"))
