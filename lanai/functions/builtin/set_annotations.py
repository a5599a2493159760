"""set-annotations: add annotations to every resource and to its pod templates.

Annotations on a pod template reach the pods, which is usually what the user wants when
they annotate a workload, so the catalog function applies kustomize's
``commonAnnotations`` field specs, each with ``create: true``: a Deployment without a
template gets one (``spec.template.metadata.annotations``), and
``additionalAnnotationFields`` reach custom resources. Unlike set-labels it annotates
local-config resources too. It reports one result per annotated map, keyed by file,
index and field path, so two resources at the same relative path share a result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from lanai.functions.builtin import krm, kyaml, sdk
from lanai.kpt import fnapi


@dataclass(frozen=True)
class FieldSpec:
    """A kustomize field spec: the kinds it applies to and the ``/``-separated path."""

    path: str
    kind: str = ""
    group: str = ""
    version: str = ""
    create: bool = False

    def selects(self, resource: Any) -> bool:
        group, version = _group_version(sdk.text(resource, "apiVersion"))
        return (
            (not self.kind or self.kind == sdk.text(resource, "kind"))
            and (not self.group or self.group == group)
            and (not self.version or self.version == version)
        )

    def segments(self) -> list[str]:
        """kustomize's PathSplitter: ``/`` separates, ``\\/`` is a literal slash."""
        parts = self.path.split("/")
        out = [parts[0]]
        for part in parts[1:]:
            if out[-1].endswith("\\"):
                out[-1] = out[-1][:-1] + "/" + part
            else:
                out.append(part)
        return out


def _group_version(api_version: str) -> tuple[str, str]:
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def _common(path: str, kind: str = "", group: str = "", version: str = "") -> FieldSpec:
    return FieldSpec(path, kind=kind, group=group, version=version, create=True)


_TEMPLATE = "spec/template/metadata/annotations"

#: kustomize's commonAnnotations field specs, in its order.
DEFAULT_FIELDS: tuple[FieldSpec, ...] = (
    _common("metadata/annotations"),
    _common(_TEMPLATE, kind="ReplicationController", version="v1"),
    _common(_TEMPLATE, kind="Deployment"),
    _common(_TEMPLATE, kind="ReplicaSet"),
    _common(_TEMPLATE, kind="DaemonSet"),
    _common(_TEMPLATE, kind="StatefulSet"),
    _common(_TEMPLATE, kind="Job", group="batch"),
    _common("spec/jobTemplate/metadata/annotations", kind="CronJob", group="batch"),
    _common("spec/jobTemplate/spec/template/metadata/annotations", kind="CronJob", group="batch"),
)


class _Failure(Exception):
    pass


def read_config(config: Any) -> tuple[dict[str, str], list[FieldSpec]]:
    """The annotations and extra field specs of a ConfigMap or SetAnnotations config."""
    api_version, kind = sdk.text(config, "apiVersion"), sdk.text(config, "kind")
    extra: list[FieldSpec] = []
    if (api_version, kind) == ("v1", "ConfigMap"):
        data = config.get("data") if isinstance(config, dict) else None
        values = {
            sdk.scalar_text(k): sdk.scalar_text(v)
            for k, v in (data.items() if isinstance(data, dict) else [])
            if not isinstance(v, dict | list)
        }
    elif api_version == "fn.kpt.dev/v1alpha1" and kind in ("SetAnnotations", "SetAnnotationConfig"):
        values = _annotations(config.get("annotations"))
        legacy, current = config.get("fieldSpecs"), config.get("additionalAnnotationFields")
        if legacy is not None and current is not None:
            raise _Failure(
                "`fieldSpecs` has been deprecated, please rename it to `additionalAnnotationFields`"
            )
        extra = [_field_spec(raw) for raw in (current if current is not None else legacy) or []]
    else:
        raise _Failure("`functionConfig` must be a `ConfigMap` or `SetAnnotations`")
    if not values:
        raise _Failure("input annotation list cannot be empty")
    return values, extra


