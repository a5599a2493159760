"""ruamel's round-trip parser, composer and constructor, for the tokens of :mod:`scanner`.

Where a comment ends up in ruamel's tree (``ca.comment``, ``ca.items[key]``, ``ca.end``)
is decided in three more steps after scanning: the parser moves token comments forward
(``move_token_comment``, with its five-slot form for a key without a value), the composer
adds a collection's end comments, and the constructor spreads node comments over the
mapping or sequence that holds them. This module repeats those steps on the same lists,
in the same order, so that the trees (and the comment lists they share) come out the same;
whatever ruamel would fail on, or that the fast path does not cover, is
:class:`~lanai.kpt.fastyaml.scanner.Unsupported`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, Format, LineCol
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from lanai.kpt.fastyaml import scanner, tags
from lanai.kpt.fastyaml.scanner import (
    BLOCK_END,
    BLOCK_ENTRY,
    BLOCK_MAPPING_START,
    BLOCK_SEQUENCE_START,
    DOCUMENT_START,
    FLOW_ENTRY,
    FLOW_MAPPING_END,
    FLOW_MAPPING_START,
    FLOW_SEQUENCE_END,
    FLOW_SEQUENCE_START,
    KEY,
    SCALAR,
    STREAM_END,
    VALUE,
    Token,
    Unsupported,
)

_MAPPING = 0
_SEQUENCE = 1
_SCALAR = 2

_PLAIN_TAGS = frozenset((tags.STR, tags.NULL, tags.BOOL, tags.INT, tags.FLOAT, tags.TIMESTAMP))

# ruamel builds the unusual scalars (ScalarInt with a width, ScalarFloat, TimeStamp);
# this instance is only ever asked to construct scalars, never to parse.
_CONSTRUCTOR = YAML().constructor


class _Node:
    """ruamel's node: kind, value, style, the comment list and the start position."""

    __slots__ = ("column", "comment", "flow", "kind", "line", "style", "value")

    def __init__(
        self,
        kind: int,
        value: Any,
        line: int,
        column: int,
        comment: list[Any] | None = None,
        style: str | None = None,
        flow: bool = False,
    ) -> None:
        self.kind = kind
        self.value = value
        self.line = line
        self.column = column
        self.comment = comment
        self.style = style
        self.flow = flow


