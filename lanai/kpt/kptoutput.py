"""Resources as kpt writes them outside a package: ``-o stdout|unwrap|DIR`` and pipes.

``kpt fn render -o ...`` and ``kpt fn eval -`` do not write files in place: kpt first
writes the resources as one ResourceList, keeping the annotations its reader set (the
file's path and index, legacy and internal, and the list indentation the document was
written with, all single-quoted, in that order), and ``-o unwrap`` or ``-o DIR`` read
that text again and write the resources out without them. ``kpt fn eval -`` reads such
a list from its input. What is written here follows Go's YAML encoder as kpt drives it:
list items of the ResourceList at column 0, a resource's own head comment (the licence
header a function pass moved onto it) above its ``-``, a comment on its first key after
it, and a document-level comment that never went through a function dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, comment_attrib
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from lanai.kpt import resourcelist, yamlio

LIST_KINDS = ("ResourceList", "List")
SEQINDENT = "internal.config.kubernetes.io/seqindent"
COMPACT = "compact"
WIDE = "wide"
_LOCATION = frozenset(
    (
        resourcelist.PATH,
        resourcelist.LEGACY_PATH,
        resourcelist.INDEX,
        resourcelist.LEGACY_INDEX,
        resourcelist.ID,
        resourcelist.LEGACY_ID,
        SEQINDENT,
    )
)
_CLEARED_ON_UNWRAP = (
    resourcelist.INDEX,
    resourcelist.LEGACY_INDEX,
    SEQINDENT,
    resourcelist.PATH,
    resourcelist.LEGACY_PATH,
)


class OutputError(ValueError):
    """Input that is not a list of resources kpt could read."""


# -- how a document was indented ---------------------------------------------------------


def split_documents(text: str) -> list[str]:
    """A YAML stream cut at its ``---`` lines, as kpt's reader cuts it."""
    return re.split(r"\n---[^\n]*\n", text.replace("\r\n", "\n"))


def _is_empty(document: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in document.split("\n"))


def seqindent(document: str) -> str:
    """``compact`` when the document's first block list starts at its key's column,
    ``wide`` when two columns in (kpt's DeriveSeqIndentStyle; compact if neither)."""
    lines = document.split("\n")
    for number, line in enumerate(lines):
        dash = line.find("- ")
        if dash < 0 or line[:dash].strip(" "):
            continue
        key = ""
        for previous in reversed(lines[:number]):
            if previous.strip(" ").startswith("#"):
                continue
            key = previous.split("#", 1)[0]
            break
        if not key:
            continue
        stripped = key.strip(" ")
        if stripped.count(":") != 1 or not stripped.endswith(":"):
            continue
        key_column = len(key) - len(key.lstrip(" "))
        if dash == key_column:
            return COMPACT
        if dash - key_column == 2:
            return WIDE
    return COMPACT


def seqindents(tree: Mapping[str, bytes], paths: Iterable[str]) -> dict[tuple[str, int], str]:
    """``(path, index) -> seqindent`` for every resource of the files at ``paths``."""
    found: dict[tuple[str, int], str] = {}
    for path in paths:
        content = tree.get(path)
        if content is None:
            continue
        text = content.decode(errors="replace")
        index = 0
        for document in split_documents(text):
            if _is_empty(document):
                continue
            found[(path, index)] = seqindent(document)
            index += 1
    return found


# -- head comments -----------------------------------------------------------------------


def _head_tokens(item: Any) -> list[Any]:
    record = getattr(item, comment_attrib, None)
    own = record.comment if record is not None else None
    if not own or len(own) < 2 or not own[1]:
        return []
    return list(own[1])


def _split_head(item: Any) -> tuple[list[Any], list[Any]]:
    """The tokens of the resource's own head comment and those of its first key's.

    Before any function pass, the comment block a blank line ends belongs to the
    document and is not the resource's (an empty first part)."""
    tokens = _head_tokens(item)
    settled = getattr(item, resourcelist.SETTLED, None)
    if isinstance(settled, int) and not isinstance(settled, bool):
        return tokens[:settled], tokens[settled:]
    boundary = 0
    for number, token in enumerate(tokens):
        value = getattr(token, "value", "")
        if isinstance(value, str) and value.endswith("\n\n"):
            boundary = number + 1
    return [], tokens[boundary:]


