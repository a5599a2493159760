"""The libraries a catalog starlark script may ``load()``, rebuilt for the in-process runtime.

The catalog's starlark offers qri-io/starlib's modules plus its own ``krmfn.star``;
scripts written against it (``load('encoding/json.star', 'json')``) must load here too or
the package only renders in a container. Each module is a frozen starlark module whose
one public name is a struct of Python callables that behave as the Go ones do (sorted
compact JSON, the four base64 alphabets, hex digests, ...). Modules that reach outside
the process (``http.star``) or parse office and HTML formats are not offered: loading
them fails with a message naming the module, never a half-working stand-in.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from lanai.functions.builtin import sdk

UNSUPPORTED = frozenset(
    {"bsoup.star", "geo.star", "html.star", "http.star", "xlsx.star", "zipfile.star"}
)


class ModuleError(Exception):
    """A library function was called with values it cannot handle."""


# -- encoding/json.star ------------------------------------------------------------------


def _json_quote(text: str) -> str:
    if all(0x20 <= ord(c) < 0x80 for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    quoted = json.dumps(text, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        quoted = quoted.replace(char, escape)
    return quoted.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def json_encode(value: Any) -> str:
    """Compact JSON with object keys sorted, as go.starlark.net's ``json.encode``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ModuleError(f"json.encode: cannot encode non-finite float {value}")
        return _starlark_float(value)
    if isinstance(value, str):
        return _json_quote(value)
    if isinstance(value, dict):
        keys = list(value.keys())
        if any(not isinstance(k, str) for k in keys):
            raise ModuleError("json.encode: dict has non-string key, want string")
        inner = ",".join(f"{_json_quote(k)}:{json_encode(value[k])}" for k in sorted(keys))
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_encode(v) for v in value) + "]"
    raise ModuleError(f"json.encode: cannot encode {type(value).__name__} as JSON")


def _starlark_float(value: float) -> str:
    text = repr(value)
    return text if any(c in text for c in ".en") else text + ".0"


def json_decode(text: str, default: Any = ...) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError) as error:
        if default is not ...:
            return default
        raise ModuleError(f"json.decode: {error}") from error


def json_indent(text: str, prefix: str = "", indent: str = "\t") -> str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModuleError(f"json.indent: {error}") from error
    lines = json.dumps(value, indent=indent, ensure_ascii=False).split("\n")
    return "\n".join([lines[0], *(prefix + line for line in lines[1:])])


# -- encoding/yaml.star, encoding/base64.star, encoding/csv.star ---------------------------


