"""starlark: run a user's Starlark script over the ResourceList, in process and fenced.

Starlark is hermetic by design: no files, no network, no clock, no imports unless the
host provides a loader (we provide none). What the host must still bound is time, so
evaluation is cancelled at a deadline, and the call stack depth. The script sees
``ctx.resource_list`` as plain dicts and lists; what it leaves there is merged back into
the original round-trip maps so comments and field order survive wherever the script
did not change the value. ``print`` output becomes the function's stderr.
"""

from __future__ import annotations

import datetime
import re
import threading
import time
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from lanai.functions.builtin import krm
from lanai.kpt import fnapi
from lanai.trust import limits

DEFAULT_TIMEOUT = 30.0
MAX_CALLSTACK = 200
_ID_ANNOTATION = "internal.config.kubernetes.io/id"

_PRELUDE = "ctx = struct(resource_list = _resource_list, environment = {}, open_api = {})\n"


def read_config(config: CommentedMap | None) -> tuple[str, Any]:
    if config is None:
        raise krm.fail("functionConfig must be a `StarlarkRun` or a `ConfigMap`")
    if krm.is_kind(config, "StarlarkRun"):
        source, params = config.get("source"), config.get("params")
    elif krm.is_kind(config, "ConfigMap", ""):
        data = config.get("data") or {}
        source, params = (data.get("source") if isinstance(data, dict) else None), None
    else:
        raise krm.fail("functionConfig must be a `StarlarkRun` or a `ConfigMap`")
    if not source or not str(source).strip():
        raise krm.fail("`source` must not be empty")
    return str(source), params


def run(resource_list: CommentedMap, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Evaluate the script; return what it printed. Raise FunctionError on failure."""
    config = krm.function_config(resource_list)
    source, _ = read_config(config)
    name = krm.name(config) if config is not None else "main"
    plain = {
        "items": [to_plain(item) for item in krm.items(resource_list)],
        "functionConfig": to_plain(config),
    }
    import starlark  # only when a pipeline runs Starlark: ~3 MiB resident otherwise

    printed: list[str] = []
    module = starlark.Module()
    module["_resource_list"] = plain
    module.add_callable("print", _printer(printed))
    library = starlark.Globals.extended_by(
        [
            starlark.LibraryExtension.StructType,
            starlark.LibraryExtension.Json,
            starlark.LibraryExtension.Map,
            starlark.LibraryExtension.Filter,
            starlark.LibraryExtension.Typing,
        ]
    )
    dialect = starlark.Dialect.extended()
    deadline = time.monotonic() + timeout
    options = starlark.EvalOptions(
        check_cancelled=lambda: time.monotonic() > deadline, max_callstack_size=MAX_CALLSTACK
    )
    try:
        starlark.eval(module, starlark.parse("prelude.star", _PRELUDE, dialect), library)
        ast = starlark.parse(f"{name or 'main'}.star", source, dialect)
        starlark.eval_with(options, module, ast, library)
    except starlark.StarlarkError as error:
        stderr = "\n".join([*printed, str(error)])
        if time.monotonic() > deadline and "cancelled" in str(error).lower():
            raise fnapi.FunctionLimitExceeded(
                message=limits.time_exceeded("starlark", timeout),
                stderr="\n".join(printed),
                limit="time",
                amount=timeout,
            ) from error
        raise _script_error(str(error), stderr) from error
    context = module["ctx"]
    result = context.get("resource_list") if isinstance(context, dict) else None
    new_items = result.get("items") if isinstance(result, dict) else None
    if not isinstance(new_items, list):
        raise krm.fail('the script must leave a list in ctx.resource_list["items"]')
    merge_items(resource_list, new_items)
    return "\n".join(printed)


def _printer(printed: list[str]) -> Any:
    lock = threading.Lock()

    def emit(*args: Any, **_: Any) -> None:
        with lock:
            printed.append(" ".join(str(a) for a in args))

    return emit


def _script_error(text: str, stderr: str) -> Exception:
    found = re.search(r"^error: (.*)$", text, re.MULTILINE)
    message = found.group(1).strip() if found else text.strip().splitlines()[-1]
    error = krm.fail(message)
    error.stderr = stderr
    return error


def to_plain(node: Any) -> Any:
    """Round-trip YAML values → plain dict/list/str/int/float/bool/None."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, datetime.date):
        return node.isoformat()
    return str(node)


def to_yaml(node: Any) -> Any:
    """Plain values → round-trip maps and lists."""
    if isinstance(node, dict):
        mapping = CommentedMap()
        for key, value in node.items():
            mapping[key] = to_yaml(value)
        return mapping
    if isinstance(node, list | tuple):
        return CommentedSeq(to_yaml(v) for v in node)
    return node


def _same_scalar(old: Any, new: Any) -> bool:
    return (
        not isinstance(old, dict | list)
        and to_plain(old) == new
        and (isinstance(old, bool) == isinstance(new, bool))
    )


def merge(old: Any, new: Any) -> Any:
    """``new`` expressed by editing ``old`` in place where the shapes agree."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            if key in old and (_same_scalar(old[key], value) or isinstance(old[key], dict | list)):
                if isinstance(old[key], dict | list):
                    old[key] = merge(old[key], value)
                continue
            old[key] = to_yaml(value)
        return old
    if isinstance(old, list) and isinstance(new, list):
        for index, value in enumerate(new):
            if index < len(old):
                if not _same_scalar(old[index], value):
                    old[index] = (
                        merge(old[index], value)
                        if isinstance(old[index], dict | list)
                        else to_yaml(value)
                    )
            else:
                old.append(to_yaml(value))
        del old[len(new) :]
        return old
    if _same_scalar(old, new):
        return old
    return to_yaml(new)


def _identity(item: Any) -> tuple[str, ...]:
    if not isinstance(item, dict):
        return ()
    meta = item.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    notes = meta.get("annotations")
    notes = notes if isinstance(notes, dict) else {}
    if notes.get(_ID_ANNOTATION):
        return ("id", str(notes[_ID_ANNOTATION]))
    return (
        str(item.get("apiVersion")),
        str(item.get("kind")),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


def merge_items(resource_list: CommentedMap, new_items: list[Any]) -> None:
    """Replace the list's items by ``new_items``, reusing the input maps they came from."""
    old_items = list(krm.items(resource_list))
    by_identity: dict[tuple[str, ...], CommentedMap] = {}
    for item in old_items:
        by_identity.setdefault(_identity(item), item)
    used: set[int] = set()
    merged: list[Any] = []
    for index, new in enumerate(new_items):
        if not isinstance(new, dict):
            raise krm.fail(f"items[{index}] left by the script is not a map")
        old = by_identity.get(_identity(new))
        if old is None or id(old) in used:
            candidate = old_items[index] if index < len(old_items) else None
            same_kind = candidate is not None and candidate.get("kind") == new.get("kind")
            old = candidate if same_kind and id(candidate) not in used else None
        if old is None:
            merged.append(to_yaml(new))
            continue
        used.add(id(old))
        merged.append(merge(old, new))
    target = resource_list.get("items")
    if not isinstance(target, list):
        resource_list["items"] = CommentedSeq(merged)
        return
    del target[:]
    target.extend(merged)