def _empty(line: int, column: int, comment: list[Any] | None = None) -> _Node:
    return _Node(_SCALAR, "", line, column, comment)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def get(self) -> Token:
        """Take the next token, hanging on it the comment that follows it."""
        token = self.tokens[self.index]
        self.index += 1
        post = token.post
        if post is not None:
            comment = token.comment
            if comment is None:
                token.comment = [post, None]
            elif len(comment) in (2, 5):
                comment[0] = post
            else:
                raise Unsupported("post comment on an unusual comment list")
        return token

    def move(self, token: Token, empty: bool = False) -> None:
        """ruamel's ``move_old_comment`` from ``token`` to the next token."""
        comment = token.comment
        if comment is None:
            return
        target = self.tokens[self.index]
        if target.kind in (STREAM_END, DOCUMENT_START):
            return
        token.comment = None
        existing = target.comment
        if not existing:
            if empty:
                comment = [comment[0], comment[1], None, None, comment[0]]
            target.comment = comment
            return
        if (comment[0] and existing[0]) or (comment[1] and existing[1]):
            if isinstance(comment[1], list) and isinstance(existing[1], list):
                comment[1].extend(existing[1])
            else:
                raise Unsupported("overlapping comments")
        if comment[0]:
            existing[0] = comment[0]
        if comment[1]:
            existing[1] = comment[1]

    # -- documents -------------------------------------------------------------------------

    def documents(self) -> list[_Node | None]:
        self.move(self.get())  # stream start
        found: list[_Node | None] = []
        if self.peek().kind not in (DOCUMENT_START, STREAM_END):
            found.append(self.node(block=True))
        while True:
            kind = self.peek().kind
            if kind == STREAM_END:
                return found
            if kind != DOCUMENT_START:
                raise Unsupported("expected a document start")
            self.get()
            if self.peek().kind in (DOCUMENT_START, STREAM_END):
                found.append(None)
            else:
                found.append(self.node(block=True))

    # -- nodes -----------------------------------------------------------------------------

    def node(self, block: bool = False, indentless: bool = False) -> _Node:
        token = self.peek()
        kind = token.kind
        if indentless and kind == BLOCK_ENTRY:
            comment = None
            pending = token.comment
            if pending and pending[0]:
                comment = [pending[0], []]
                pending[0] = None
            elif pending and pending[0] is None and pending[1]:
                comment = [None, pending[1]]
                pending[1] = None
            return self.indentless_sequence(_Node(_SEQUENCE, [], token.line, token.column, comment))
        if kind == SCALAR:
            self.get()
            return _Node(_SCALAR, token.value, token.line, token.column, token.comment, token.style)
        if kind == FLOW_SEQUENCE_START:
            return self.flow_collection(token, mapping=False)
        if kind == FLOW_MAPPING_START:
            return self.flow_collection(token, mapping=True)
        if block and kind == BLOCK_SEQUENCE_START:
            comment = token.comment
            if comment is None or comment[1] is None:
                comment = _split(token)
            return self.block_sequence(_Node(_SEQUENCE, [], token.line, token.column, comment))
        if block and kind == BLOCK_MAPPING_START:
            return self.block_mapping(_Node(_MAPPING, [], token.line, token.column, token.comment))
        raise Unsupported("unexpected token")

    def block_sequence(self, node: _Node) -> _Node:
        self.get()
        items = node.value
        while True:
            token = self.peek()
            if token.kind == BLOCK_ENTRY:
                items.append(self.entry(token, (BLOCK_ENTRY, BLOCK_END)))
            elif token.kind == BLOCK_END:
                self.get()
                _end_comment(token.comment, node)
                return node
            else:
                raise Unsupported("expected a sequence entry")

    def indentless_sequence(self, node: _Node) -> _Node:
        items = node.value
        while True:
            token = self.peek()
            if token.kind != BLOCK_ENTRY:
                _end_comment(token.comment, node)
                return node
            items.append(self.entry(token, (BLOCK_ENTRY, KEY, VALUE, BLOCK_END)))

    def entry(self, token: Token, empty_before: tuple[int, ...]) -> _Node:
        """A sequence entry after its ``-`` (a null when one of ``empty_before`` follows)."""
        self.index += 1  # an entry token never has a comment after it to take
        if token.comment is not None:
            self.move(token)
        following = self.peek().kind
        if following == SCALAR:
            return self.scalar()
        if following not in empty_before:
            return self.node(block=True)
        return _empty(token.end_line, token.end_column)

    def block_mapping(self, node: _Node) -> _Node:
        self.get()
        pairs = node.value
        tokens = self.tokens
        while True:
            token = tokens[self.index]
            if token.kind == BLOCK_END:
                self.get()
                self.move(token)
                _end_comment(token.comment, node)
                return node
            if token.kind != KEY:
                raise Unsupported("expected a key")
            self.index += 1  # a key token never has a comment after it to take
            if token.comment is not None:
                self.move(token)
            following = tokens[self.index]
            if following.kind == SCALAR:
                key = self.scalar()
            elif following.kind in (KEY, VALUE, BLOCK_END):
                raise Unsupported("empty key")
            else:
                key = self.node(block=True, indentless=True)
            token = tokens[self.index]
            if token.kind != VALUE:  # pragma: no cover - simple keys always have a value
                raise Unsupported("key without a value")
            self.get()
            if token.comment is not None:
                following_kind = tokens[self.index].kind
                if following_kind == VALUE:
                    self.move(token)
                elif following_kind != KEY:
                    self.move(token, empty=True)
            following_kind = tokens[self.index].kind
            if following_kind == SCALAR:
                value = self.scalar()
            elif following_kind not in (KEY, VALUE, BLOCK_END):
                value = self.node(block=True, indentless=True)
            else:
                comment = token.comment
                at = token
                if comment is None:
                    at = tokens[self.index]
                    comment = at.comment
                    if comment:
                        at.comment = [None, comment[1]]
                        comment = [comment[0], None]
                value = _empty(at.end_line, at.end_column, comment)
            pairs.append((key, value))

    def scalar(self) -> _Node:
        """The next token, a scalar, as a node (``parse_node`` for a scalar)."""
        token = self.get()
        return _Node(_SCALAR, token.value, token.line, token.column, token.comment, token.style)

    def flow_collection(self, start: Token, mapping: bool) -> _Node:
        """``parse_flow_sequence_entry`` / ``parse_flow_mapping_key``: entries separated by
        ``,`` (a last one may follow), each of scalars only, then the end token."""
        closing = FLOW_MAPPING_END if mapping else FLOW_SEQUENCE_END
        kind = _MAPPING if mapping else _SEQUENCE
        node = _Node(kind, [], start.line, start.column, start.comment, flow=True)
        self.get()
        first = True
        while self.peek().kind != closing:
            if not first:
                if self.peek().kind != FLOW_ENTRY:
                    raise Unsupported("expected ',' before the next entry")
                self.get()
                if self.peek().kind == closing:
                    break
            node.value.append(self.mapping_entry() if mapping else self.sequence_entry())
            first = False
        end = self.get()
        return _flow_end(end.comment, node)

    def sequence_entry(self) -> _Node:
        if self.peek().kind == KEY:
            raise Unsupported("a mapping inside a flow sequence")
        return self.flow_scalar()

    def mapping_entry(self) -> tuple[_Node, _Node]:
        kind = self.peek().kind
        if kind == VALUE:
            raise Unsupported("empty key")
        if kind != KEY:  # a key alone: ``{a, b}``
            key = self.flow_scalar()
            token = self.peek()
            return key, _empty(token.line, token.column)
        self.get()
        if self.peek().kind in (VALUE, FLOW_ENTRY, FLOW_MAPPING_END):
            raise Unsupported("empty key")
        key = self.flow_scalar()
        token = self.peek()
        if token.kind != VALUE:
            return key, _empty(token.line, token.column)
        self.get()
        if self.peek().kind in (FLOW_ENTRY, FLOW_MAPPING_END):
            return key, _empty(token.end_line, token.end_column)
        return key, self.flow_scalar()

    def flow_scalar(self) -> _Node:
        token = self.peek()
        if token.kind != SCALAR:
            raise Unsupported("a collection inside a flow collection")
        return self.node()


