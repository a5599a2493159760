"""config/ renders with kustomize into the install we mean: the right kinds, the
operator's exact permissions, a hardened Deployment in step with the CLI's flags.

The API server's verdict on the same manifests is tests/e2e/test_manifests.py.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from ruamel.yaml import YAML

from lanai.api import names
from lanai.trust import limits

ROOT = Path(__file__).resolve().parents[3]
NAMESPACE = "lanai-system"


def render(path: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) is needed to render config/"
    done = subprocess.run(
        [kubectl, "kustomize", str(ROOT / path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [d for d in YAML(typ="safe").load_all(done.stdout) if d]


@pytest.fixture(scope="module")
def install() -> list[dict[str, Any]]:
    return render("config/default")


def one(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def test_default_holds_every_part_of_the_install(install: list[dict[str, Any]]) -> None:
    kinds = Counter(d["kind"] for d in install)
    assert kinds == {
        "CustomResourceDefinition": 6,
        "Namespace": 1,
        "ServiceAccount": 1,
        "ClusterRole": 7,
        "ClusterRoleBinding": 1,
        "ValidatingAdmissionPolicy": 2,
        "ValidatingAdmissionPolicyBinding": 2,
        "MutatingAdmissionPolicy": 8,
        "MutatingAdmissionPolicyBinding": 8,
        "Deployment": 1,
        "Service": 1,
    }
    crds = {d["metadata"]["name"] for d in install if d["kind"] == "CustomResourceDefinition"}
    assert crds == {
        "repositories.config.porch.kpt.dev",
        "packagerevisions.porch.kpt.dev",
        "packagerevisionresources.porch.kpt.dev",
        "packages.porch.kpt.dev",
        "packagevariants.config.porch.kpt.dev",
        "packagevariantsets.config.porch.kpt.dev",
    }


def test_namespaced_objects_go_to_lanai_system(install: list[dict[str, Any]]) -> None:
    for kind in ("ServiceAccount", "Deployment", "Service"):
        for document in (d for d in install if d["kind"] == kind):
            assert document["metadata"]["namespace"] == NAMESPACE, kind
    namespace = one(install, "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_image_is_the_release_of_this_checkout(install: list[dict[str, Any]]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    container = _container(install)
    assert container["image"] == f"lanai:{version}"
    assert ":latest" not in str(install), "the image placeholder was not replaced"


def _container(install: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = one(install, "Deployment", "lanai")
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _flag(container: dict[str, Any], name: str) -> str:
    values = [a.split("=", 1)[1] for a in container["args"] if a.startswith(f"{name}=")]
    assert len(values) == 1, f"{name} given {len(values)} times"
    return values[0]


def test_probes_and_metrics_use_the_ports_the_flags_open(install: list[dict[str, Any]]) -> None:
    container = _container(install)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    liveness = urlsplit(_flag(container, "--liveness"))
    assert ports["health"] == liveness.port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        check = container[probe]["httpGet"]
        assert (check["path"], check["port"]) == (liveness.path, "health"), probe
    metrics_port = int(_flag(container, "--metrics-address").rpartition(":")[2])
    assert ports["metrics"] == metrics_port
    service = one(install, "Service", "lanai-metrics")
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(metrics_port)
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert service["spec"]["selector"].items() <= _pod_labels(install).items()


def _pod_labels(install: list[dict[str, Any]]) -> dict[str, str]:
    labels: dict[str, str] = one(install, "Deployment", "lanai")["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


def test_deployment_is_one_hardened_replica(install: list[dict[str, Any]]) -> None:
    deployment = one(install, "Deployment", "lanai")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate", "never two operators at once"
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "lanai"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    container = _container(install)
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


OPERATOR_BUDGET = 300 * limits.MIB
"""DESIGN.md's target for the operator's own RSS at 10,000 revisions."""
IDLE_WORKER = 40 * limits.MIB
"""A function worker's RSS before any render (bench/README.md)."""


