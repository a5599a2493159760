"""YAML texts and tree edits for the differential tests of lanai.kpt.fastyaml.

The oracle is ruamel itself: every text here is loaded (and dumped) by both and the
results compared. Besides the hand-written manifests in ``testdata/fastyaml`` and the
snippets the other unit tests use, a seeded generator writes block YAML the way people
do, in both list indentation styles: nesting of mappings and lists, every scalar style,
comments and blank lines (some with spaces) at every place and column, documents with and
without ``---``. A share of the texts is then mutated line by line (indentation off by
one, lines duplicated or dropped, stray comments), which makes much of it invalid: the fast
path must then give up rather than guess.
"""

from __future__ import annotations

import ast
import contextlib
import pathlib
import random
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import StringMark
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken

from lanai.functions.builtin import krm
from lanai.kpt.fastyaml import tags

TESTDATA = pathlib.Path(__file__).parent / "testdata" / "fastyaml"
UNIT_TESTS = pathlib.Path(__file__).parents[1]


def manifests() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(TESTDATA.iterdir())}


def snippets() -> dict[str, str]:
    """Every multi-line string in the unit tests that looks like YAML (by place)."""
    found: dict[str, str] = {}
    for path in sorted(UNIT_TESTS.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "\n" in node.value
                and (":" in node.value or "- " in node.value)
            ):
                found[f"{path.relative_to(UNIT_TESTS)}:{node.lineno}"] = node.value
    return found


# -- generated texts -----------------------------------------------------------------------

_WORDS = [
    *("app", "name", "x", "value", "apps/v1", "a b", "a:b", "http://x.y/z", "a#b"),
    *("--flag", "a-b", "image:1.0", "${x}", "v1.2.3", "ünï", "a [b] {c}", "50%"),
    *("true", "false", "null", "~", "TRUE", "Null", "yes", "No"),
    *("1", "0", "42", "-3", "007", "+1", "1_000", "0o17", "0x1F"),
    *("1.5", "1e3", ".5", "3.", ".inf", "2024-01-01", "12:30"),
]
_KEYS = [
    *("a", "b", "name", "kind", "app.kubernetes.io/name", "x-y", "spec", "data"),
    *("k1", "list", "true", "1", "null", "on", "key with space"),
]
_COMMENTS = ["", " c", " kpt-set: ${x}", "  two  spaces", " trailing   ", "#", " tab\there"]


