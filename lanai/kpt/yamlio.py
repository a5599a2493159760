"""Round-trip YAML for package files.

Users review rendered packages as Git diffs, so a render must not reformat what it did
not change: comments, key order, quoting and the file's list indentation (``- a``
directly under its key, kpt's default, or indented by two) survive a load and a dump.
A file whose documents did not change keeps its exact bytes (see :func:`unchanged`).
JSON files are KRM too; they are read with the same loader and written back as JSON.
Loading and dumping go through :mod:`lanai.kpt.fastyaml`, which gives ruamel's exact
trees and bytes for the YAML package files are written in, and ruamel for the rest.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ruamel.yaml import YAML, anchor, comments, tag, tokens
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from lanai.kpt import fastyaml

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


class YamlIOError(ValueError):
    """A file is not valid YAML, or a document in it is not a KRM object (a mapping)."""


MAX_FILE_BYTES = 8 * 1024 * 1024
"""Largest package file read as KRM. Round-trip parsing is pure Python (over a second
per MiB on the fast path, several where ruamel reads the file), so a bound on size is what
bounds a render's time and memory; 8 MiB leaves room for the 5 MiB ConfigMaps people keep
in packages."""

MAX_NODES = 1_000_000
"""Most nodes a file may expand to once aliases are followed.

YAML aliases share one object, so a few lines can name 10^9 nodes (a "billion laughs"
bomb); every later walk (functions, dumps, copies) would then run without end. A real
package file holds a few thousand nodes; a 5 MiB ConfigMap, a handful.
"""


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
        for index in range(number + 1, len(lines)):  # not a copy of the rest per key
            following = lines[index]
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


BARE_SEQUENCE_KEY = "bareSeqNodeWrappingKey"
"""Where kpt's reader puts a document that is a list, so it can be refused as KRM."""


def load_documents(text: str, *, bare_sequences: bool = False) -> list[CommentedMap]:
    """All non-empty documents of ``text``, each a round-trip mapping (a document that
    is a list wrapped in one under :data:`BARE_SEQUENCE_KEY` with ``bare_sequences``)."""
    documents = _fast(fastyaml.load_all, text, MAX_NODES)
    # the fast path knows no aliases and stops at MAX_NODES: nothing for _bounded to refuse
    bounded = documents is not None
    if documents is None:
        try:
            documents = list(_yaml().load_all(text))
        except YAMLError as error:
            raise YamlIOError(f"invalid YAML: {error}") from error
    found: list[CommentedMap] = []
    for number, document in enumerate(documents):
        if document is None:
            continue
        if bare_sequences and isinstance(document, CommentedSeq):
            document = CommentedMap({BARE_SEQUENCE_KEY: document})
        if not isinstance(document, CommentedMap):
            raise YamlIOError(f"document {number} is not a mapping (a KRM object)")
        found.append(document)
    if not bounded:
        _bounded(found)
    return found


def _fast(operation: Callable[..., _T], *arguments: Any) -> _T | None:
    """``operation`` of :mod:`fastyaml`, or None where ruamel must do it: what the fast
    path does not cover, and any failure of it (ruamel's result is the reference, so a
    fast-path bug costs time, not a wrong file)."""
    try:
        return operation(*arguments)
    except fastyaml.Unsupported:
        return None
    except Exception:  # a bug in the fast path, or a recursion too deep for it
        logger.debug("fast YAML path failed; using ruamel", exc_info=True)
        return None


def _bounded(documents: list[CommentedMap]) -> None:
    """Refuse documents whose aliases expand beyond :data:`MAX_NODES` nodes.

    Sizes are memoised per shared object, so this costs one pass over the distinct
    nodes however far the aliases would expand.
    """
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = MAX_NODES + 1  # a cycle counts as unbounded
        children = node.values() if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_NODES:
                break
        sizes[id(node)] = total
        return total

    total = 0
    for document in documents:
        total += size(document)
        if total > MAX_NODES:
            raise YamlIOError(
                f"YAML aliases expand to more than {MAX_NODES:,} nodes; "
                "write the repeated content out instead of aliasing it"
            )


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
    text = _fast(fastyaml.dump_all, docs, style.indentless, style.explicit_start)
    if text is not None:
        return text
    # a refused fast dump changed nothing: ruamel dumps (and changes) the documents itself
    stream = io.StringIO()
    _yaml(style).dump_all(docs, stream)
    return stream.getvalue()