def _with_head(item: Any, tokens: list[Any]) -> Any:
    """A copy of ``item`` whose head comment is ``tokens``."""
    copy = yamlio.clone(item)
    record = getattr(copy, comment_attrib, None)
    if record is not None and record.comment:
        own = record.comment
        record.comment = [own[0], list(tokens) or None, *own[2:]]
        if not any(own_part for own_part in record.comment):
            record.comment = None
    return copy


def _comment_text(tokens: list[Any]) -> str:
    return "".join(str(getattr(token, "value", "")) for token in tokens)


# -- writing -----------------------------------------------------------------------------


def _body(item: Any, style: yamlio.YamlStyle) -> str:
    return yamlio.dump_documents([item], style)


def _annotations(item: Any) -> Any:
    metadata = item.get("metadata") if isinstance(item, dict) else None
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else None


def wrap(items: Iterable[Any]) -> str:
    """The ResourceList kpt writes for ``-o stdout`` (and between ``fn eval -`` steps)."""
    out = ["apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"]
    entries = []
    for item in items:
        own, first_key = _split_head(item)
        body = _body(_with_head(item, first_key), yamlio.DEFAULT_STYLE)
        lines = body.rstrip("\n").split("\n")
        entry = _comment_text(own)
        entry += "- " + lines[0] + "\n"
        entry += "".join(("  " + line if line else line) + "\n" for line in lines[1:])
        entries.append(entry)
    out.append("items:\n" + "".join(entries) if entries else "items: []\n")
    return "".join(out)


def _unwrapped_item(item: Any) -> tuple[Any, yamlio.YamlStyle]:
    annotations = _annotations(item)
    style = yamlio.YamlStyle(indentless=True)
    copy = yamlio.clone(item)
    if annotations is not None and annotations.get(SEQINDENT) == WIDE:
        style = yamlio.YamlStyle(indentless=False)
    copied = _annotations(copy)
    if copied is not None:
        for key in _CLEARED_ON_UNWRAP:
            copied.pop(key, None)
        if not copied:
            del copy["metadata"]["annotations"]
    own, first_key = _split_head(item)
    return _with_head(copy, [*own, *first_key]), style


def unwrap(items: Iterable[Any]) -> str:
    """The resources as one YAML stream without kpt's annotations (``-o unwrap``)."""
    documents = []
    for item in items:
        copy, style = _unwrapped_item(item)
        documents.append(_body(copy, style))
    return "---\n".join(documents)


def package_files(items: Iterable[Any]) -> dict[str, bytes]:
    """The resources as files by their path annotations (``-o DIR``), each file's
    resources in index order; resources without a path go to ``<kind>_<name>.yaml``."""
    grouped: dict[str, list[tuple[int, int, Any]]] = {}
    for order, item in enumerate(items):
        path = resourcelist.resource_path(item)
        if not path:
            path = resourcelist.default_path(item)
        index = resourcelist.resource_index(item)
        grouped.setdefault(path, []).append((index if index is not None else 0, order, item))
    files: dict[str, bytes] = {}
    for path, entries in grouped.items():
        entries.sort(key=lambda entry: (entry[0], entry[1]))
        documents = []
        for _, _, item in entries:
            copy, style = _unwrapped_item(item)
            documents.append(_body(copy, style))
        files[path] = "---\n".join(documents).encode()
    return files


def kpt_form(item: CommentedMap, seqindent_value: str | None) -> CommentedMap:
    """A rendered resource with kpt's reader annotations in place of ours: legacy and
    internal index and path, then the list indentation, single-quoted, where ours were."""
    copy: CommentedMap = yamlio.clone(item)
    annotations = _annotations(copy)
    if annotations is None:
        return copy
    path = resourcelist.resource_path(copy)
    index = resourcelist.resource_index(copy)
    keys = list(annotations.keys())
    position = next((n for n, key in enumerate(keys) if key in _LOCATION), len(keys))
    before = sum(1 for key in keys[:position] if key not in _LOCATION)
    for key in keys:
        if key in _LOCATION:
            annotations.pop(key)
    block: list[tuple[str, str]] = []
    if index is not None:
        block.append((resourcelist.LEGACY_INDEX, str(index)))
    if path is not None:
        block.append((resourcelist.LEGACY_PATH, path))
    if index is not None:
        block.append((resourcelist.INDEX, str(index)))
    if path is not None:
        block.append((resourcelist.PATH, path))
    if seqindent_value:
        block.append((SEQINDENT, seqindent_value))
    for offset, (key, value) in enumerate(block):
        annotations.insert(before + offset, key, SingleQuotedScalarString(value))
    return copy


