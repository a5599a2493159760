"""A PackageVariantSet template, rendered for one target into a PackageVariant spec.

Static fields are copied; each ``...Expr`` field is a CEL expression (evaluated by
cel-python, a maintained implementation of the CEL spec) over Porch's variables:
``repoDefault`` and ``packageDefault`` (the target's defaults), ``upstream`` (the
upstream PackageRevision), ``repository`` (the downstream Repository) and ``target``
(the selected object, or ``{repo, package}`` for a listed repository). Objects show
only name, namespace, labels and annotations, as in Porch. Expressions win over the
static entries with the same key. Every expression must give a string.

Expressions are written by users and evaluated by the operator, so each is bounded:
at most 1024 characters (also a CRD rule), and no comprehension macros (``map``,
``filter``, ``all``, ``exists``, ``exists_one``), the only CEL construct whose cost
grows faster than the expression. A template needs none of them to name a package.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import celpy
from celpy import adapter, celparser, celtypes

from lanai.variants.targets import ObjectView, Target

MAX_EXPRESSION = 1024
MACROS = frozenset({"map", "filter", "all", "exists", "exists_one"})
VARIABLES = ("repoDefault", "packageDefault", "upstream", "repository", "target")


class ExpressionError(ValueError):
    """An expression that cannot be compiled or evaluated, with where it is."""

    def __init__(self, field_path: str, expression: str, message: str) -> None:
        super().__init__(f'{field_path} "{expression}": {message}')
        self.field_path = field_path
        self.expression = expression
        self.message = message


class TemplateError(ValueError):
    """A template that cannot be rendered for a target (not an expression's fault)."""


def _message(error: Exception) -> str:
    """cel-python's error without its dump of the whole activation."""
    args = error.args
    text = str(args[0]) if args else str(error)
    if len(args) >= 3 and args[1] is KeyError and isinstance(args[2], tuple) and args[2]:
        key = args[2][0]
        if text.startswith("undeclared reference"):
            return f"undeclared reference to '{key}' (variables: {', '.join(VARIABLES)})"
        return f"no such key: {key}"
    return text.split(" (in activation", 1)[0].strip()


@dataclass
class Evaluator:
    """Compiles each distinct expression once; evaluates it for each target."""

    _environment: celpy.Environment = field(default_factory=celpy.Environment)
    _programs: dict[str, Any] = field(default_factory=dict)
    _limit: int = 512
    """Compiled programs kept (a set's templates rarely have more than a few dozen)."""

    def _program(self, field_path: str, expression: str) -> Any:
        found = self._programs.get(expression)
        if found is not None:
            return found
        if len(expression) > MAX_EXPRESSION:
            raise ExpressionError(
                field_path, expression[:80] + "...", f"longer than {MAX_EXPRESSION} characters"
            )
        try:
            tree = self._environment.compile(expression)
        except celparser.CELParseError as error:
            column = getattr(error, "column", None)
            where = f" at column {column}" if column else ""
            raise ExpressionError(field_path, expression, f"syntax error{where}") from None
        except Exception as error:
            raise ExpressionError(field_path, expression, _message(error).strip()) from None
        for node in tree.iter_subtrees():
            if node.data == "member_dot_arg" and len(node.children) > 1:
                macro = str(node.children[1])
                if macro in MACROS:
                    raise ExpressionError(
                        field_path,
                        expression,
                        f"the macro {macro}() is not allowed in a PackageVariantSet template "
                        "(its cost has no bound); build the value from the variables directly",
                    )
        program = self._environment.program(tree)
        if len(self._programs) >= self._limit:
            self._programs.clear()
        self._programs[expression] = program
        return program

    def string(self, field_path: str, expression: str, variables: Mapping[str, Any]) -> str:
        program = self._program(field_path, expression)
        activation = {k: adapter.json_to_cel(v) for k, v in variables.items()}
        try:
            value = program.evaluate(activation)
        except Exception as error:
            raise ExpressionError(field_path, expression, _message(error)) from None
        if isinstance(value, Exception):
            raise ExpressionError(field_path, expression, _message(value))
        if not isinstance(value, celtypes.StringType | str):
            raise ExpressionError(
                field_path, expression, f"expression returned non-string value: {value}"
            )
        return str(value)


def _overlay(
    where: str,
    static: Mapping[str, Any] | None,
    expressions: Sequence[Mapping[str, Any]] | None,
    evaluate: Callable[[str, str], str],
) -> dict[str, str] | None:
    """Static entries, then the expression entries over them (Porch's copyAndOverlayMapExpr)."""
    result = {str(k): str(v) for k, v in (static or {}).items()}
    for number, item in enumerate(expressions or ()):
        key = str(item.get("key") or "")
        value = str(item.get("value") or "")
        if item.get("keyExpr"):
            key = evaluate(f"{where}[{number}].keyExpr", str(item["keyExpr"]))
        if item.get("valueExpr"):
            value = evaluate(f"{where}[{number}].valueExpr", str(item["valueExpr"]))
        result[key] = value
    return result or None


def render(
    upstream_spec: Mapping[str, Any],
    target: Target,
    upstream: ObjectView,
    repositories: Mapping[str, ObjectView],
    evaluator: Evaluator,
) -> dict[str, Any]:
    """The PackageVariant spec for ``target`` (Porch's renderPackageVariantSpec).

    Raises :class:`ExpressionError` for an expression that fails, and
    :class:`TemplateError` when the downstream Repository does not exist.
    """
    spec: dict[str, Any] = {
        "upstream": copy.deepcopy(dict(upstream_spec)),
        "downstream": {"repo": target.repo_default, "package": target.package_default},
    }
    template = target.template
    if not template:
        return spec
    where = f"spec.targets[{target.index}].template"
    variables: dict[str, Any] = {
        "repoDefault": target.repo_default,
        "packageDefault": target.package_default,
        "upstream": upstream.variables(),
        "target": target.variables(),
    }

    def evaluate(field_path: str, expression: str) -> str:
        return evaluator.string(f"{where}.{field_path}", expression, variables)

    downstream = template.get("downstream") or {}
    repo = str(downstream.get("repo") or target.repo_default)
    if downstream.get("repoExpr"):
        repo = evaluate("downstream.repoExpr", str(downstream["repoExpr"]))
    spec["downstream"]["repo"] = repo
    repository = repositories.get(repo)
    if repository is None:
        raise TemplateError(
            f'repository "{repo}" could not be loaded (the downstream of {target.describe()} '
            f"in spec.targets[{target.index}]): create the Repository, or fix the template"
        )
    variables["repository"] = repository.variables()
    if downstream.get("package"):
        spec["downstream"]["package"] = str(downstream["package"])
    if downstream.get("packageExpr"):
        spec["downstream"]["package"] = evaluate(
            "downstream.packageExpr", str(downstream["packageExpr"])
        )
    for policy in ("adoptionPolicy", "deletionPolicy"):
        if template.get(policy):
            spec[policy] = str(template[policy])
    for name in ("labels", "annotations"):
        found = _overlay(
            f"{name[:-1]}Exprs", template.get(name), template.get(f"{name[:-1]}Exprs"),
            evaluate,
        )  # fmt: skip
        if found:
            spec[name] = found
    context = template.get("packageContext")
    if isinstance(context, Mapping):
        rendered_context: dict[str, Any] = {}
        data = _overlay(
            "packageContext.dataExprs", context.get("data"), context.get("dataExprs"), evaluate
        )
        if data:
            rendered_context["data"] = data
        remove = {str(k) for k in context.get("removeKeys") or ()}
        for number, expression in enumerate(context.get("removeKeyExprs") or ()):
            remove.add(evaluate(f"packageContext.removeKeyExprs[{number}]", str(expression)))
        if remove:
            rendered_context["removeKeys"] = sorted(remove)
        if rendered_context:
            spec["packageContext"] = rendered_context
    injectors = []
    for number, injector in enumerate(template.get("injectors") or ()):
        made = {k: str(injector[k]) for k in ("group", "version", "kind") if injector.get(k)}
        made["name"] = str(injector.get("name") or "")
        if injector.get("nameExpr"):
            made["name"] = evaluate(f"injectors[{number}].nameExpr", str(injector["nameExpr"]))
        injectors.append(made)
    if injectors:
        spec["injectors"] = injectors
    pipeline = template.get("pipeline")
    if isinstance(pipeline, Mapping):
        rendered_pipeline: dict[str, Any] = {}
        for kind in ("validators", "mutators"):
            functions = []
            for number, function in enumerate(pipeline.get(kind) or ()):
                made_function = {
                    k: copy.deepcopy(v) for k, v in function.items() if k != "configMapExprs"
                }
                config = _overlay(
                    f"pipeline.{kind}[{number}].configMapExprs",
                    function.get("configMap"),
                    function.get("configMapExprs"),
                    evaluate,
                )
                made_function.pop("configMap", None)
                if config:
                    made_function["configMap"] = config
                functions.append(made_function)
            if functions:
                rendered_pipeline[kind] = functions
        if rendered_pipeline:
            spec["pipeline"] = rendered_pipeline
    return spec
