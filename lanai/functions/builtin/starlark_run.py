"""starlark: run a user's Starlark script over the ResourceList, in process and fenced.

Starlark is hermetic by design: no files, no network, no clock, no imports except the
catalog's libraries (:mod:`starlark_modules`). What the host must still bound is time,
so evaluation is cancelled at a deadline, and the call stack depth. The environment the
script sees (``ctx.environment``) is empty: the operator's own variables are not the
script's business.

The catalog function hands the script plain maps and writes back whatever the script
left, re-marshalled by Go's yaml (keys sorted, strings requoted, block style); kpt then
restores the comments and the field order of every resource that came in. Editing the
input maps in place gives that same result: a kept key keeps its place and comments, a
new key follows the kept ones in Marshal's order, every value is written as Marshal
writes it. Errors read as the catalog's do (``name:line:col: message`` for syntax,
the evaluation error's own text otherwise); ``print`` goes to stderr.
"""

from __future__ import annotations

import datetime
import re
import threading
import time
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from lanai.functions.builtin import gomarshal, krm, sdk, starlark_modules
from lanai.kpt import fnapi, yamlio
from lanai.trust import limits

DEFAULT_TIMEOUT = 30.0
MAX_CALLSTACK = 200
DEFAULT_NAME = "starlark-function-run"
_ID_ANNOTATIONS = ("internal.config.kubernetes.io/id", "config.k8s.io/id")

_PRELUDE = """\
ctx = struct(resource_list = _resource_list, environment = {}, open_api = {})
def print(*args, sep = " "):
    _emit(sep.join([a if type(a) == "string" else repr(a) for a in args]))
"""


class ScriptError(Exception):
    """The configuration or the script failed; the message is the catalog's result."""


def read_config(config: Any) -> tuple[str, str]:
    """(program name, source) from a ``StarlarkRun`` or a ConfigMap's ``data.source``."""
    if sdk.is_empty(config):
        raise ScriptError("FunctionConfig is missing. Expect `ConfigMap` or `StarlarkRun`")
    if sdk.is_gvk(config, "", "v1", "ConfigMap"):
        data = config.get("data")
        if data is not None and (
            not isinstance(data, dict) or any(not isinstance(v, str | None) for v in data.values())
        ):
            raise ScriptError(
                "unable to convert object to *v1.ConfigMap with error: json: cannot "
                "unmarshal into Go struct field ConfigMap.data of type string"
            )
        source = (data or {}).get("source") or ""
    elif sdk.is_gvk(config, sdk.FUNCTION_GROUP, "v1alpha1", "StarlarkRun"):
        source = config.get("source")
        if source is not None and not isinstance(source, str):
            raise ScriptError(
                "unable to convert object to *starlark.StarlarkRun with error: json: cannot "
                "unmarshal into Go struct field StarlarkRun.source of type string"
            )
        source = source or ""
    else:
        group, version = sdk.group_version(sdk.text(config, "apiVersion"))
        got = f"{group}/{version}, Kind={sdk.text(config, 'kind')}"
        raise ScriptError(
            "`functionConfig` must be either /v1, Kind=ConfigMap or "
            f"fn.kpt.dev/v1alpha1, Kind=StarlarkRun, but we got: {got}"
        )
    if not source:
        raise ScriptError("`source` must not be empty")
    return sdk.metadata_text(config, "name") or DEFAULT_NAME, source