# -- reading -----------------------------------------------------------------------------


@dataclass
class Listed:
    """Resources read as kpt's ByteReader reads its input."""

    items: list[CommentedMap] = field(default_factory=list)
    function_config: CommentedMap | None = None
    wrapped: bool = False


def read(text: str) -> Listed:
    """The resources of ``text``: a ResourceList's items, or each document of a stream
    (then annotated with its index and list indentation, as kpt's reader does)."""
    documents = [d for d in split_documents(text) if not _is_empty(d)]
    if len(documents) == 1:
        try:
            single = yamlio.load_documents(text)
        except yamlio.YamlIOError as error:
            raise OutputError(str(error)) from error
        if (
            len(single) == 1
            and single[0].get("kind") in LIST_KINDS
            and ("items" in single[0] or "functionConfig" in single[0])
        ):
            listed = single[0]
            config = listed.get("functionConfig")
            items = _items_from_text(text)
            if items is None:
                found = listed.get("items") or []
                if not isinstance(found, list):
                    raise OutputError("the ResourceList's items are not a list")
                items = list(found)
            return Listed(
                items=items,
                function_config=config if isinstance(config, CommentedMap) else None,
                wrapped=True,
            )
    items = []
    for index, document in enumerate(documents):
        try:
            loaded = yamlio.load_documents(document + "\n")
        except yamlio.YamlIOError as error:
            raise OutputError(str(error)) from error
        for item in loaded:
            for key, value in (
                (resourcelist.LEGACY_INDEX, str(index)),
                (resourcelist.INDEX, str(index)),
                (SEQINDENT, seqindent(document)),
            ):
                annotate(item, key, value)
            items.append(item)
    return Listed(items=items)


def annotate(item: CommentedMap, key: str, value: str) -> None:
    """Set the annotation ``key`` of ``item`` single-quoted, as kpt's reader writes its own."""
    metadata = item.get("metadata")
    if not isinstance(metadata, CommentedMap):
        metadata = CommentedMap()
        item["metadata"] = metadata
    annotations = metadata.get("annotations")
    if not isinstance(annotations, CommentedMap):
        annotations = CommentedMap()
        metadata["annotations"] = annotations
    annotations[key] = SingleQuotedScalarString(value)


_TOP_KEY = re.compile(r"^[^\s#-]")


def _items_from_text(text: str) -> list[CommentedMap] | None:
    """The items of a ResourceList written as kpt writes one (compact, each item's own
    head comment above its ``-``), read with those comments where kpt keeps them; None
    for any other layout (the caller then takes the items as parsed)."""
    lines = text.replace("\r\n", "\n").split("\n")
    try:
        start = next(n for n, line in enumerate(lines) if re.match(r"^items:\s*(#.*)?$", line))
    except StopIteration:
        return None
    entries: list[tuple[list[str], list[str]]] = []
    pending: list[str] = []
    current: list[str] | None = None
    for line in lines[start + 1 :]:
        if _TOP_KEY.match(line):
            break
        if line == "-" or line.startswith("- "):
            current = [line[2:]]
            entries.append((pending, current))
            pending = []
        elif line.startswith("#"):
            pending.append(line)
        elif not line.strip():
            if current is not None and not pending:
                current.append("")
        elif line.startswith("  ") and current is not None and not pending:
            current.append(line[2:])
        else:
            return None
    if pending:
        return None
    items = []
    for head, body in entries:
        content = "\n".join([*head, *body]).rstrip("\n") + "\n"
        try:
            loaded = yamlio.load_documents(content)
        except yamlio.YamlIOError:
            return None
        if len(loaded) != 1:
            return None
        item = loaded[0]
        setattr(item, resourcelist.SETTLED, len(head))
        items.append(item)
    return items