def dump_document(doc: Any, style: YamlStyle = DEFAULT_STYLE) -> str:
    return dump_documents([doc], style)


def load_file(
    name: str, content: bytes, *, bare_sequences: bool = False
) -> tuple[list[CommentedMap], YamlStyle]:
    """The KRM objects of a package file and its style (a JSON list holds several)."""
    if len(content) > MAX_FILE_BYTES:
        raise YamlIOError(
            f"{name}: {len(content) / 2**20:.1f} MiB is more than the "
            f"{MAX_FILE_BYTES // 2**20} MiB a KRM file may hold; split it, or list it in "
            ".krmignore so it travels with the package without being parsed"
        )
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
        docs = load_documents(text, bare_sequences=bare_sequences)
    except YamlIOError as error:
        raise YamlIOError(f"{name}: {error}") from error
    return docs, detect_style(text)


def load_resources(name: str, content: bytes) -> tuple[list[CommentedMap], YamlStyle]:
    """A package file read for its resources, as kpt's reader reads it: a document that
    is a list is kept (wrapped), to be refused as not KRM rather than as unreadable."""
    return load_file(name, content, bare_sequences=True)


class KptfileLoads:
    """:func:`load_file` that parses each distinct Kptfile text once.

    One render reads the root Kptfile several times (its pipeline, the resources the
    functions see, the status written back) and kpt's record of results can make it the
    largest file of the package; the others are read once and pass straight through.
    A call gets its own copy, so the caller may change it; :meth:`shared` hands out the
    parsed documents themselves, for callers that only read them.
    """

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, bytes], tuple[list[CommentedMap], YamlStyle]] = {}

    def __call__(self, name: str, content: bytes) -> tuple[list[CommentedMap], YamlStyle]:
        if name.rsplit("/", 1)[-1] != "Kptfile":
            return load_resources(name, content)
        documents, style = self.shared(name, content)
        return [clone(document) for document in documents], style

    def shared(self, name: str, content: bytes) -> tuple[list[CommentedMap], YamlStyle]:
        """The parsed documents themselves: never to be changed."""
        key = (name, content)
        found = self._parsed.get(key)
        if found is None:
            found = _RECENT_KPTFILES.get(key)
            if found is None:
                found = load_file(name, content)
                _RECENT_KPTFILES.put(key, found)
            self._parsed[key] = found
        return found


class _Recent:
    """The Kptfiles parsed last in this process, by name and text (thread-safe).

    A render rewrites its root Kptfile with kpt's record of every function's results,
    which makes it the largest file of a package, and the next render of the same
    package (an edit elsewhere, a re-render) reads exactly that text again: it is parsed
    once per process, not once per render. Held read-only, as :meth:`KptfileLoads.shared`
    hands them out; callers that change documents get copies. Bounded by the texts'
    total size (a parsed tree takes about twenty times its text).
    """

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._used = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, bytes], Any] = OrderedDict()

    def get(self, key: tuple[str, bytes]) -> Any:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, bytes], value: Any) -> None:
        size = len(key[1])
        if size > self._budget // 4:
            return  # one large file would push out every other
        with self._lock:
            if key not in self._entries:
                self._used += size
            self._entries[key] = value
            self._entries.move_to_end(key)
            while self._used > self._budget:
                old, _ = self._entries.popitem(last=False)
                self._used -= len(old[1])


RECENT_KPTFILE_BYTES = 1024 * 1024
"""Kptfile text kept parsed between renders, in total: some 20 MiB of parsed trees at
most (a 1,000-line status is 35 KiB of text)."""

_RECENT_KPTFILES = _Recent(RECENT_KPTFILE_BYTES)


