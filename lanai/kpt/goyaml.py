"""YAML as kpt's Go code writes it: yaml.v3 scalars, map order, and typed structs.

kpt does not keep the Kptfile's formatting when it records a render: it decodes the file
into its Go struct (unknown fields refused, comments lost) and encodes the struct again,
so fields come out in the struct's order, maps sorted, lists indented under their key
and strings quoted only where yaml.v3 must. The results file is written the same way.
Reproducing those bytes is what keeps ``git diff`` after ``lanai fn render`` equal to the
one after ``kpt fn render``. The scalar rules here are also those of catalog functions
that rebuild resources from Go values (see :mod:`lanai.functions.builtin.gomarshal`).
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.emitter import Emitter
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

# -- scalars as yaml.v3 writes them --------------------------------------------------------

_RESOLVED = frozenset(
    {
        "true", "True", "TRUE", "false", "False", "FALSE",
        "", "~", "null", "Null", "NULL",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
        "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
        "<<",
    }
)  # fmt: skip
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(
    r"^[-+]?(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)$"
)
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}"
    r"(?:(?:[Tt]| )\d{1,2}:\d{1,2}:\d{1,2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?)?$"
)
_OLD_BOOLS = frozenset(
    {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
     "n", "N", "no", "No", "NO", "off", "Off", "OFF"}
)  # fmt: skip
_BASE60_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


def resolves_to_non_string(value: str) -> bool:
    """Whether yaml.v3 would read ``value``, written plain, as a non-string."""
    if value in _RESOLVED:
        return True
    first = value[0]
    if first == ".":
        return _go_float(value)
    if not (first.isdigit() and first.isascii()) and first not in "+-":
        return False
    if _TIMESTAMP.match(value) and value[:4].isdigit():
        return True
    plain = value.replace("_", "")
    if _GO_INT.match(plain) or _YAML_FLOAT.match(plain):
        return True
    return bool(re.fullmatch(r"-?0b[01]+|-?0o[0-7]+", plain))


def _go_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"[.0-9eE+-]+", value))


def go_string(value: str) -> str:
    """A new string node as yaml.v3 emits it: plain, ``"quoted"`` where plain would read as
    another type, a literal block when it spans lines."""
    value = str.__str__(value)
    styled: str = value
    if "\n" in value:
        styled = LiteralScalarString(value)
    elif resolves_to_non_string(value):
        styled = DoubleQuotedScalarString(value)
    return styled


_CHARS = r"-A-Za-z0-9_./+=@$%()<>,;'\"\\"
_SURELY_PLAIN = re.compile(
    rf"[A-Za-z0-9_/](?:[{_CHARS}:]*[{_CHARS}])?(?: (?:[{_CHARS}:]*[{_CHARS}]))*"
)
"""Text the emitter's analysis would always let stand plain (checked first, being far
cheaper): no indicator first, no ``: `` or `` #``, single spaces between words."""

_ANALYSER = Emitter(io.StringIO(), allow_unicode=True)
# the analysis of text starting with ``:`` or ``?`` asks which YAML version is written
# (a lone emitter answers for its serializer itself)
_ANALYSER.use_version = None  # type: ignore[attr-defined]


def marshal_string(value: str) -> str:
    """A string exactly as ``yaml.Marshal`` writes it: as :func:`go_string`, and also
    double-quoted where YAML 1.1 would read it otherwise; where plain style cannot hold it,
    single-quoted if that can (libyaml's choice), else double-quoted."""
    value = str.__str__(value)
    styled: str
    if "\n" in value:
        styled = LiteralScalarString(value)
    elif resolves_to_non_string(value) or value in _OLD_BOOLS or _BASE60_FLOAT.match(value):
        styled = DoubleQuotedScalarString(value)
    elif _SURELY_PLAIN.fullmatch(value):
        styled = value
    else:
        analysis = _ANALYSER.analyze_scalar(value)
        if analysis.allow_block_plain:
            styled = value
        elif analysis.allow_single_quoted:
            styled = SingleQuotedScalarString(value)
        else:
            styled = DoubleQuotedScalarString(value)
    return styled


# -- yaml.v3's map key order ---------------------------------------------------------------


