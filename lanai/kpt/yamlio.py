"""Round-trip YAML for package files.

Users review rendered packages as Git diffs, so a render must not reformat what it did
not change: comments, key order, quoting and the file's list indentation (``- a``
directly under its key, kpt's default, or indented by two) survive a load and a dump.
A file whose documents did not change keeps its exact bytes (see :func:`unchanged`).
JSON files are KRM too; they are read with the same loader and written back as JSON.
"""

from __future__ import annotations

import copy
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError


class YamlIOError(ValueError):
    """A file is not valid YAML, or a document in it is not a KRM object (a mapping)."""


@dataclass(frozen=True)
class YamlStyle:
    """How a file writes itself: list indentation, a leading ``---``, JSON or YAML."""

    indentless: bool = True
    explicit_start: bool = False
    json: bool = False


DEFAULT_STYLE = YamlStyle()
JSON_STYLE = YamlStyle(json=True)

_KEY_ONLY = re.compile(r"^(\s*)(?:-\s+)*[^\s#-][^#]*:\s*(?:#.*)?$")
_DASH = re.compile(r"^(\s*)-(?:\s|$)")


def _yaml(style: YamlStyle = DEFAULT_STYLE) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    if style.indentless:
        yaml.indent(mapping=2, sequence=2, offset=0)
    else:
        yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.explicit_start = style.explicit_start
    return yaml


def detect_style(text: str, *, json_file: bool = False) -> YamlStyle:
    """The style of ``text``: indentless unless a list under a key is indented."""
    if json_file:
        return JSON_STYLE
    explicit_start = text.lstrip().startswith("---")
    lines = text.splitlines()
    for number, line in enumerate(lines):
        key = _KEY_ONLY.match(line)
        if not key:
            continue
        for following in lines[number + 1 :]:
            stripped = following.strip()
            if not stripped or stripped.startswith("#"):
                continue
            dash = _DASH.match(following)
            if dash:
                key_column = len(line) - len(line.lstrip(" -"))
                return YamlStyle(
                    indentless=len(dash.group(1)) <= key_column,
                    explicit_start=explicit_start,
                )
            break
    return YamlStyle(explicit_start=explicit_start)


def load_documents(text: str) -> list[CommentedMap]:
    """All non-empty documents of ``text``, each a round-trip mapping."""
    try:
        documents = list(_yaml().load_all(text))
    except YAMLError as error:
        raise YamlIOError(f"invalid YAML: {error}") from error
    found: list[CommentedMap] = []
    for number, document in enumerate(documents):
        if document is None:
            continue
        if not isinstance(document, CommentedMap):
            raise YamlIOError(f"document {number} is not a mapping (a KRM object)")
        found.append(document)
    return found


def load_document(text: str) -> CommentedMap:
    """The single document of ``text``."""
    documents = load_documents(text)
    if len(documents) != 1:
        raise YamlIOError(f"expected one document, found {len(documents)}")
    return documents[0]


def dump_documents(docs: list[CommentedMap], style: YamlStyle = DEFAULT_STYLE) -> str:
    """``docs`` as one file's text in ``style``."""
    if style.json:
        if len(docs) == 1:
            return json.dumps(to_plain(docs[0]), indent=2) + "\n"
        return json.dumps([to_plain(doc) for doc in docs], indent=2) + "\n"
    if not docs:
        return ""
    stream = io.StringIO()
    _yaml(style).dump_all(docs, stream)
    return stream.getvalue()


def dump_document(doc: Any, style: YamlStyle = DEFAULT_STYLE) -> str:
    return dump_documents([doc], style)


def load_file(name: str, content: bytes) -> tuple[list[CommentedMap], YamlStyle]:
    """The KRM objects of a package file and its style (a JSON list holds several)."""
    try:
        text = content.decode()
    except UnicodeDecodeError as error:
        raise YamlIOError(f"{name}: not UTF-8 text") from error
    is_json = name.endswith(".json")
    if is_json:
        try:
            value = json.loads(text) if text.strip() else []
        except json.JSONDecodeError as error:
            raise YamlIOError(f"{name}: invalid JSON: {error}") from error
        values = value if isinstance(value, list) else [value]
        docs = [from_plain(v) for v in values]
        return docs, JSON_STYLE
    try:
        docs = load_documents(text)
    except YamlIOError as error:
        raise YamlIOError(f"{name}: {error}") from error
    return docs, detect_style(text)


def unchanged(original: bytes, docs: list[CommentedMap], style: YamlStyle, name: str) -> bool:
    """Whether writing ``docs`` would only reformat ``original`` (so keep its bytes)."""
    try:
        before, _ = load_file(name, original)
    except YamlIOError:
        return False
    return dump_documents(before, style) == dump_documents(docs, style)


def to_plain(value: Any) -> Any:
    """A plain ``dict``/``list``/scalar copy of a round-trip value (for JSON, equality)."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def from_plain(value: Any) -> Any:
    """Round-trip containers for plain data (so later edits can carry comments)."""
    if isinstance(value, dict):
        mapping = CommentedMap()
        for k, v in value.items():
            mapping[k] = from_plain(v)
        return mapping
    if isinstance(value, list):
        return CommentedSeq(from_plain(v) for v in value)
    return value


def clone(value: Any) -> Any:
    """A deep copy that keeps comments (ruamel containers copy their comment attributes)."""
    return copy.deepcopy(value)