def yaml_loads(source: str) -> Any:
    try:
        return _plain(YAML(typ="safe", pure=True).load(source))
    except YAMLError as error:
        raise ModuleError(f"yaml: {error}") from error


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {sdk.scalar_text(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def yaml_dumps(source: Any) -> str:
    """YAML as Go's yaml.v2 writes it: keys sorted, lists level with their key."""
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(_sorted(source), out)
    return out.getvalue()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted(v) for v in value]
    return value


_BASE64 = {
    "standard": (base64.b64encode, base64.b64decode, True),
    "standard_raw": (base64.b64encode, base64.b64decode, False),
    "url": (base64.urlsafe_b64encode, base64.urlsafe_b64decode, True),
    "url_raw": (base64.urlsafe_b64encode, base64.urlsafe_b64decode, False),
}


def _encoding(name: str) -> tuple[Callable[..., bytes], Callable[..., bytes], bool]:
    found = _BASE64.get(name or "standard")
    if found is None:
        raise ModuleError(f"unsupported encoding format: {name}")
    return found


def base64_encode(data: str, encoding: str = "") -> str:
    encode, _, padded = _encoding(encoding)
    text = encode(data.encode()).decode()
    return text if padded else text.rstrip("=")


def base64_decode(data: str, encoding: str = "") -> str:
    _, decode, padded = _encoding(encoding)
    if not padded:
        if "=" in data:
            raise ModuleError("illegal base64 data at input byte " + str(data.index("=")))
        data += "=" * (-len(data) % 4)
    try:
        return decode(data.encode(), validate=True).decode(errors="replace")
    except TypeError:
        return decode(data.encode()).decode(errors="replace")
    except (binascii.Error, ValueError) as error:
        raise ModuleError(f"illegal base64 data: {error}") from error


def csv_read_all(source: str, comma: str = ",", comment: str = "", lazy_quotes: bool = False,
                 trim_leading_space: bool = False, fields_per_record: int = 0,
                 skip: int = 0) -> list[list[str]]:  # fmt: skip
    del lazy_quotes, fields_per_record
    rows = list(csv.reader(io.StringIO(source), delimiter=comma or ","))
    if comment:
        rows = [r for r in rows if not (r and r[0].startswith(comment))]
    if trim_leading_space:
        rows = [[cell.lstrip() for cell in r] for r in rows]
    return rows[skip:]


def csv_write_all(data: list[list[Any]], comma: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=comma or ",", lineterminator="\n")
    writer.writerows([[str(cell) for cell in row] for row in data])
    return out.getvalue()


# -- hash.star, re.star, math.star, krmfn.star ---------------------------------------------


def _digest(name: str) -> Callable[[str], str]:
    def digest(text: str) -> str:
        return hashlib.new(name, text.encode()).hexdigest()

    return digest


def _pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ModuleError(f"error parsing regexp: {error}") from error


def re_search(pattern: str, string: str, flags: int = 0) -> list[int] | None:
    del flags
    found = _pattern(pattern).search(string)
    return None if found is None else [found.start(), found.end()]


def re_match(pattern: str, string: str, flags: int = 0) -> list[list[str]]:
    del flags
    found = _pattern(pattern).finditer(string)
    return [[m.group(0), *[g or "" for g in m.groups()]] for m in found]


def re_findall(pattern: str, string: str, flags: int = 0) -> list[str]:
    del flags
    return [m.group(0) for m in _pattern(pattern).finditer(string)]


def re_split(pattern: str, string: str, maxsplit: int = 0, flags: int = 0) -> list[str]:
    del flags
    return _pattern(pattern).split(string, maxsplit=maxsplit)


def re_sub(pattern: str, repl: str, string: str, count: int = 0, flags: int = 0) -> str:
    del flags
    go_template = re.sub(r"\$\{?(\w+)\}?", lambda m: "\\g<" + m.group(1) + ">", repl)
    return _pattern(pattern).sub(go_template, string, count=count)


_MATH: dict[str, Callable[..., Any]] = {
    "ceil": math.ceil,
    "floor": math.floor,
    "round": lambda x: float(math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)),
    "sqrt": math.sqrt,
    "pow": math.pow,
    "exp": math.exp,
    "log": lambda x, base=math.e: math.log(x, base),
    "fabs": math.fabs,
    "mod": math.fmod,
    "copysign": math.copysign,
    "remainder": math.remainder,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "hypot": math.hypot,
    "degrees": math.degrees,
    "radians": math.radians,
    "trunc": math.trunc,
    "gamma": math.gamma,
    "is_inf": lambda x, sign=0: math.isinf(x) and (sign == 0 or (x > 0) == (sign > 0)),
    "is_nan": math.isnan,
}


def _resource(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ModuleError("expected exactly one object")
    return value


def krmfn_match_gvk(resource: Any, api_version: str, kind: str) -> bool:
    """True when the resource's apiVersion and kind are exactly the ones given."""
    found = _resource(resource)
    return sdk.text(found, "apiVersion") == api_version and sdk.text(found, "kind") == kind


def krmfn_match_name(resource: Any, name: str) -> bool:
    return sdk.metadata_text(_resource(resource), "name") == name


def krmfn_match_namespace(resource: Any, namespace: str) -> bool:
    return sdk.metadata_text(_resource(resource), "namespace") == namespace


#: load() name → (the symbol the module exports, that struct's members).
MODULES: dict[str, tuple[str, dict[str, Callable[..., Any]]]] = {
    "encoding/json.star": (
        "json",
        {"encode": json_encode, "decode": json_decode, "indent": json_indent},
    ),
    "encoding/yaml.star": ("yaml", {"loads": yaml_loads, "dumps": yaml_dumps}),
    "encoding/base64.star": ("base64", {"encode": base64_encode, "decode": base64_decode}),
    "encoding/csv.star": ("csv", {"read_all": csv_read_all, "write_all": csv_write_all}),
    "hash.star": ("hash", {n: _digest(n) for n in ("md5", "sha1", "sha256")}),
    "re.star": (
        "re",
        {
            "search": re_search,
            "match": re_match,
            "findall": re_findall,
            "split": re_split,
            "sub": re_sub,
        },
    ),
    "math.star": ("math", dict(_MATH)),
    "krmfn.star": (
        "krmfn",
        {
            "match_gvk": krmfn_match_gvk,
            "match_name": krmfn_match_name,
            "match_namespace": krmfn_match_namespace,
        },
    ),
}

#: Constants the Go math module exports beside its functions.
MATH_CONSTANTS = {"e": math.e, "pi": math.pi, "phi": (1 + math.sqrt(5)) / 2}
