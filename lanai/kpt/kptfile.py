"""The Kptfile: a strict model for reading it, and round-trip edits for writing it.

Reading is strict like kpt's (an unknown field is an error, old apiVersions are named
as deprecated) so a typo in a pipeline fails loudly instead of silently skipping a
function. Writing never goes through the model: edits are made on the ruamel document
so comments and key order that users wrote survive.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from lanai.kpt import yamlio

KPTFILE = "Kptfile"
API_VERSION = "kpt.dev/v1"
KIND = "Kptfile"
DEPRECATED_API_VERSIONS = ("kpt.dev/v1alpha1", "kpt.dev/v1alpha2")
IMAGE_PREFIX = "ghcr.io/kptdev/krm-functions-catalog/"

BFS_RENDERING = "kpt.dev/bfs-rendering"
SAVE_ON_RENDER_FAILURE = "kpt.dev/save-on-render-failure"

UPDATE_STRATEGIES = ("resource-merge", "fast-forward", "force-delete-replace", "copy-merge")


class KptfileError(ValueError):
    """A Kptfile that cannot be used; the message says what is wrong and where."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _scalar_text(value: Any) -> Any:
    """A YAML scalar as the string Go's decoder makes of it (``true`` → ``"true"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _string_map(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _scalar_text(v) for k, v in value.items()}
    return value


class Metadata(_Model):
    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None

    _maps = field_validator("labels", "annotations", mode="before")(_string_map)


class Git(_Model):
    repo: str | None = None
    directory: str | None = None
    ref: str | None = None


class GitLock(Git):
    commit: str | None = None


class Upstream(_Model):
    type: str | None = None
    git: Git | None = None
    update_strategy: str | None = Field(default=None, alias="updateStrategy")

    @model_validator(mode="after")
    def _known_strategy(self) -> Upstream:
        if self.update_strategy is not None and self.update_strategy not in UPDATE_STRATEGIES:
            raise ValueError(
                f"unknown updateStrategy {self.update_strategy!r}; "
                f"expected one of {', '.join(UPDATE_STRATEGIES)}"
            )
        return self


class UpstreamLock(_Model):
    type: str | None = None
    git: GitLock | None = None


class ReadinessGate(_Model):
    condition_type: str = Field(alias="conditionType")


class Info(_Model):
    site: str | None = None
    emails: list[str] | None = None
    license: str | None = None
    license_file: str | None = Field(default=None, alias="licenseFile")
    description: str | None = None
    keywords: list[str] | None = None
    man: str | None = None
    readiness_gates: list[ReadinessGate] | None = Field(default=None, alias="readinessGates")


class Selector(_Model):
    """Fields of one selector must all match; several selectors match if any does."""

    api_version: str | None = Field(default=None, alias="apiVersion")
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None

    _maps = field_validator("labels", "annotations", mode="before")(_string_map)


class Function(_Model):
    image: str | None = None
    exec: str | None = None
    config_path: str | None = Field(default=None, alias="configPath")
    config_map: dict[str, str] | None = Field(default=None, alias="configMap")
    name: str | None = None
    tag: str | None = None
    selectors: list[Selector] | None = None
    exclude: list[Selector] | None = None

    _config_map = field_validator("config_map", mode="before")(_string_map)

    @model_validator(mode="after")
    def _one_of_each(self) -> Function:
        if bool(self.image) == bool(self.exec):
            raise ValueError("a function needs exactly one of image and exec")
        if self.config_path is not None and self.config_map is not None:
            raise ValueError("a function may have configPath or configMap, not both")
        return self

    @property
    def resolved_image(self) -> str | None:
        """The image with the catalog prefix and a tag (``tag`` if the image has none)."""
        if not self.image:
            return None
        return normalize_image(self.image, self.tag)

    @property
    def display(self) -> str:
        return self.resolved_image or self.exec or self.name or "<unnamed function>"


class Pipeline(_Model):
    mutators: list[Function] | None = None
    validators: list[Function] | None = None


class Inventory(_Model):
    namespace: str | None = None
    name: str | None = None
    inventory_id: str | None = Field(default=None, alias="inventoryID")
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class Condition(_Model):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None


class RenderStatus(_Model):
    mutation_steps: list[dict[str, Any]] | None = Field(default=None, alias="mutationSteps")
    validation_steps: list[dict[str, Any]] | None = Field(default=None, alias="validationSteps")
    error_summary: str | None = Field(default=None, alias="errorSummary")


class Status(_Model):
    conditions: list[Condition] | None = None
    render_status: RenderStatus | None = Field(default=None, alias="renderStatus")


class Kptfile(_Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: Metadata = Field(default_factory=Metadata)
    upstream: Upstream | None = None
    upstream_lock: UpstreamLock | None = Field(default=None, alias="upstreamLock")
    info: Info | None = None
    pipeline: Pipeline | None = None
    inventory: Inventory | None = None
    status: Status | None = None

    @property
    def mutators(self) -> list[Function]:
        return list(self.pipeline.mutators or []) if self.pipeline else []

    @property
    def validators(self) -> list[Function]:
        return list(self.pipeline.validators or []) if self.pipeline else []

    def annotation(self, key: str) -> str | None:
        return (self.metadata.annotations or {}).get(key)


def normalize_image(image: str, tag: str | None = None) -> str:
    """A full image reference: short names get the catalog prefix, no tag means ``:latest``.

    >>> normalize_image("set-labels:v0.2")
    'ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.2'
    """
    image = image.strip()
    if "/" not in image:
        image = IMAGE_PREFIX + image
    last = image.rsplit("/", 1)[-1]
    if "@" not in last and ":" not in last:
        image = f"{image}:{tag or 'latest'}"
    return image


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _describe(error: pydantic.ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = _location(tuple(p for p in item["loc"] if p not in ("function-after",)))
        if item["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown field")
        elif item["type"] == "missing":
            problems.append(f"{where}: required field is missing")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
    return "; ".join(problems)


def from_mapping(document: Any, *, path: str = KPTFILE) -> Kptfile:
    """Validate a loaded Kptfile document; ``path`` names it in errors."""
    if not isinstance(document, dict):
        raise KptfileError(f"{path}: a Kptfile must be a YAML mapping")
    api_version = document.get("apiVersion")
    if api_version in DEPRECATED_API_VERSIONS:
        raise KptfileError(
            f"{path}: apiVersion {api_version} is deprecated and no longer supported; "
            f"update the Kptfile to {API_VERSION}"
        )
    if api_version != API_VERSION:
        raise KptfileError(f"{path}: apiVersion must be {API_VERSION}, got {api_version!r}")
    if document.get("kind") != KIND:
        raise KptfileError(f"{path}: kind must be {KIND}, got {document.get('kind')!r}")
    try:
        return Kptfile.model_validate(yamlio.to_plain(document))
    except pydantic.ValidationError as error:
        raise KptfileError(f"{path}: invalid Kptfile: {_describe(error)}") from error


def parse(content: str | bytes, *, path: str = KPTFILE) -> Kptfile:
    """Read and validate a Kptfile's text."""
    text = content.decode() if isinstance(content, bytes) else content
    try:
        document = yamlio.load_document(text)
    except yamlio.YamlIOError as error:
        raise KptfileError(f"{path}: {error}") from error
    return from_mapping(document, path=path)


