"""ruamel's round-trip representer, serializer and emitter, for the trees package files hold.

The output must be byte-identical to ruamel's (Lanai keeps untouched files' bytes and a
render must be idempotent, so two emitters may never disagree), and so must the tree a dump
leaves behind: ruamel's representer mutates what it dumps (it appends a mapping's end
comments to its ``ca.comment``, copies comments between a collection and its parent's
item slots, creates the ``tag``/``fa``/``anchor`` attributes it reads, resets ``pre_done``
on comment tokens) and its emitter marks written comments (``pre_done``) and moves the
column of a comment after a block scalar. The representer pass below repeats those
mutations in ruamel's order; the emitter is ruamel's state machine (indentation, the
whitespace/indention/no-newline flags, comment placement) without its event queue and
character-by-character scalar analysis. Anything else (anchors, tags, sets, merge keys,
lines near the 4096-column width, ...) is :class:`~lanai.kpt.fastyaml.scanner.Unsupported`.
"""

from __future__ import annotations

import datetime
import re
from collections import OrderedDict
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, comment_attrib, merge_attrib
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarfloat import ScalarFloat
from ruamel.yaml.scalarint import BinaryInt, HexCapsInt, HexInt, OctalInt, ScalarInt
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    PlainScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.timestamp import TimeStamp
from ruamel.yaml.tokens import CommentToken

from lanai.kpt.fastyaml import tags
from lanai.kpt.fastyaml.scanner import Unsupported

_WIDTH = 4096
# stay clear of the width, where ruamel starts folding lines
_SAFE_COLUMN = _WIDTH - 96

_BREAKS = "\n\x85\u2028\u2029"
_WHITESPACE = "\0 \t\r\n\x85\u2028\u2029"

# ruamel formats its special numbers itself; this instance only ever represents scalars
_YAML = YAML()
_REPRESENTER = _YAML.representer
_SPECIAL_NUMBERS = (ScalarInt, BinaryInt, OctalInt, HexInt, HexCapsInt, ScalarFloat, ScalarBoolean)
# dates are not exempt from ruamel's aliases: the same object twice becomes an alias
_DATES = (datetime.date, datetime.datetime, TimeStamp)


class _Scalar:
    __slots__ = ("comment", "plain_implicit", "str_implicit", "style", "tag", "value")

    def __init__(self, tag: str, value: str, style: str | None, comment: Any = None) -> None:
        self.tag = tag
        self.value = value
        self.style = style
        self.comment = comment
        # the serializer's implicit flags: would the text resolve to the tag unquoted, and
        # is the tag the one quoted text resolves to
        if tag == tags.STR and value and value[0] not in tags.RESOLVERS:
            self.plain_implicit = True  # no implicit resolver starts with that character
        else:
            self.plain_implicit = tags.resolve(value) == tag
        self.str_implicit = tag == tags.STR


class _Collection:
    __slots__ = ("comment", "flow", "items", "mapping", "real")

    def __init__(self, mapping: bool, flow: Any) -> None:
        self.mapping = mapping
        self.flow = flow
        self.comment: Any = None
        self.real: list[Any] | None = None  # a mapping's own ca.comment list
        self.items: list[Any] = []


_Node = _Scalar | _Collection

# what a ruamel dump changes in the tree, recorded to be done once the fast dump succeeded
_ANCHOR = 0  # ``data.anchor`` creates an empty Anchor (on a scalar)
_COLLECTION = 1  # ... and on a collection ``data.tag.trval`` an empty Tag, ``data.fa`` a Format
_RESET = 2  # ``token.reset()`` forgets that a pre comment was written
_APPEND = 3  # ``list.append(value)``
_SET = 4  # ``list[index] = value``
_WRITTEN = 5  # ``token.pre_done = True``
_COLUMN = 6  # ``token.column = value``


# -- the representer -----------------------------------------------------------------------