class _Writer:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.indentless = self.r.random() < 0.5
        self.lines: list[str] = []

    def comment(self, column: int) -> str:
        return " " * column + "#" + self.r.choice(_COMMENTS)

    def filler(self, indent: int) -> None:
        """Comment lines and blank lines (some holding spaces) at assorted columns."""
        r = self.r
        for _ in range(r.choice([0, 0, 0, 0, 1, 1, 2, 3])):
            roll = r.random()
            if roll < 0.35:
                self.lines.append("")
            elif roll < 0.45:
                self.lines.append(" " * r.choice([1, 2, 4, indent]))
            else:
                column = r.choice([0, indent, indent, max(0, indent - 2), indent + 2, indent + 4])
                self.lines.append(self.comment(column))

    def eol(self) -> str:
        if self.r.random() < 0.2:
            return " " * self.r.choice([1, 1, 2, 5]) + "#" + self.r.choice(_COMMENTS[:3])
        return ""

    def scalar(self) -> str:
        r = self.r
        word = r.choice(_WORDS)
        roll = r.random()
        if roll < 0.6:
            return word
        if roll < 0.75:
            return "'" + word.replace("'", "''") + "'"
        if roll < 0.9:
            return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return r.choice(['""', "''", '"a\\tb"', '"\\u00e9"', "'it''s'", '"x\\ny"'])

    def key(self) -> str:
        key = self.r.choice(_KEYS)
        roll = self.r.random()
        if roll < 0.1:
            return "'" + key + "'"
        if roll < 0.2:
            return '"' + key + '"'
        return key

    def block_scalar(self, indent: int, head: str) -> None:
        r = self.r
        header = r.choice(["|", "|-", "|+", ">", ">-", "|2", ">+"])
        body = []
        for _ in range(r.choice([0, 1, 2, 3])):
            roll = r.random()
            if roll < 0.15:
                body.append("")
            elif roll < 0.25:
                body.append(" " * (indent + 2) + "  more indented")
            else:
                words = ["text", "a b c", "# not a comment", "key: value", "- item", "t\ta"]
                body.append(" " * (indent + 2) + r.choice(words))
        self.lines.append(f"{head} {header}{self.eol()}")
        self.lines.extend(body)
        for _ in range(r.choice([0, 0, 1, 2])):
            self.lines.append(r.choice(["", self.comment(indent), self.comment(0)]))

    def multiline(self, indent: int, head: str) -> None:
        """A plain or quoted scalar folded over several lines."""
        r = self.r
        words = [r.choice(["first", "a b", "- item", "end", "x"]) for _ in range(r.choice([2, 3]))]
        more = " " * (indent + r.choice([1, 2, 2, 4]))
        kind = r.choice(["plain", "single", "double"])
        if kind == "plain":
            breaks = ["\n" + more, "\n\n" + more]
            body = words[0] + "".join(r.choice(breaks) + word for word in words[1:])
        elif kind == "single":
            breaks = ["\n" + more, "  \n" + more, "\n\n" + more, "\n\t"]
            body = "'" + words[0] + "".join(r.choice(breaks) + word for word in words[1:]) + "'"
        else:
            breaks = ["\n" + more, "\\\n" + more, " \n\n" + more, "\\\n\t"]
            body = '"' + words[0] + "".join(r.choice(breaks) + word for word in words[1:]) + '"'
        self.lines.extend(f"{head} {body}{self.eol()}".split("\n"))

    def value(self, indent: int, depth: int, head: str) -> None:
        r = self.r
        roll = r.random() * (0.45 if depth > 3 else 1)
        if r.random() < 0.06:
            self.multiline(indent, head)
        elif roll < 0.4:
            self.lines.append(f"{head} {self.scalar()}{self.eol()}")
        elif roll < 0.45:
            self.lines.append(head + self.eol())
        elif roll < 0.5:
            self.block_scalar(indent, head)
        elif roll < 0.55:
            flow = r.choice(["[]", "{}", "[a, b]", '{a: 1, b: "x"}', "['x', y]", "[ a ]", "{ }"])
            self.lines.append(f"{head} {flow}{self.eol()}")
        elif roll < 0.75:
            self.lines.append(head + self.eol())
            self.filler(indent + 2)
            self.mapping(indent + 2, depth + 1)
        else:
            self.lines.append(head + self.eol())
            self.filler(indent)
            self.sequence(indent + (0 if self.indentless else 2), depth + 1)

    def mapping(self, indent: int, depth: int, first: str | None = None) -> None:
        used: set[str] = set()
        for number in range(self.r.choice([1, 1, 2, 3, 4])):
            key = self.key()
            if key.strip("'\"") in used:
                continue
            used.add(key.strip("'\""))
            if number or first is None:
                self.filler(indent)
            prefix = first if number == 0 and first is not None else " " * indent
            self.value(indent, depth, f"{prefix}{key}:")

    def sequence(self, indent: int, depth: int, first: str | None = None) -> None:
        r = self.r
        for number in range(r.choice([1, 2, 3])):
            if number or first is None:
                self.filler(indent)
            prefix = first if number == 0 and first is not None else " " * indent
            roll = r.random() * (0.5 if depth > 3 else 1)
            if roll < 0.4:
                self.lines.append(f"{prefix}- {self.scalar()}{self.eol()}")
            elif roll < 0.45:
                self.lines.append(f"{prefix}-{self.eol()}")
            elif roll < 0.5:
                self.block_scalar(indent, f"{prefix}-")
            elif roll < 0.75:
                self.mapping(indent + 2, depth + 1, first=f"{prefix}- ")
            elif roll < 0.85:
                self.sequence(indent + 2, depth + 1, first=f"{prefix}- ")
            else:
                self.lines.append(f"{prefix}-{self.eol()}")
                self.filler(indent + 2)
                self.mapping(indent + 2, depth + 1)

    def text(self) -> str:
        r = self.r
        if r.random() < 0.3:
            self.filler(0)
        if r.random() < 0.3:
            self.lines.append("---" + r.choice(["", "", " # doc"]))
        for number in range(r.choice([1, 1, 1, 2, 3])):
            if number:
                self.filler(0)
                self.lines.append("---" + r.choice(["", "", " # doc"]))
                self.filler(0)
            self.mapping(0, 0)
        if r.random() < 0.3:
            self.filler(0)
        return "\n".join(self.lines) + r.choice(["\n", "\n", "\n", "", "\n\n"])

    def mutate(self, text: str) -> str:
        r = self.r
        lines = text.split("\n")
        for _ in range(r.choice([1, 1, 2, 3])):
            at = r.randrange(len(lines))
            roll = r.random()
            if roll < 0.2:
                lines[at] = " " + lines[at]
            elif roll < 0.35:
                lines[at] = lines[at].removeprefix(" ")
            elif roll < 0.45:
                del lines[at]
            elif roll < 0.55:
                lines.insert(at, lines[at])
            elif roll < 0.7:
                lines.insert(at, self.comment(r.randrange(8)))
            elif roll < 0.8:
                lines.insert(at, " " * r.randrange(6))
            elif roll < 0.9:
                lines[at] += " " * r.randrange(1, 3)
            else:
                lines[at] += r.choice([" #x", ":", " - a", " a", "  # y"])
            if not lines:
                break
        return "\n".join(lines)


