"""Build ResourceLists from YAML text and print their items back, for table tests."""

from __future__ import annotations

import io
import textwrap
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def load(text: str) -> Any:
    return _yaml().load(textwrap.dedent(text))


def load_all(text: str) -> list[Any]:
    return [d for d in _yaml().load_all(textwrap.dedent(text)) if d is not None]


def resource_list(items: str, config: str | None = None) -> CommentedMap:
    """A ResourceList of the documents in ``items`` and the functionConfig ``config``."""
    rl = CommentedMap()
    rl["apiVersion"] = "config.kubernetes.io/v1"
    rl["kind"] = "ResourceList"
    rl["items"] = CommentedSeq(load_all(items))
    if config is not None:
        rl["functionConfig"] = load(config)
    return rl


def dump(node: Any) -> str:
    stream = io.StringIO()
    _yaml().dump(node, stream)
    return stream.getvalue()


def dump_items(rl: CommentedMap) -> str:
    stream = io.StringIO()
    _yaml().dump_all(list(rl["items"]), stream)
    return stream.getvalue()


def expect(text: str) -> str:
    """Expected multi-document YAML, dedented, normalised through the same dumper."""
    return dump_all_text(textwrap.dedent(text))


def dump_all_text(text: str) -> str:
    stream = io.StringIO()
    _yaml().dump_all(load_all(text), stream)
    return stream.getvalue()


def messages(rl: CommentedMap) -> list[str]:
    return [r["message"] for r in rl.get("results") or []]