class _Representer:
    """ruamel's ``RoundTripRepresenter`` without side effects: it records them instead, and
    gives its nodes copies of the comment lists as ruamel's nodes would see them."""

    def __init__(self, actions: list[tuple[Any, ...]]) -> None:
        self.actions = actions
        self.containers: set[int] = set()
        self.mutated: set[int] = set()
        self.reset_tokens: set[int] = set()

    def data(self, data: Any) -> _Node:
        kind = type(data)
        if kind is str:
            return _Scalar(tags.STR, data, None)
        if kind is CommentedMap:
            return self.mapping(data)
        if kind is CommentedSeq:
            return self.sequence(data)
        if data is None:
            return _Scalar(tags.NULL, "", None)
        if kind is bool:
            return _Scalar(tags.BOOL, "true" if data else "false", None)
        if kind is int:
            return _Scalar(tags.INT, str(data), None)
        if kind is float:
            return _Scalar(tags.FLOAT, _float(data), None)
        if kind is SingleQuotedScalarString:
            self.anchor(data)
            return _Scalar(tags.STR, data, "'")
        if kind is DoubleQuotedScalarString:
            self.anchor(data)
            return _Scalar(tags.STR, data, '"')
        if kind is PlainScalarString:
            self.anchor(data)
            return _Scalar(tags.STR, data, "")
        if kind is LiteralScalarString or kind is FoldedScalarString:
            self.anchor(data)
            comment = getattr(data, "comment", None)
            text = data
            if kind is FoldedScalarString:
                style = ">"
                for position in reversed(getattr(data, "fold_pos", [])):
                    if (
                        text[position] == " "
                        and (position > 0 and not text[position - 1].isspace())
                        and (position < len(text) and not text[position + 1].isspace())
                    ):
                        text = text[:position] + "\a" + text[position:]
            else:
                style = "|"
            return _Scalar(tags.STR, text, style, [None, [comment]] if comment else None)
        if kind in _SPECIAL_NUMBERS or kind in _DATES:
            if kind in _DATES:
                if id(data) in self.containers:
                    raise Unsupported("a date that appears twice (an alias)")
                self.containers.add(id(data))
            else:
                self.anchor(data)
            _REPRESENTER.alias_key = None
            node = _REPRESENTER.yaml_representers[kind](_REPRESENTER, data)
            return _Scalar(str(node.tag), node.value, node.style)
        raise Unsupported(f"cannot represent {kind.__name__}")

    def anchor(self, data: Any) -> None:
        """ruamel's ``ignore_aliases`` reads ``data.anchor``, creating an empty one."""
        anchor = getattr(data, "_yaml_anchor", None)
        if anchor is not None and anchor.value is not None:
            raise Unsupported("anchor")
        self.actions.append((_ANCHOR, data))

    def reset(self, comments: Any) -> None:
        for token in comments:
            if type(token) is not CommentToken:
                raise Unsupported("a pre comment that is not a comment token")
            self.reset_tokens.add(id(token))
            self.actions.append((_RESET, token))

    def mutable(self, target: list[Any]) -> None:
        """A comment list ruamel changes in place must be reachable from one place only,
        or the copies the nodes hold would disagree with it."""
        if id(target) in self.mutated:
            raise Unsupported("a comment list shared between collections")
        self.mutated.add(id(target))

    def container(self, data: Any) -> Any:
        """The steps ruamel takes on any collection: aliases, tag, flow style."""
        anchor = getattr(data, "_yaml_anchor", None)
        if anchor is not None and anchor.value is not None:
            raise Unsupported("anchor")
        if id(data) in self.containers:
            raise Unsupported("a collection that appears twice (an alias)")
        self.containers.add(id(data))
        tag = getattr(data, "_yaml_tag", None)
        if tag is not None and tag.trval:
            raise Unsupported("tagged collection")
        self.actions.append((_COLLECTION, data))
        style = getattr(data, "_yaml_format", None)
        return None if style is None else style.flow_style(None)

    def comments(self, data: Any) -> tuple[Any, dict[Any, Any]]:
        """A collection's comment record and item comments; the pre comments ruamel
        forgets having written (``CommentToken.reset``)."""
        comment = getattr(data, comment_attrib, None)
        if comment is None:
            return None, {}
        own = comment.comment
        if own and own[1]:
            self.reset(own[1])
        items = comment.items
        for slots in items.values():
            if slots and slots[1]:
                self.reset(slots[1])
        if own is not None and type(own) is not list:
            raise Unsupported("a comment that is not a list")
        return comment, items

    def mapping(self, data: CommentedMap) -> _Collection:
        node = _Collection(True, self.container(data))
        comment, items = self.comments(data)
        if comment is not None:
            own = comment.comment
            if own is not None:
                # ruamel appends the end comments to the mapping's own list
                self.mutable(own)
                self.actions.append((_APPEND, own, comment.end))
                node.real = own
                own = [*own, comment.end]
            node.comment = own
        if getattr(data, merge_attrib, None):
            raise Unsupported("merge keys")
        pairs = node.items
        nulls = getattr(data, tags.NULLS_ATTRIBUTE, None)
        for key, value in OrderedDict.items(data):
            key_node = self.data(key)
            if value is None and nulls and key in nulls:
                value_node: _Node = _Scalar(tags.NULL, nulls[key], None)
            else:
                value_node = self.data(value)
            slots = items.get(key)
            if slots:
                if type(slots) is not list or len(slots) < 4:
                    raise Unsupported("an unusual item comment")
                key_node.comment = slots[:2]
                existing = value_node.comment
                if existing is not None:
                    if len(existing) < 2:
                        raise Unsupported("an unusual comment")
                    existing[0] = slots[2]
                    existing[1] = slots[3]
                    real = value_node.real if isinstance(value_node, _Collection) else None
                    if real is not None:
                        self.actions.append((_SET, real, 0, slots[2]))
                        self.actions.append((_SET, real, 1, slots[3]))
                else:
                    value_node.comment = slots[2:]
            pairs.append((key_node, value_node))
        if node.flow is None:
            node.flow = not pairs
        return node

    def sequence(self, data: CommentedSeq) -> _Collection:
        node = _Collection(False, self.container(data))
        comment, items = self.comments(data)
        if comment is not None:
            own = comment.comment
            # a sequence's node gets a copy of its list, with the end comments appended
            node.comment = None if own is None else [*own, comment.end]
        children = node.items
        nulls = getattr(data, tags.NULLS_ATTRIBUTE, None)
        for index, item in enumerate(list.__iter__(data)):
            if item is None and nulls and index in nulls:
                child: _Node = _Scalar(tags.NULL, nulls[index], None)
            else:
                child = self.data(item)
            slots = items.get(index)
            if slots is not None:
                self.merge_comments(child, slots)
            children.append(child)
        if node.flow is None:
            node.flow = not children
        return node

    def merge_comments(self, node: _Node, comments: Any) -> None:
        """ruamel's ``merge_comments``: a sequence item's comment slots and its own."""
        if type(comments) is not list:
            raise Unsupported("an unusual item comment")
        view = list(comments)
        own = node.comment
        if own is not None:
            self.mutable(comments)
            for index, value in enumerate(comments):
                if index >= len(own):
                    continue
                mine = own[index]
                if mine is not None:
                    try:
                        same = value is None or value == mine
                    except Exception as error:
                        raise Unsupported("conflicting item comments") from error
                    if not same:
                        raise Unsupported("conflicting item comments")
                    view[index] = mine
                    self.actions.append((_SET, comments, index, mine))
        node.comment = view


