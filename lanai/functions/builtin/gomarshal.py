"""Plain values written the way Go's yaml.v3 ``Marshal`` writes them.

Catalog functions that rebuild resources from Go values (starlark turns every item into
Go maps and back) hand kpt YAML whose shape is Marshal's, not the input's: map keys
sorted in yaml.v3's "natural" order (``a2`` before ``a10``), block style everywhere,
strings plain unless YAML would read them as another type (then double-quoted; YAML 1.1
booleans such as ``yes`` included), multi-line strings as literal blocks, floats in Go's
shortest form. This module builds round-trip trees with exactly those choices so an
in-process builtin produces the bytes a container would.
"""

from __future__ import annotations

import decimal
import math
import re
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from lanai.functions.builtin import sdk
from lanai.kpt import goyaml

_OLD_BOOLS = frozenset(
    {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
     "n", "N", "no", "No", "NO", "off", "Off", "OFF"}
)  # fmt: skip
_BASE60_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


def string(value: str) -> str:
    """A string as Marshal writes it (plain, double-quoted or a literal block)."""
    styled: str = sdk.go_string(value)
    if "\n" not in value and (value in _OLD_BOOLS or _BASE60_FLOAT.match(value) is not None):
        styled = DoubleQuotedScalarString(value)
    return styled


def go_float_text(value: float) -> str:
    """Go's ``strconv.FormatFloat(f, 'g', -1, 64)`` as yaml.v3 writes it: the shortest
    digits, in exponent form when the exponent is below -4 or at least 6."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    shortest = decimal.Decimal(repr(abs(value))).normalize()
    _, digit_tuple, exponent = shortest.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(str(d) for d in digit_tuple)
    point = len(digits) + exponent
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        power = point - 1
        return f"{sign}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    whole = digits[:point].ljust(point, "0")
    fraction = digits[point:]
    return sign + whole + ("." + fraction if fraction else "")


def number(value: float) -> Any:
    """A float as it reads back after Marshal: ``3.0`` is written ``3`` (an int)."""
    text = go_float_text(value)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return value


def scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return number(value)
    return string(str(value))


sort_key = goyaml.sort_key
sorted_keys = goyaml.sorted_keys


def tree(value: Any) -> Any:
    """A fresh round-trip tree for a plain value, as Marshal would write it."""
    if isinstance(value, dict):
        mapping = CommentedMap()
        for key in sorted_keys(value.keys()):
            mapping[key] = tree(value[key])
        return mapping
    if isinstance(value, list | tuple):
        return CommentedSeq(tree(v) for v in value)
    return scalar(value)