def _natural_less(a: str, b: str) -> bool:
    """yaml.v3's key order: letters by code point, digit runs by their number."""
    digits = False
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x == y:
            digits = x.isdigit()
            continue
        x_letter, y_letter = x.isalpha(), y.isalpha()
        if x_letter and y_letter:
            return x < y
        if x_letter or y_letter:
            return x_letter if digits else y_letter
        start = 0
        if x == "0" or y == "0":
            j = i - 1
            while j >= 0 and a[j].isdigit():
                if a[j] != "0":
                    start = 1
                    break
                j -= 1
        x_number, x_end = _digit_run(a, i, start)
        y_number, y_end = _digit_run(b, i, start)
        if x_number != y_number:
            return x_number < y_number
        if x_end != y_end:
            return x_end < y_end
        return x < y
    return len(a) < len(b)


def _digit_run(text: str, index: int, number: int) -> tuple[int, int]:
    end = index
    while end < len(text) and text[end].isdigit():
        number = number * 10 + int(text[end])
        end += 1
    return number, end


def _compare(a: str, b: str) -> int:
    if _natural_less(a, b):
        return -1
    return 1 if _natural_less(b, a) else 0


sort_key = functools.cmp_to_key(_compare)


def sorted_keys(keys: Any) -> list[str]:
    return sorted((str(k) for k in keys), key=sort_key)


# -- typed structs -------------------------------------------------------------------------


