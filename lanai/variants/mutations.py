"""What a PackageVariant changes in its downstream package, as Porch does it.

Three edits, in Porch's order: keys into (and out of) the ``kptfile.kpt.dev`` ConfigMap
in ``package-context.yaml``; functions prepended to the Kptfile pipeline, each named
``PackageVariant.<variant>.<function>.<position>`` so a later run finds and replaces its
own steps and nothing else; config injection (:mod:`lanai.variants.injection`). Each
edit is idempotent, and a file whose data does not change keeps its exact text, so
applying a PackageVariant twice changes nothing and never reformats a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from lanai.kpt import context, kptfile, yamlio
from lanai.variants import spec

FUNCTION_PREFIX = "PackageVariant"
PIPELINE_FIELDS = ("mutators", "validators")


class MutationError(ValueError):
    """The downstream package cannot take the PackageVariant's changes (message says why)."""


def _load(files: Mapping[str, str], path: str) -> tuple[CommentedMap, yamlio.YamlStyle]:
    text = files.get(path)
    if text is None:
        raise MutationError(f"{path} not found in the downstream package")
    try:
        return yamlio.load_document(text), yamlio.detect_style(text)
    except yamlio.YamlIOError as error:
        raise MutationError(f"{path}: {error}") from None


def _write(
    files: dict[str, str], path: str, document: CommentedMap, style: yamlio.YamlStyle
) -> None:
    """Put ``document`` back, keeping the original text when its data is unchanged."""
    before = files[path]
    try:
        unchanged = yamlio.same_data(yamlio.load_document(before), document)
    except yamlio.YamlIOError:
        unchanged = False
    if not unchanged:
        files[path] = yamlio.dump_document(document, style)


def package_context(
    files: Mapping[str, str], data: Mapping[str, str], remove: Iterable[str]
) -> dict[str, str]:
    """Set ``data`` and drop ``remove`` in package-context.yaml's ConfigMap data.

    Keys already there keep their place; new ones follow in sorted order. A key the
    PackageVariant no longer sets stays (as in Porch) unless listed in ``remove``.
    """
    result = dict(files)
    remove = tuple(remove)
    if not data and not remove:
        return result
    path = context.CONTEXT_FILE
    if path not in files:
        raise MutationError(
            f"{path} not found in the downstream package: Lanai writes it when cloning into "
            "a Repository with spec.deployment: true; make the downstream Repository a "
            "deployment repository, or drop spec.packageContext"
        )
    document, style = _load(files, path)
    name = (document.get("metadata") or {}).get("name")
    if document.get("kind") != "ConfigMap" or name != context.CONTEXT_NAME:
        raise MutationError(
            f'{path} does not hold the ConfigMap "{context.CONTEXT_NAME}" (found '
            f"{document.get('kind')} {name!r})"
        )
    values = document.get("data")
    if values is None:
        values = CommentedMap()
        document["data"] = values
    if not isinstance(values, dict):
        raise MutationError(f"{path}: the data field of {context.CONTEXT_NAME} is not a map")
    for key in [k for k in values if k in data]:
        values[key] = data[key]
    for key in sorted(k for k in data if k not in values):
        values[key] = data[key]
    for key in remove:
        values.pop(key, None)
    _write(result, path, document, style)
    return result


def function_name(function: str, variant: str, position: int) -> str:
    """``PackageVariant.<variant>.<function>.<position>``, Porch's name for the step."""
    return f"{FUNCTION_PREFIX}.{variant}.{function}.{position}"


def is_variant_function(name: Any, variant: str) -> bool:
    """Whether a pipeline step called ``name`` was added by the PackageVariant
    ``variant``: its prefix and variant name, one function name without dots, and a
    whole-number position."""
    if not isinstance(name, str):
        return False
    head = f"{FUNCTION_PREFIX}.{variant}."
    if not name.startswith(head):
        return False
    function, dot, position = name[len(head) :].rpartition(".")
    return bool(dot) and "." not in function and position.lstrip("+-").isdigit()


def _step(function: Mapping[str, Any], variant: str, position: int) -> CommentedMap:
    step = CommentedMap()
    step["name"] = function_name(str(function.get("name") or ""), variant, position)
    for key, value in function.items():
        if key != "name" and value is not None:
            step[key] = yamlio.from_plain(value)
    return step


def pipeline(
    files: Mapping[str, str],
    variant: str,
    mutators: Sequence[Mapping[str, Any]],
    validators: Sequence[Mapping[str, Any]],
) -> dict[str, str]:
    """Replace the steps ``variant`` added to the Kptfile pipeline with ``mutators`` and
    ``validators``, prepended (before the package's own steps); empty lists and an empty
    pipeline are removed, as Porch does."""
    result = dict(files)
    document, style = _load(files, kptfile.KPTFILE)
    found = document.get("pipeline")
    steps = found if isinstance(found, CommentedMap) else CommentedMap()
    wanted = {"mutators": mutators, "validators": validators}
    for field in PIPELINE_FIELDS:
        existing = steps.get(field)
        kept = [
            s
            for s in (existing if isinstance(existing, list) else [])
            if not (isinstance(s, dict) and is_variant_function(s.get("name"), variant))
        ]
        made = [_step(f, variant, n) for n, f in enumerate(wanted[field])]
        if made or kept:
            merged = CommentedSeq(made + kept)
            if isinstance(existing, CommentedSeq):
                existing[:] = merged
            else:
                steps[field] = merged
        else:
            steps.pop(field, None)
    if steps:
        if not isinstance(found, CommentedMap):
            document["pipeline"] = steps
    else:
        document.pop("pipeline", None)
    _write(result, kptfile.KPTFILE, document, style)
    return result


def changed(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, str]:
    """The files of ``after`` that are new or differ from ``before`` in content.

    A file that differs only in how it is written (key order, quoting, comments, the
    Kptfile's ``status`` a render records) is no change: a render writes the Kptfile
    as kpt does, and re-sending the variant's own spelling of it would be an edit that
    commits nothing, asked for again and again."""
    return {
        path: text
        for path, text in after.items()
        if before.get(path) != text and not _same_content(path, before.get(path), text)
    }


def _same_content(path: str, before: str | None, after: str) -> bool:
    if before is None:
        return False
    try:
        old = [_without_status(path, d) for d in _SAFE.load_all(before)]
        new = [_without_status(path, d) for d in _SAFE.load_all(after)]
    except Exception:  # not YAML: the bytes decide
        return False
    return old == new


def _without_status(path: str, document: Any) -> Any:
    if path.rsplit("/", 1)[-1] == "Kptfile" and isinstance(document, dict):
        return {k: v for k, v in document.items() if k != "status"}
    return document


_SAFE = YAML(typ="safe", pure=True)


def apply(files: Mapping[str, str], variant: str, wanted: spec.VariantSpec) -> dict[str, str]:
    """Package context, then pipeline (config injection follows, see injection.py)."""
    result = package_context(files, wanted.context_data, wanted.context_remove)
    return pipeline(result, variant, wanted.mutators, wanted.validators)
