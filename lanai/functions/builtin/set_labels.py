"""set-labels: add labels to every resource and to the selectors that must follow them.

Labels on a workload are only useful if its selector and pod template agree, so the
function edits those too (the places kustomize's ``commonLabels`` knows), creating
``matchLabels`` and template labels for the apps/v1 workloads. Selectors of objects
that merely *point at* pods (PodDisruptionBudget, NetworkPolicy, a Job's selector) are
left alone, as the catalog does.
"""

from __future__ import annotations

from ruamel.yaml.comments import CommentedMap

from lanai.functions.builtin import krm

_WORKLOADS = ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet")

DEFAULT_FIELDS: tuple[krm.FieldSpec, ...] = (
    krm.FieldSpec("metadata/labels", create=True),
    krm.FieldSpec("spec/selector", kind="Service", version="v1", group=""),
    krm.FieldSpec("spec/selector", kind="ReplicationController", version="v1", group=""),
    krm.FieldSpec(
        "spec/template/metadata/labels", kind="ReplicationController", group="", create=True
    ),
    *(krm.FieldSpec("spec/selector/matchLabels", kind=k, create=True) for k in _WORKLOADS),
    *(krm.FieldSpec("spec/template/metadata/labels", kind=k, create=True) for k in _WORKLOADS),
    krm.FieldSpec("spec/volumeClaimTemplates/metadata/labels", kind="StatefulSet", create=True),
    krm.FieldSpec("spec/template/metadata/labels", kind="Job", create=True),
    krm.FieldSpec("spec/jobTemplate/metadata/labels", kind="CronJob", create=True),
    krm.FieldSpec("spec/jobTemplate/spec/template/metadata/labels", kind="CronJob", create=True),
)


def read_config(config: CommentedMap | None) -> tuple[dict[str, str], list[krm.FieldSpec]]:
    """The labels to set and any additional label fields, from ConfigMap or SetLabels."""
    if config is None:
        raise krm.fail("`FunctionConfig` is not given")
    if krm.is_kind(config, "ConfigMap", ""):
        return krm.config_map_data(config), []
    if krm.is_kind(config, "SetLabels"):
        labels = krm.string_map(config.get("labels"), "labels")
        extra = [
            krm.FieldSpec.from_config(raw, "additionalLabelFields")
            for raw in config.get("additionalLabelFields") or []
        ]
        return labels, extra
    group, _ = krm.group_version(config)
    raise krm.fail(
        f"unknown FunctionConfig `{krm.kind(config)}.{group}`, "
        "expect `SetLabels.fn.kpt.dev` or `ConfigMap.v1`"
    )


def run(resource_list: CommentedMap) -> None:
    labels, extra = read_config(krm.function_config(resource_list))
    if not labels:
        message = "no `labels` arguments are given in FunctionConfig"
        krm.add_result(resource_list, message, "warning")
        return
    resources = krm.items(resource_list)
    if not resources:
        krm.add_result(resource_list, "no input resources")
        return
    specs = (*DEFAULT_FIELDS, *extra)
    for resource in resources:
        set_labels(resource, labels, specs)
    krm.add_result(resource_list, f"set {len(labels)} labels in total")


def set_labels(
    resource: CommentedMap, labels: dict[str, str], specs: tuple[krm.FieldSpec, ...]
) -> bool:
    changed = False
    for spec in specs:
        if spec.selects(resource):
            changed = krm.apply_string_map(resource, spec, labels) or changed
    return changed