def run(resource_list: CommentedMap, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Evaluate the script; return what it printed. Raise FunctionError on failure."""
    config = krm.function_config(resource_list)
    printed: list[str] = []
    try:
        name, source = read_config(config)
        result = evaluate(name, source, _plain_list(resource_list, config), printed, timeout)
        new_items = result.get("items") if isinstance(result, dict) else None
        if not isinstance(new_items, list):
            raise ScriptError('the script must leave a list in ctx.resource_list["items"]')
        merge_items(resource_list, new_items)
    except ScriptError as error:
        failure = sdk.result(str(error), "error")
        resource_list["results"] = CommentedSeq([failure])
        raise fnapi.FunctionError(
            message=str(error),
            stderr="\n".join([*printed, sdk.FAILURE_STDERR]),
            exit_code=1,
            results=[dict(failure)],
        ) from error
    sdk.sort_items(resource_list)
    return "\n".join(printed)


def _plain_list(resource_list: CommentedMap, config: Any) -> dict[str, Any]:
    return {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": [to_plain(item) for item in krm.items(resource_list)],
        "functionConfig": to_plain(config) if config is not None else {},
    }


def evaluate(
    name: str, source: str, plain: dict[str, Any], printed: list[str], timeout: float
) -> Any:
    """Run ``source`` with ``ctx.resource_list`` bound to ``plain``; return that value."""
    import starlark  # only when a pipeline runs Starlark: ~3 MiB resident otherwise

    lock = threading.Lock()

    def emit(line: str) -> None:
        with lock:
            printed.append(line)

    module = starlark.Module()
    module["_resource_list"] = plain
    module.add_callable("_emit", emit)
    library = _globals(starlark)
    dialect = starlark.Dialect.extended()
    deadline = time.monotonic() + timeout
    options = starlark.EvalOptions(
        check_cancelled=lambda: time.monotonic() > deadline, max_callstack_size=MAX_CALLSTACK
    )
    loader = starlark.FileLoader(lambda path: _load(starlark, library, path))
    try:
        starlark.eval(module, starlark.parse("prelude.star", _PRELUDE, dialect), library)
        ast = starlark.parse(name, source, dialect)
        starlark.eval_with(options, module, ast, library, loader)
    except starlark.StarlarkError as error:
        if time.monotonic() > deadline and "cancel" in str(error).lower():
            raise fnapi.FunctionLimitExceeded(  # the runtime names the function
                message=limits.time_exceeded("starlark", timeout),
                stderr="\n".join(printed),
                limit="time",
                amount=timeout,
            ) from error
        raise ScriptError(go_message(str(error))) from error
    context = module["ctx"]
    return context.get("resource_list") if isinstance(context, dict) else None


def _globals(starlark: Any) -> Any:
    return starlark.Globals.extended_by(
        [
            starlark.LibraryExtension.StructType,
            starlark.LibraryExtension.Map,
            starlark.LibraryExtension.Filter,
            starlark.LibraryExtension.Typing,
        ]
    )


def _load(starlark: Any, library: Any, path: str) -> Any:
    """The frozen module ``load(path)`` names; unknown and unoffered ones fail clearly."""
    found = starlark_modules.MODULES.get(path)
    if found is None:
        why = (
            "is not available in Lanai's builtin starlark"
            if path in starlark_modules.UNSUPPORTED
            else "is not a starlark library"
        )
        raise ValueError(f"cannot load {path}: the module {why}")
    symbol, members = found
    module = starlark.Module()
    fields = []
    for member, function in members.items():
        module.add_callable(f"_{member}", _guarded(function))
        fields.append(f"{member} = _{member}")
    if path == "math.star":
        for constant, value in starlark_modules.MATH_CONSTANTS.items():
            module[f"_{constant}"] = value
            fields.append(f"{constant} = _{constant}")
    code = f"{symbol} = struct({', '.join(fields)})\n"
    starlark.eval(module, starlark.parse(path, code, starlark.Dialect.extended()), library)
    return module.freeze()


def _guarded(function: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except starlark_modules.ModuleError as error:
            raise ValueError(str(error)) from None

    return call


# -- error messages ------------------------------------------------------------------------

_LOCATION = re.compile(r"^\s*--> (?P<file>.*):(?P<line>\d+):(?P<column>\d+)", re.MULTILINE)
_EXPRESSION_STARTS = ('"IDENTIFIER"', '"("', '"["', '"{"')
_TOKENS = {"new line": "newline", "end of file": "end of file", "indentation": "indent"}


def go_message(text: str) -> str:
    """The Go interpreter's wording for an error reported by the Rust one (as near as the
    two allow): syntax errors as ``name:line:col: message``, runtime errors bare."""
    lines = text.strip().splitlines()
    message = next(
        (line[len("error: ") :] for line in lines if line.startswith("error: ")),
        lines[-1] if lines else text,
    )
    location = _LOCATION.search(text)
    if message.startswith("Parse error: ") and location is not None:
        detail = _syntax(message[len("Parse error: ") :])
        return f"{location['file']}:{location['line']}:{location['column']}: {detail}"
    message = message.removeprefix("Traceback (most recent call last):").strip()
    return re.sub(r"^(?:ValueError|TypeError|KeyError): ", "", message)


def _syntax(detail: str) -> str:
    found = re.match(r"unexpected (.+?) here(?:, expected (.*))?$", detail)
    if found is None:
        return detail
    token = found[1].strip()
    token = _TOKENS.get(token, token.strip('"').join("''") if token.startswith('"') else token)
    expected = found[2] or ""
    if all(start in expected for start in _EXPRESSION_STARTS):
        return f"got {token}, want primary expression"
    return f"got {token}, want {expected}" if expected else f"got {token}"


# -- values in and out ---------------------------------------------------------------------


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


def merge(old: Any, new: Any) -> Any:
    """``new`` (plain) as Marshal writes it, edited into ``old`` where shapes agree so
    kept keys keep their place and comments (what kpt's comment copy and order sync do)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key in list(old.keys()):
            sdk.put(old, key, merge(old[key], new[key]))
        for key in gomarshal.sorted_keys(k for k in new if k not in old):
            old[key] = gomarshal.tree(new[key])
        if isinstance(old, CommentedMap):
            old.fa.set_block_style()
        return old
    if isinstance(old, list) and isinstance(new, list):
        for index, value in enumerate(new):
            if index < len(old):
                sdk.put(old, index, merge(old[index], value))
            else:
                old.append(gomarshal.tree(value))
        del old[len(new) :]
        if isinstance(old, CommentedSeq):
            old.fa.set_block_style()
        return old
    return gomarshal.tree(new)


def _id(item: Any) -> str | None:
    meta = item.get("metadata") if isinstance(item, dict) else None
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(notes, dict):
        return None
    return next((str(notes[k]) for k in _ID_ANNOTATIONS if notes.get(k) is not None), None)


def merge_items(resource_list: CommentedMap, new_items: list[Any]) -> None:
    """Replace the list's items by ``new_items``, reusing the input maps with the same
    id (kpt pairs function output with input by that annotation alone)."""
    by_id: dict[str, CommentedMap] = {}
    for item in krm.items(resource_list):
        found = _id(item)
        if found is not None:
            by_id.setdefault(found, item)
    used: set[int] = set()
    merged: list[Any] = []
    for index, new in enumerate(new_items):
        if not isinstance(new, dict):
            raise ScriptError(
                f"failed to extract objects: items[{index}] left by the script is not a map"
            )
        old = by_id.get(_id(new) or "")
        if old is None:
            merged.append(gomarshal.tree(new))
            continue
        if id(old) in used:  # the script copied a resource: both copies follow the input
            old = yamlio.clone(old)
        used.add(id(old))
        merged.append(merge(old, new))
    target = resource_list.get("items")
    if not isinstance(target, list):
        resource_list["items"] = CommentedSeq(merged)
        return
    del target[:]
    target.extend(merged)
