"""Catalog functions implemented in process, keyed by their catalog short name.

Running the everyday catalog functions in process spares a container per pipeline step
and keeps comments without a serialisation round trip. Each implementation is a pure
function over a ResourceList (edited in place) that may return text for stderr and
raises :class:`lanai.kpt.fnapi.FunctionError` on failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from ruamel.yaml.comments import CommentedMap

from lanai.functions.builtin import (
    apply_replacements,
    apply_setters,
    ensure_name_substring,
    package_context,
    search_replace,
    set_annotations,
    set_labels,
    set_namespace,
    starlark_run,
)

Function = Callable[[CommentedMap], str | None]

REGISTRY: Mapping[str, Function] = MappingProxyType(
    {
        "apply-replacements": apply_replacements.run,
        "apply-setters": apply_setters.run,
        "ensure-name-substring": ensure_name_substring.run,
        "generate-kpt-pkg-context": package_context.run,
        "search-replace": search_replace.run,
        "set-annotations": set_annotations.run,
        "set-labels": set_labels.run,
        "set-namespace": set_namespace.run,
        "starlark": starlark_run.run,
    }
)


def lookup(name: str) -> Function | None:
    """The implementation of catalog function ``name``, or ``None``."""
    return REGISTRY.get(name)