# -- round-trip edits ------------------------------------------------------------------


def _child(parent: CommentedMap, key: str) -> CommentedMap:
    value = parent.get(key)
    if not isinstance(value, CommentedMap):
        value = CommentedMap()
        parent[key] = value
    return value


def set_label(doc: CommentedMap, key: str, value: str) -> None:
    _child(_child(doc, "metadata"), "labels")[key] = value


def set_annotation(doc: CommentedMap, key: str, value: str) -> None:
    _child(_child(doc, "metadata"), "annotations")[key] = value


def remove_annotation(doc: CommentedMap, key: str) -> None:
    metadata = doc.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if isinstance(annotations, dict) and key in annotations:
        del annotations[key]
        if not annotations:
            del metadata["annotations"]


def annotation(doc: CommentedMap, key: str) -> str | None:
    metadata = doc.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if isinstance(annotations, dict):
        value = annotations.get(key)
        return None if value is None else str(value)
    return None


def set_condition(
    doc: CommentedMap, type_: str, status: str, reason: str = "", message: str = ""
) -> None:
    """Add or replace the status condition of ``type_`` (in place, keeping order)."""
    conditions = _child(doc, "status").get("conditions")
    if not isinstance(conditions, list):
        conditions = CommentedSeq()
        doc["status"]["conditions"] = conditions
    condition = CommentedMap()
    condition["type"] = type_
    condition["status"] = DoubleQuotedScalarString(status)
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    for number, existing in enumerate(conditions):
        if isinstance(existing, dict) and existing.get("type") == type_:
            if yamlio.to_plain(existing) != yamlio.to_plain(condition):
                conditions[number] = condition
            return
    conditions.append(condition)