def test_the_memory_limit_covers_the_operator_and_its_workers_at_their_caps(
    install: list[dict[str, Any]],
) -> None:
    container = _container(install)
    args = dict(a.split("=", 1) for a in container["args"] if "=" in a)
    workers = int(args.get("--function-workers", limits.DEFAULT_WORKERS))
    cap = limits.parse_memory(
        args.get("--function-memory", str(limits.DEFAULT_MEMORY // limits.MIB))
    )
    needed = OPERATOR_BUDGET + workers * (IDLE_WORKER + cap)
    assert limits.parse_memory(container["resources"]["limits"]["memory"]) >= needed


def test_writable_paths_are_empty_dirs(install: list[dict[str, Any]]) -> None:
    container = _container(install)
    pod = one(install, "Deployment", "lanai")["spec"]["template"]["spec"]
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    cache_dir = {e["name"]: e["value"] for e in container["env"]}["LANAI_CACHE_DIR"]
    assert mounts[cache_dir] in empty
    assert mounts["/tmp"] in empty


OPERATOR_GRANTS = {
    ("config.porch.kpt.dev", "repositories"): {"get", "list", "watch", "patch"},
    ("config.porch.kpt.dev", "repositories/status"): {"get", "patch"},
    **{
        ("porch.kpt.dev", plural): {"get", "list", "watch", "create", "patch", "delete"}
        for plural in ("packagerevisions", "packagerevisionresources", "packages")
    },
    **{
        ("porch.kpt.dev", f"{plural}/status"): {"get", "patch"}
        for plural in ("packagerevisions", "packagerevisionresources", "packages")
    },
    ("porch.kpt.dev", "packagerevisions/mirror"): {"create"},
    ("porch.kpt.dev", "packagerevisions/approval"): {"update"},
    ("config.porch.kpt.dev", "packagevariants"): {
        "get",
        "list",
        "watch",
        "create",
        "patch",
        "delete",
    },
    ("config.porch.kpt.dev", "packagevariantsets"): {"get", "list", "watch", "patch"},
    **{
        ("config.porch.kpt.dev", f"{plural}/status"): {"get", "patch"}
        for plural in ("packagevariants", "packagevariantsets")
    },
    ("config.porch.kpt.dev", "packagevariants/delegate"): {"create"},
    ("", "configmaps"): {"get", "list"},
    ("", "secrets"): {"get"},
    ("authorization.k8s.io", "subjectaccessreviews"): {"create"},
    ("", "events"): {"create"},
    ("events.k8s.io", "events"): {"create"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
    ("", "namespaces"): {"list", "watch"},
}


def _grants(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "resourceNames" not in rule
        assert "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                grants.setdefault((group, resource), set()).update(rule["verbs"])
    return grants


def test_operator_role_grants_exactly_what_the_code_uses(install: list[dict[str, Any]]) -> None:
    """Changing this table is a reviewed decision: each entry is explained in
    config/rbac/role.yaml next to the code that needs it."""
    grants = _grants(one(install, "ClusterRole", "lanai-operator"))
    assert grants == OPERATOR_GRANTS
    assert not any("*" in verbs or "*" in key[1] for key, verbs in grants.items())


def test_operator_role_is_bound_to_its_service_account(install: list[dict[str, Any]]) -> None:
    binding = one(install, "ClusterRoleBinding", "lanai-operator")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "lanai-operator",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "lanai", "namespace": NAMESPACE}
    ]
    one(install, "ServiceAccount", "lanai")


def test_only_approvers_may_approve(install: list[dict[str, Any]]) -> None:
    approval = ("porch.kpt.dev", "packagerevisions/approval")
    author = _grants(one(install, "ClusterRole", "lanai-package-author"))
    approver = _grants(one(install, "ClusterRole", "lanai-package-approver"))
    viewer = _grants(one(install, "ClusterRole", "lanai-package-viewer"))
    assert approval not in author
    assert approver[approval] == {"update"}
    assert author[("porch.kpt.dev", "packagerevisions")] >= {"create", "patch"}
    assert all(verbs <= {"get", "list", "watch"} for verbs in viewer.values())
    assert ("", "secrets") not in author | approver | viewer


def test_variant_authors_get_no_revision_or_secret_rights() -> None:
    """Writing a PackageVariant lends nothing: Lanai acts only as far as its author may."""
    roles = render("config/rbac")
    author = _grants(one(roles, "ClusterRole", "lanai-variant-author"))
    viewer = _grants(one(roles, "ClusterRole", "lanai-variant-viewer"))
    assert set(author) == {
        ("config.porch.kpt.dev", "packagevariants"),
        ("config.porch.kpt.dev", "packagevariantsets"),
    }
    assert all(verbs <= {"get", "list", "watch"} for verbs in viewer.values())
    operator = _grants(one(roles, "ClusterRole", "lanai-operator"))
    delegate = ("config.porch.kpt.dev", "packagevariants/delegate")
    assert delegate in operator
    assert not any(
        delegate in _grants(r)
        for r in roles
        if r["kind"] == "ClusterRole" and r["metadata"]["name"] != "lanai-operator"
    )


def test_variant_samples_name_the_sample_repositories() -> None:
    documents = render("config/samples/variants")
    assert Counter(d["kind"] for d in documents) == {"PackageVariant": 1, "PackageVariantSet": 1}
    repositories = {
        d["metadata"]["name"] for d in render("config/samples") if d["kind"] == "Repository"
    }
    for document in documents:
        assert "namespace" not in document["metadata"]
        assert document["spec"]["upstream"]["repo"] in repositories
    variant = next(d for d in documents if d["kind"] == "PackageVariant")
    assert variant["spec"]["downstream"]["repo"] in repositories


def test_samples_render_with_names_the_api_server_accepts() -> None:
    documents = render("config/samples") + render("config/samples/clone")
    kinds = Counter(d["kind"] for d in documents)
    assert kinds == {"Secret": 1, "Repository": 2, "PackageRevision": 2}
    assert all("namespace" not in d["metadata"] for d in documents), "samples go where -n says"
    repositories = {d["metadata"]["name"] for d in documents if d["kind"] == "Repository"}
    secrets = {d["metadata"]["name"] for d in documents if d["kind"] == "Secret"}
    revisions = {d["metadata"]["name"]: d for d in documents if d["kind"] == "PackageRevision"}
    for name, revision in revisions.items():
        spec = revision["spec"]
        assert spec["repository"] in repositories
        assert name == names.package_revision_name(
            spec["repository"], spec["packageName"], spec["workspaceName"]
        )
        upstream = spec["source"].get("cloneFrom", {}).get("upstreamRef", {}).get("name")
        assert upstream is None or upstream in revisions
    for repository in (d for d in documents if d["kind"] == "Repository"):
        assert repository["spec"]["git"]["secretRef"]["name"] in secrets