def unchanged(original: bytes, docs: list[CommentedMap], style: YamlStyle, name: str) -> bool:
    """Whether writing ``docs`` would only reformat ``original`` (so keep its bytes)."""
    try:
        before, _ = load_file(name, original)
    except YamlIOError:
        return False
    return dump_documents(before, style) == dump_documents(docs, style)


def equivalent(
    a: Any, b: Any, ignored: Mapping[tuple[str, ...], frozenset[str]] | None = None
) -> bool:
    """Whether dumping ``a`` and ``b`` gives the same text, without dumping either.

    Compares values with their round-trip types (quoting, scalar formats), key order,
    comments (text and column), flow style, anchors and tags. ``ignored`` names keys to
    leave out of the mapping at a path of keys (e.g. internal annotations). A render
    uses it to keep an untouched file's bytes, which is far cheaper than dumping.
    """
    return _Comparison(ignored or {}, styles=True).same(a, b, ())


def same_data(
    a: Any, b: Any, ignored: Mapping[tuple[str, ...], frozenset[str]] | None = None
) -> bool:
    """Whether ``a`` and ``b`` hold the same data in the same key order, whatever their
    comments and styles."""
    return _Comparison(ignored or {}, styles=False).same(a, b, ())


class _Comparison:
    """The walk behind :func:`equivalent` and :func:`same_data`.

    It runs for every file a render would rewrite, so it takes the cheap routes where it
    can: paths are only tracked while they can still lead to an ignored mapping, and the
    bookkeeping objects are only pictured (:func:`_comparable`) when they are not simply
    absent on both sides.
    """

    def __init__(self, ignored: Mapping[tuple[str, ...], frozenset[str]], styles: bool) -> None:
        self.ignored = ignored
        self.styles = styles
        self.prefixes = {path[:size] for path in ignored for size in range(len(path) + 1)}

    def same(self, a: Any, b: Any, path: tuple[str, ...] | None) -> bool:
        kind_a, kind_b = type(a), type(b)
        if kind_a is CommentedMap and kind_b is CommentedMap:
            return self.same_mappings(a, OrderedDict.items(a), b, OrderedDict.items(b), path)
        if isinstance(a, dict) and isinstance(b, dict):
            return self.same_mappings(a, a.items(), b, b.items(), path)
        if isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b) or not self._same_style(a, b):
                return False
            return all(
                self.same(x, y, path)
                for x, y in zip(list.__iter__(a), list.__iter__(b), strict=True)
            )
        if isinstance(a, (dict, list)) or isinstance(b, (dict, list)) or a != b:
            return False
        if not self.styles:
            return isinstance(a, bool) == isinstance(b, bool)
        if kind_a is not kind_b:
            return False
        return kind_a in _PLAIN_SCALARS or _scalar_attributes(a) == _scalar_attributes(b)

    def same_mappings(
        self, a: Any, items_a: Any, b: Any, items_b: Any, path: tuple[str, ...] | None
    ) -> bool:
        skip = self.ignored.get(path, frozenset()) if path is not None else ()
        if skip:
            pairs_a = [(k, v) for k, v in items_a if k not in skip]
            pairs_b = [(k, v) for k, v in items_b if k not in skip]
        else:
            pairs_a, pairs_b = list(items_a), list(items_b)
        if len(pairs_a) != len(pairs_b) or not self._same_style(a, b):
            return False
        for (key_a, _), (key_b, _) in zip(pairs_a, pairs_b, strict=True):
            if key_a != key_b or (self.styles and type(key_a) is not type(key_b)):
                return False
        parent = path if path is not None and path in self.prefixes else None
        for (key, value_a), (_, value_b) in zip(pairs_a, pairs_b, strict=True):
            child = None if parent is None else (*parent, str(key))
            if not self.same(value_a, value_b, child):
                return False
        return True

    def _same_style(self, a: Any, b: Any) -> bool:
        if not self.styles:
            return True
        return type(a) is type(b) and _same_attributes(a, b)


_PLAIN_SCALARS = (str, int, float, bool, type(None))


_SLOTS: dict[type, list[str]] = {}


