"""set-labels: add labels to every resource and to the selectors that must agree with them.

The catalog's set-labels decides, per kind, which label maps it creates and which it only
updates, and users diff against exactly that: ``metadata.labels`` (also of pod, job and
volume-claim templates that exist) and a Service's or ReplicationController's
``spec.selector`` are created; the apps/v1 workloads' ``spec.selector.matchLabels`` is
created; a Job's or PodDisruptionBudget's selector, a NetworkPolicy's pod selectors and
``labelSelector``s of topology spread constraints only get labels they already have
updated. Templates are never invented, local-config resources are left alone, keys are
applied in sorted order and new ones go at the end of their map.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.functions.builtin import krm, sdk

_META = ("metadata", "labels")
_SELECTOR = ("selector", "matchLabels")
_POD_SELECTOR = ("podSelector", "matchLabels")
_LABEL_SELECTOR = ("labelSelector", "matchLabels")


class _ConfigError(Exception):
    pass


def read_config(config: Any) -> dict[str, str]:
    """The labels a ConfigMap's ``data`` or a ``SetLabels.fn.kpt.dev`` ``labels`` names."""
    gvk = sdk.GVK.of(config)
    if gvk.group == "" and gvk.kind == "ConfigMap":
        if "data" in config and not isinstance(config["data"], dict):
            raise _ConfigError(str(sdk.kube(config).error(["data"], "map[string]string")))
        data, _ = sdk.string_map(config.get("data"))
        return data or {}
    if gvk.group == sdk.FUNCTION_GROUP and gvk.kind == "SetLabels":
        return _labels_field(config)
    raise _ConfigError(
        f"unknown FunctionConfig `{gvk.group_kind}`, expect `SetLabels.fn.kpt.dev` or "
        "`ConfigMap.v1`"
    )


def _labels_field(config: dict[str, Any]) -> dict[str, str]:
    labels = config.get("labels")
    prefix = "unable to convert object to *setlabels.SetLabels with error: json: cannot unmarshal"
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise _ConfigError(
            f"{prefix} {_json_type(labels)} into Go struct field SetLabels.labels of type "
            "map[string]string"
        )
    found: dict[str, str] = {}
    for key, value in labels.items():
        if value is not None and not isinstance(value, str):
            raise _ConfigError(
                f"{prefix} {_json_type(value)} into Go struct field SetLabels.labels of type string"
            )
        found[sdk.scalar_text(key)] = value or ""
    return found


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _placeholder(config: Any) -> bool:
    """set-labels' own test for "no config": kpt's empty ConfigMap, or nothing at all."""
    if sdk.text(config, "kind") == "ConfigMap" and sdk.metadata_text(config, "name") == (
        "function-input"
    ):
        data, _ = sdk.string_map(config.get("data"))
        return not data
    return sdk.text(config, "kind") == "" and sdk.metadata_text(config, "name") == ""


def run(resource_list: CommentedMap) -> None:
    config = krm.function_config(resource_list)
    results: list[dict[str, Any]] = []
    labels: dict[str, str] = {}
    if sdk.is_empty(config) or sdk.is_placeholder_config(config):
        results.append(sdk.result("`FunctionConfig` is not given"))
    else:
        try:
            labels = read_config(config)
        except _ConfigError as error:
            results.append(sdk.result(str(error), "error"))
            sdk.finish(resource_list, results, ok=False)
    objects = [item for item in krm.items(resource_list) if not sdk.is_local_config(item)]
    if not objects:
        results.append(sdk.result("no input resources"))
        sdk.finish(resource_list, results, ok=True)
        return
    if config is None or _placeholder(config):
        sdk.finish(resource_list, results, ok=False)
    if not labels:
        results.append(sdk.result("no `labels` arguments are given in FunctionConfig", "warning"))
        sdk.finish(resource_list, results, ok=True)
        return
    setter = _Setter(labels)
    failed = False
    for resource in objects:
        try:
            setter.resource(resource)
        except sdk.FieldError as error:
            results.append(sdk.result(str(error), "error"))
            failed = True
    results.append(sdk.result(f"set {setter.count} labels in total"))
    sdk.finish(resource_list, results, ok=not failed)