def _float(data: float) -> str:
    if data != data:
        return ".nan"
    if data == _REPRESENTER.inf_value:
        return ".inf"
    if data == -_REPRESENTER.inf_value:
        return "-.inf"
    return repr(data).lower()


def _apply(actions: list[tuple[Any, ...]]) -> None:
    """Change the tree as ruamel's dump would have."""
    for action in actions:
        kind = action[0]
        if kind == _ANCHOR:
            _ = action[1].anchor
        elif kind == _COLLECTION:
            collection = action[1]
            _ = collection.anchor
            _ = collection.tag.trval
            _ = collection.fa
        elif kind == _RESET:
            action[1].reset()
        elif kind == _APPEND:
            action[1].append(action[2])
        elif kind == _SET:
            action[1][action[2]] = action[3]
        elif kind == _WRITTEN:
            action[1].pre_done = True
        else:
            action[1].column = action[2]


# -- scalar analysis -----------------------------------------------------------------------


class _Analysis:
    __slots__ = (
        "allow_block_plain",
        "allow_flow_plain",
        "allow_single_quoted",
        "empty",
        "multiline",
    )

    def __init__(
        self,
        empty: bool,
        multiline: bool,
        allow_flow_plain: bool,
        allow_block_plain: bool,
        allow_single_quoted: bool,
    ) -> None:
        self.empty = empty
        self.multiline = multiline
        self.allow_flow_plain = allow_flow_plain
        self.allow_block_plain = allow_block_plain
        self.allow_single_quoted = allow_single_quoted