def generated(seed: int) -> str:
    """A random YAML text (deterministic for a seed); a third are mutated, often invalid."""
    writer = _Writer(seed)
    text = writer.text()
    if writer.r.random() < 0.33:
        text = writer.mutate(text)
    return text


# -- random edits, applied the same way to two trees ---------------------------------------

_VALUES: list[Any] = [
    *("x", "new value", "true", "1", "", "a: b", "- x", "#c", "it's", " lead", "trail "),
    *("multi\nline", "multi\nline\n", "ünïcode", "tab\there", "@at", "%p", "${setter}"),
    *(42, 0, -1, 3.5, True, False, None),
]


def _value(r: random.Random, depth: int = 0) -> Any:
    roll = r.random()
    if roll < 0.55:
        return r.choice(_VALUES)
    if roll < 0.65:
        return DoubleQuotedScalarString(r.choice(["q", "multi\nline", 'x"y']))
    if roll < 0.72:
        return SingleQuotedScalarString(r.choice(["q", "a b", "it's", "two\nlines"]))
    if roll < 0.77:
        return LiteralScalarString(r.choice(["line\n", "a\nb\n", "no newline", "keep\n\n"]))
    if roll < 0.8:
        return FoldedScalarString(r.choice(["folded text\n", "a b c"]))
    if depth > 1:
        return "leaf"
    if roll < 0.9:
        mapping = CommentedMap()
        for number in range(r.choice([0, 1, 2])):
            mapping[f"k{number}"] = _value(r, depth + 1)
        return mapping
    return CommentedSeq(_value(r, depth + 1) for _ in range(r.choice([0, 1, 2])))


def _collections(node: Any) -> list[Any]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(_collections(value))
    elif isinstance(node, list):
        found.append(node)
        for value in node:
            found.extend(_collections(value))
    return found