def _split(token: Token) -> list[Any] | None:
    """ruamel's ``split_old_comment``: the post comment of a sequence start."""
    comment = token.comment
    if comment is None or comment[0] is None:
        return None
    found = [comment[0], None]
    if comment[1] is None:
        token.comment = None
    return found


def _end_comment(comment: list[Any] | None, node: _Node) -> None:
    """ruamel's ``check_end_doc_comment``: comment lines before a collection's end."""
    if comment and comment[1]:
        if node.comment is None:
            node.comment = [None, None]
        node.comment.append(comment[1])
        comment[1] = None


def _flow_end(comment: list[Any] | None, node: _Node) -> _Node:
    if comment is not None:
        node.comment = comment
    _end_comment(comment, node)
    return node


# -- construction --------------------------------------------------------------------------


class _Builder:
    """ruamel's ``RoundTripConstructor``: values, comments, line/column information."""

    def __init__(self) -> None:
        self.nodes = 0  # as yamlio._bounded counts them: collections and values, not keys

    def build(self, node: _Node) -> Any:
        kind = node.kind
        if kind == _SCALAR:
            return _scalar(node)
        if kind == _MAPPING:
            return self.mapping(node)
        return self.sequence(node)

    def mapping(self, node: _Node) -> CommentedMap:
        mapping = CommentedMap()
        lines = _start(mapping, node)
        last_key: Any = None
        last_value: Any = _SENTINEL
        data: dict[Any, Any] = {}
        nulls: dict[Any, str] = {}
        pairs = node.value
        self.nodes += len(pairs)
        set_item = _SET_ITEM
        for key_node, value_node in pairs:
            key = key_node.value
            if key_node.style is not None or not key or key[0] in tags.RESOLVERS:
                key = _scalar(key_node)
            if value_node.kind == _SCALAR:
                value = value_node.value
                if value_node.style is not None or not value or value[0] in tags.RESOLVERS:
                    value = _scalar(value_node)
                    if value is None and value_node.value:
                        nulls[key] = value_node.value
            else:
                value = self.build(value_node)
            if key in data:
                raise Unsupported("duplicate key")
            key_comment = key_node.comment
            if key_comment:
                if len(key_comment) > 4 and key_comment[4]:
                    if last_value is None:
                        key_comment[0] = key_comment.pop(4)
                        _value_comment(mapping, last_key, key_comment)
                    else:
                        key_comment[2] = key_comment.pop(4)
                        _key_comment(mapping, key, key_comment)
                    key_node.comment = None
                else:
                    _key_comment(mapping, key, key_comment)
            if value_node.comment:
                _value_comment(mapping, key, value_node.comment)
            data[key] = [key_node.line, key_node.column, value_node.line, value_node.column]
            set_item(mapping, key, value)
            last_key, last_value = key, value
        if nulls:
            setattr(mapping, tags.NULLS_ATTRIBUTE, nulls)
        if pairs:
            mapping._ok |= data.keys()
            lines.data = data
            _set_style(mapping, node.flow)
        return mapping

    def sequence(self, node: _Node) -> CommentedSeq:
        sequence = CommentedSeq()
        lines = _start(sequence, node)
        items = []
        data: dict[Any, Any] = {}
        nulls: dict[Any, str] = {}
        children = node.value
        self.nodes += len(children)
        for index, child in enumerate(children):
            if child.comment:
                _key_comment(sequence, index, child.comment)
                child.comment = None
            if child.kind == _SCALAR:
                value = child.value
                if child.style is not None or not value or value[0] in tags.RESOLVERS:
                    value = _scalar(child)
                    if value is None and child.value:
                        nulls[index] = child.value
                items.append(value)
            else:
                items.append(self.build(child))
            data[index] = [child.line, child.column]
        list.extend(sequence, items)
        if nulls:
            setattr(sequence, tags.NULLS_ATTRIBUTE, nulls)
        if items:
            lines.data = data
            _set_style(sequence, node.flow)
        return sequence


