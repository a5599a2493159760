"""Config injection: copy in-cluster objects into the package's injection points.

A package author marks a resource ``kpt.dev/config-injection: required|optional``; the
PackageVariant's injectors name in-cluster objects of the same group/version/kind (in
the PackageVariant's namespace) to copy into it: a ConfigMap's ``data``, any other
kind's ``spec``, with ``kpt.dev/injected-resource`` naming the source. Each injection
point gets a Kptfile condition ``config.injection.<Kind>.<name>`` (True once injected),
and a required one also a readiness gate, so the package cannot be proposed or
published before it is filled in.

Split in two pure steps around the reads the handler makes: :func:`find_points` and
:func:`wanted` say which objects to read; :func:`inject` applies what was read.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.kpt import kptfile, yamlio
from lanai.variants import spec
from lanai.variants.mutations import MutationError

CONFIG_INJECTION = "kpt.dev/config-injection"
INJECTED_RESOURCE = "kpt.dev/injected-resource"
REQUIRED = "required"
OPTIONAL = "optional"
_RESOURCE_SUFFIXES = (".yaml", ".yml", ".json")


def _parse_group_version(api_version: str) -> tuple[str, str]:
    group, slash, version = api_version.rpartition("/")
    return (group, version) if slash else ("", api_version)


@dataclass(frozen=True)
class ObjectRef:
    """An in-cluster object to read: apiVersion, kind and name (namespace: the variant's)."""

    api_version: str
    kind: str
    name: str

    @property
    def group(self) -> str:
        return _parse_group_version(self.api_version)[0]

    @property
    def version(self) -> str:
        return _parse_group_version(self.api_version)[1]


@dataclass(frozen=True)
class Point:
    """One resource in the package that asks for injection."""

    path: str
    index: int
    """Which document of the file."""
    api_version: str
    kind: str
    name: str
    required: bool

    @property
    def condition_type(self) -> str:
        return f"config.injection.{self.kind}.{self.name}"


def _is_resource_file(path: str) -> bool:
    name = posixpath.basename(path)
    return name == kptfile.KPTFILE or name.endswith(_RESOURCE_SUFFIXES)


def _documents(path: str, text: str) -> list[CommentedMap]:
    try:
        documents, _style = yamlio.load_file(path, text.encode())
    except yamlio.YamlIOError as error:
        raise MutationError(str(error)) from None
    return documents


def find_points(files: Mapping[str, str]) -> list[Point]:
    """Every injection point; an invalid annotation value or two points with the same
    condition type is an error in the upstream package (as in Porch)."""
    points: list[Point] = []
    problems: list[str] = []
    for path in sorted(files):
        if not _is_resource_file(path):
            continue
        for index, document in enumerate(_documents(path, files[path])):
            metadata = document.get("metadata") or {}
            annotations = metadata.get("annotations") or {}
            value = annotations.get(CONFIG_INJECTION) if isinstance(annotations, dict) else None
            if value is None:
                continue
            kind, name = str(document.get("kind") or ""), str(metadata.get("name") or "")
            if value not in (REQUIRED, OPTIONAL):
                problems.append(
                    f'{path}: {kind}/{name} has invalid "{CONFIG_INJECTION}" annotation value '
                    f'of "{value}"'
                )
                continue
            points.append(
                Point(
                    path,
                    index,
                    str(document.get("apiVersion") or ""),
                    kind,
                    name,
                    value == REQUIRED,
                )
            )
    seen: dict[str, Point] = {}
    for point in points:
        first = seen.setdefault(point.condition_type, point)
        if first is not point:
            problems.append(
                f'duplicate injection conditionType "{point.condition_type}" ({first.path} '
                f"and {point.path})"
            )
    if problems:
        raise MutationError(f"errors in injection points: {', '.join(problems)}")
    return points


def matches(point: Point, injector: spec.Injector) -> bool:
    """Whether the injector's group/version/kind (those it gives) fit the point."""
    group, version = _parse_group_version(point.api_version)
    return (
        (injector.group is None or injector.group == group)
        and (injector.version is None or injector.version == version)
        and (injector.kind is None or injector.kind == point.kind)
    )


def wanted(points: Iterable[Point], injectors: Sequence[spec.Injector]) -> list[ObjectRef]:
    """The in-cluster objects to read, each once, in the order they are tried."""
    refs: dict[ObjectRef, None] = {}
    for point in points:
        for injector in injectors:
            if matches(point, injector):
                refs[ObjectRef(point.api_version, point.kind, injector.name)] = None
    return list(refs)


@dataclass(frozen=True)
class Read:
    """What reading one in-cluster object gave: the object, nothing, or why not."""

    found: Mapping[str, Any] | None = None
    problem: str = ""


@dataclass
class _Outcome:
    injected: str = ""
    problems: list[str] = field(default_factory=list)


def _field_of(source: Mapping[str, Any]) -> str:
    group = _parse_group_version(str(source.get("apiVersion") or ""))[0]
    return "data" if group == "" and source.get("kind") == "ConfigMap" else "spec"


def inject(
    files: Mapping[str, str],
    points: Sequence[Point],
    injectors: Sequence[spec.Injector],
    reads: Mapping[ObjectRef, Read],
) -> dict[str, str]:
    """Fill each point from the first injector whose object exists, then record the
    points as Kptfile conditions (and required ones as readiness gates)."""
    result = dict(files)
    if not points:
        return result
    outcomes: dict[Point, _Outcome] = {}
    by_file: dict[str, list[CommentedMap]] = {}
    for point in points:
        outcome = outcomes.setdefault(point, _Outcome())
        if not injectors:
            outcome.problems.append("no injectors defined")
            continue
        for injector in injectors:
            if not matches(point, injector):
                continue
            read = reads.get(ObjectRef(point.api_version, point.kind, injector.name), Read())
            if read.problem:
                outcome.problems.append(read.problem)
                continue
            if read.found is None:
                continue
            source = read.found
            name = str((source.get("metadata") or {}).get("name") or injector.name)
            field_name = _field_of(source)
            if field_name not in source:
                outcome.problems.append(f'field "{field_name}" not found in resource "{name}"')
                break
            documents = by_file.get(point.path)
            if documents is None:
                documents = by_file[point.path] = _documents(point.path, result[point.path])
            target = documents[point.index]
            target[field_name] = yamlio.from_plain(yamlio.to_plain(source[field_name]))
            kptfile.set_annotation(target, INJECTED_RESOURCE, name)
            outcome.injected = name
            break
    for path, documents in by_file.items():
        style = yamlio.detect_style(result[path], json_file=path.endswith(".json"))
        text = yamlio.dump_documents(documents, style)
        before = _documents(path, result[path])
        if not all(yamlio.same_data(a, b) for a, b in zip(before, documents, strict=True)):
            result[path] = text
    return _conditions(result, outcomes)


def _conditions(files: dict[str, str], outcomes: Mapping[Point, _Outcome]) -> dict[str, str]:
    text = files.get(kptfile.KPTFILE)
    if text is None:
        raise MutationError(f"{kptfile.KPTFILE} not found in the downstream package")
    try:
        document = yamlio.load_document(text)
    except yamlio.YamlIOError as error:
        raise MutationError(f"{kptfile.KPTFILE}: {error}") from None
    before = yamlio.to_plain(document)
    kptfile.set_readiness_gates(document, sorted(p.condition_type for p in outcomes if p.required))
    for point in sorted(outcomes, key=lambda p: p.condition_type):
        outcome = outcomes[point]
        if outcome.injected:
            status, reason = "True", "ConfigInjected"
            message = f'injected resource "{outcome.injected}" from cluster'
        else:
            status, reason = "False", "NoResourceSelected"
            message = ", ".join(outcome.problems) or (
                "no resource matched any injection selector for this injection point"
            )
        kptfile.set_condition(document, point.condition_type, status, reason, message)
    if yamlio.to_plain(document) != before:
        files[kptfile.KPTFILE] = yamlio.dump_document(document, yamlio.detect_style(text))
    return files
