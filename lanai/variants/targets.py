"""A PackageVariantSet's targets: Porch's checks of them, label selectors, unrolling.

Each target yields (repository, package) pairs with the template that turns them into
a PackageVariant: the listed repositories with their package names (default: the
upstream package's name), or every selected Repository, or every selected object of
any kind (its name is the default repository). Listing objects is the handler's I/O;
what to list and what the lists mean is decided here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lanai.variants import spec as variant_spec

REPOSITORY_API_VERSION = "config.porch.kpt.dev/v1alpha1"
REPOSITORY_KIND = "Repository"
MAX_TARGETS = 5000
"""Most PackageVariants one PackageVariantSet may ask for (a bound on a selector's reach)."""


@dataclass(frozen=True)
class ObjectView:
    """What expressions may see of an object: Porch exposes no more (no spec, no data)."""

    name: str
    namespace: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ObjectView:
        metadata = body.get("metadata") or {}
        return cls(
            str(metadata.get("name") or ""),
            str(metadata.get("namespace") or ""),
            {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
            {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()},
        )

    def variables(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
        }


@dataclass(frozen=True)
class Target:
    """One PackageVariant to make: where from in the spec, its defaults, its template."""

    index: int
    repo_default: str
    package_default: str
    template: Mapping[str, Any] | None = None
    selected: ObjectView | None = None
    """The selected object (selector targets); None for a listed repository."""

    def variables(self) -> dict[str, Any]:
        """The CEL variable ``target``: the selected object, or Porch's {repo, package}."""
        if self.selected is not None:
            return self.selected.variables()
        return {"repo": self.repo_default, "package": self.package_default}

    def describe(self) -> str:
        return f"repository {self.repo_default}, package {self.package_default}"


def _map_expr_problems(items: Any, where: str) -> list[str]:
    problems = []
    for number, item in enumerate(items or ()):
        item = item if isinstance(item, Mapping) else {}
        if "key" in item and "keyExpr" in item:
            problems.append(f"{where}[{number}] may specify only one of `key` and `keyExpr`")
        if "value" in item and "valueExpr" in item:
            problems.append(f"{where}[{number}] may specify only one of `value` and `valueExpr`")
    return problems


def _template_problems(template: Mapping[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    for policy, allowed in (
        ("adoptionPolicy", (variant_spec.ADOPT_NONE, variant_spec.ADOPT_EXISTING)),
        ("deletionPolicy", (variant_spec.ORPHAN, variant_spec.DELETE)),
    ):
        if template.get(policy) not in (None, *allowed):
            problems.append(f'{where}.{policy} can only be "{allowed[0]}" or "{allowed[1]}"')
    downstream = template.get("downstream") or {}
    for plain in ("repo", "package"):
        if plain in downstream and f"{plain}Expr" in downstream:
            problems.append(
                f"{where} may specify only one of `downstream.{plain}` and `downstream.{plain}Expr`"
            )
    for name in ("labelExprs", "annotationExprs"):
        problems += _map_expr_problems(template.get(name), f"{where}.{name}")
    context = template.get("packageContext") or {}
    problems += _map_expr_problems(context.get("dataExprs"), f"{where}.packageContext.dataExprs")
    for reserved in variant_spec.RESERVED_CONTEXT_KEYS:
        if reserved in (context.get("data") or {}) or reserved in (context.get("removeKeys") or ()):
            problems.append(f'{where}.packageContext must not set or remove the key "{reserved}"')
    for number, injector in enumerate(template.get("injectors") or ()):
        has_name, has_expr = "name" in injector, "nameExpr" in injector
        if has_name and has_expr:
            problems.append(
                f"{where}.injectors[{number}] may specify only one of `name` and `nameExpr`"
            )
        if not has_name and not has_expr:
            problems.append(f"{where}.injectors[{number}] must specify either `name` or `nameExpr`")
    pipeline = template.get("pipeline") or {}
    for kind in ("validators", "mutators"):
        for number, function in enumerate(pipeline.get(kind) or ()):
            if not function.get("image"):
                problems.append(f"{where}.pipeline.{kind}[{number}].image must not be empty")
            if "." in str(function.get("name") or ""):
                problems.append(f"{where}.pipeline.{kind}[{number}].name must not contain '.'")
            problems += _map_expr_problems(
                function.get("configMapExprs"), f"{where}.pipeline.{kind}[{number}].configMapExprs"
            )
    return problems


def problems(spec: Mapping[str, Any]) -> list[str]:
    """Porch's validation of a PackageVariantSet spec (an upstream without a revision
    follows the latest published one, as a PackageVariant's does)."""
    found: list[str] = []
    upstream = spec.get("upstream")
    if not isinstance(upstream, Mapping):
        found.append("spec.upstream is a required field")
    else:
        if not upstream.get("package"):
            found.append("spec.upstream.package is a required field")
        if not upstream.get("repo"):
            found.append("spec.upstream.repo is a required field")
        try:
            variant_spec.parse_revision(upstream.get("revision"))
        except variant_spec.SpecError as error:
            found.append(str(error))
    targets = spec.get("targets") or []
    if not targets:
        found.append("must specify at least one item in spec.targets")
    for number, target in enumerate(targets):
        target = target if isinstance(target, Mapping) else {}
        where = f"spec.targets[{number}]"
        kinds = [k for k in ("repositories", "repositorySelector", "objectSelector") if k in target]
        if len(kinds) != 1:
            found.append(
                f"{where} must specify one of `repositories`, `repositorySelector`, or "
                "`objectSelector`"
            )
        if "repositories" in target:
            repositories = target.get("repositories") or []
            if not repositories:
                found.append(f"{where}.repositories must not be an empty list if specified")
            for n, repository in enumerate(repositories):
                if not (repository or {}).get("name"):
                    found.append(f"{where}.repositories[{n}].name cannot be empty")
                for k, package in enumerate((repository or {}).get("packageNames") or ()):
                    if not package:
                        found.append(f"{where}.repositories[{n}].packageNames[{k}] cannot be empty")
        selector = target.get("objectSelector")
        if isinstance(selector, Mapping):
            if not selector.get("apiVersion"):
                found.append(f"{where}.objectselector.apiVersion cannot be empty")
            if not selector.get("kind"):
                found.append(f"{where}.objectselector.kind cannot be empty")
        for name in ("repositorySelector", "objectSelector"):
            if isinstance(target.get(name), Mapping):
                found += selector_problems(target[name], f"{where}.{name}")
        if isinstance(target.get("template"), Mapping):
            found += _template_problems(target["template"], f"{where}.template")
    return found


# -- label selectors ------------------------------------------------------------------

_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def selector_problems(selector: Mapping[str, Any], where: str) -> list[str]:
    found = []
    for number, requirement in enumerate(selector.get("matchExpressions") or ()):
        operator = requirement.get("operator")
        values = requirement.get("values") or []
        if operator not in _OPERATORS:
            found.append(
                f"{where}.matchExpressions[{number}].operator must be one of "
                + ", ".join(_OPERATORS)
            )
        elif operator in ("In", "NotIn") and not values:
            found.append(f"{where}.matchExpressions[{number}] needs values for {operator}")
        elif operator in ("Exists", "DoesNotExist") and values:
            found.append(f"{where}.matchExpressions[{number}] takes no values for {operator}")
    return found


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics (an empty selector selects everything)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for requirement in selector.get("matchExpressions") or ():
        key, operator = requirement.get("key"), requirement.get("operator")
        values = set(requirement.get("values") or ())
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def selector_query(selector: Mapping[str, Any]) -> str:
    """The selector as the ``labelSelector`` query parameter of a list request."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for requirement in selector.get("matchExpressions") or ():
        key, operator = requirement.get("key"), requirement.get("operator")
        values = ",".join(sorted(requirement.get("values") or ()))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def selects_repositories(target: Mapping[str, Any]) -> bool:
    """Whether the target selects Repository objects (by repositorySelector, or an
    objectSelector naming the Repository kind): the operator knows those already."""
    if "repositorySelector" in target:
        return True
    selector = target.get("objectSelector") or {}
    return (
        selector.get("apiVersion") == REPOSITORY_API_VERSION
        and selector.get("kind") == REPOSITORY_KIND
    )


def selector_of(target: Mapping[str, Any]) -> Mapping[str, Any]:
    found = target.get("repositorySelector")
    if found is None:
        found = target.get("objectSelector")
    return found if isinstance(found, Mapping) else {}


def unroll(spec: Mapping[str, Any], selected: Mapping[int, Sequence[ObjectView]]) -> list[Target]:
    """Every (repository, package) the targets ask for, in spec order; ``selected`` holds,
    for each selector target, the objects it selects."""
    upstream_package = str((spec.get("upstream") or {}).get("package") or "")
    found: list[Target] = []
    for index, target in enumerate(spec.get("targets") or ()):
        template = target.get("template")
        if target.get("repositories"):
            for repository in target["repositories"]:
                for package in repository.get("packageNames") or [upstream_package]:
                    found.append(Target(index, str(repository["name"]), str(package), template))
            continue
        for view in selected.get(index, ()):
            found.append(Target(index, view.name, upstream_package, template, view))
    return found


def filter_by_name(selector: Mapping[str, Any], views: Iterable[ObjectView]) -> list[ObjectView]:
    """objectSelector.name, when given, keeps only that object."""
    name = selector.get("name")
    return [v for v in views if not name or v.name == name]