def _annotations(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _Failure(
            "json: cannot unmarshal array into Go struct field plugin.annotations of type "
            "map[string]string"
        )
    found: dict[str, str] = {}
    for key, value in raw.items():
        if value is not None and not isinstance(value, str):
            raise _Failure(
                "json: cannot unmarshal number into Go struct field plugin.annotations of "
                "type string"
            )
        found[sdk.scalar_text(key)] = value or ""
    return found


def _field_spec(raw: Any) -> FieldSpec:
    if not isinstance(raw, dict):
        raise _Failure("json: cannot unmarshal into Go struct field of type types.FieldSpec")
    return FieldSpec(
        path=sdk.scalar_text(raw.get("path")),
        kind=sdk.scalar_text(raw.get("kind")),
        group=sdk.scalar_text(raw.get("group")),
        version=sdk.scalar_text(raw.get("version")),
        create=raw.get("create") is True,
    )


def run(resource_list: CommentedMap) -> None:
    try:
        values, extra = _configure(krm.function_config(resource_list))
        resources = krm.items(resource_list)
        _check_unique(resources)
        specs = (*extra, *DEFAULT_FIELDS)
        applied: dict[tuple[str, str, str], dict[str, str]] = {}
        for resource in resources:
            path, index = kyaml.file_annotations(resource)
            for key in sorted(values):
                for spec in specs:
                    if not spec.selects(resource):
                        continue
                    for target, field_path in _targets(resource, spec):
                        applied.setdefault((path, index, field_path), {})[key] = values[key]
                        _set(target, key, values[key])
    except _Failure as error:
        failure = kyaml.result(str(error), "error")
        resource_list["results"] = CommentedSeq([failure])
        raise fnapi.FunctionError(
            message=str(error),
            stderr=kyaml.results_text([failure]),
            exit_code=1,
            results=[failure],
        ) from error
    resource_list["results"] = CommentedSeq(_results(applied))


def _configure(config: Any) -> tuple[dict[str, str], list[FieldSpec]]:
    try:
        return read_config(config)
    except _Failure as error:
        raise _Failure(f"failed to configure function: {error}") from error


def _check_unique(resources: list[CommentedMap]) -> None:
    """kustomize's resource map refuses two resources with the same id."""
    seen: set[tuple[str, str, str, str]] = set()
    for resource in resources:
        group, version = _group_version(sdk.text(resource, "apiVersion"))
        ident = (
            f"{group}/{version}",
            sdk.text(resource, "kind"),
            sdk.metadata_text(resource, "namespace"),
            sdk.metadata_text(resource, "name"),
        )
        if ident in seen:
            gvk = ".".join(p for p in (ident[1], version, group) if p)
            raise _Failure(
                "failed to run function: may not add resource with an already registered "
                f"id: {gvk}/{ident[3]}.{ident[2] or '[noNs]'}"
            )
        seen.add(ident)


def _targets(resource: CommentedMap, spec: FieldSpec) -> Iterator[tuple[Any, str]]:
    """The maps ``spec`` reaches (made where ``create`` asks), with their field path."""
    yield from _walk(resource, spec.segments(), spec.create, [])


def _walk(node: Any, path: list[str], create: bool, trail: list[str]) -> Iterator[tuple[Any, str]]:
    if not path:
        yield node, ".".join(trail)
        return
    if node is None:
        return
    if isinstance(node, list):
        for element in list(node):
            yield from _walk(element, path, create, trail)
        return
    if not isinstance(node, dict):
        raise _Failure(
            "failed to run function: failed to run transformer: expected sequence or mapping node"
        )
    name = path[0].removesuffix("[]")
    if not name:
        raise _Failure("failed to run function: cannot set or create an empty field name")
    sequence = name != path[0]
    if name not in node or node[name] is None:
        if not create or sequence:
            return
        node[name] = CommentedMap()
    yield from _walk(node[name], path[1:], create, [*trail, name])


def _set(target: Any, key: str, value: str) -> None:
    if not isinstance(target, dict):
        raise _Failure(
            "failed to run function: failed to run transformer: wrong node kind: expected "
            "MappingNode"
        )
    if key in target:
        sdk.put(target, key, kyaml.restyled(target[key], value))
    else:
        target[key] = kyaml.new_string(value)


def _results(applied: dict[tuple[str, str, str], dict[str, str]]) -> list[dict[str, Any]]:
    if not applied:
        return [kyaml.result("no annotations applied")]
    results = [
        kyaml.result(
            f"set annotations: {_go_json(values)}",
            field={"path": field_path},
            path=path,
            index=kyaml.go_atoi(index),
            file=True,
        )
        for (path, index, field_path), values in applied.items()
    ]
    kyaml.sort_results(results)
    return results


def _go_json(values: dict[str, str]) -> str:
    """Go's json.Marshal of a map[string]string: keys sorted, HTML characters escaped."""
    text = json.dumps(dict(sorted(values.items())), separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