def _scalar_attributes(value: Any) -> tuple[Any, ...]:
    """What a round-trip scalar (quoted string, formatted number, ...) carries besides its
    value: slots and instance attributes, comments normalised."""
    slots = _SLOTS.get(type(value))
    if slots is None:
        slots = [n for cls in type(value).__mro__ for n in getattr(cls, "__slots__", ()) or ()]
        _SLOTS[type(value)] = slots
    found = tuple(_comparable(getattr(value, name, None)) for name in slots)
    return found, _comparable(getattr(value, "__dict__", None))


def _same_attributes(a: Any, b: Any) -> bool:
    for attribute in _ATTRIBUTES:
        x: Any = getattr(a, attribute, None)
        y: Any = getattr(b, attribute, None)
        if x is y:
            continue
        kind = type(x)
        if kind is comments.Format and type(y) is kind:
            if x._flow_style != y._flow_style:
                return False
        elif kind is comments.Comment and type(y) is kind:
            if not _same_comments(x, y):
                return False
        elif _comparable(x) != _comparable(y):
            return False
    return True


def _same_comments(x: Any, y: Any) -> bool:
    """``_comparable(x) == _comparable(y)`` for two comment records, without the pictures."""
    blank_x, blank_y = _blank(x), _blank(y)
    if blank_x or blank_y:
        return blank_x and blank_y  # reading ``.ca`` leaves an empty record: same as none
    if list(x.items) != list(y.items):
        return False
    return (
        _same_tokens(x.comment, y.comment)
        and all(_same_tokens(x.items[key], y.items[key]) for key in x.items)
        and _same_tokens(x.end, y.end)
        and _same_tokens(x.pre, y.pre)
    )


def _same_tokens(x: Any, y: Any) -> bool:
    """``_comparable(x) == _comparable(y)`` for comment tokens and lists of them."""
    if x is y:
        return True
    kind_x, kind_y = type(x), type(y)
    if kind_x is tokens.CommentToken and kind_y is tokens.CommentToken:
        return bool(x.value == y.value and x.column == y.column)
    if kind_x in (list, tuple) and kind_y in (list, tuple):
        return len(x) == len(y) and all(_same_tokens(a, b) for a, b in zip(x, y, strict=True))
    return bool(_comparable(x) == _comparable(y))


def _blank(comment: Any) -> bool:
    """Whether a comment record holds nothing (``_comparable`` pictures it as None)."""
    return not (comment.comment or comment.items or comment.end or comment.pre)


_ATTRIBUTES = (
    comments.comment_attrib,
    comments.Format.attrib,
    comments.merge_attrib,
    anchor.Anchor.attrib,
    tag.Tag.attrib,
)