_SPECIAL = re.compile(
    "[^\n\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_LINE_BREAK = re.compile("[\n\x85\u2028\u2029]")
_BREAK_SPACE = re.compile("[\n\x85\u2028\u2029] ")
_SPACE_BREAK = re.compile(" [\n\x85\u2028\u2029]")
_INNER_FLOW_INDICATOR = re.compile(r"[,\[\]{}]")
_INNER_COLON = re.compile("(?s).:(?:[\0 \t\r\n\x85\u2028\u2029]|\\Z)")
_INNER_HASH = re.compile("[\0 \t\r\n\x85\u2028\u2029]#")
_LEADING_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")
_SIMPLE = re.compile(r"[A-Za-z0-9_/.=+$~^()@<-]*\Z")
_CACHE: dict[str, _Analysis] = {}


def _analyze(scalar: str) -> _Analysis:
    """ruamel's ``analyze_scalar`` (allow_unicode, YAML 1.2), with regular expressions."""
    found = _CACHE.get(scalar)
    if found is not None:
        return found
    found = _analysis(scalar) if scalar else _Analysis(True, False, False, True, True)
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[str(scalar)] = found
    return found


def _analysis(scalar: str) -> _Analysis:
    first = scalar[0]
    followed = len(scalar) == 1 or scalar[1] in _WHITESPACE
    if _SIMPLE.match(scalar) and first != "-" and first not in "@<":
        return _Analysis(False, False, True, True, True)
    block_indicators = flow_indicators = scalar.startswith(("---", "..."))
    if first in _LEADING_INDICATORS:
        flow_indicators = block_indicators = True
    if first in "?:":
        if len(scalar) == 1:
            flow_indicators = True
        if followed:
            block_indicators = True
    if first == "-" and followed:
        flow_indicators = block_indicators = True
    rest = scalar[1:]
    if _INNER_FLOW_INDICATOR.search(rest):
        flow_indicators = True
    if _INNER_COLON.search(scalar) or _INNER_HASH.search(scalar):
        flow_indicators = block_indicators = True
    line_breaks = bool(_LINE_BREAK.search(scalar))
    special = bool(_SPECIAL.search(scalar))
    last = scalar[-1]
    edges = first == " " or first in _BREAKS or last == " " or last in _BREAKS
    break_space = bool(_BREAK_SPACE.search(scalar))
    space_break = bool(_SPACE_BREAK.search(scalar))
    flow_plain = block_plain = single = True
    if edges:
        flow_plain = block_plain = False
    if break_space or special or space_break:
        flow_plain = block_plain = single = False
    if line_breaks:
        flow_plain = block_plain = False
    if flow_indicators:
        flow_plain = False
    if block_indicators:
        block_plain = False
    return _Analysis(False, line_breaks, flow_plain, block_plain, single)


# -- the emitter ---------------------------------------------------------------------------

_ESCAPES = {
    "\0": "0",
    "\x07": "a",
    "\x08": "b",
    "\x09": "t",
    "\x0a": "n",
    "\x0b": "v",
    "\x0c": "f",
    "\x0d": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\xa0": "_",
    "\u2028": "L",
    "\u2029": "P",
}
_NEEDS_ESCAPE = re.compile(
    '["\\\\\x85\u2028\u2029\ufeff]|[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]'
)


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    known = _ESCAPES.get(ch)
    if known is not None:
        return "\\" + known
    if ch <= "\xff":
        return f"\\x{ord(ch):02X}"
    if ch <= "\uffff":
        return f"\\u{ord(ch):04X}"
    return f"\\U{ord(ch):08X}"


class _Emitter:
    def __init__(
        self,
        representer: _Representer,
        sequence_indent: int,
        dash_offset: int,
        explicit_start: bool,
    ) -> None:
        self.actions = representer.actions
        self.reset_tokens = representer.reset_tokens
        self.written: set[int] = set()  # pre comments marked pre_done by this dump
        self.columns: dict[int, int] = {}  # comment columns this dump moved
        self.out: list[str] = []
        self.best_sequence_indent = sequence_indent
        self.best_map_indent = 2
        self.dash_offset = dash_offset
        self.explicit_start = explicit_start
        self.column = 0
        self.whitespace = True
        self.indention = True
        self.no_newline: bool | None = None
        self.open_ended = False
        self.indent: int | None = None
        self.indents: list[tuple[int | None, bool | None]] = []
        self.flow_level = 0
        self.root_context = False
        self.sequence_context = False
        self.mapping_context = False
        self.simple_key_context = False
        self.first = True

    # -- writers ---------------------------------------------------------------------------

    def write_indicator(
        self,
        indicator: str,
        need_whitespace: bool,
        whitespace: bool = False,
        indention: bool = False,
    ) -> None:
        data = indicator if self.whitespace or not need_whitespace else " " + indicator
        self.whitespace = whitespace
        self.indention = self.indention and indention
        self.column += len(data)
        self.open_ended = False
        self.out.append(data)

    def write_indent(self) -> None:
        indent = self.indent or 0
        if (
            not self.indention
            or self.column > indent
            or (self.column == indent and not self.whitespace)
        ):
            if self.no_newline:
                self.no_newline = False
            else:
                self.write_line_break()
        if self.column < indent:
            self.whitespace = True
            self.out.append(" " * (indent - self.column))
            self.column = indent

    def write_line_break(self) -> None:
        self.whitespace = True
        self.indention = True
        self.column = 0
        self.out.append("\n")

    def column_of(self, comment: Any) -> int:
        moved = self.columns.get(id(comment))
        if moved is not None:
            return moved
        mark = comment.start_mark
        if mark is None:
            raise Unsupported("a comment without a position")
        return int(mark.column)

    def done(self, token: Any) -> bool:
        """Whether a pre comment is marked written (``pre_done``) at this point of a dump."""
        if id(token) in self.written:
            return True
        if id(token) in self.reset_tokens:
            return False
        return bool(getattr(token, "pre_done", None))

    def write_comment(self, comment: Any, pre: bool = False) -> None:
        value = comment.value
        if not pre and not value:
            raise Unsupported("empty comment")
        if not pre and value[-1] == "\n":
            value = value[:-1]
        column = self.column_of(comment)
        if comment.value.startswith("\n"):
            column = self.column
        spaces = column - self.column
        if self.column and value.strip() and spaces < 1 and value[0] != "\n":
            spaces = 1
        self.out.append(" " * spaces + value)
        if not pre:
            self.write_line_break()

    def write_pre_comment(self, comment: Any, start: bool) -> bool:
        if comment is None:
            return False
        comments = comment[1]
        if comments is None:
            return False
        for token in comments:
            if type(token) is not CommentToken:
                raise Unsupported("a pre comment that is not a comment token")
            if start and self.done(token):
                continue
            if self.column != 0:
                self.write_line_break()
            self.write_comment(token, pre=True)
            if start and id(token) not in self.written:
                self.written.add(id(token))
                self.actions.append((_WRITTEN, token))
        return True

    def write_post_comment(self, comment: Any) -> bool:
        if comment[0] is None:
            return False
        self.write_comment(comment[0])
        return True

    # -- indentation -----------------------------------------------------------------------

    def increase_indent(
        self, flow: bool = False, sequence: bool | None = None, indentless: bool = False
    ) -> None:
        self.indents.append((self.indent, sequence))
        if self.indent is None:
            self.indent = None if flow else 0
        elif not indentless:
            last_seq = len(self.indents) >= 2 and self.indents[-2][1]
            self.indent += self.best_sequence_indent if last_seq else self.best_map_indent

    def seq_seq(self) -> bool:
        return len(self.indents) >= 2 and bool(self.indents[-2][1]) and bool(self.indents[-1][1])

    def seq_flow_align(self, column: int, pre_comment: bool) -> int:
        values = self.indents
        if (len(values) < 2 or not values[-1][1]) and (len(values) == 0 or not pre_comment):
            return 0
        base = values[-1][0] or 0
        if pre_comment:
            return base + self.best_sequence_indent
        return base + self.best_sequence_indent - column - 1

    # -- documents -------------------------------------------------------------------------

    def document(self, node: _Node) -> None:
        if not isinstance(node, _Collection) or not node.mapping:
            raise Unsupported("a document that is not a mapping")
        if not self.first or self.explicit_start:
            self.write_indent()
            self.write_indicator("---", True)
        self.first = False
        self.node(node, root=True)
        self.write_indent()

    def end(self) -> str:
        if self.open_ended:
            self.write_indicator("...", True)
            self.write_indent()
        return "".join(self.out)

    # -- nodes -----------------------------------------------------------------------------

    def node(
        self,
        node: _Node,
        root: bool = False,
        sequence: bool = False,
        mapping: bool = False,
        simple_key: bool = False,
        analysis: _Analysis | None = None,
    ) -> None:
        self.root_context = root
        self.sequence_context = sequence
        self.mapping_context = mapping
        self.simple_key_context = simple_key
        if isinstance(node, _Scalar):
            self.scalar(node, analysis)
            return
        comment = node.comment
        flow = node.flow
        if not node.mapping:
            force_flow_indent = False
            indention = self.indention
            if comment:
                if flow is False and self.write_post_comment(comment):
                    self.indention = False
                    self.no_newline = True
                column = self.column
                if self.write_pre_comment(comment, start=True):
                    if flow:
                        force_flow_indent = not self.indents[-1][1]
                    self.indention = indention
                    self.no_newline = not self.indention
                if flow:
                    self.column = column
            if self.flow_level or flow or not node.items:
                self.flow_sequence(node, force_flow_indent)
            else:
                self.block_sequence(node)
            return
        force_flow_indent = False
        if flow is False and comment:
            self.write_post_comment(comment)
        if comment and comment[1]:
            self.write_pre_comment(comment, start=True)
            if flow and self.indents:
                force_flow_indent = not self.indents[-1][1]
        if self.flow_level or flow or not node.items:
            self.flow_mapping(node, force_flow_indent)
        else:
            self.block_mapping(node)

    def end_comment(self, node: _Collection) -> list[Any]:
        """The comment of a collection's end event: ``[flow eol comment, end comments]``."""
        comment = node.comment
        own = comment[0] if node.flow is True and comment else None
        end = comment[2] if comment and len(comment) > 2 else None
        return [own, end]

    # -- block collections -----------------------------------------------------------------

    def block_sequence(self, node: _Collection) -> None:
        indentless = not self.indention if self.mapping_context else False
        self.increase_indent(flow=False, sequence=True, indentless=indentless)
        if self.seq_seq():
            self.indention = True
            self.no_newline = False
        for item in node.items:
            comment = item.comment
            if comment and comment[1]:
                self.write_pre_comment(comment, start=isinstance(item, _Collection))
            nonl = self.no_newline if self.column == 0 else False
            self.write_indent()
            self.write_indicator(" " * self.dash_offset + "-", True, indention=True)
            if nonl or self.dash_offset + 2 > self.best_sequence_indent:
                self.no_newline = True
            self.node(item, sequence=True)
        end = self.end_comment(node)
        if end[1]:
            self.write_pre_comment(end, start=False)
        self.indent = self.indents.pop()[0]
        self.no_newline = False

    def block_mapping(self, node: _Collection) -> None:
        self.increase_indent(flow=False, sequence=False)
        for key, value in node.items:
            comment = key.comment
            if comment and comment[1]:
                self.write_pre_comment(comment, start=isinstance(key, _Collection))
            self.write_indent()
            analysis = self.simple_key(key)
            if analysis is None:
                raise Unsupported("a key that is not simple")
            if key.style == "?":
                raise Unsupported("set")
            # expect_node(mapping=True, simple_key=True) for the key (always a scalar)
            self.root_context = self.sequence_context = False
            self.mapping_context = self.simple_key_context = True
            self.scalar(key, analysis)
            self.write_indicator(":", False)
            if type(value) is _Scalar:
                self.simple_key_context = False
                self.scalar(value, None)
            else:
                self.node(value, mapping=True)
        end = self.end_comment(node)
        if end[1]:
            self.write_pre_comment(end, start=False)
        self.indent = self.indents.pop()[0]

    def simple_key(self, key: _Node) -> _Analysis | None:
        """ruamel's ``check_simple_key`` for a key (its analysis, or None if complex)."""
        if not isinstance(key, _Scalar):
            raise Unsupported("a collection as a key")
        analysis = _analyze(key.value)
        if len(key.value) < 128 and not analysis.multiline:
            return analysis
        return None

    # -- flow collections ------------------------------------------------------------------

    def flow_sequence(self, node: _Collection, force_flow_indent: bool) -> None:
        if force_flow_indent:
            self.increase_indent(flow=True, sequence=True)
        ind = self.seq_flow_align(self.column, force_flow_indent)
        self.write_indicator(" " * ind + "[", True, whitespace=True)
        if not force_flow_indent:
            self.increase_indent(flow=True, sequence=True)
        self.flow_level += 1
        if self.seq_seq():
            self.indention = True
            self.no_newline = False
        first = True
        for item in node.items:
            if not first:
                self.write_indicator(",", False)
            if self.column > _SAFE_COLUMN:
                raise Unsupported("a long flow sequence")
            self.node(item, sequence=True)
            first = False
        self.close_flow(node, "]")

    def flow_mapping(self, node: _Collection, force_flow_indent: bool) -> None:
        if self.flow_level:
            raise Unsupported("a mapping inside a flow collection")
        if force_flow_indent:
            self.increase_indent(flow=True, sequence=False)
        ind = self.seq_flow_align(self.column, force_flow_indent)
        self.write_indicator(" " * ind + "{", True, whitespace=True)
        self.flow_level += 1
        if not force_flow_indent:
            self.increase_indent(flow=True, sequence=False)
        first = True
        for key, value in node.items:
            if not first:
                self.write_indicator(",", False)
            if self.column > _SAFE_COLUMN:
                raise Unsupported("a long flow mapping")
            analysis = self.simple_key(key)
            if analysis is None:
                raise Unsupported("a key that is not simple")
            self.node(key, mapping=True, simple_key=True, analysis=analysis)
            if key.style == "-":
                raise Unsupported("set")
            self.write_indicator(":", False)
            self.node(value, mapping=True)
            first = False
        self.close_flow(node, "}")

    def close_flow(self, node: _Collection, closing: str) -> None:
        """The end of a flow collection: an empty one ends its line unless a comment
        does (``expect_first_flow_*``), a full one leaves the line open."""
        self.indent = self.indents.pop()[0]
        self.flow_level -= 1
        self.write_indicator(closing, False)
        end = self.end_comment(node)
        if end[0]:
            self.write_post_comment(end)
        elif not node.items:
            if self.flow_level == 0:
                self.write_line_break()
        else:
            self.no_newline = False

    # -- scalars ---------------------------------------------------------------------------

    def choose_style(self, node: _Scalar, value: str, analysis: _Analysis) -> str:
        style = node.style
        if style == '"':
            return '"'
        if (not style or style == "?" or style == "-") and node.plain_implicit:
            if not (self.simple_key_context and (analysis.empty or analysis.multiline)) and (
                (self.flow_level and analysis.allow_flow_plain)
                or (not self.flow_level and analysis.allow_block_plain)
            ):
                return ""
            if style == "-":
                return ""
        if style and style in "|>" and not self.flow_level and not self.simple_key_context:
            return style
        if not style and ("'" in value or "\n" in value):
            return '"'
        if (not style or style == "'") and (
            analysis.allow_single_quoted and not (self.simple_key_context and analysis.multiline)
        ):
            return "'"
        return '"'

    def scalar(self, node: _Scalar, analysis: _Analysis | None) -> None:
        value = node.value
        if analysis is None:
            analysis = _analyze(value)
        if (
            not node.style
            and node.plain_implicit
            and analysis.allow_block_plain
            and not self.flow_level
            and not node.comment
            and not self.sequence_context
            and not self.root_context
            and value
            and not (self.simple_key_context and analysis.multiline)
        ):
            # a plain scalar as a key or a mapping value, by far the commonest: the writes
            # of expect_scalar and write_plain (the indentation it pushes is not used)
            self.write_plain_text(value)
            return
        style = self.choose_style(node, value, analysis)
        plain_implicit = node.plain_implicit
        if value == "" and style == "'" and node.tag == tags.NULL:
            value = "null"
            analysis = _analyze(value)
            style = self.choose_style(node, value, analysis)
        if not ((style == "" and plain_implicit) or (style != "" and node.str_implicit)):
            raise Unsupported("a scalar that needs a tag")
        # expect_scalar
        self.increase_indent(flow=True)
        split = not self.simple_key_context
        if self.sequence_context and not self.flow_level:
            self.write_indent()
        comment = node.comment
        if style == '"':
            self.write_double_quoted(value)
        elif style == "'":
            self.write_single_quoted(value)
        elif style in ("|", ">"):
            try:
                header = comment[1][0]
            except (IndexError, TypeError):
                header = ""
            if style == "|":
                self.write_literal(value, header)
            else:
                self.write_folded(value, header)
            if comment and comment[0] and self.indent is not None:
                token = comment[0]
                if type(token) is not CommentToken:
                    raise Unsupported("a comment that is not a comment token")
                if self.column_of(token) >= self.indent:
                    # ruamel dedents a comment that follows a block scalar (its issue 376)
                    self.columns[id(token)] = self.indent - 1
                    self.actions.append((_COLUMN, token, self.indent - 1))
        else:
            self.write_plain(value, split)
        if comment:
            self.write_post_comment(comment)
        self.indent = self.indents.pop()[0]

    def write_plain(self, text: str, split: bool) -> None:
        if self.root_context:
            raise Unsupported("a scalar document")
        if not text:
            return
        if "\n" in text or _LINE_BREAK.search(text):
            raise Unsupported("a plain scalar with line breaks")
        self.write_plain_text(text)

    def write_plain_text(self, text: str) -> None:
        """A plain scalar's one line (ruamel folds none this short)."""
        if self.column + len(text) + 1 > _SAFE_COLUMN:
            raise Unsupported("a long plain scalar")
        if not self.whitespace:
            self.out.append(" ")
            self.column += 1
        self.whitespace = False
        self.indention = False
        self.out.append(text)
        self.column += len(text)

    def write_single_quoted(self, text: str) -> None:
        self.write_indicator("'", True)
        if _LINE_BREAK.search(text.replace("\n", "")):
            raise Unsupported("a single-quoted scalar with unusual line breaks")
        if "\n" not in text:
            data = text.replace("'", "''")
            if self.column + len(data) > _SAFE_COLUMN:
                raise Unsupported("a long single-quoted scalar")
            self.out.append(data)
            self.column += len(data)
        else:
            self.write_single_quoted_lines(text)
        self.write_indicator("'", False)

    def write_single_quoted_lines(self, text: str) -> None:
        """ruamel's ``write_single_quoted`` for text with line breaks: a break is written
        as a blank line, the next line indented."""
        out = self.out
        spaces = breaks = False
        start = end = 0
        length = len(text)
        while end <= length:
            ch = text[end] if end < length else None
            if spaces:
                if ch != " ":
                    data = text[start:end]
                    self.column += len(data)
                    out.append(data)
                    start = end
            elif breaks:
                if ch != "\n":
                    self.write_line_break()
                    for _ in range(end - start):
                        self.write_line_break()
                    self.write_indent()
                    start = end
            elif (ch is None or ch in " \n'") and start < end:
                data = text[start:end]
                self.column += len(data)
                out.append(data)
                start = end
            if self.column > _SAFE_COLUMN:
                raise Unsupported("a long single-quoted scalar")
            if ch == "'":
                self.column += 2
                out.append("''")
                start = end + 1
            if ch is not None:
                spaces = ch == " "
                breaks = ch == "\n"
            end += 1

    def write_double_quoted(self, text: str) -> None:
        self.write_indicator('"', True)
        data = _NEEDS_ESCAPE.sub(_escape, text)
        if self.column + len(data) > _SAFE_COLUMN:
            raise Unsupported("a long double-quoted scalar")
        self.out.append(data)
        self.column += len(data)
        self.write_indicator('"', False)

    def block_hints(self, text: str) -> tuple[str, str]:
        hints = ""
        indicator = ""
        if text:
            if text[0] in " \n\x85\u2028\u2029":
                hints += "2"
            elif self.root_context:
                raise Unsupported("a block scalar document")
            if text[-1] not in _BREAKS:
                indicator = "-"
            elif len(text) == 1 or text[-2] in _BREAKS:
                indicator = "+"
        return hints + indicator, indicator

    def block_header(self, style: str, text: str, comment: Any) -> None:
        """A block scalar's first line: its style, hints and header comment."""
        if _LINE_BREAK.search(text.replace("\n", "")):
            raise Unsupported("a block scalar with unusual line breaks")
        hints, indicator = self.block_hints(text)
        if not isinstance(comment, str):
            comment = ""
        self.write_indicator(style + hints + comment, True)
        if indicator == "+":
            self.open_ended = True
        self.write_line_break()

    def write_literal(self, text: str, comment: Any) -> None:
        self.block_header("|", text, comment)
        out = self.out
        breaks = True
        start = 0
        length = len(text)
        end = 0
        while end <= length:
            ch = text[end] if end < length else None
            if breaks:
                if ch is None or ch != "\n":
                    for _ in range(end - start):
                        self.write_line_break()
                    if ch is not None:
                        self.write_indent()
                    start = end
            elif ch is None or ch == "\n":
                out.append(text[start:end])
                if ch is None:
                    self.write_line_break()
                start = end
            if ch is not None:
                breaks = ch == "\n"
            end += 1

    def write_folded(self, text: str, comment: Any) -> None:
        self.block_header(">", text, comment)
        out = self.out
        leading_space = True
        spaces = False
        breaks = True
        start = end = 0
        length = len(text)
        while end <= length:
            ch = text[end] if end < length else None
            if breaks:
                if ch is None or ch not in "\n\a":
                    if not leading_space and ch is not None and ch != " " and text[start] == "\n":
                        self.write_line_break()
                    leading_space = ch == " "
                    for _ in text[start:end]:
                        self.write_line_break()
                    if ch is not None:
                        self.write_indent()
                    start = end
            elif spaces:
                if ch != " ":
                    if start + 1 == end and self.column > _WIDTH:
                        raise Unsupported("a long folded scalar")
                    data = text[start:end]
                    self.column += len(data)
                    out.append(data)
                    start = end
            elif ch is None or ch in " \n\a":
                data = text[start:end]
                self.column += len(data)
                if self.column > _SAFE_COLUMN:
                    raise Unsupported("a long folded scalar")
                out.append(data)
                if ch == "\a":
                    if end < (length - 1) and not text[end + 2].isspace():
                        self.write_line_break()
                        self.write_indent()
                        end += 2
                    else:
                        raise Unsupported("a fold before a space")
                if ch is None:
                    self.write_line_break()
                start = end
            if ch is not None:
                breaks = ch == "\n"
                spaces = ch == " "
            end += 1


def dump_all(documents: list[Any], indentless: bool, explicit_start: bool) -> str:
    """What ruamel's ``dump_all`` writes for ``documents`` with
    :func:`lanai.kpt.yamlio._yaml`'s settings, or :class:`Unsupported`; the documents are
    left as ruamel's dump leaves them."""
    actions: list[tuple[Any, ...]] = []
    representer = _Representer(actions)
    emitter = _Emitter(representer, 2 if indentless else 4, 0 if indentless else 2, explicit_start)
    for document in documents:
        emitter.document(representer.data(document))
    text = emitter.end()
    _apply(actions)
    return text