def set_render_status(doc: CommentedMap, render_status: dict[str, Any] | None) -> None:
    """Set (or with ``None`` remove) ``status.renderStatus``."""
    status = _child(doc, "status")
    if render_status is None:
        status.pop("renderStatus", None)
        return
    if yamlio.to_plain(status.get("renderStatus")) != render_status:
        status["renderStatus"] = yamlio.from_plain(render_status)


def set_upstream(
    doc: CommentedMap,
    repo: str,
    directory: str,
    ref: str,
    update_strategy: str = "resource-merge",
) -> None:
    upstream = _child(doc, "upstream")
    upstream["type"] = "git"
    git = _child(upstream, "git")
    git["repo"] = repo
    git["directory"] = directory
    git["ref"] = ref
    upstream["updateStrategy"] = update_strategy


def set_upstream_lock(doc: CommentedMap, repo: str, directory: str, ref: str, commit: str) -> None:
    lock = _child(doc, "upstreamLock")
    lock["type"] = "git"
    git = _child(lock, "git")
    git["repo"] = repo
    git["directory"] = directory
    git["ref"] = ref
    git["commit"] = commit


def set_readiness_gates(doc: CommentedMap, condition_types: Iterable[str]) -> None:
    """Ensure ``info.readinessGates`` lists each type once (existing gates kept first)."""
    info = _child(doc, "info")
    gates = info.get("readinessGates")
    if not isinstance(gates, list):
        gates = CommentedSeq()
    present = {g.get("conditionType") for g in gates if isinstance(g, dict)}
    for condition_type in condition_types:
        if condition_type not in present:
            gates.append(CommentedMap(conditionType=condition_type))
            present.add(condition_type)
    if gates:
        info["readinessGates"] = gates


def replace_readiness_gates(doc: CommentedMap, condition_types: Iterable[str]) -> None:
    """Make ``info.readinessGates`` list exactly ``condition_types``, in that order
    (entries that stay keep their comments); none left removes the field."""
    wanted = list(dict.fromkeys(condition_types))
    info = doc.get("info")
    gates = info.get("readinessGates") if isinstance(info, dict) else None
    existing = (
        {g.get("conditionType"): g for g in gates or [] if isinstance(g, dict)}
        if isinstance(gates, list)
        else {}
    )
    if not wanted:
        if isinstance(info, dict) and "readinessGates" in info:
            del info["readinessGates"]
        return
    replaced = CommentedSeq(existing.get(t) or CommentedMap(conditionType=t) for t in wanted)
    _child(doc, "info")["readinessGates"] = replaced


OWNED_ANNOTATION_PREFIXES = ("config.kubernetes.io/", "internal.config.kubernetes.io/")
"""Annotations kpt and its functions own: not package metadata a user sets or removes."""


def remove_label(doc: CommentedMap, key: str) -> None:
    metadata = doc.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if isinstance(labels, dict) and key in labels:
        del labels[key]
        if not labels:
            del metadata["labels"]


def labels(doc: CommentedMap) -> dict[str, str]:
    metadata = doc.get("metadata")
    found = metadata.get("labels") if isinstance(metadata, dict) else None
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def user_annotations(doc: CommentedMap) -> dict[str, str]:
    """The annotations that are package metadata (not :data:`OWNED_ANNOTATION_PREFIXES`)."""
    metadata = doc.get("metadata")
    found = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(found, dict):
        return {}
    return {
        str(k): str(v) for k, v in found.items() if not str(k).startswith(OWNED_ANNOTATION_PREFIXES)
    }