_SET_ITEM = OrderedDict.__setitem__


def _start(collection: Any, node: _Node) -> Any:
    """What ruamel sets on a new collection before its items: its position, and the
    node's own comment (``ca.comment``) and end comments (``ca.end``)."""
    lines: Any = LineCol()
    lines.line = node.line
    lines.col = node.column
    setattr(collection, LineCol.attrib, lines)
    comment = node.comment
    if comment:
        collection.ca.comment = comment[:2]
        if len(comment) > 2 and comment[2] is not None:
            collection.ca.end = list(comment[2])
    return lines


_SENTINEL = object()


def _set_style(collection: Any, flow: bool) -> None:
    style = Format()
    style._flow_style = flow
    setattr(collection, Format.attrib, style)


def _key_comment(collection: Any, key: Any, comment: list[Any]) -> None:
    """ruamel's ``yaml_key_comment_extend``: a node's comment in slots 0 and 1."""
    _item_comment(collection, key, comment, 0)


def _value_comment(collection: Any, key: Any, comment: list[Any]) -> None:
    """ruamel's ``yaml_value_comment_extend``: a value's comment in slots 2 and 3."""
    _item_comment(collection, key, comment, 2)


def _item_comment(collection: Any, key: Any, comment: list[Any], slot: int) -> None:
    slots = collection.ca.items.setdefault(key, [None, None, None, None])
    if slots[slot + 1] is not None:  # ruamel would extend a list with a token and fail
        raise Unsupported("a second comment for one item")
    slots[slot + 1] = comment[1]
    slots[slot] = comment[0]


def _scalar(node: _Node) -> Any:
    style = node.style
    value = node.value
    if style is None:
        tag = tags.resolve(value)
        if tag == tags.STR:
            return value
        if tag == tags.NULL:
            return None
        if tag == tags.BOOL:
            return value.lower() == "true"
        if tag == tags.INT and "_" not in value and value.lstrip("+-")[0] != "0":
            return int(value)  # what ruamel makes of a decimal without a leading zero
        if tag not in _PLAIN_TAGS:
            raise Unsupported(f"plain scalar resolving to {tag}")
        scalar = ScalarNode(tag, value)
        constructor = _CONSTRUCTOR.yaml_constructors[tag]
        return constructor(_CONSTRUCTOR, scalar)
    if style == "'":
        return SingleQuotedScalarString(value)
    if style == '"':
        return DoubleQuotedScalarString(value)
    comment = node.comment
    if style == "|":
        literal = LiteralScalarString(value)
        if comment and comment[1]:
            literal.comment = comment[1][0]
        return literal
    positions: list[int] = []
    index = value.find("\a")
    while index >= 0:
        positions.append(index - len(positions))
        index = value.find("\a", index + 1)
    folded = FoldedScalarString(value.replace("\a", ""))
    if comment and comment[1]:
        folded.comment = comment[1][0]
    if positions:
        folded.fold_pos = positions
    return folded


def load_all(text: str, max_nodes: int) -> list[Any]:
    """What ``YAML().load_all(text)`` returns (as :func:`lanai.kpt.yamlio._yaml` sets it
    up), or :class:`Unsupported`."""
    parser = _Parser(scanner.tokens(text))
    builder = _Builder()
    nodes = parser.documents()
    builder.nodes = sum(node is not None for node in nodes)
    documents = [None if node is None else builder.build(node) for node in nodes]
    if builder.nodes > max_nodes:
        raise Unsupported("too many nodes")
    return documents
