"""set-namespace: move a package's resources into one namespace, as the catalog does.

A namespace lives in more places than ``metadata.namespace``: the Namespace object's own
name, ServiceAccount subjects of cluster role bindings, the services behind CRD
conversion webhooks and APIServices, and ``depends-on`` annotations that point at
resources of the package. The catalog function edits all of them together, and users
compare its output line by line, so this follows it exactly: namespaced kinds come from
the SDK's table (an unknown kind is namespaced only if it already has a namespace), a
missing namespace counts as ``default`` and is written out, every value it visits is
rewritten plain, local-config resources are skipped, and with ``namespaceMatcher`` only
the matching namespace (or upstream origin) moves.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.functions.builtin import krm, sdk

PACKAGE_CONTEXT = "kptfile.kpt.dev"
DEPENDS_ON = "config.kubernetes.io/depends-on"
DEFAULT_NAMESPACE = "default"
UNKNOWN_NAMESPACE = "~C"

_EXPECTED = "`ConfigMap.v1` or `SetNamespace.v1alpha1.fn.kpt.dev`"
_NAMESPACED_REFERENCE = re.compile(
    r"\A([-.0-9A-Za-z_]*)/namespaces/([-.0-9A-Za-z_]*)/([-.0-9A-Za-z_]*)/([-.0-9A-Za-z_]*)\Z"
)
_UPSTREAM = re.compile(
    r"(?P<group>[a-z0-9-.]*)\|(?P<kind>[A-Z][a-zA-Z0-9]*)\|"
    r"(?P<namespace>[a-z0-9-]{1,63}|~C)\|(?P<name>[a-z0-9-]{1,63})"
)

#: The SDK's table of built-in kinds by apiVersion: namespaced (True) or not (False).
SCOPES: dict[tuple[str, str], bool] = {
    **{
        (f"admissionregistration.k8s.io/{v}", k): False
        for v in ("v1", "v1beta1")
        for k in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
    },
    **{(f"apiextensions.k8s.io/{v}", "CustomResourceDefinition"): False for v in ("v1", "v1beta1")},
    **{(f"apiregistration.k8s.io/{v}", "APIService"): False for v in ("v1", "v1beta1")},
    **{
        ("apps/v1", k): True
        for k in ("ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet")
    },
    ("autoscaling/v1", "HorizontalPodAutoscaler"): True,
    ("autoscaling/v1", "Scale"): True,
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): True,
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): True,
    ("batch/v1", "CronJob"): True,
    ("batch/v1", "Job"): True,
    ("batch/v1beta1", "CronJob"): True,
    **{(f"certificates.k8s.io/{v}", "CertificateSigningRequest"): False for v in ("v1", "v1beta1")},
    **{(f"coordination.k8s.io/{v}", "Lease"): True for v in ("v1", "v1beta1")},
    **{(f"discovery.k8s.io/{v}", "EndpointSlice"): True for v in ("v1", "v1beta1")},
    **{(f"events.k8s.io/{v}", "Event"): True for v in ("v1", "v1beta1")},
    ("extensions/v1beta1", "Ingress"): True,
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"): False,
    ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration"): False,
    ("networking.k8s.io/v1", "Ingress"): True,
    ("networking.k8s.io/v1", "IngressClass"): False,
    ("networking.k8s.io/v1", "NetworkPolicy"): True,
    ("networking.k8s.io/v1beta1", "Ingress"): True,
    ("networking.k8s.io/v1beta1", "IngressClass"): False,
    **{(f"node.k8s.io/{v}", "RuntimeClass"): False for v in ("v1", "v1beta1")},
    ("policy/v1", "PodDisruptionBudget"): True,
    ("policy/v1beta1", "PodDisruptionBudget"): True,
    ("policy/v1beta1", "PodSecurityPolicy"): False,
    **{
        (f"rbac.authorization.k8s.io/{v}", k): scoped
        for v in ("v1", "v1beta1")
        for k, scoped in (
            ("ClusterRole", False),
            ("ClusterRoleBinding", False),
            ("Role", True),
            ("RoleBinding", True),
        )
    },
    **{(f"scheduling.k8s.io/{v}", "PriorityClass"): False for v in ("v1", "v1beta1")},
    **{
        (f"storage.k8s.io/{v}", k): False
        for v in ("v1", "v1beta1")
        for k in ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment")
    },
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity"): True,
    **{
        ("v1", k): False
        for k in ("ComponentStatus", "Namespace", "Node", "NodeProxyOptions", "PersistentVolume")
    },
    **{
        ("v1", k): True
        for k in (
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "PersistentVolumeClaim",
            "Pod",
            "PodAttachOptions",
            "PodExecOptions",
            "PodPortForwardOptions",
            "PodProxyOptions",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
            "ServiceProxyOptions",
        )
    },
}


class _ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Config:
    namespace: str
    matcher: str = ""


def read_config(config: Any) -> Config:
    if sdk.is_empty(config):
        raise _ConfigError(f"FunctionConfig is missing. Expect {_EXPECTED}")
    if sdk.is_gvk(config, "", "v1", "ConfigMap"):
        data = config.get("data")
        if data is not None and not isinstance(data, dict):
            raise _ConfigError("failed to parse FunctionConfig as ConfigMap")
        values, ok = sdk.string_map(data or {})
        if not ok or any(not isinstance(v, str | None) for v in (data or {}).values()):
            raise _ConfigError("failed to parse FunctionConfig as ConfigMap")
        assert values is not None
        matcher = values.get("namespaceMatcher", "")
        if values.get("namespace"):
            return Config(values["namespace"], matcher)
        if values.get("name") and sdk.metadata_text(config, "name") == PACKAGE_CONTEXT:
            return Config(values["name"], matcher)
        raise _ConfigError("`data.namespace` should not be empty")
    if sdk.is_gvk(config, sdk.FUNCTION_GROUP, "v1alpha1", "SetNamespace"):
        namespace, matcher = config.get("namespace"), config.get("namespaceMatcher")
        if not isinstance(namespace, str | None) or not isinstance(matcher, str | None):
            raise _ConfigError("failed to parse FunctionConfig as fn.kpt.dev.v1alpha1.SetNamespace")
        if not namespace:
            raise _ConfigError("`namespace` should not be empty")
        return Config(namespace, matcher or "")
    raise _ConfigError(
        f"unknown functionConfig Kind={sdk.text(config, 'kind')} "
        f"ApiVersion={sdk.text(config, 'apiVersion')}, expect {_EXPECTED}"
    )


def is_namespaced(resource: Any) -> bool:
    """The SDK's IsNamespaceScoped: the table, else whether a namespace is written."""
    key = (sdk.text(resource, "apiVersion"), sdk.text(resource, "kind"))
    found = SCOPES.get(key)
    return found if found is not None else _has_namespace(resource)


