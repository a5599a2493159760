"""ensure-name-substring: make every resource name carry a prefix or a suffix.

Renaming is only safe if whatever points at the old name follows: volumes and env
sources naming ConfigMaps and Secrets, service accounts, role references, claims,
services, scale targets and ``depends-on`` annotations. References are followed only
to resources present in the list (a reference to something outside the package is left
alone). The function is idempotent: a name that already contains the substring is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from lanai.functions.builtin import krm, sdk
from lanai.kpt import fnapi

CLUSTER_SCOPED = frozenset(
    {"ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "PriorityClass"}
)


@dataclass(frozen=True)
class Config:
    substring: str
    append: bool = False
    additional: tuple[krm.FieldSpec, ...] = ()
    mode: str = "prepend"

    def apply(self, name: str) -> str:
        """The name with the substring, if missing; an unknown edit mode changes nothing,
        as in the catalog."""
        if not name or self.substring in name or self.mode not in ("prepend", "append"):
            return name
        return name + self.substring if self.append else self.substring + name


def read_config(config: CommentedMap | None) -> Config:
    try:
        return _read_config(config)
    except _Failure as error:
        raise _Failure(f"failed to load the `functionConfig`: {error}") from error


def _read_config(config: CommentedMap | None) -> Config:
    api_version, kind = sdk.text(config, "apiVersion"), sdk.text(config, "kind")
    if (api_version, kind) == ("v1", "ConfigMap"):
        data = config.get("data") if config is not None else None
        entries = dict(data) if isinstance(data, dict) else {}
        if len(entries) != 1:
            raise _Failure(f"only 1 entry is allowed in the ConfigMap, but got: {len(entries)}")
        mode, substring = (sdk.scalar_text(v) for v in next(iter(entries.items())))
        if mode not in ("prepend", "append"):
            raise _Failure(f"unknown editMode: {mode}, only prepend and append are allowed")
        extra: tuple[krm.FieldSpec, ...] = ()
    elif (api_version, kind) == ("fn.kpt.dev/v1alpha1", "EnsureNameSubstring"):
        assert config is not None
        substring = sdk.scalar_text(config.get("substring"))
        mode = sdk.scalar_text(config.get("editMode")) or "prepend"
        legacy, current = config.get("fieldSpecs"), config.get("additionalNameFields")
        if legacy is not None and current is not None:
            raise _Failure(
                "`fieldSpecs` has been deprecated, please rename it to `additionalNameFields`"
            )
        extra = tuple(
            krm.FieldSpec.from_config(raw, "additionalNameFields")
            for raw in (current if current is not None else legacy) or []
        )
    else:
        group, version = sdk.group_version(api_version)
        raise _Failure(
            "function config must be either /v1, Kind=ConfigMap or "
            "fn.kpt.dev/v1alpha1, Kind=EnsureNameSubstring, but we got: "
            f"{group}/{version}, Kind={kind}"
        )
    if not substring:
        raise _Failure("substring must not be empty")
    return Config(substring=substring, append=mode == "append", additional=extra, mode=mode)


class _Failure(Exception):
    pass


# A renamed object: (group, kind, namespace, old name) → new name.
Renames = dict[tuple[str, str, str, str], str]


def run(resource_list: CommentedMap) -> None:
    try:
        config = read_config(krm.function_config(resource_list))
    except _Failure as error:
        failure = {"message": str(error), "severity": "error"}
        resource_list["results"] = CommentedSeq([failure])
        raise fnapi.FunctionError(
            message=str(error), stderr=str(error), exit_code=1, results=[failure]
        ) from error
    resources = krm.items(resource_list)
    renames: Renames = {}
    for resource in resources:
        if _skipped(resource):
            continue
        old = krm.name(resource)
        new = config.apply(old)
        meta = resource.get("metadata")
        if new != old and isinstance(meta, dict):
            group, _ = krm.group_version(resource)
            renames[(group, krm.kind(resource), krm.namespace(resource), old)] = new
            meta["name"] = new
        for spec in config.additional:
            if spec.selects(resource):
                _rename_field(resource, spec, config)
    if not renames:
        return
    for resource in resources:
        _update_references(resource, renames)
        _update_depends_on(resource, renames)


def _skipped(resource: CommentedMap) -> bool:
    """Kinds the catalog never renames: CRDs, APIServices, Namespaces and Kptfiles."""
    group, _ = krm.group_version(resource)
    kind = krm.kind(resource)
    return kind in ("CustomResourceDefinition", "Namespace") or (kind, group) in (
        ("APIService", "apiregistration.k8s.io"),
        ("Kptfile", "kpt.dev"),
    )


def _rename_field(resource: CommentedMap, spec: krm.FieldSpec, config: Config) -> None:
    for parent, key in list(krm.field_spec_targets(resource, spec)):
        current = parent.get(key)
        if isinstance(current, str):
            parent[key] = krm.coerce_like(current, config.apply(current))
        elif current is None and spec.create:
            parent[key] = config.substring


def _lookup(renames: Renames, kind: str, namespace: str, name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    for (_, r_kind, r_namespace, r_name), new in renames.items():
        if r_kind != kind or r_name != name:
            continue
        if kind in CLUSTER_SCOPED or not namespace or not r_namespace or namespace == r_namespace:
            return new
    return None


def _rename(mapping: Any, key: str, kind: str, namespace: str, renames: Renames) -> None:
    if isinstance(mapping, dict):
        new = _lookup(renames, kind, namespace, mapping.get(key))
        if new is not None:
            mapping[key] = new


_POD_SPEC_PATHS: tuple[tuple[str, ...], ...] = (
    ("template", "spec"),
    ("jobTemplate", "spec", "template", "spec"),
)


def _pod_specs(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = resource.get("spec")
    if not isinstance(spec, dict):
        return
    if krm.kind(resource) == "Pod":
        yield spec
    paths: tuple[tuple[str, ...], ...] = (
        ("template", "spec"),
        ("jobTemplate", "spec", "template", "spec"),
    )
    for path in paths:
        node: Any = spec
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            yield node


def _each(node: Any, key: str) -> list[Any]:
    found = node.get(key) if isinstance(node, dict) else None
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def _update_references(resource: CommentedMap, renames: Renames) -> None:
    ns = krm.namespace(resource)
    kind = krm.kind(resource)

    def rename(mapping: Any, key: str, target_kind: str) -> None:
        _rename(mapping, key, target_kind, ns, renames)

    for pod in _pod_specs(resource):
        _update_pod_spec(pod, rename)
    spec = resource.get("spec")
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        ref = resource.get("roleRef")
        if isinstance(ref, dict) and ref.get("kind") in ("Role", "ClusterRole"):
            rename(ref, "name", str(ref["kind"]))
        for subject in _each(resource, "subjects"):
            if subject.get("kind") == "ServiceAccount":
                _rename(
                    subject, "name", "ServiceAccount", str(subject.get("namespace") or ns), renames
                )
    elif kind == "ServiceAccount":
        for secret in _each(resource, "secrets") + _each(resource, "imagePullSecrets"):
            rename(secret, "name", "Secret")
    elif kind == "StatefulSet" and isinstance(spec, dict):
        rename(spec, "serviceName", "Service")
    elif kind == "HorizontalPodAutoscaler" and isinstance(spec, dict):
        ref = spec.get("scaleTargetRef")
        if isinstance(ref, dict) and ref.get("kind"):
            rename(ref, "name", str(ref["kind"]))
    elif kind == "Ingress" and isinstance(spec, dict):
        for tls in _each(spec, "tls"):
            rename(tls, "secretName", "Secret")
        _update_ingress_backends(spec, rename)


def _update_pod_spec(pod: dict[str, Any], rename: Callable[[Any, str, str], None]) -> None:
    rename(pod, "serviceAccountName", "ServiceAccount")
    rename(pod, "serviceAccount", "ServiceAccount")
    for secret in _each(pod, "imagePullSecrets"):
        rename(secret, "name", "Secret")
    for volume in _each(pod, "volumes"):
        rename(volume.get("configMap"), "name", "ConfigMap")
        rename(volume.get("secret"), "secretName", "Secret")
        rename(volume.get("persistentVolumeClaim"), "claimName", "PersistentVolumeClaim")
        projected = volume.get("projected")
        for source in _each(projected, "sources"):
            rename(source.get("configMap"), "name", "ConfigMap")
            rename(source.get("secret"), "name", "Secret")
    for group in ("containers", "initContainers", "ephemeralContainers"):
        for container in _each(pod, group):
            for env in _each(container, "env"):
                source = env.get("valueFrom")
                if isinstance(source, dict):
                    rename(source.get("configMapKeyRef"), "name", "ConfigMap")
                    rename(source.get("secretKeyRef"), "name", "Secret")
            for env_from in _each(container, "envFrom"):
                rename(env_from.get("configMapRef"), "name", "ConfigMap")
                rename(env_from.get("secretRef"), "name", "Secret")


def _update_ingress_backends(spec: dict[str, Any], rename: Callable[[Any, str, str], None]) -> None:
    backends = [spec.get("defaultBackend"), spec.get("backend")]
    for rule in _each(spec, "rules"):
        for path in _each(rule.get("http"), "paths"):
            backends.append(path.get("backend"))
    for backend in backends:
        if isinstance(backend, dict):
            rename(backend.get("service"), "name", "Service")
            rename(backend, "serviceName", "Service")


def _update_depends_on(resource: CommentedMap, renames: Renames) -> None:
    notes = krm.annotations_of(resource)
    raw = notes.get(krm.DEPENDS_ON)
    if not raw:
        return
    references = []
    changed = False
    for reference in str(raw).split(","):
        parts = reference.strip().split("/")
        if len(parts) == 5 and parts[1] == "namespaces":
            key = (parts[0], parts[3], parts[2], parts[4])
        elif len(parts) == 3:
            key = (parts[0], parts[1], "", parts[2])
        else:
            references.append(reference.strip())
            continue
        new = renames.get(key)
        if new is not None:
            parts[-1] = new
            changed = True
        references.append("/".join(parts))
    if changed:
        notes[krm.DEPENDS_ON] = ",".join(references)
