"""The tokens ruamel's round-trip scanner makes of package YAML, made faster.

ruamel keeps comments by hanging them on tokens while it scans: a comment after a scalar,
``:`` or flow end on the same line is that token's (and so are the comment lines that
follow it), a comment after a plain scalar on a later line too, any other run of comment
lines belongs to the first token after it. Its parser then moves them on between tokens.
Reproducing ruamel's trees exactly therefore means reproducing its token stream exactly:
the kinds and positions of the tokens, the implicit ones (block starts and ends, keys) and
the text of every comment, blank lines included. This module does that for the block YAML
package files are written in, a line at a time instead of a character at a time, and raises
:class:`Unsupported` on anything it does not reproduce exactly (or that ruamel rejects).
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.error import StringMark
from ruamel.yaml.scanner import Scanner
from ruamel.yaml.tokens import CommentToken


class Unsupported(Exception):
    """The text uses YAML this fast path does not reproduce exactly; let ruamel read it."""


STREAM_START = 0
STREAM_END = 1
DOCUMENT_START = 2
BLOCK_MAPPING_START = 3
BLOCK_SEQUENCE_START = 4
BLOCK_END = 5
BLOCK_ENTRY = 6
KEY = 7
VALUE = 8
SCALAR = 9
FLOW_SEQUENCE_START = 10
FLOW_SEQUENCE_END = 11
FLOW_MAPPING_START = 12
FLOW_MAPPING_END = 13
FLOW_ENTRY = 14

_NAME = "<unicode string>"

# Characters outside this set (carriage returns, YAML's other line breaks, a byte order
# mark, control characters) change how ruamel scans; leave such text to it. A tab is kept
# in comments, quoted and block scalars; anywhere else it stops the fast path.
_UNSUPPORTED_CHARACTER = re.compile(
    "[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_SPACES = re.compile(" *")
_BLANK = re.compile("[ \n]*")
# A plain scalar on one line in block context: chunks of non-spaces (``:`` only when a
# non-space follows) separated by spaces; a later chunk does not start with ``#``.
_PLAIN = re.compile(
    r"(?:[^ \t\n\0:]|:(?=[^ \t\n\0]))+"
    r"(?: +(?:[^ \t\n\0:#]|:(?=[^ \t\n\0]))(?:[^ \t\n\0:]|:(?=[^ \t\n\0]))*)*"
)
# The same inside a flow collection, where ``,[]{}`` end a scalar too.
_FLOW_PLAIN = re.compile(
    r"(?:[^ \t\n\0:,\[\]{}]|:(?=[^ \t\n\0]))+"
    r"(?: +(?:[^ \t\n\0:#,\[\]{}]|:(?=[^ \t\n\0]))(?:[^ \t\n\0:,\[\]{}]|:(?=[^ \t\n\0]))*)*"
)
# a quoted scalar's text on one line, up to the closing quote or the line's end
_SINGLE_LINE = re.compile(r"(?:[^'\n\0]|'')*")
_DOUBLE_LINE = re.compile(r'(?:[^"\\\n\0]|\\[^\n\0])*')
_BLANKS = re.compile("[ \t]*")
_ESCAPE = re.compile(r"\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_NOT_PLAIN_START = frozenset("\0 \t\n-?:,[]{}#&*!|>'\"%@`")
_END_SPACE = " \n\0"


class Token:
    """One token: where it starts and ends, and what ruamel hangs on it.

    ``comment`` is ruamel's ``[post, pre-list, ...]`` comment list; ``post`` the comment
    that ``get_token`` attaches when the parser takes the token.
    """

    __slots__ = (
        "column",
        "comment",
        "end_column",
        "end_line",
        "kind",
        "line",
        "post",
        "style",
        "value",
    )

    def __init__(
        self,
        kind: int,
        line: int,
        column: int,
        end_line: int,
        end_column: int,
        value: str = "",
        style: str | None = None,
    ) -> None:
        self.kind = kind
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column
        self.value = value
        self.style = style
        self.comment: list[Any] | None = None
        self.post: CommentToken | None = None


_POST_KINDS = frozenset((SCALAR, VALUE, FLOW_SEQUENCE_END, FLOW_MAPPING_END))


class _SimpleKey:
    """A token that may turn out to be a mapping key (ruamel's ``SimpleKey``)."""

    __slots__ = ("column", "index", "line", "required", "token")

    def __init__(self, token: Token, required: bool, index: int, line: int, column: int) -> None:
        self.token = token
        self.required = required
        self.index = index
        self.line = line
        self.column = column


class _Scanner:
    def __init__(self, text: str) -> None:
        self.buffer = text + "\0"
        self.end = len(text)
        self.p = 0  # index into buffer
        self.line = 0
        self.line_start = 0
        self.indent = -1
        self.indents: list[int] = []
        self.allow_simple_key = True
        self.keys: dict[int, _SimpleKey] = {}  # possible simple keys by flow level
        self.flow: list[str] = []
        self.tokens: list[Token] = []
        self.run: list[CommentToken] = []  # comments since the last token
        self.last: Token | None = None

    # -- positions -------------------------------------------------------------------------

    def mark(self, index: int, line: int, column: int) -> StringMark:
        return StringMark(_NAME, index, line, column, self.buffer, index)

    def here(self) -> StringMark:
        return self.mark(self.p, self.line, self.p - self.line_start)

    def newline(self) -> None:
        """Step over the ``\\n`` at the current position."""
        self.p += 1
        self.line += 1
        self.line_start = self.p

    # -- tokens and the comments that hang on them -----------------------------------------

    def emit(self, token: Token) -> None:
        """Append a token; the comment run before it is the previous token's (same line,
        or any line after a scalar) or this one's (ruamel's ``get_token`` and
        ``_gather_comments``)."""
        run = self.run
        if run:
            self.run = []
            last = self.last
            first = run[0]
            if (
                last is not None
                and last.kind in _POST_KINDS
                and (last.end_line == first.start_mark.line or last.kind == SCALAR)
            ):
                if last.end_line != first.start_mark.line:
                    first.value = (
                        "\n" * (first.start_mark.line - last.end_line)
                        + " " * first.start_mark.column
                        + first.value
                    )
                for other in run[1:]:
                    first.value = first.value + " " * other.start_mark.column + other.value
                last.post = first
            else:
                comment = token.comment
                if comment is None:
                    token.comment = [None, run]
                elif comment[1] is None:
                    comment[1] = run
                else:
                    raise Unsupported("comments before a commented token")
        self.tokens.append(token)
        self.last = token

    def next_comment(self) -> tuple[str, StringMark, StringMark] | None:
        """ruamel's ``scan_to_next_token``: skip spaces and line breaks up to the next
        token, stopping at a comment (with the empty lines after it) or a run of empty
        lines, which it returns unstripped."""
        buffer = self.buffer
        while True:
            self.p = _skip(_SPACES, buffer, self.p)
            ch = buffer[self.p]
            if ch == "#":
                if self.flow:
                    raise Unsupported("comment in a flow collection")
                start = self.here()
                eol = buffer.find("\n", self.p)
                if eol < 0:
                    value = buffer[self.p : self.end] + "\n"
                    self.p = self.end
                else:
                    value = buffer[self.p : eol + 1]
                    self.p = eol
                    self.newline()
                    while buffer[self.p] == "\n":
                        value += "\n"
                        self.newline()
                self.allow_simple_key = True
                return value, start, self.here()
            if ch == "\n":
                if self.flow:
                    raise Unsupported("flow collection over several lines")
                self.newline()
                self.allow_simple_key = True
                if buffer[self.p] == "\n":
                    start = self.here()
                    stop = _skip(_BLANK, buffer, self.p)
                    value = buffer[self.p : stop]
                    for _ in range(value.count("\n")):
                        self.p = buffer.index("\n", self.p)
                        self.newline()
                    self.p = stop
                    if buffer[stop] == "#":
                        value = value.rsplit("\n", 1)[0] + "\n"
                    return value, start, self.here()
                continue
            return None

    def skip_to_token(self) -> None:
        while True:
            found = self.next_comment()
            if found is None:
                return
            value, start, end = found
            self.run.append(CommentToken(value.rstrip(" "), start, end))

    # -- indentation and simple keys -------------------------------------------------------

    def unwind(self, column: int) -> None:
        if self.flow:
            return
        while self.indent > column:
            self.indent = self.indents.pop()
            line, col = self.line, self.p - self.line_start
            self.emit(Token(BLOCK_END, line, col, line, col))

    def add_indent(self, column: int) -> bool:
        if self.indent < column:
            self.indents.append(self.indent)
            self.indent = column
            return True
        return False

    def stale_keys(self) -> None:
        for level in list(self.keys):
            key = self.keys[level]
            if key.line != self.line or self.p - key.index > 1024:
                if key.required:
                    raise Unsupported("could not find expected ':'")
                del self.keys[level]

    def remove_key(self) -> None:
        key = self.keys.pop(len(self.flow), None)
        if key is not None and key.required:
            raise Unsupported("could not find expected ':'")

    def save_key(self, token: Token) -> None:
        column = self.p - self.line_start
        required = not self.flow and self.indent == column
        if self.allow_simple_key:
            self.remove_key()
            self.keys[len(self.flow)] = _SimpleKey(token, required, self.p, self.line, column)

    # -- the token loop --------------------------------------------------------------------

    def scan(self) -> list[Token]:
        self.emit(Token(STREAM_START, 0, 0, 0, 0))
        buffer = self.buffer
        while True:
            if buffer[self.p] in " #\n":
                self.skip_to_token()
            if self.keys:
                self.stale_keys()
            column = self.p - self.line_start
            if self.indent > column:
                self.unwind(column)
            ch = buffer[self.p]
            if ch not in _NOT_PLAIN_START and (ch != "." or column):
                self.plain()  # the commonest token first
                continue
            following = buffer[self.p + 1] if ch != "\0" else "\0"
            if ch == "\0":
                self.unwind(-1)
                self.remove_key()
                self.allow_simple_key = False
                self.keys = {}
                self.emit(Token(STREAM_END, self.line, column, self.line, column))
                return self.tokens
            if column == 0 and ch == "%":
                raise Unsupported("directive")
            if column == 0 and ch in "-." and self.document_separator():
                if ch == ".":
                    raise Unsupported("document end marker")
                self.unwind(-1)
                self.remove_key()
                self.allow_simple_key = False
                self.emit(Token(DOCUMENT_START, self.line, 0, self.line, 3))
                self.p += 3
                continue
            if ch in "[{":
                self.flow_collection()
            elif ch in "]},":
                raise Unsupported("flow indicator outside a flow collection")
            elif ch == "-" and following in _END_SPACE:
                self.block_entry(column)
            elif ch == ":" and following in _END_SPACE:
                self.value_indicator(column)
            elif ch == "?" and following in _END_SPACE:
                raise Unsupported("complex key")
            elif ch in "|>":
                self.block_scalar(ch)
            elif ch in "'\"":
                token = self.quoted(ch)
                self.emit(token)
            elif (ch == "-" and following not in _END_SPACE) or ch == ".":
                self.plain()
            else:
                raise Unsupported(f"token starting with {ch!r}")

    def block_entry(self, column: int) -> None:
        if not self.allow_simple_key:
            raise Unsupported("sequence entries are not allowed here")
        if self.add_indent(column):
            self.emit(Token(BLOCK_SEQUENCE_START, self.line, column, self.line, column))
        self.allow_simple_key = True
        self.remove_key()
        self.emit(Token(BLOCK_ENTRY, self.line, column, self.line, column + 1))
        self.p += 1

    def value_indicator(self, column: int) -> None:
        key = self.keys.pop(len(self.flow), None)
        if key is None:
            raise Unsupported("a value without a simple key")
        if self.tokens[-1] is not key.token or key.token.kind != SCALAR:
            raise Unsupported("a key that is not a scalar")
        token = key.token
        line, col = key.line, key.column
        head = Token(KEY, line, col, line, col)
        inserted = [head]
        if not self.flow and self.add_indent(col):
            head = Token(BLOCK_MAPPING_START, line, col, line, col)
            inserted.insert(0, head)
        # comment lines before the key scalar belong to the first inserted token
        head.comment, token.comment = token.comment, None
        self.tokens[-1:] = [*inserted, token]
        self.allow_simple_key = False
        self.emit(Token(VALUE, self.line, column, self.line, column + 1))
        self.p += 1

    # -- scalars ---------------------------------------------------------------------------

    def quoted(self, quote: str) -> Token:
        """ruamel's ``scan_flow_scalar``: a line break folds to a space (blank lines stay
        line breaks), a line's trailing and the next line's leading whitespace go."""
        buffer = self.buffer
        start, line, column = self.p, self.line, self.p - self.line_start
        token = Token(SCALAR, line, column, line, column, style=quote)
        self.save_key(token)
        self.allow_simple_key = False
        double = quote == '"'
        pattern = _DOUBLE_LINE if double else _SINGLE_LINE
        chunks: list[str] = []
        position = start + 1
        while True:
            stop = _skip(pattern, buffer, position)
            raw = buffer[position:stop]
            ch = buffer[stop]
            if ch == quote:
                chunks.append(_unquote(raw, double))
                self.p = stop + 1
                break
            if self.flow:
                raise Unsupported("flow collection over several lines")
            if ch == "\\" and buffer[stop + 1] == "\n":  # an escaped line break
                chunks.append(_unquote(raw, double))
                self.p = stop + 1
                self.newline()
                chunks.extend(self.quoted_breaks())
            elif ch == "\n":
                kept = raw.rstrip(" \t")
                if double and kept.endswith("\\"):
                    raise Unsupported("an escape before the end of a quoted line")
                chunks.append(_unquote(kept, double))
                self.p = stop
                self.newline()
                breaks = self.quoted_breaks()
                chunks.extend(breaks or [" "])
            else:
                raise Unsupported("an unterminated quoted scalar")
            position = self.p
        token.value = "".join(chunks)
        token.end_line = self.line
        token.end_column = self.p - self.line_start
        return token

    def quoted_breaks(self) -> list[str]:
        """ruamel's ``scan_flow_scalar_breaks``: blank lines and indentation in a quoted
        scalar (a document marker there is an error)."""
        buffer = self.buffer
        breaks: list[str] = []
        while True:
            if self.document_separator():
                raise Unsupported("document marker in a quoted scalar")
            self.p = _skip(_BLANKS, buffer, self.p)
            if buffer[self.p] != "\n":
                return breaks
            breaks.append("\n")
            self.newline()

    def plain(self) -> None:
        """ruamel's ``scan_plain``: chunks on a line keep their spaces, a line break folds
        to a space (blank lines stay line breaks) while the next line is indented more than
        the block."""
        buffer = self.buffer
        p, line, line_start = self.p, self.line, self.line_start
        start, column = p, p - line_start
        token = Token(SCALAR, line, column, line, column)
        if self.allow_simple_key:
            self.save_key(token)
            self.allow_simple_key = False
        indent = self.indent + 1
        flow = self.flow
        pattern = _FLOW_PLAIN if flow else _PLAIN
        spaces = _MATCH_SPACES
        chunks: list[str] = []
        while True:
            match = pattern.match(buffer, p)
            if match is None:
                raise Unsupported("a plain scalar continued by an indicator")
            stop = match.end()
            chunks.append(buffer[p:stop])
            end_line, end_column = line, stop - line_start
            p = stop
            if buffer[p] == " ":
                found = spaces(buffer, p)
                assert found is not None
                p = found.end()
            if buffer[p] != "\n":
                break
            if flow:
                raise Unsupported("flow collection over several lines")
            p += 1  # the line break
            line += 1
            line_start = p
            self.allow_simple_key = True
            breaks = 0
            separated = buffer[p] in "-." and _separator(buffer, p)
            while not separated:
                ch = buffer[p]
                if ch == " ":
                    found = spaces(buffer, p)
                    assert found is not None
                    p = found.end()
                elif ch == "\n":
                    breaks += 1
                    p += 1
                    line += 1
                    line_start = p
                    separated = buffer[p] in "-." and _separator(buffer, p)
                else:
                    break
            if separated:
                break
            ch = buffer[p]
            if ch == "#" or ch == "\0" or p - line_start < indent:
                if breaks:
                    token.comment = [
                        CommentToken(
                            "\n" * breaks + "\n",
                            self.mark(start, token.line, column),
                            self.mark(stop, end_line, end_column),
                        ),
                        None,
                    ]
                break
            chunks.append("\n" * breaks if breaks else " ")
        self.p, self.line, self.line_start = p, line, line_start
        token.value = chunks[0] if len(chunks) == 1 else "".join(chunks)
        token.end_line = end_line
        token.end_column = end_column
        if self.run:
            self.emit(token)
        else:
            self.tokens.append(token)
            self.last = token
        if (
            buffer[p] == ":"
            and buffer[p + 1] in _END_SPACE
            and not flow
            and p - start <= 1024
            and (key := self.keys.get(0)) is not None
            and key.token is token
            and key.line == line
        ):
            # ``key: value``, the commonest line: what the token loop would do next, without
            # going round it (no comment, unwinding or stale key can come in between)
            self.value_indicator(p - line_start)
            if buffer[self.p] == " ":
                value = _skip(_SPACES, buffer, self.p)
                ch = buffer[value]
                if ch not in _NOT_PLAIN_START or (
                    ch == "-" and buffer[value + 1] not in _END_SPACE
                ):
                    self.p = value
                    self.plain()

    def document_separator(self) -> bool:
        buffer, p = self.buffer, self.p
        return buffer[p : p + 3] in ("---", "...") and buffer[p + 3] in _END_SPACE

    def block_scalar(self, style: str) -> None:
        """ruamel's ``scan_block_scalar`` (round-trip: folds marked with ``\\a``)."""
        self.allow_simple_key = True
        self.remove_key()
        buffer = self.buffer
        folded = style == ">"
        line, column = self.line, self.p - self.line_start
        self.p += 1
        chomping: bool | None = None
        increment: int | None = None
        ch = buffer[self.p]
        if ch in "+-":
            chomping = ch == "+"
            self.p += 1
            ch = buffer[self.p]
            if ch in "0123456789":
                increment = int(ch)
                self.p += 1
        elif ch in "0123456789":
            increment = int(ch)
            self.p += 1
            ch = buffer[self.p]
            if ch in "+-":
                chomping = ch == "+"
                self.p += 1
        if increment == 0 or buffer[self.p] not in _END_SPACE:
            raise Unsupported("block scalar indicators")
        # the rest of the header line: spaces and an optional comment
        header_comment = None
        stop = _skip(_SPACES, buffer, self.p)
        if buffer[stop] == "#":
            eol = buffer.find("\n", stop)
            eol = self.end if eol < 0 else eol
            header_comment = buffer[self.p : eol]
            stop = eol
        elif buffer[stop] not in "\n\0":
            raise Unsupported("text after a block scalar header")
        self.p = stop
        if buffer[self.p] == "\n":
            self.newline()
        min_indent = self.indent + 1
        if min_indent < 1:
            raise Unsupported("block scalar at the top level")
        chunks: list[str] = []
        if increment is None:
            first_indent = -1
            max_indent = 0
            end_mark = self.here()
            while buffer[self.p] in " \n":
                if buffer[self.p] == "\n":
                    if first_indent < 0:
                        first_indent = self.p - self.line_start
                    chunks.append("\n")
                    self.newline()
                    end_mark = self.here()
                else:
                    self.p += 1
                    max_indent = max(max_indent, self.p - self.line_start)
            if first_indent > 0 and max_indent > first_indent:
                raise Unsupported("more indented follow up line than first in a block scalar")
            indent = max(min_indent, max_indent)
            breaks = chunks
            chunks = []
        else:
            indent = min_indent + increment - 1
            breaks, end_mark = self.block_breaks(indent)
        line_break = ""
        while self.p - self.line_start == indent and buffer[self.p] != "\0":
            chunks.extend(breaks)
            leading_non_space = buffer[self.p] not in " \t"
            eol = buffer.find("\n", self.p)
            eol = self.end if eol < 0 else eol
            chunks.append(buffer[self.p : eol])
            self.p = eol
            line_break = ""
            if buffer[self.p] == "\n":
                self.newline()
                line_break = "\n"
            breaks, end_mark = self.block_breaks(indent)
            if self.p - self.line_start == indent and buffer[self.p] != "\0":
                if folded and line_break == "\n":
                    chunks.append("\a")
                if (
                    folded
                    and line_break == "\n"
                    and leading_non_space
                    and buffer[self.p] not in " \t"
                ):
                    if not breaks:
                        chunks.append(" ")
                else:
                    chunks.append(line_break)
            else:
                break
        trailing: list[str] = []
        if chomping is None or chomping is True:
            chunks.append(line_break)
        if chomping is True:
            chunks.extend(breaks)
        else:
            trailing.extend(breaks)
        token = Token(SCALAR, line, column, end_mark.line, end_mark.column, "".join(chunks), style)
        if header_comment is not None:
            token.comment = [None, [header_comment]]
        if trailing:
            found = self.next_comment()
            while found:
                value, start, _ = found
                trailing.append(" " * start.column + value)
                found = self.next_comment()
            comment = CommentToken("".join(trailing), end_mark, self.here())
            if token.comment is None:
                token.comment = [comment, None]
            else:
                token.comment[0] = comment
        self.emit(token)

    def block_breaks(self, indent: int) -> tuple[list[str], StringMark]:
        """ruamel's ``scan_block_scalar_breaks``: blank lines inside a block scalar."""
        buffer = self.buffer
        chunks: list[str] = []
        end_mark = self.here()
        while self.p - self.line_start < indent and buffer[self.p] == " ":
            self.p += 1
        while buffer[self.p] == "\n":
            chunks.append("\n")
            self.newline()
            end_mark = self.here()
            while self.p - self.line_start < indent and buffer[self.p] == " ":
                self.p += 1
        return chunks, end_mark

    # -- flow collections (one line, scalars only) ------------------------------------------

    def flow_collection(self) -> None:
        buffer = self.buffer
        opening = buffer[self.p]
        column = self.p - self.line_start
        start = Token(
            FLOW_SEQUENCE_START if opening == "[" else FLOW_MAPPING_START,
            self.line,
            column,
            self.line,
            column + 1,
        )
        self.save_key(start)
        self.flow.append(opening)
        self.allow_simple_key = True
        self.emit(start)
        self.p += 1
        while True:
            self.skip_to_token()
            self.stale_keys()
            column = self.p - self.line_start
            ch = buffer[self.p]
            if ch in "]}":
                if ch != ("]" if self.flow[-1] == "[" else "}"):
                    raise Unsupported("mismatched flow collection")
                self.remove_key()
                self.flow.pop()
                self.allow_simple_key = False
                kind = FLOW_SEQUENCE_END if ch == "]" else FLOW_MAPPING_END
                self.emit(Token(kind, self.line, column, self.line, column + 1))
                self.p += 1
                return
            if ch == ",":
                self.allow_simple_key = True
                self.remove_key()
                self.emit(Token(FLOW_ENTRY, self.line, column, self.line, column + 1))
                self.p += 1
            elif ch == ":" and buffer[self.p + 1] in _END_SPACE:
                if self.flow[-1] != "{":
                    raise Unsupported("a mapping inside a flow sequence")
                self.value_indicator(column)
            elif ch in "'\"":
                self.emit(self.quoted(ch))
            elif ch not in _NOT_PLAIN_START or (ch == "-" and buffer[self.p + 1] not in _END_SPACE):
                self.plain()
            else:
                raise Unsupported(f"{ch!r} in a flow collection")


_MATCH_SPACES = _SPACES.match


def _separator(buffer: str, p: int) -> bool:
    """Whether a document marker (``---`` or ``...``) starts at ``p``."""
    return buffer[p : p + 3] in ("---", "...") and buffer[p + 3] in _END_SPACE


def _skip(pattern: re.Pattern[str], buffer: str, start: int) -> int:
    """Where ``pattern`` (which cannot fail) stops matching from ``start``."""
    found = pattern.match(buffer, start)
    return start if found is None else found.end()


def _unquote(raw: str, double: bool) -> str:
    if not double:
        return raw.replace("''", "'")
    if "\\" in raw:
        return _ESCAPE.sub(_unescape, raw)
    return raw


def _unescape(match: re.Match[str]) -> str:
    escape = match.group()
    ch = escape[1]
    replacement = Scanner.ESCAPE_REPLACEMENTS.get(ch)
    if replacement is not None:
        return str(replacement)
    length = Scanner.ESCAPE_CODES.get(ch)
    if length is not None and len(escape) == 2 + length:
        try:
            return chr(int(escape[2:], 16))
        except ValueError:
            pass
    raise Unsupported(f"unknown escape {escape!r}")


def tokens(text: str) -> list[Token]:
    """The tokens of ``text`` with their comments, as ruamel's parser would see them."""
    if _UNSUPPORTED_CHARACTER.search(text):
        raise Unsupported("a character ruamel scans specially")
    return _Scanner(text).scan()
