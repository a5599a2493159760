"""Three-way merge of one YAML value: original upstream, new upstream and local.

The rules are kpt's (kyaml ``merge3`` as kpt adjusts it): whatever upstream changed takes
the upstream value, whatever it left alone keeps the local value, so a true conflict goes
to upstream. Lists are merged element by element only where a key says which elements
are the same (schema merge keys); any other list is a single value. The local document is
edited in place, so comments and the key order users wrote survive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from lanai.kpt import yamlio


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""An absent field (as opposed to an explicit ``null``)."""

Identity = tuple[str | None, ...]
Keyed = tuple[Identity, int]
"""An identity and its occurrence number (a list may repeat an identity)."""
KeyOf = Callable[[Any], Identity | None]
"""The identity of a list element (``None``: the element has no key)."""


class Rules(Protocol):
    """What the merge needs to know about a document's schema, by dotted field path
    (list items add no path segment)."""

    def list_key(self, path: str) -> KeyOf | None: ...

    def keep_local(self, path: str) -> bool: ...


def join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def equal(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return bool(yamlio.to_plain(a) == yamlio.to_plain(b))


def merge(local: Any, original: Any, updated: Any, rules: Rules, path: str = "") -> Any:
    """The merged value (``MISSING`` to remove the field); ``local`` may be edited in place."""
    if path and rules.keep_local(path):
        return local
    if original is MISSING and local is MISSING:
        return MISSING if updated is MISSING else yamlio.clone(updated)
    if original is MISSING and updated is MISSING:
        return local
    if updated is MISSING:
        # Deleted upstream: the upstream deletion wins, but a mapping keeps what only the
        # local side added inside it (kyaml does the same).
        if isinstance(local, dict) and isinstance(original, dict):
            merged = _merge_map(local, original, CommentedMap(), rules, path)
            return merged if merged else MISSING
        return MISSING
    present = [v for v in (local, original, updated) if v is not MISSING]
    if all(isinstance(v, dict) for v in present):
        return _merge_map(local, original, updated, rules, path)
    key_of = rules.list_key(path)
    if key_of is not None and all(isinstance(v, list) for v in present):
        return _merge_list(local, original, updated, key_of, rules, path)
    if equal(original, updated):
        return local
    return yamlio.clone(updated)


def _insert_after(target: Any, order: list[Any], key: Any, value: Any) -> None:
    """Insert ``key`` after the nearest key that precedes it in ``order`` (upstream's)."""
    position = 0
    for previous in reversed(order[: order.index(key)]):
        if previous in target:
            position = list(target).index(previous) + 1
            break
    target.insert(position, key, value)


def _merge_map(local: Any, original: Any, updated: Any, rules: Rules, path: str) -> Any:
    target = local if isinstance(local, dict) else CommentedMap()
    before = original if isinstance(original, dict) else {}
    after = updated if isinstance(updated, dict) else {}
    for key in list(target):
        value = merge(
            target[key], before.get(key, MISSING), after.get(key, MISSING), rules, join(path, key)
        )
        if value is MISSING:
            del target[key]
        elif value is not target[key]:
            target[key] = value
    order = list(after)
    for key in order:
        if key in target:
            continue
        value = merge(MISSING, before.get(key, MISSING), after[key], rules, join(path, key))
        if value is not MISSING:
            _insert_after(target, order, key, value)
    if local is MISSING and not target:
        return MISSING
    return target


def _identities(items: Iterable[Any], key_of: KeyOf) -> list[Keyed | None]:
    """Each element's identity; a repeated identity gets its occurrence number."""
    seen: dict[Identity, int] = {}
    found: list[Keyed | None] = []
    for item in items:
        identity = key_of(item)
        if identity is None:
            found.append(None)
            continue
        count = seen.get(identity, 0)
        seen[identity] = count + 1
        found.append((identity, count))
    return found


def _unify(identities: Iterable[Keyed | None]) -> dict[Keyed, Keyed]:
    """Map an identity with missing key parts (``protocol`` left to its default) to the
    one complete identity it can only mean."""
    known = {i for i in identities if i is not None}
    mapping: dict[Keyed, Keyed] = {}
    for identity in known:
        parts, count = identity
        if None not in parts:
            continue
        candidates = [
            other
            for other in known
            if other != identity
            and other[1] == count
            and all(p is None or p == q for p, q in zip(parts, other[0], strict=True))
        ]
        if len(candidates) == 1:
            mapping[identity] = candidates[0]
    return mapping


def _merge_list(
    local: Any, original: Any, updated: Any, key_of: KeyOf, rules: Rules, path: str
) -> Any:
    target = local if isinstance(local, list) else CommentedSeq()
    before = original if isinstance(original, list) else []
    after = updated if isinstance(updated, list) else []
    ids = {
        "local": _identities(target, key_of),
        "original": _identities(before, key_of),
        "updated": _identities(after, key_of),
    }
    unified = _unify([i for side in ids.values() for i in side])
    for side, found in ids.items():
        ids[side] = [unified.get(i, i) if i is not None else None for i in found]
    old = {i: item for i, item in zip(ids["original"], before, strict=True) if i is not None}
    new = {i: item for i, item in zip(ids["updated"], after, strict=True) if i is not None}

    result: list[Any] = []
    for identity, item in zip(ids["local"], target, strict=True):
        if identity is None:
            result.append(item)
            continue
        was, now = old.get(identity, MISSING), new.get(identity, MISSING)
        if was is not MISSING and now is MISSING:
            continue  # deleted upstream: gone, even if changed locally
        value = merge(item, was, now, rules, path)
        if value is not MISSING:
            result.append(value)
    kept = set(ids["local"])
    for identity, item in zip(ids["updated"], after, strict=True):
        if identity is None or identity in kept:
            continue
        was = old.get(identity, MISSING)
        if was is not MISSING and equal(was, item):
            continue  # deleted locally and unchanged upstream: stays deleted
        result.append(yamlio.clone(item))

    if len(result) != len(target) or any(a is not b for a, b in zip(result, target, strict=False)):
        del target[:]
        target.extend(result)
    if local is MISSING and not target:
        return MISSING
    return target