def edit(r: random.Random, root: Any) -> None:
    """One random change of the kinds functions make: set, add, delete, insert, comment."""
    node = r.choice(_collections(root))
    roll = r.random()
    if isinstance(node, dict):
        keys = list(node)
        if roll < 0.3 and keys:
            node[r.choice(keys)] = _value(r)
        elif roll < 0.5:
            node[f"added{r.randrange(5)}"] = _value(r)
        elif roll < 0.6 and keys:
            del node[r.choice(keys)]
        elif roll < 0.7 and keys:
            _line_comment(node, r.choice(keys), r.choice(["kpt-set: ${x}", "note"]))
        elif roll < 0.75:
            node.insert(r.randrange(len(keys) + 1), f"inserted{r.randrange(3)}", _value(r))
        elif roll < 0.8:
            node.yaml_set_start_comment(r.choice(["start", "two\nlines"]), indent=r.choice([0, 2]))
        elif roll < 0.85 and keys:
            node.yaml_set_comment_before_after_key(
                r.choice(keys), before=r.choice(["before", None]), after=r.choice(["after", None])
            )
        elif keys:
            key = r.choice(keys)
            if isinstance(node[key], str):
                node[key] = type(node[key])(node[key] + "z")
    elif roll < 0.3 and node:
        node[r.randrange(len(node))] = _value(r)
    elif roll < 0.55:
        node.append(_value(r))
    elif roll < 0.7 and node:
        del node[r.randrange(len(node))]
    elif roll < 0.8:
        node.insert(r.randrange(len(node) + 1), _value(r))
    elif node:
        _line_comment(node, r.randrange(len(node)), "item note")


def _line_comment(node: Any, key: Any, text: str) -> None:
    # ruamel's yaml_add_eol_comment fails on an item that has comment lines before its value
    with contextlib.suppress(TypeError):
        krm.set_line_comment(node, key, text)


# -- a picture of everything ruamel keeps in a tree ----------------------------------------


def picture(tree: Any) -> Any:
    """A comparable picture of a round-trip tree: values and their types, key order, every
    attribute ruamel keeps (comments with their marks and ``pre_done``, line/column
    information, format, anchor, tag, own keys) and which comment lists are shared."""
    return _Picture().of(tree)


class _Picture:
    def __init__(self) -> None:
        self.lists: dict[int, int] = {}

    def of(self, value: Any) -> Any:
        if isinstance(value, dict):
            items = tuple((self.of(key), self.of(item)) for key, item in value.items())
            return ("map", type(value).__name__, self.attributes(value), items)
        if isinstance(value, list):
            items = tuple(self.of(item) for item in list.__iter__(value))
            return ("seq", type(value).__name__, self.attributes(value), items)
        slots = {}
        for name in ("comment", "fold_pos", "_yaml_anchor", "_width", "_prec", "_underscore"):
            if hasattr(value, name):
                slots[name] = self.comments(getattr(value, name))
        return ("scalar", type(value).__name__, repr(value), tuple(sorted(slots.items())))

    def attributes(self, value: Any) -> Any:
        found: dict[str, Any] = {}
        comment = getattr(value, "_yaml_comment", None)
        if comment is not None:
            items = tuple((repr(key), self.comments(slots)) for key, slots in comment.items.items())
            found["comment"] = (
                self.comments(comment.comment),
                items,
                self.comments(comment.end),
                self.comments(comment.pre),
            )
        lines = getattr(value, "_yaml_line_col", None)
        if lines is not None:
            found["lc"] = (lines.line, lines.col, repr(lines.data))
        for name in ("_yaml_format", "_yaml_anchor", "_yaml_tag"):
            if hasattr(value, name):
                found[name] = repr(getattr(value, name))
        if hasattr(value, "_ok"):
            found["ok"] = tuple(sorted(map(repr, value._ok)))
        return tuple(sorted(found.items()))

    def comments(self, value: Any) -> Any:
        if isinstance(value, CommentToken):
            return (
                "#",
                value.value,
                _mark(value.start_mark),
                _mark(value.end_mark),
                getattr(value, "pre_done", None),
            )
        if type(value) is list:
            first = self.lists.setdefault(id(value), len(self.lists))
            return ("list", first, tuple(self.comments(item) for item in value))
        return repr(value)


def _mark(mark: Any) -> Any:
    if isinstance(mark, StringMark):
        return (mark.name, mark.index, mark.line, mark.column, mark.pointer)
    return (type(mark).__name__, getattr(mark, "column", None))


def forget_null_spellings(tree: Any) -> None:
    """Drop the fast loader's record of null spellings, which ruamel's trees lack."""
    if isinstance(tree, (dict, list)):
        getattr(tree, "__dict__", {}).pop(tags.NULLS_ATTRIBUTE, None)
        for child in tree.values() if isinstance(tree, dict) else list.__iter__(tree):
            forget_null_spellings(child)