class _Setter:
    """Walks one resource the way the catalog function does, counting as it does."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = sorted(labels.items())
        self.count = 0

    def update(self, sub: sdk.Sub | None, path: tuple[str, ...], create: bool) -> None:
        """Each label, in key order: set it where it differs, add it only if ``create``."""
        if sub is None or not self.labels:
            return
        target = sub.lookup(path, self.labels[0][0])
        for key, value in self.labels:
            if target is not None and key in target:
                old = target[key]
                if not isinstance(old, str):
                    raise sub.error([*path, key])
                if old != value:
                    self.set(target, key, value)
            elif create:
                if target is None:
                    target = sub.make(path)
                self.set(target, key, value)
            self.count += 1

    @staticmethod
    def set(target: Any, key: str, value: str) -> None:
        if key == sdk.UPSTREAM_IDENTIFIER:
            raise sdk.FieldError(
                f"annotation {sdk.UPSTREAM_IDENTIFIER} is managed by kpt and should not be modified"
            )
        sdk.put(target, key, sdk.go_string(value))

    def resource(self, resource: CommentedMap) -> None:
        obj = sdk.kube(resource)
        plan = _plan(sdk.GVK.of(resource))
        self.update(obj, _META, create=True)
        if plan.spec_selector:
            self.update(obj, ("spec", "selector"), create=True)
        if plan.match_labels is not None:
            self.update(obj, ("spec", *_SELECTOR), create=plan.match_labels)
        if plan.network_policy:
            self.update(obj, ("spec", *_POD_SELECTOR), create=False)
        spec = obj.child("spec")
        if spec is None:
            return
        if plan.pod_template:
            self.pod(spec.child("template"))
        if plan.cron_job:
            self.job(spec.child("jobTemplate"))
        if plan.stateful_set:
            self.volume_claims(spec)
        if plan.network_policy:
            for rule in spec.children("ingress"):
                for peer in rule.children("from"):
                    self.update(peer, _POD_SELECTOR, create=False)
            for rule in spec.children("egress"):
                for peer in rule.children("to"):
                    self.update(peer, _POD_SELECTOR, create=False)

    def pod(self, template: sdk.Sub | None) -> None:
        if template is None:
            return
        self.update(template, _META, create=True)
        spec = template.child("spec")
        if spec is None:
            return
        for constraint in spec.children("topologySpreadConstraints"):
            self.update(constraint, _LABEL_SELECTOR, create=False)
        affinity = spec.child("affinity")
        if affinity is None:
            return
        for kind in ("podAffinity", "podAntiAffinity"):
            if affinity.child(kind) is None:
                continue
            # The catalog looks for the scheduling terms on `affinity` itself, not under
            # podAffinity/podAntiAffinity, so real affinity terms are never updated.
            for term in affinity.children("preferredDuringSchedulingIgnoredDuringExecution"):
                self.update(term.child("podAffinityTerm"), _LABEL_SELECTOR, create=False)
            for term in affinity.children("requiredDuringSchedulingIgnoredDuringExecution"):
                self.update(term, _LABEL_SELECTOR, create=False)

    def job(self, template: sdk.Sub | None) -> None:
        if template is None:
            return
        self.update(template, _META, create=True)
        spec = template.child("spec")
        self.update(spec, _SELECTOR, create=False)
        if spec is not None:
            self.pod(spec.child("template"))

    def volume_claims(self, spec: sdk.Sub) -> None:
        claims = spec.node.get("volumeClaimTemplates") if isinstance(spec.node, dict) else None
        if claims is not None and not isinstance(claims, list):
            raise spec.error(["volumeClaimTemplates"], "struct {}")
        for claim in spec.children("volumeClaimTemplates"):
            self.update(claim, _META, create=True)
            self.update(claim, _SELECTOR, create=False)


_CREATED_SELECTORS = (
    ("", "Deployment"),
    ("", "ReplicaSet"),
    ("", "DaemonSet"),
    ("apps", "StatefulSet"),
)
_UPDATED_SELECTORS = (("batch", "Job"), ("policy", "PodDisruptionBudget"))


@dataclass(frozen=True)
class _Plan:
    """Which label maps a kind has, decided once per kind (the SDK's loose IsGVK)."""

    spec_selector: bool
    match_labels: bool | None  # None: no selector; True: created; False: only updated
    network_policy: bool
    pod_template: bool
    cron_job: bool
    stateful_set: bool


@functools.lru_cache(maxsize=512)
def _plan(gvk: sdk.GVK) -> _Plan:
    created = any(gvk.matches(g, "", k) for g, k in _CREATED_SELECTORS)
    updated = any(gvk.matches(g, "", k) for g, k in _UPDATED_SELECTORS)
    return _Plan(
        spec_selector=gvk.matches("", "v1", "Service")
        or gvk.matches("", "v1", "ReplicationController"),
        match_labels=True if created else (False if updated else None),
        network_policy=gvk.matches("networking.k8s.io", "", "NetworkPolicy"),
        pod_template=gvk.matches("", "v1", "ReplicationController")
        or any(gvk.matches(g, "", k) for g, k in (*_CREATED_SELECTORS, ("batch", "Job"))),
        cron_job=gvk.matches("batch", "", "CronJob"),
        stateful_set=gvk.matches("apps", "", "StatefulSet"),
    )
