"""A PackageVariant's spec as values, and Porch's checks of it.

The CRD refuses most mistakes already (CEL rules); these checks repeat Porch's
controller validation so that an object written before the CRD had a rule, or applied
with validation off, still gets a clear ``Stalled`` condition instead of half an action.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ADOPT_EXISTING = "adoptExisting"
ADOPT_NONE = "adoptNone"
DELETE = "delete"
ORPHAN = "orphan"
RESERVED_CONTEXT_KEYS = ("name", "package-path")
"""package-context.yaml keys Lanai sets itself for each package (Porch reserves them too)."""

_REVISION = re.compile(r"^v?(-?[0-9]+)$")


class SpecError(ValueError):
    """The spec cannot be acted on; the message names the field and what to do."""


def parse_revision(value: Any) -> int | None:
    """spec.upstream.revision as a number: ``None`` for "the latest published" (absent,
    0 or -1, as Porch treats them), else N for ``N`` or Porch's string form ``vN``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SpecError(f"spec.upstream.revision must be a number such as 3 or v3, not {value}")
    if isinstance(value, int):
        number = value
    else:
        found = _REVISION.match(str(value).strip())
        if not found:
            raise SpecError(
                f"spec.upstream.revision must be a number such as 3 or v3, not {value!r}"
            )
        number = int(found.group(1))
    if number < -1:
        raise SpecError(f"spec.upstream.revision must be -1 (the latest) or more, not {number}")
    return number if number > 0 else None


@dataclass(frozen=True)
class Upstream:
    repo: str
    package: str
    revision: int | None = None
    """A published revision number, or None to follow the latest published revision."""
    workspace: str = ""
    """Follow the revision of this workspace instead (Porch's workspaceName)."""

    def describe(self) -> str:
        which = (
            f"workspace {self.workspace}"
            if self.workspace
            else f"revision {self.revision}"
            if self.revision
            else "the latest published revision"
        )
        return f"{which} of package {self.package} in repository {self.repo}"


@dataclass(frozen=True)
class Downstream:
    repo: str
    package: str


@dataclass(frozen=True)
class Injector:
    name: str
    group: str | None = None
    version: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class VariantSpec:
    upstream: Upstream
    downstream: Downstream
    adoption: str = ADOPT_NONE
    deletion: str = DELETE
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    context_data: Mapping[str, str] = field(default_factory=dict)
    context_remove: tuple[str, ...] = ()
    mutators: tuple[Mapping[str, Any], ...] = ()
    validators: tuple[Mapping[str, Any], ...] = ()
    injectors: tuple[Injector, ...] = ()

    @property
    def adopts(self) -> bool:
        return self.adoption == ADOPT_EXISTING

    @property
    def orphans(self) -> bool:
        return self.deletion == ORPHAN


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _functions(value: Any) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return ()
    return tuple(dict(f) for f in value if isinstance(f, Mapping))


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def parse(spec: Mapping[str, Any]) -> tuple[VariantSpec | None, list[str]]:
    """The spec as values, or None with every problem (Porch's messages, joined by the
    caller with "; ")."""
    problems: list[str] = []
    upstream_in = spec.get("upstream")
    downstream_in = spec.get("downstream")
    if not isinstance(upstream_in, Mapping):
        problems.append("missing required field spec.upstream")
        upstream_in = None
    else:
        if not upstream_in.get("repo"):
            problems.append("missing required field spec.upstream.repo")
        if not upstream_in.get("package"):
            problems.append("missing required field spec.upstream.package")
    if not isinstance(downstream_in, Mapping):
        problems.append("missing required field spec.downstream")
        downstream_in = None
    else:
        if not downstream_in.get("repo"):
            problems.append("missing required field spec.downstream.repo")
        if not downstream_in.get("package"):
            problems.append("missing required field spec.downstream.package")
    revision: int | None = None
    if upstream_in is not None:
        try:
            revision = parse_revision(upstream_in.get("revision"))
        except SpecError as error:
            problems.append(str(error))
    adoption = str(spec.get("adoptionPolicy") or ADOPT_NONE)
    deletion = str(spec.get("deletionPolicy") or DELETE)
    if adoption not in (ADOPT_NONE, ADOPT_EXISTING):
        problems.append(
            f'spec.adoptionPolicy field can only be "{ADOPT_NONE}" or "{ADOPT_EXISTING}"'
        )
    if deletion not in (ORPHAN, DELETE):
        problems.append(f'spec.deletionPolicy can only be "{ORPHAN}" or "{DELETE}"')
    context = spec.get("packageContext") or {}
    data = _strings(context.get("data") if isinstance(context, Mapping) else None)
    remove_in = context.get("removeKeys") if isinstance(context, Mapping) else None
    remove = tuple(str(k) for k in remove_in or ()) if isinstance(remove_in, list) else ()
    for reserved in RESERVED_CONTEXT_KEYS:
        if reserved in data:
            problems.append(f'spec.packageContext.data must not contain the key "{reserved}"')
        if reserved in remove:
            problems.append(f'spec.packageContext.removeKeys must not contain the key "{reserved}"')
    injectors: list[Injector] = []
    for number, item in enumerate(spec.get("injectors") or ()):
        item = item if isinstance(item, Mapping) else {}
        if not item.get("name"):
            problems.append(f"spec.injectors[{number}].name must not be empty")
            continue
        injectors.append(
            Injector(
                str(item["name"]),
                _optional(item.get("group")),
                _optional(item.get("version")),
                _optional(item.get("kind")),
            )
        )
    pipeline = spec.get("pipeline") or {}
    pipeline = pipeline if isinstance(pipeline, Mapping) else {}
    mutators = _functions(pipeline.get("mutators"))
    validators = _functions(pipeline.get("validators"))
    for kind, functions in (("mutators", mutators), ("validators", validators)):
        for number, function in enumerate(functions):
            if "." in str(function.get("name") or ""):
                problems.append(
                    f"spec.pipeline.{kind}[{number}].name must not contain '.': Lanai names "
                    "the step PackageVariant.<variant>.<name>.<position>"
                )
    if problems or upstream_in is None or downstream_in is None:
        return None, problems
    return (
        VariantSpec(
            upstream=Upstream(
                str(upstream_in["repo"]),
                str(upstream_in["package"]),
                revision,
                str(upstream_in.get("workspaceName") or ""),
            ),
            downstream=Downstream(str(downstream_in["repo"]), str(downstream_in["package"])),
            adoption=adoption,
            deletion=deletion,
            labels=_strings(spec.get("labels")),
            annotations=_strings(spec.get("annotations")),
            context_data=data,
            context_remove=remove,
            mutators=mutators,
            validators=validators,
            injectors=tuple(injectors),
        ),
        [],
    )
