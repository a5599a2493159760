"""The tags ruamel gives plain scalars (YAML 1.2), for reading and for writing.

A plain scalar's type is decided by its text (``3`` is an int, ``true`` a bool), and ruamel
quotes a string on output exactly when its text would read back as something else. Both
directions use ruamel's own table of implicit resolvers, indexed by first character: most
text starts with a character no resolver claims, and is a string without a regex tried.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.resolver import implicit_resolvers

STR = "tag:yaml.org,2002:str"
NULL = "tag:yaml.org,2002:null"
BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
TIMESTAMP = "tag:yaml.org,2002:timestamp"

NULLS_ATTRIBUTE = "_lanai_nulls"
"""A collection's record of how its null values were spelled (``null``, ``~``), by key or
index: Python's None cannot carry it, and Go's YAML writes a null back as it was read, so
a rewritten file keeps ``key: null`` rather than ruamel's ``key:``."""

RESOLVERS: dict[str, list[tuple[str, Any]]] = {}
"""ruamel's YAML 1.2 implicit resolvers by first character (``""`` for empty text), each
list in ruamel's order."""
for _versions, _tag, _regexp, _first in implicit_resolvers:
    if (1, 2) in _versions:
        for _ch in _first:
            RESOLVERS.setdefault(_ch, []).append((_tag, _regexp))


def resolve(value: str) -> str:
    """The tag ruamel resolves a plain scalar's text to."""
    resolvers = RESOLVERS.get(value[0] if value else "")
    if resolvers:
        for tag, regexp in resolvers:
            if regexp.match(value):
                return tag
    return STR