def is_namespaced_kind(resource: Any) -> bool:
    """kustomize's view: only the built-in cluster-scoped kinds are not namespaced."""
    key = (sdk.text(resource, "apiVersion"), sdk.text(resource, "kind"))
    return SCOPES.get(key, True)


def _has_namespace(resource: Any) -> bool:
    meta = resource.get("metadata") if isinstance(resource, dict) else None
    return isinstance(meta, dict) and "namespace" in meta


def effective_namespace(resource: Any) -> str:
    if _has_namespace(resource):
        return sdk.metadata_text(resource, "namespace")
    return DEFAULT_NAMESPACE if is_namespaced(resource) else UNKNOWN_NAMESPACE


def _group(resource: Any) -> str:
    api_version = sdk.text(resource, "apiVersion")
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _origin(resource: Any) -> tuple[str, str] | None:
    """(namespace, name) the resource came from upstream; its own when it has no
    upstream identifier; ``None`` when the identifier is malformed."""
    upstream = sdk.annotation(resource, sdk.UPSTREAM_IDENTIFIER)
    if not upstream:
        return effective_namespace(resource), sdk.metadata_text(resource, "name")
    found = _UPSTREAM.search(upstream.strip())
    return None if found is None else (found["namespace"], found["name"])


def run(resource_list: CommentedMap) -> None:
    config = krm.function_config(resource_list)
    try:
        settings = read_config(config)
    except _ConfigError as error:
        ref = sdk.resource_ref(config) if isinstance(config, dict) else {}
        where = sdk.file_ref(config) if isinstance(config, dict) else {"index": -1}
        failure = sdk.result(str(error), "error", resource_ref=ref, file=where)
        # the catalog's set-namespace reports a bad functionConfig as a result and
        # still succeeds (its Run returns true): kpt goes on with the pipeline
        sdk.finish(resource_list, [failure], ok=True)
        return
    objects = [item for item in krm.items(resource_list) if not sdk.is_local_config(item)]
    sdk.finish(resource_list, transform(objects, settings), ok=True)


def transform(objects: list[CommentedMap], config: Config) -> list[dict[str, Any]]:
    before = {
        f"{_group(o)}/namespaces/{effective_namespace(o)}/{sdk.text(o, 'kind')}/"
        f"{sdk.metadata_text(o, 'name')}"
        for o in objects
        if effective_namespace(o) != UNKNOWN_NAMESPACE
    }
    walk = _Walk(config)
    for resource in objects:
        if not is_namespaced(resource):
            walk.cluster_scoped(resource)
    for resource in objects:
        if is_namespaced(resource):
            walk.namespaced(resource)
    results = walk.results
    if walk.count:
        results.append(
            sdk.result(
                f"namespace {_go_list(walk.old)} updated to {sdk.go_quote(config.namespace)}, "
                f"{walk.count} value(s) changed"
            )
        )
    else:
        results.append(
            sdk.result(
                f"all matching namespaces are already {sdk.go_quote(config.namespace)}. "
                "no value changed"
            )
        )
    count, old = _update_depends_on(objects, before, config)
    if count:
        results.append(
            sdk.result(
                f"`depends-on` annotation namespace {_go_list(old)} updated to "
                f"{sdk.go_quote(config.namespace)}, {count} value(s) changed"
            )
        )
    else:
        results.append(
            sdk.result("all `depends-on` annotations are up-to-date. no `namespace` changed")
        )
    return results