class DecodeError(ValueError):
    """What yaml.v3's strict decoder says: ``yaml: unmarshal errors:`` and one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("yaml: unmarshal errors:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Field:
    key: str
    kind: Any
    """``str``, ``int``, ``dict`` (map[string]string), a :class:`Struct` or a
    one-element list holding the element kind."""
    omitempty: bool = True
    pointer: bool = False


@dataclass(frozen=True)
class Struct:
    name: str
    """The Go type name in messages (``v1.Function``)."""
    fields: tuple[Field, ...] = field(default_factory=tuple)


def _line(node: Any, key: Any = None) -> int:
    try:
        if key is not None:
            return int(node.lc.key(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def _value_line(node: Any, key: Any) -> int:
    """The line of ``node[key]``'s value (where yaml.v3 reports a type mismatch)."""
    try:
        return int(node.lc.value(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return _line(node, key)


_LIBYAML_PROBLEMS = {
    "mapping values are not allowed here": "mapping values are not allowed in this context",
}


_UNCLOSED_FLOW = re.compile(r"^expected '(,)' or '([\]}])', but got ")


def parse_error(error: BaseException) -> str:
    """A YAML syntax error in yaml.v3's words: ``yaml: line N: problem``."""
    problem = str(getattr(error, "problem", "") or "unknown problem parsing YAML content")
    problem = _LIBYAML_PROBLEMS.get(problem, problem)
    unclosed = _UNCLOSED_FLOW.match(problem)
    if unclosed:  # libyaml names what it looked for, not what it found
        problem = f"did not find expected '{unclosed[1]}' or '{unclosed[2]}'"
    # yaml.v3 names the context's line, or the problem's when the context is on line 0
    context = getattr(error, "context_mark", None)
    mark = context if context is not None and getattr(error, "context", None) else None
    if mark is None or int(getattr(mark, "line", 0)) == 0:
        mark = getattr(error, "problem_mark", None) or mark
    line = int(getattr(mark, "line", -1))
    scanner = type(error).__name__ == "ScannerError"
    number = line + 1 if scanner else line
    where = f"line {number}: " if number > 0 else ""
    return f"yaml: {where}{problem}"


def _tag(value: Any) -> str:
    if isinstance(value, dict):
        return "!!map"
    if isinstance(value, list):
        return "!!seq"
    if isinstance(value, bool):
        return "!!bool"
    if isinstance(value, int):
        return "!!int"
    if isinstance(value, float):
        return "!!float"
    return "!!str"


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def decode(node: Any, kind: Any, problems: list[str], line: int = 0) -> Any:
    """``node`` (a round-trip tree) as the Go value of ``kind``; problems are collected
    as yaml.v3 reports them (it goes on decoding after one)."""
    if node is None:
        return None
    if kind is str:
        if isinstance(node, dict | list):
            problems.append(f"line {line}: cannot unmarshal {_tag(node)} into string")
            return None
        return _scalar_text(node)
    if kind is int:
        if isinstance(node, bool) or not isinstance(node, int):
            text = _scalar_text(node) if not isinstance(node, dict | list) else ""
            problems.append(f"line {line}: cannot unmarshal {_tag(node)} `{text}` into int")
            return None
        return int(node)
    if kind is dict:
        if not isinstance(node, dict):
            problems.append(
                f"line {line}: cannot unmarshal {_tag(node)} `{_scalar_text(node)}` "
                "into map[string]string"
            )
            return None
        out: dict[str, str] = {}
        for key, value in node.items():
            decoded = decode(value, str, problems, _value_line(node, key))
            out[_scalar_text(key)] = decoded if decoded is not None else ""
        return out
    if isinstance(kind, list):
        if not isinstance(node, list):
            problems.append(f"line {line}: cannot unmarshal {_tag(node)} into []")
            return None
        items = []
        for number, value in enumerate(node):
            try:
                where = int(node.lc.item(number)[0]) + 1  # type: ignore[attr-defined]
            except (AttributeError, KeyError, TypeError):
                where = line
            items.append(decode(value, kind[0], problems, where))
        return items
    assert isinstance(kind, Struct)
    if not isinstance(node, dict):
        problems.append(f"line {line}: cannot unmarshal {_tag(node)} into {kind.name}")
        return None
    known = {f.key: f for f in kind.fields}
    result: dict[str, Any] = {}
    for key, value in node.items():
        name = _scalar_text(key)
        spec = known.get(name)
        if spec is None:
            problems.append(f"line {_line(node, key)}: field {name} not found in type {kind.name}")
            continue
        decoded = decode(value, spec.kind, problems, _value_line(node, key))
        if decoded is not None:
            result[name] = decoded
    return result


def _empty(value: Any, spec: Field) -> bool:
    """Whether omitempty leaves the field out: nil pointers, zero values, empty maps and
    lists, and value structs whose fields are all zero."""
    if value is None:
        return True
    if spec.pointer:
        return False
    if isinstance(spec.kind, Struct):
        return all(_empty(value.get(f.key), Field(f.key, f.kind)) for f in spec.kind.fields)
    return bool(value in ("", 0) or (isinstance(value, dict | list) and not value))


def encode(value: Any, kind: Any) -> Any:
    """The round-trip tree ``yaml.Marshal`` would write for the Go value ``value``."""
    if kind is str:
        return marshal_string(value)
    if kind is int:
        return int(value)
    if kind is dict:
        mapping = CommentedMap()
        for key in sorted_keys(value):
            mapping[marshal_string(key)] = marshal_string(value[key])
        return mapping
    if isinstance(kind, list):
        return CommentedSeq(encode(item, kind[0]) for item in value)
    assert isinstance(kind, Struct)
    mapping = CommentedMap()
    for spec in kind.fields:
        found = value.get(spec.key)
        if spec.omitempty and _empty(found, spec):
            continue
        if found is None:
            found = 0 if spec.kind is int else ""
        mapping[spec.key] = encode(found, spec.kind)
    return mapping


# -- writing Go values as text -------------------------------------------------------------


class _Unsupported(Exception):
    """A value :func:`emit` leaves to the encoder and the YAML dumper."""


_PLAIN_SAFE = re.compile(r"[ -~]*")
"""Printable ASCII: quoted text that needs no escapes beyond the quote itself."""


def emit(value: Any, kind: Any) -> str | None:
    """The text ``yaml.Marshal`` writes for ``value`` (lists indented under their key),
    written straight from the Go value: what ``encode`` and a dump give, without
    building the tree. ``None`` where a scalar needs more than this covers."""
    lines: list[str] = []
    try:
        _emit_struct_or_map(value, kind, 0, lines, "")
    except _Unsupported:
        return None
    return "".join(lines) if lines else "{}\n"


def _scalar(text: Any, indent: int) -> str:
    """A scalar after ``key: `` (or ``- ``); literal blocks continue at ``indent``."""
    if isinstance(text, bool) or not isinstance(text, str):
        if isinstance(text, int):
            return str(text)
        raise _Unsupported("a scalar of another type")
    styled = marshal_string(text)
    if len(styled) > 1000:
        raise _Unsupported("a long line the dumper may fold")
    if isinstance(styled, LiteralScalarString):
        return _literal(str(styled), indent)
    if isinstance(styled, DoubleQuotedScalarString):
        if not _PLAIN_SAFE.fullmatch(styled) or '"' in styled or "\\" in styled:
            raise _Unsupported("a double-quoted scalar with escapes")
        return f'"{styled}"'
    if isinstance(styled, SingleQuotedScalarString):
        if not _PLAIN_SAFE.fullmatch(styled):
            raise _Unsupported("a single-quoted scalar with special characters")
        return "'" + str(styled).replace("'", "''") + "'"
    return str(styled)


def _literal(text: str, indent: int) -> str:
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    if (
        not body
        or body[0] in " \t"
        or any(line != line.rstrip(" \t") or not _printable(line) for line in body.split("\n"))
    ):
        raise _Unsupported("a block scalar needing an indicator or escapes")
    header = "|-" if trailing == 0 else "|" if trailing == 1 else None
    if header is None:
        raise _Unsupported("a block scalar keeping trailing lines")
    pad = " " * indent
    content = "".join((pad + line if line else "") + "\n" for line in body.split("\n"))
    return header + "\n" + content.rstrip("\n")


def _printable(line: str) -> bool:
    return all(ch == "\t" or ch.isprintable() for ch in line)


def _key(text: str) -> str:
    styled = _scalar(text, 0)
    if "\n" in styled:
        raise _Unsupported("a multi-line key")
    return styled


def _emit_struct_or_map(value: Any, kind: Any, indent: int, lines: list[str], first: str) -> None:
    """The fields of ``value`` as mapping lines at ``indent``; the first line starts with
    ``first`` (``- `` for a list item) instead of its indentation."""
    pairs: list[tuple[str, Any, Any]] = []
    if kind is dict:
        for key in sorted_keys(value):
            pairs.append((_key(key), value[key], str))
    else:
        assert isinstance(kind, Struct)
        for spec in kind.fields:
            found = value.get(spec.key)
            if spec.omitempty and _empty(found, spec):
                continue
            if found is None:
                found = 0 if spec.kind is int else ""
            pairs.append((spec.key, found, spec.kind))
    pad = " " * indent
    for number, (key, found, field_kind) in enumerate(pairs):
        lead = first if number == 0 and first else pad
        _emit_value(f"{lead}{key}:", found, field_kind, indent, lines)


def _emit_value(head: str, value: Any, kind: Any, indent: int, lines: list[str]) -> None:
    """``head`` (``key:`` or ``-``) and ``value`` of ``kind``, the head at ``indent``."""
    if kind is str or kind is int:
        lines.append(f"{head} {_scalar(value, indent + 2)}\n")
    elif isinstance(kind, list):
        if not value:
            lines.append(f"{head} []\n")
            return
        lines.append(f"{head}\n")
        item_indent = indent + 2
        for item in value:
            _emit_item(item, kind[0], item_indent, lines)
    elif not _has_fields(value, kind):
        lines.append(f"{head} {{}}\n")
    else:
        lines.append(f"{head}\n")
        _emit_struct_or_map(value, kind, indent + 2, lines, "")


def _emit_item(value: Any, kind: Any, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if kind is str or kind is int:
        lines.append(f"{pad}- {_scalar(value, indent + 2)}\n")
    elif isinstance(kind, list):
        raise _Unsupported("a list of lists")
    elif not _has_fields(value, kind):
        lines.append(f"{pad}- {{}}\n")
    else:
        _emit_struct_or_map(value, kind, indent + 2, lines, f"{pad}- ")


def _has_fields(value: Any, kind: Any) -> bool:
    if kind is dict:
        return bool(value)
    assert isinstance(kind, Struct)
    return any(not (spec.omitempty and _empty(value.get(spec.key), spec)) for spec in kind.fields)


def _struct(name: str, *fields: Field) -> Struct:
    return Struct(name, tuple(fields))


def _s(key: str, *, omitempty: bool = True) -> Field:
    return Field(key, str, omitempty)


TYPE_META = (_s("apiVersion"), _s("kind"))
OBJECT_META = _struct(
    "yaml.ObjectMeta",
    _s("name"),
    _s("namespace"),
    Field("labels", dict),
    Field("annotations", dict),
)
SELECTOR = _struct(
    "v1.Selector",
    _s("apiVersion"),
    _s("kind"),
    _s("name"),
    _s("namespace"),
    Field("labels", dict),
    Field("annotations", dict),
)
FUNCTION = _struct(
    "v1.Function",
    _s("image"),
    _s("exec"),
    _s("configPath"),
    Field("configMap", dict),
    _s("name"),
    _s("tag"),
    Field("selectors", [SELECTOR]),
    Field("exclude", [SELECTOR]),
)
RESULT_ITEM = _struct(
    "v1.ResultItem",
    _s("message"),
    _s("severity"),
    Field(
        "resourceRef",
        _struct("yaml.ResourceIdentifier", *TYPE_META, _s("name"), _s("namespace")),
        pointer=True,
    ),
    Field(
        "field",
        _struct("v1.Field", _s("path"), _s("currentValue"), _s("proposedValue")),
        pointer=True,
    ),
    Field("file", _struct("framework.File", _s("path"), Field("index", int)), pointer=True),
    Field("tags", dict),
)
STEP = _struct(
    "v1.PipelineStepResult",
    _s("name"),
    _s("image"),
    _s("exec"),
    _s("executionError"),
    _s("stderr"),
    Field("exitCode", int, omitempty=False),
    Field("results", [RESULT_ITEM]),
    Field("errorResults", [RESULT_ITEM]),
)
GIT = _struct("v1.Git", _s("repo"), _s("directory"), _s("ref"))
KPTFILE = _struct(
    "v1.KptFile",
    *TYPE_META,
    Field("metadata", OBJECT_META),
    Field(
        "upstream",
        _struct("v1.Upstream", _s("type"), Field("git", GIT, pointer=True), _s("updateStrategy")),
        pointer=True,
    ),
    Field(
        "upstreamLock",
        _struct(
            "v1.Locator",
            _s("type"),
            Field(
                "git",
                _struct("v1.GitLock", _s("repo"), _s("directory"), _s("ref"), _s("commit")),
                pointer=True,
            ),
            Field(
                "generic",
                _struct("v1.GenericLock", _s("storeID"), _s("resourceID"), _s("resourceVersion")),
                pointer=True,
            ),
        ),
        pointer=True,
    ),
    Field(
        "info",
        _struct(
            "v1.PackageInfo",
            _s("site"),
            Field("emails", [str]),
            _s("license"),
            _s("licenseFile"),
            _s("description"),
            Field("keywords", [str]),
            _s("man"),
            Field(
                "readinessGates",
                [_struct("v1.ReadinessGate", _s("conditionType", omitempty=False))],
            ),
        ),
        pointer=True,
    ),
    Field(
        "pipeline",
        _struct("v1.Pipeline", Field("mutators", [FUNCTION]), Field("validators", [FUNCTION])),
        pointer=True,
    ),
    Field(
        "inventory",
        _struct(
            "v1.Inventory",
            _s("namespace"),
            _s("name"),
            _s("inventoryID"),
            Field("labels", dict),
            Field("annotations", dict),
        ),
        pointer=True,
    ),
    Field(
        "status",
        _struct(
            "v1.Status",
            Field(
                "conditions",
                [
                    _struct(
                        "v1.Condition",
                        _s("type", omitempty=False),
                        _s("status", omitempty=False),
                        _s("reason"),
                        _s("message"),
                    )
                ],
            ),
            Field(
                "renderStatus",
                _struct(
                    "v1.RenderStatus",
                    Field("mutationSteps", [STEP]),
                    Field("validationSteps", [STEP]),
                    _s("errorSummary"),
                ),
                pointer=True,
            ),
        ),
        pointer=True,
    ),
)
RESULT_LIST = _struct(
    "v1.ResultList",
    *TYPE_META,
    Field("metadata", OBJECT_META),
    Field("exitCode", int, omitempty=False),
    Field(
        "items",
        [
            _struct(
                "v1.Result",
                _s("image"),
                _s("exec"),
                _s("stderr"),
                Field("exitCode", int, omitempty=False),
                Field("results", [RESULT_ITEM]),
            )
        ],
    ),
)
