"""The API server itself refuses invalid specs with a message that says what to do.

These rules live in the CRDs (CEL), so they hold with or without the operator running;
no operator is started here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.cluster import Cluster


def _repository(name: str, **git: Any) -> dict[str, Any]:
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": name},
        "spec": {"type": "git", "git": {"repo": "https://git.example/blueprints.git", **git}},
    }


def _revision(name: str, **spec: Any) -> dict[str, Any]:
    base = {"repository": "blueprints", "packageName": "net/basens", "workspaceName": "ws1"}
    return {
        "apiVersion": "porch.kpt.dev/v1alpha2",
        "kind": "PackageRevision",
        "metadata": {"name": name},
        "spec": {**base, **spec},
    }


def _refused(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> str:
    done = cluster.kubectl("create", "-n", namespace, "-f", "-", input=_json(manifest), check=False)
    assert done.returncode != 0, f"the API server accepted {manifest}"
    return done.stderr


def _json(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest)


def test_repository_defaults_are_filled_in(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=_json(_repository("defaults")))
    created = cluster.get("repository", "defaults", namespace)
    assert created is not None
    assert created["spec"]["git"]["branch"] == "main"
    assert created["spec"]["content"] == "Package"
    assert created["spec"]["deployment"] is False


@pytest.mark.parametrize(
    ("field", "value"),
    [("repo", "https://git.example/other.git"), ("branch", "release"), ("directory", "other")],
)
def test_repository_location_is_immutable(
    cluster: Cluster, namespace: str, field: str, value: str
) -> None:
    cluster.kubectl(
        "create", "-n", namespace, "-f", "-", input=_json(_repository("fixed", directory="pkgs"))
    )
    done = cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "repository",
        "fixed",
        "--type=merge",
        "-p",
        _json({"spec": {"git": {field: value}}}),
        check=False,
    )
    assert done.returncode != 0
    assert f"spec.git.{field} is immutable" in done.stderr
    # The description stays editable.
    cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "repository",
        "fixed",
        "--type=merge",
        "-p",
        '{"spec": {"description": "still mutable"}}',
    )


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (_repository("Bad_Name"), "RFC 1123 label"),
        (_repository("x" * 64), "RFC 1123 label"),
        (
            _repository("creds", repo="https://bob:hunter2@git.example/r.git"),
            "must not contain credentials",
        ),
        (_repository("escape", directory="../outside"), "must stay inside the repository"),
        (
            {**_repository("nogit"), "spec": {"type": "git"}},
            "spec.git is required when spec.type is git",
        ),
        (
            {
                **_repository("cron"),
                "spec": {**_repository("cron")["spec"], "sync": {"schedule": "every minute"}},
            },
            "five-field cron expression",
        ),
    ],
    ids=[
        "uppercase-name",
        "long-name",
        "credentials-in-url",
        "dotdot-directory",
        "no-git",
        "bad-cron",
    ],
)
def test_invalid_repository_is_refused_with_a_clear_message(
    cluster: Cluster, namespace: str, manifest: dict[str, Any], message: str
) -> None:
    stderr = _refused(cluster, namespace, manifest)
    assert message in stderr


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            _revision("wrong-name"),
            "metadata.name must be <repository>.<packageName with / as .>.<workspaceName>,"
            " here blueprints.net.basens.ws1",
        ),
        (_revision("blueprints.Net.ws1", packageName="Net"), "lowercase DNS-1123 labels"),
        (_revision("blueprints.net.basens.WS", workspaceName="WS"), "DNS-1123 label"),
        (
            _revision("blueprints.net.basens.ws1", source={"init": {}, "copyFrom": {"name": "x"}}),
            "exactly one of init, cloneFrom, copyFrom, upgrade",
        ),
        (
            _revision("blueprints.net.basens.ws1", source={"cloneFrom": {"type": "git"}}),
            "exactly one of git",
        ),
        (_revision("blueprints.net.basens.ws1", lifecycle="Released"), "Unsupported value"),
    ],
    ids=[
        "derived-name",
        "package-name",
        "workspace-name",
        "two-sources",
        "clone-without-origin",
        "bad-lifecycle",
    ],
)
def test_invalid_package_revision_is_refused_with_a_clear_message(
    cluster: Cluster, namespace: str, manifest: dict[str, Any], message: str
) -> None:
    assert message in _refused(cluster, namespace, manifest)


def _patch(cluster: Cluster, namespace: str, name: str, patch: dict[str, Any]) -> str:
    return cluster.merge_patch("rpkg", name, namespace, patch)


def test_package_revision_identity_and_source_are_immutable(
    cluster: Cluster, namespace: str
) -> None:
    name = "blueprints.net.basens.ws1"
    cluster.kubectl(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        input=_json(_revision(name, source={"init": {"description": "first"}})),
    )
    assert "spec.source is immutable" in _patch(
        cluster, namespace, name, {"spec": {"source": {"init": {"description": "second"}}}}
    )
    assert "spec.repository is immutable" in _patch(
        cluster, namespace, name, {"spec": {"repository": "other"}}
    )
    # Metadata and readiness gates of a Draft may change.
    assert (
        _patch(cluster, namespace, name, {"spec": {"readinessGates": [{"conditionType": "x"}]}})
        == ""
    )


@pytest.mark.parametrize(
    ("before", "after", "allowed"),
    [
        ("Draft", "Proposed", True),
        ("Draft", "Published", True),
        ("Proposed", "Draft", True),
        ("Proposed", "Published", True),
        ("Published", "DeletionProposed", True),
        ("DeletionProposed", "Published", True),
        ("Draft", "DeletionProposed", False),
        ("Proposed", "DeletionProposed", False),
        ("Published", "Draft", False),
        ("Published", "Proposed", False),
        ("DeletionProposed", "Draft", False),
    ],
)
def test_lifecycle_moves_follow_the_table(
    cluster: Cluster, namespace: str, before: str, after: str, allowed: bool
) -> None:
    name = "blueprints.net.basens.ws1"
    # The admin identity may create any lifecycle (it holds packagerevisions/mirror).
    cluster.kubectl(
        "create", "-n", namespace, "-f", "-", input=_json(_revision(name, lifecycle=before))
    )
    stderr = _patch(cluster, namespace, name, {"spec": {"lifecycle": after}})
    if allowed:
        assert stderr == ""
    else:
        assert f"spec.lifecycle cannot move from {before} to {after}" in stderr


def test_published_revision_is_frozen_except_lifecycle_and_metadata(
    cluster: Cluster, namespace: str
) -> None:
    name = "blueprints.net.basens.ws1"
    cluster.kubectl(
        "create", "-n", namespace, "-f", "-", input=_json(_revision(name, lifecycle="Published"))
    )
    assert "a Published revision is frozen" in _patch(
        cluster, namespace, name, {"spec": {"readinessGates": [{"conditionType": "late"}]}}
    )
    assert (
        _patch(cluster, namespace, name, {"spec": {"packageMetadata": {"labels": {"a": "b"}}}})
        == ""
    )
    assert _patch(cluster, namespace, name, {"metadata": {"labels": {"team": "net"}}}) == ""


def test_resources_of_a_non_draft_revision_cannot_change(cluster: Cluster, namespace: str) -> None:
    name = "blueprints.net.basens.ws1"
    resources = {
        "apiVersion": "porch.kpt.dev/v1alpha2",
        "kind": "PackageRevisionResources",
        "metadata": {"name": name},
        "spec": {
            "repository": "blueprints",
            "packageName": "net/basens",
            "workspaceName": "ws1",
            "resources": {"Kptfile": "kind: Kptfile\n"},
        },
    }
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=_json(resources))
    edit = _json({"spec": {"resources": {"cm.yaml": "kind: ConfigMap\n"}}})
    # As a Draft it can be edited.
    cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "prr",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"lifecycle": "Draft"}}',
    )
    cluster.kubectl("patch", "-n", namespace, "prr", name, "--type=merge", "-p", edit)
    cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "prr",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"lifecycle": "Proposed"}}',
    )
    done = cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "prr",
        name,
        "--type=merge",
        "-p",
        _json({"spec": {"resources": {"cm.yaml": "kind: Secret\n"}}}),
        check=False,
    )
    assert done.returncode != 0
    assert (
        "the resources of a Proposed revision cannot change: only a Draft can be edited"
        in done.stderr
    )