class _Walk:
    """Visits every namespace value, replacing those the config asks for."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.count = 0
        self.old: set[str] = set()
        self.results: list[dict[str, Any]] = []

    def visit(self, origin: str, current: str, resource: Any = None) -> str:
        """The new value of a namespace field now holding ``current``."""
        if origin == UNKNOWN_NAMESPACE:
            return current
        current = current or DEFAULT_NAMESPACE
        if current == self.config.namespace:
            return current
        change = not self.config.matcher
        if self.config.matcher:
            if self.config.matcher == origin:
                ident = f"[{sdk.short_string(resource)}]" if resource is not None else "[]"
                self.results.append(sdk.result(f"{ident} has matching origin {origin}"))
            change = self.config.matcher in (current, origin)
        if not change:
            return current
        self.old.add(current)
        self.count += 1
        return self.config.namespace

    def cluster_scoped(self, resource: CommentedMap) -> None:
        obj = sdk.kube(resource)
        if sdk.is_gvk(resource, "", "v1", "Namespace"):
            origin = _origin(resource)
            new = self.visit(
                origin[1] if origin else "", sdk.metadata_text(resource, "name"), resource
            )
            _set(obj, new, ("metadata", "name"))
        elif sdk.is_gvk(resource, "apiextensions.k8s.io", "v1", "CustomResourceDefinition"):
            conversion = ("spec", "conversion")
            service = (*conversion, "webhook", "clientConfig", "service")
            if _string_at(resource, (*conversion, "strategy")) != "Webhook":
                return
            if not _exists(resource, (*service, "name")):
                return
            self._service_namespace(obj, resource, service)
        elif sdk.is_gvk(resource, "apiregistration.k8s.io", "v1", "APIService"):
            if _exists(resource, ("spec", "service", "name")):
                self._service_namespace(obj, resource, ("spec", "service"))
        elif sdk.text(resource, "kind") in ("ClusterRoleBinding", "RoleBinding"):
            for subject in obj.children("subjects"):
                if "namespace" in subject.node:
                    value = subject.node["namespace"]
                    current = value if isinstance(value, str) else ""
                    _set(subject, self.visit("", current), ("namespace",))

    def _service_namespace(self, obj: sdk.Sub, resource: Any, service: tuple[str, ...]) -> None:
        current = _string_at(resource, (*service, "namespace"))
        _set(obj, self.visit("", current), (*service, "namespace"))

    def namespaced(self, resource: CommentedMap) -> None:
        origin = _origin(resource)
        new = self.visit(
            origin[0] if origin else UNKNOWN_NAMESPACE,
            sdk.metadata_text(resource, "namespace"),
            resource,
        )
        _set(sdk.kube(resource), new, ("metadata", "namespace"))


def _walk_to(resource: Any, fields: tuple[str, ...]) -> tuple[bool, Any]:
    node = resource
    for key in fields:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _exists(resource: Any, fields: tuple[str, ...]) -> bool:
    return _walk_to(resource, fields)[0]


def _string_at(resource: Any, fields: tuple[str, ...]) -> str:
    found, value = _walk_to(resource, fields)
    return value if found and isinstance(value, str) else ""


def _update_depends_on(
    objects: list[CommentedMap], before: set[str], config: Config
) -> tuple[int, set[str]]:
    count = 0
    old: set[str] = set()
    for resource in objects:
        reference = sdk.annotation(resource, DEPENDS_ON)
        if not reference or not _NAMESPACED_REFERENCE.match(reference) or reference not in before:
            continue
        segments = reference.split("/")
        if segments[2] == config.namespace:
            continue
        if config.matcher and config.matcher != segments[2]:
            continue
        old.add(segments[2])
        segments[2] = config.namespace
        count += 1
        _set(sdk.kube(resource), "/".join(segments), ("metadata", "annotations", DEPENDS_ON))
    return count, old


def _go_list(values: set[str]) -> str:
    """A sorted list of strings as Go's ``%v`` prints it: ``[a b]``."""
    return "[" + " ".join(sorted(values)) + "]"


def _set(obj: sdk.Sub, value: str, fields: tuple[str, ...]) -> None:
    """Set a value where the catalog ignores (or cannot survive) a failure to set it."""
    with contextlib.suppress(sdk.FieldError):
        obj.set_string(value, fields)
