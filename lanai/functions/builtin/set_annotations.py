"""set-annotations: add annotations to every resource and to its pod templates.

Annotations on a pod template reach the pods, which is usually what the user wants when
they annotate a workload, so the kustomize ``commonAnnotations`` places are edited too;
``additionalAnnotationFields`` reaches custom resources.
"""

from __future__ import annotations

import json

from ruamel.yaml.comments import CommentedMap

from lanai.functions.builtin import krm

_TEMPLATED = ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job")

DEFAULT_FIELDS: tuple[krm.FieldSpec, ...] = (
    krm.FieldSpec("metadata/annotations", create=True),
    krm.FieldSpec(
        "spec/template/metadata/annotations", kind="ReplicationController", group="", create=True
    ),
    *(krm.FieldSpec("spec/template/metadata/annotations", kind=k, create=True) for k in _TEMPLATED),
    krm.FieldSpec("spec/jobTemplate/metadata/annotations", kind="CronJob", create=True),
    krm.FieldSpec(
        "spec/jobTemplate/spec/template/metadata/annotations", kind="CronJob", create=True
    ),
)


def read_config(config: CommentedMap | None) -> tuple[dict[str, str], list[krm.FieldSpec]]:
    if config is None:
        raise krm.fail(
            "failed to configure function: `functionConfig` must be a `ConfigMap` or "
            "`SetAnnotations`"
        )
    if krm.is_kind(config, "ConfigMap", ""):
        values, extra = krm.config_map_data(config), []
    elif krm.is_kind(config, "SetAnnotations"):
        values = krm.string_map(config.get("annotations"), "annotations")
        extra = [
            krm.FieldSpec.from_config(raw, "additionalAnnotationFields")
            for raw in config.get("additionalAnnotationFields") or []
        ]
    else:
        raise krm.fail(
            "failed to configure function: `functionConfig` must be a `ConfigMap` or "
            "`SetAnnotations`"
        )
    if not values:
        raise krm.fail("failed to configure function: input annotation list cannot be empty")
    return values, extra


def run(resource_list: CommentedMap) -> None:
    values, extra = read_config(krm.function_config(resource_list))
    specs = (*DEFAULT_FIELDS, *extra)
    message = "set annotations: " + json.dumps(dict(sorted(values.items())), separators=(",", ":"))
    for resource in krm.items(resource_list):
        for spec in specs:
            if spec.selects(resource):
                krm.apply_string_map(resource, spec, values)
        result = krm.add_result(resource_list, message, resource=resource)
        result["field"] = {"path": "metadata.annotations"}
