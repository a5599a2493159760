"""The PackageVariant and PackageVariantSet CRDs: manifests written for Porch apply
unchanged (its docs write revisions as v1, its CRD as integers: both are accepted), and
what Porch's controllers would only report later is refused at once, with the fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.cluster import Cluster
from tests.support.waiting import wait_for

VARIANT = "config.porch.kpt.dev/v1alpha1"
SET = "config.porch.kpt.dev/v1alpha2"

# The shapes of the manifests in Porch's docs, samples, tutorials and load tests.
PORCH_MANIFESTS: list[dict[str, Any]] = [
    {"apiVersion": VARIANT, "kind": "PackageVariant", "metadata": {"name": "my-dp"},
     "spec": {"upstream": {"repo": "blueprints", "package": "foo", "revision": "v3"},
              "downstream": {"repo": "deployments", "package": "bar"}}},
    {"apiVersion": VARIANT, "kind": "PackageVariant", "metadata": {"name": "cert-manager-variant"},
     "spec": {"upstream": {"repo": "catalog", "package": "cert-manager", "revision": -1},
              "downstream": {"repo": "edge1", "package": "cert-manager-variant"},
              "adoptionPolicy": "adoptExisting"}},
    {"apiVersion": VARIANT, "kind": "PackageVariant", "metadata": {"name": "my-pv"},
     "spec": {"upstream": {"repo": "blueprints", "package": "foo", "workspaceName": "ws"},
              "downstream": {"repo": "deployments", "package": "bar"},
              "deletionPolicy": "orphan",
              "packageContext": {"data": {"foo": "bar"}, "removeKeys": ["bar"]},
              "pipeline": {"mutators": [{"image": "gcr.io/kpt-fn/set-namespace:v0.1",
                                         "configMap": {"namespace": "my-ns"}, "name": "my-func"},
                                        {"image": "gcr.io/kpt-fn/set-labels:v0.1",
                                         "configMap": {"app": "foo"}}]},
              "injectors": [{"group": "porch.kpt.dev", "version": "v1alpha1",
                             "kind": "Repository", "name": "foo"}, {"name": "bar"}]}},
    {"apiVersion": SET, "kind": "PackageVariantSet", "metadata": {"name": "network-function"},
     "spec": {"upstream": {"repo": "management", "package": "network-function", "revision": "v1"},
              "targets": [{"repositories": [{"name": "edge1", "packageNames": [
                  "network-function-b", "network-function-c"]}]}]}},
    {"apiVersion": SET, "kind": "PackageVariantSet", "metadata": {"name": "auto-namespace"},
     "spec": {"upstream": {"repo": "management", "package": "nf", "revision": "v1"},
              "targets": [{"repositories": [{"name": "edge1", "packageNames": ["x", "y"]}],
                           "template": {"downstream": {
                               "packageExpr": "target.package + '-cumulonimbus'"}}}]}},
    {"apiVersion": SET, "kind": "PackageVariantSet", "metadata": {"name": "example"},
     "spec": {"upstream": {"repo": "catalog", "package": "foo", "revision": 2},
              "targets": [
                  {"repositories": [{"name": "cluster-01", "packageNames": ["foo-01"]}],
                   "template": {"downstream": {
                       "packageExpr": "target.package + '-' + repository.labels['env']"}}},
                  {"repositorySelector": {"matchLabels": {"env": "prod", "org": "hr"}},
                   "template": {"labels": {"foo": "bar"}}},
                  {"objectSelector": {"apiVersion": "hr.bigco.com/v1", "kind": "Team",
                                      "matchLabels": {"org": "hr", "role": "dev"}},
                   "template": {"downstream": {"repo": "cluster-hr-dev",
                                               "packageExpr": "target.name + '-shared'"},
                                "labels": {"pkg-type": "namespace"},
                                "labelExprs": [
                                    {"key": "org", "valueExpr": "target.labels['org']"},
                                    {"keyExpr": "target.labels['role'] + '-namespace'",
                                     "valueExpr": "target.name + '-shared'"}],
                                "adoptionPolicy": "adoptExisting",
                                "deletionPolicy": "delete",
                                "packageContext": {"dataExprs": [
                                    {"key": "k", "valueExpr": "upstream.name"}],
                                    "removeKeyExprs": ["repository.labels['x']"]},
                                "pipeline": {"mutators": [{"image": "set-labels:v0.1",
                                                           "configMapExprs": [
                                                               {"key": "a", "valueExpr": "'b'"}]}]},
                                "injectors": [{"nameExpr": "repository.name + '-endpoints'"}]}},
              ]}},
]  # fmt: skip


def apply(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> str:
    """Apply as the cluster admin; the API server's refusal, or ''. A CRD that was just
    established may answer 429 "storage is (re)initializing" (with Retry-After) for a
    moment: that answer is waited out, any other is returned."""
    body = json.loads(json.dumps(manifest))
    body["metadata"]["namespace"] = namespace

    def attempt() -> str | None:
        done = cluster.kubectl("apply", "-f", "-", input=json.dumps(body), check=False)
        refusal = done.stderr if done.returncode else ""
        return None if "storage is (re)initializing" in refusal else refusal or "ok"

    answer = wait_for(attempt, timeout=30, interval=0.5, what="the CRD's storage")
    return "" if answer == "ok" else answer


@pytest.mark.parametrize("manifest", PORCH_MANIFESTS, ids=lambda m: m["metadata"]["name"])
def test_porch_manifests_apply_unchanged(
    cluster: Cluster, namespace: str, manifest: dict[str, Any]
) -> None:
    assert apply(cluster, namespace, manifest) == ""
    kind = manifest["kind"].lower()
    stored = cluster.get(kind, manifest["metadata"]["name"], namespace)
    assert stored is not None
    assert stored["spec"] == manifest["spec"]  # nothing pruned, nothing added


def variant(**spec: Any) -> dict[str, Any]:
    base = {"upstream": {"repo": "a", "package": "b"}, "downstream": {"repo": "c", "package": "d"}}
    return {"apiVersion": VARIANT, "kind": "PackageVariant", "metadata": {"name": "bad"},
            "spec": {**base, **spec}}  # fmt: skip


def variant_set(*targets: dict[str, Any], **spec: Any) -> dict[str, Any]:
    upstream = {"repo": "a", "package": "b"}
    return {"apiVersion": SET, "kind": "PackageVariantSet", "metadata": {"name": "bad"},
            "spec": {"upstream": upstream, "targets": list(targets), **spec}}  # fmt: skip


REPOS = {"repositories": [{"name": "r"}]}


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (variant(downstream={"repo": "c"}), "spec.downstream needs repo and package"),
        (variant(upstream={"package": "b"}), "spec.upstream needs repo and package"),
        (variant(upstream={"repo": "a", "package": "b", "revision": "latest"}),
         "spec.upstream.revision must be a revision number such as 3 or v3"),
        (variant(adoptionPolicy="adopt"), "adoptionPolicy must be adoptExisting or adoptNone"),
        (variant(deletionPolicy="keep"), "deletionPolicy must be delete or orphan"),
        (variant(packageContext={"data": {"name": "x"}}),
         'spec.packageContext.data must not contain the key "name" or "package-path"'),
        (variant(packageContext={"removeKeys": ["package-path"]}),
         'spec.packageContext.removeKeys must not contain the key "name" or "package-path"'),
        (variant(pipeline={"mutators": [{"image": "x", "name": "a.b"}]}),
         "a function name must not contain '.'"),
        (variant(injectors=[{"name": ""}]), "spec.injectors[0].name"),
        (variant_set(), "spec.targets"),
        (variant_set({**REPOS, "repositorySelector": {}}),
         "each target needs exactly one of repositories, repositorySelector, objectSelector"),
        (variant_set({"objectSelector": {"kind": "ConfigMap"}}),
         "objectSelector needs apiVersion and kind"),
        (variant_set({**REPOS, "template": {"downstream": {"repo": "a", "repoExpr": "'b'"}}}),
         "template.downstream: set repo or repoExpr, not both"),
        (variant_set({**REPOS, "template": {"injectors": [{"kind": "X"}]}}),
         "each template injector needs exactly one of name and nameExpr"),
        (variant_set({**REPOS, "template": {"labelExprs": [{"key": "a", "keyExpr": "'b'"}]}}),
         "set key or keyExpr, not both"),
        (variant_set({**REPOS, "template": {"pipeline": {"mutators": [{"name": "x"}]}}}),
         "a template function needs an image"),
        (variant_set({**REPOS, "template": {"downstream": {"packageExpr": "x" * 1025}}}),
         "Too long"),
    ],
)  # fmt: skip
def test_mistakes_are_refused_with_the_fix(
    cluster: Cluster, namespace: str, manifest: dict[str, Any], message: str
) -> None:
    refusal = apply(cluster, namespace, manifest)
    assert message in refusal, refusal


def test_status_shows_in_kubectl_columns(cluster: Cluster, namespace: str) -> None:
    assert apply(cluster, namespace, PORCH_MANIFESTS[0]) == ""
    done = cluster.kubectl("get", "packagevariants", "-n", namespace)
    header = done.stdout.splitlines()[0].split()
    assert header[:6] == ["NAME", "UPSTREAM", "REPO", "UPSTREAM", "PACKAGE", "DOWNSTREAM"]
