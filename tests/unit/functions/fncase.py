"""Run one builtin over YAML text and show what kpt would write, for table tests.

A case gives the items as a multi-document YAML text (each document may carry its own
path annotations) and the functionConfig as YAML; the outcome is the items written the
way Lanai writes package files (so key order, quoting and comments are part of the
assertion), the results as plain dicts, and the failure if the function failed.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from lanai.kpt import fnapi, yamlio

Function = Callable[[CommentedMap], str | None]


@dataclass
class Outcome:
    items: str
    results: list[dict[str, Any]] = field(default_factory=list)
    error: fnapi.FunctionError | None = None
    stderr: str = ""

    @property
    def messages(self) -> list[str]:
        return [str(r.get("message")) for r in self.results]


def resource_list(items: str, config: str | None = None) -> CommentedMap:
    rl = CommentedMap()
    rl["apiVersion"] = "config.kubernetes.io/v1"
    rl["kind"] = "ResourceList"
    text = textwrap.dedent(items)
    rl["items"] = CommentedSeq(yamlio.load_documents(text) if text.strip() else [])
    if config is not None:
        rl["functionConfig"] = yamlio.load_document(textwrap.dedent(config))
    return rl


def run(function: Function, items: str, config: str | None = None) -> Outcome:
    rl = resource_list(items, config)
    style = yamlio.detect_style(textwrap.dedent(items))
    try:
        stderr = function(rl) or ""
    except fnapi.FunctionError as error:
        return Outcome(_dump(rl, style), list(error.results), error, error.stderr)
    results = [yamlio.to_plain(r) for r in rl.get("results") or []]
    return Outcome(_dump(rl, style), results, None, stderr)


def _dump(rl: CommentedMap, style: yamlio.YamlStyle) -> str:
    return yamlio.dump_documents(list(rl["items"]), style) if rl["items"] else ""


def yaml(text: str) -> str:
    """Expected output, written in the test as an indented block."""
    return textwrap.dedent(text)
