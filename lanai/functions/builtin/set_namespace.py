"""set-namespace: move a package's resources into one namespace.

A namespace appears in more places than ``metadata.namespace``: the Namespace object's
own name, ServiceAccount subjects of role bindings, the services behind CRD conversion
webhooks and APIServices, and ``depends-on`` annotations pointing at resources of the
same package. Moving only some of them leaves a package that no longer deploys, so all
are edited together. Cluster-scoped kinds are known from a table; an unknown kind is
treated as namespaced only when it already carries ``metadata.namespace``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.functions.builtin import krm

PACKAGE_CONTEXT = "kptfile.kpt.dev"

#: Built-in kinds with no namespace (Kubernetes API groups, as of 1.30).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
        "StorageClass",
        "SubjectAccessReview",
        "TokenReview",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "Kptfile",
    }
)

#: Built-in kinds that always live in a namespace, even when none is written yet.
NAMESPACED_KINDS = frozenset(
    {
        "Binding",
        "ConfigMap",
        "ControllerRevision",
        "CronJob",
        "CSIStorageCapacity",
        "DaemonSet",
        "Deployment",
        "Endpoints",
        "EndpointSlice",
        "Event",
        "HorizontalPodAutoscaler",
        "Ingress",
        "Job",
        "Lease",
        "LimitRange",
        "LocalSubjectAccessReview",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "Pod",
        "PodDisruptionBudget",
        "PodTemplate",
        "ReplicaSet",
        "ReplicationController",
        "ResourceQuota",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    }
)


@dataclass(frozen=True)
class Config:
    namespace: str
    matcher: str | None = None

    def matches(self, current: Any) -> bool:
        """Whether a namespace value ``current`` is one this run replaces."""
        return self.matcher is None or str(current or "") == self.matcher


def read_config(config: CommentedMap | None) -> Config:
    missing = (
        "FunctionConfig is missing. Expect `ConfigMap.v1` or `SetNamespace.v1alpha1.fn.kpt.dev`"
    )
    if config is None:
        raise krm.fail(missing)
    if krm.is_kind(config, "ConfigMap", ""):
        data = krm.config_map_data(config)
        if krm.name(config) == PACKAGE_CONTEXT and not data.get("namespace"):
            namespace = data.get("name", "")
        else:
            namespace = data.get("namespace", "")
        matcher = data.get("namespaceMatcher") or None
    elif krm.is_kind(config, "SetNamespace"):
        namespace = str(config.get("namespace") or "")
        matcher = str(config["namespaceMatcher"]) if config.get("namespaceMatcher") else None
    else:
        raise krm.fail(missing)
    if not namespace:
        raise krm.fail("`namespace` must be set in the FunctionConfig")
    return Config(namespace=namespace, matcher=matcher)


def is_namespaced(resource: dict[str, Any]) -> bool:
    kind = krm.kind(resource)
    if kind in CLUSTER_SCOPED_KINDS:
        return False
    if kind in NAMESPACED_KINDS and krm.group_version(resource)[0] in _CORE_GROUPS:
        return True
    return "namespace" in krm.metadata(resource)


_CORE_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "discovery.k8s.io",
        "coordination.k8s.io",
        "events.k8s.io",
        "storage.k8s.io",
        "authorization.k8s.io",
    }
)


def run(resource_list: CommentedMap) -> None:
    config = read_config(krm.function_config(resource_list))
    resources = [r for r in krm.items(resource_list) if not krm.is_local_config(r)]
    moved: set[tuple[str, str, str, str]] = set()
    old_namespaces: set[str] = set()
    count = 0
    for resource in resources:
        count += _set_resource(resource, config, moved, old_namespaces)
    for resource in resources:
        count += _update_depends_on(resource, config, moved)
    old = ", ".join(sorted(old_namespaces)) if old_namespaces else ""
    krm.add_result(
        resource_list,
        f"namespace [{old}] updated to {config.namespace!r}, {count} value(s) changed",
    )


def _replace(mapping: Any, key: str, config: Config, old: set[str]) -> int:
    """Replace ``mapping[key]`` if present and matched; the number of values changed."""
    if not isinstance(mapping, dict) or key not in mapping:
        return 0
    current = mapping[key]
    if not config.matches(current) or current == config.namespace:
        return 0
    if current:
        old.add(str(current))
    mapping[key] = config.namespace
    return 1


def _set_resource(
    resource: CommentedMap,
    config: Config,
    moved: set[tuple[str, str, str, str]],
    old: set[str],
) -> int:
    kind = krm.kind(resource)
    group, _ = krm.group_version(resource)
    meta = resource.get("metadata")
    if not isinstance(meta, CommentedMap):
        return 0
    count = 0
    if kind == "Namespace" and group == "":
        count += _replace(meta, "name", config, old)
    elif is_namespaced(resource):
        current = meta.get("namespace")
        if config.matches(current) and current != config.namespace:
            moved.add((group, kind, str(current or ""), krm.name(resource)))
            if current:
                old.add(str(current))
            krm.set_key(meta, "namespace", config.namespace, after="name")
            count += 1
    spec = resource.get("spec")
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        for subject in resource.get("subjects") or []:
            if isinstance(subject, dict) and subject.get("kind") == "ServiceAccount":
                count += _replace(subject, "namespace", config, old)
    elif kind == "CustomResourceDefinition" and isinstance(spec, dict):
        service = _dig(spec, "conversion", "webhook", "clientConfig", "service")
        count += _replace(service, "namespace", config, old)
    elif kind == "APIService" and isinstance(spec, dict):
        count += _replace(spec.get("service"), "namespace", config, old)
    return count


def _dig(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _update_depends_on(
    resource: CommentedMap, config: Config, moved: set[tuple[str, str, str, str]]
) -> int:
    """Rewrite ``depends-on`` references to resources this run moved."""
    notes = krm.annotations_of(resource)
    raw = notes.get(krm.DEPENDS_ON)
    if not raw:
        return 0
    changed = 0
    references = []
    for reference in str(raw).split(","):
        parts = reference.strip().split("/")
        # group/namespaces/<ns>/kind/name for namespaced, group/kind/name otherwise.
        if len(parts) == 5 and parts[1] == "namespaces":
            group, _, ns, kind, ref_name = parts
            if (group, kind, ns, ref_name) in moved:
                parts[2] = config.namespace
                changed += 1
        references.append("/".join(parts))
    if changed:
        notes[krm.DEPENDS_ON] = ",".join(references)
    return changed