def _comparable(value: Any) -> Any:
    """A plain, comparable picture of ruamel's bookkeeping objects."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, tokens.CommentToken):
        return ("#", value.value, value.column)
    if isinstance(value, (list, tuple)):
        return tuple(_comparable(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _comparable(v)) for k, v in value.items())
    if isinstance(value, comments.Comment):
        found = (
            _comparable(value.comment),
            _comparable(value.items),
            _comparable(value.end),
            _comparable(value.pre),
        )
        return None if not any(found) else found  # reading ``.ca`` creates an empty one
    if isinstance(value, comments.Format):
        return ("flow", value.flow_style())
    if isinstance(value, anchor.Anchor):
        return ("&", value.value, value.always_dump)
    if isinstance(value, tag.Tag):
        return ("!", value.trval)
    if isinstance(value, (dict, list)) or hasattr(value, "__dict__"):
        return ("obj", type(value).__name__, id(value))  # unknown: equal only to itself
    return repr(value)


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
    """A deep copy that keeps comments, anchors and styles.

    Equivalent to ``copy.deepcopy`` for round-trip documents at a fraction of its cost
    (render copies every resource for every function): plain scalars are immutable and
    shared, containers and their comment bookkeeping are rebuilt directly. Anything
    unusual (tagged scalars, sets, merge keys) goes through ``copy.deepcopy``.
    """
    return _clone(value, {})


def _clone(value: Any, memo: dict[int, Any]) -> Any:
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return value
    if kind is CommentedMap and not getattr(value, comments.merge_attrib, None):
        found = memo.get(id(value))
        if found is not None:
            return found
        # what CommentedMap() and ``mapping[key] = ...`` for new keys do, minus their
        # Python-level overhead
        mapping = _NEW(CommentedMap)
        mapping._ref = []
        memo[id(value)] = mapping
        for key, item in OrderedDict.items(value):
            _SET_ITEM(mapping, key, item if type(item) in _PLAIN_SCALARS else _clone(item, memo))
        mapping._ok = set(OrderedDict.keys(mapping))
        _clone_attributes(value, mapping)
        return mapping
    if kind is CommentedSeq:
        found = memo.get(id(value))
        if found is not None:
            return found
        sequence = CommentedSeq()
        memo[id(value)] = sequence
        list.extend(
            sequence,
            [
                item if type(item) in _PLAIN_SCALARS else _clone(item, memo)
                for item in list.__iter__(value)
            ],
        )
        _clone_attributes(value, sequence)
        return sequence
    return copy.deepcopy(value, memo)


_NEW = OrderedDict.__new__
_NEW_OBJECT = object.__new__
_SET_ITEM = OrderedDict.__setitem__


def _clone_attributes(source: Any, target: Any) -> None:
    comment = getattr(source, comments.comment_attrib, None)
    if comment is not None:
        copied = _NEW_OBJECT(comments.Comment)  # the four slots Comment() sets, copied
        pre = comment.pre
        copied.comment = _clone_tokens(comment.comment)
        items = comment.items
        copied._items = {key: _clone_tokens(tokens_) for key, tokens_ in items.items()}
        copied.end = _clone_tokens(comment.end)
        copied.pre = None if pre is None else _clone_tokens(pre)
        setattr(target, comments.comment_attrib, copied)
    # the other bookkeeping lives in the instance dictionary: copy what clone copies
    for name, found in source.__dict__.items():
        copier = _ATTRIBUTE_COPIERS.get(name)
        if copier is not None:
            setattr(target, name, copier(found))


def _copy_format(found: Any) -> Any:
    if type(found) is not comments.Format:
        return copy.copy(found)
    copied = _NEW_OBJECT(comments.Format)
    copied._flow_style = found._flow_style
    return copied


def _copy_line_col(found: Any) -> Any:
    if type(found) is not comments.LineCol:
        return copy.copy(found)
    copied = comments.LineCol.__new__(comments.LineCol)
    copied.__dict__.update(found.__dict__)
    return copied


def _copy_anchor(found: Any) -> Any:
    if type(found) is not anchor.Anchor:
        return copy.copy(found)
    copied = anchor.Anchor()
    copied.value = found.value
    copied.always_dump = found.always_dump
    return copied


_ATTRIBUTE_COPIERS: dict[str, Any] = {
    comments.Format.attrib: _copy_format,
    comments.LineCol.attrib: _copy_line_col,
    anchor.Anchor.attrib: _copy_anchor,
    tag.Tag.attrib: lambda found: found,  # shared, as before
    fastyaml.tags.NULLS_ATTRIBUTE: dict,
    "_lanai_settled": lambda found: found,
}
_ABSENT = object()


_TOKEN_SLOTS = ("start_mark", "end_mark", "_comment", "_value", "_column", "pre_done")


def _copy_token(token: tokens.CommentToken) -> tokens.CommentToken:
    """``copy.copy`` of a comment token (its slots), several times cheaper."""
    copied = tokens.CommentToken.__new__(tokens.CommentToken)
    for slot in _TOKEN_SLOTS:
        value = getattr(token, slot, _ABSENT)
        if value is not _ABSENT:
            setattr(copied, slot, value)
    return copied


def _clone_tokens(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is list:
        return [_clone_tokens(item) for item in value] if value else []
    if isinstance(value, list):
        return [_clone_tokens(item) for item in value]
    if type(value) is tokens.CommentToken:
        return _copy_token(value)
    if isinstance(value, tokens.CommentToken):
        return copy.copy(value)
    return value
