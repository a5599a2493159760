"""Plain-data YAML at C speed, read the way ruamel.yaml's safe loader reads it.

The cache reads one Kptfile per revision: 10,000 of them in the first sync of a big
repository, where ruamel.yaml's pure-Python safe loader took 2-3 ms each (20-30 s,
half of that sync's budget). libyaml (through PyYAML, which kopf already depends on)
parses in C; only resolving and constructing stay in Python. Resolution follows
ruamel.yaml's YAML 1.2 rules, taken from its own table, so ``yes``/``on`` stay strings
and ``017`` stays seventeen; duplicate keys are an error there too. Nothing here keeps
comments or formatting: package files are read with :mod:`lanai.kpt.yamlio`.
"""

from __future__ import annotations

from typing import Any

import yaml
from ruamel.yaml import resolver as ruamel_resolver

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml, where PyYAML has it
Error = yaml.YAMLError


class _Loader(_Base):  # type: ignore[misc]
    """libyaml's parser; YAML 1.2 resolution and constructors as ruamel.yaml's."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, Any]]] = {}

    def construct_yaml_int(self, node: Any) -> int:
        text = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if text[0] == "-" else 1
        text = text.lstrip("+-")
        for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
            if text.startswith(prefix):
                return sign * int(text[2:], base)
        return sign * int(text)  # YAML 1.2: a leading zero is not octal

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable: the base class reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


for _versions, _tag, _regexp, _first in ruamel_resolver.implicit_resolvers:
    if (1, 2) in _versions:
        _Loader.add_implicit_resolver(_tag, _regexp, _first)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def load(content: bytes | str) -> Any:
    """The one document in ``content`` as dicts, lists and scalars; raises :data:`Error`."""
    return yaml.load(content, Loader=_Loader)  # noqa: S506 (a safe loader)
