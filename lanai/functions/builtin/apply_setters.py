"""apply-setters: fill in fields marked with ``# kpt-set: <pattern>`` line comments.

Setters keep a package valid YAML while still parameterised: the value stays in place and
the comment says how to recompute it. As in the catalog, a field is only touched when its
pattern names at least one setter the config gives; other setters of the pattern are
read back from the current value (``nginx:${tag}`` on ``nginx:1.16``) and only if that
fails is the render stopped for a missing value. A list is set by a whole ``${name}``
whose value is a YAML list (an empty value empties it, written ``[]``). A new scalar keeps
the field's quoting and reads as YAML makes of it. Results show each field set, with
values that look like credentials redacted and long ones cut short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from lanai.functions.builtin import krm, kyaml, sdk, search_replace
from lanai.kpt import fnapi

MARKER = "kpt-set: "
_SETTER = re.compile(r"\$\{([^}]*)\}")


class _Failure(Exception):
    pass


@dataclass
class _Run:
    setters: dict[str, str]
    results: list[dict[str, Any]] = field(default_factory=list)


def read_config(config: Any) -> dict[str, str]:
    """Setter names and values: the config's ``data`` (its kind is not checked)."""
    data = config.get("data") if isinstance(config, dict) else None
    if not isinstance(data, dict):
        return {}
    return {
        sdk.scalar_text(k): sdk.scalar_text(v)
        for k, v in data.items()
        if not isinstance(v, dict | list)
    }


def run(resource_list: CommentedMap) -> None:
    state = _Run(read_config(krm.function_config(resource_list)))
    try:
        for resource in krm.items(resource_list):
            path, _ = kyaml.file_annotations(resource)
            _walk(resource, "", state, resource, path)
    except _Failure as error:
        failure = kyaml.result(f"failed to apply setters: {error}", "error")
        resource_list["results"] = CommentedSeq([failure])
        raise fnapi.FunctionError(
            message=str(error), stderr=str(error), exit_code=1, results=[failure]
        ) from error
    resource_list["results"] = CommentedSeq(
        state.results or [kyaml.result("no matches for input setter(s)")]
    )


def _walk(node: Any, path: str, state: _Run, resource: Any, file_path: str) -> None:
    """Visit lists (at their map) before scalars, as the catalog does; only fields that
    carry a line comment can hold a setter, so the others cost one lookup."""
    if isinstance(node, dict):
        ca = getattr(node, "ca", None)
        commented = ca.items if ca is not None else {}
        if commented:
            for key, value in krm.pairs(node):
                if isinstance(value, list) and key in commented:
                    child_path = f"{path}.{sdk.scalar_text(key)}"
                    _set_list(node, key, child_path, state, resource, file_path)
        for key, value in krm.pairs(node):
            if isinstance(value, dict | list):
                _walk(value, f"{path}.{sdk.scalar_text(key)}", state, resource, file_path)
            elif key in commented:
                child_path = f"{path}.{sdk.scalar_text(key)}"
                _set_scalar(node, key, child_path, state, resource, file_path)
    elif isinstance(node, list):
        ca = getattr(node, "ca", None)
        commented = ca.items if ca is not None else {}
        for index, value in enumerate(node):
            if isinstance(value, dict | list):
                _walk(value, f"{path}[{index}]", state, resource, file_path)
            elif index in commented:
                _set_scalar(node, index, f"{path}[{index}]", state, resource, file_path)


def _pattern(parent: Any, key: Any) -> str:
    comment = krm.line_comment(parent, key)
    if comment is None or not comment.startswith(MARKER):
        return ""
    return comment[len(MARKER) :].strip()


def _wanted(pattern: str, setters: dict[str, str]) -> bool:
    return any(f"${{{name}}}" in pattern for name in setters)


def _set_scalar(
    parent: Any, key: Any, path: str, state: _Run, resource: Any, file_path: str
) -> None:
    pattern = _pattern(parent, key)
    if not pattern or not _wanted(pattern, state.setters):
        return
    current = parent[key]
    current_text = "" if current is None else sdk.scalar_text(current)
    value = pattern
    for name, given in state.setters.items():
        value = value.replace(f"${{{name}}}", given)
    for name, derived in derive(pattern, current_text).items():
        value = value.replace(f"${{{name}}}", derived)
    unresolved = _SETTER.findall(value)
    if unresolved:
        names = " ".join(f"${{{n}}}" for n in unresolved)
        raise _Failure(f"values for setters [{names}] must be provided")
    if value == "":
        sdk.put(parent, key, DoubleQuotedScalarString(""))
    else:
        sdk.put(parent, key, search_replace.put_value(current, value))
    state.results.append(
        _result(path.removeprefix("."), current_text, value, pattern, resource, file_path)
    )


def derive(pattern: str, value: str) -> dict[str, str]:
    """Setter values read back from the current value by the pattern; all or nothing."""
    names = _SETTER.findall(pattern)
    regex = re.escape(pattern)
    for name in names:
        regex = regex.replace(re.escape(f"${{{name}}}"), "(.*)")
    try:
        found = re.search(regex, value)
    except re.error:
        return {}
    if found is None or len(found.groups()) != len(names):
        return {}
    if any(group == "" for group in found.groups()):
        return {}
    return {name.strip(): group for name, group in zip(names, found.groups(), strict=True)}


def _set_list(parent: Any, key: Any, path: str, state: _Run, resource: Any, file_path: str) -> None:
    current = parent[key]
    pattern = _pattern(parent, key)
    if not pattern or not _wanted(pattern, state.setters):
        return
    names = _SETTER.findall(pattern)
    if len(names) != 1 or not (pattern.startswith("${") and pattern.endswith("}")):
        raise _Failure(f"invalid setter pattern for array node: {sdk.go_quote(pattern)}")
    given = state.setters.get(names[0].strip(), "")
    before = "".join(f"- {search_replace.yaml_text(v, None)}\n" for v in current)
    if given == "":
        replaced: Any = CommentedSeq()
        replaced.fa.set_flow_style()
    else:
        items = _yaml_list(given)
        if items is None:
            raise _Failure(
                f"input to array setter must be an array of values, but found {sdk.go_quote(given)}"
            )
        replaced = items
    sdk.put(parent, key, replaced)
    if given == "" and isinstance(parent, CommentedMap):
        parent.ca.items.pop(key, None)  # the comment now follows `[]` on the key's line
    krm.set_line_comment(parent, key, f"{MARKER}{pattern}")
    shown_path = path.removeprefix(".")
    state.results.append(_result(shown_path, before, given, pattern, resource, file_path))


def _yaml_list(text: str) -> CommentedSeq | None:
    try:
        loaded = YAML().load(text)
    except YAMLError:
        return None
    if not isinstance(loaded, list):
        return None
    items = CommentedSeq(loaded)
    items.fa.set_block_style()
    return items


def _result(
    path: str, current: str, proposed: str, pattern: str, resource: Any, file_path: str
) -> dict[str, Any]:
    shown_current = sanitize(current, path, pattern)
    shown = sanitize(proposed, path, pattern)
    found: dict[str, Any] = {
        "message": f"set field value to {sdk.go_quote(shown)}",
        "severity": "info",
    }
    ref = {
        "apiVersion": sdk.text(resource, "apiVersion"),
        "kind": sdk.text(resource, "kind"),
        "name": sdk.metadata_text(resource, "name"),
        "namespace": sdk.metadata_text(resource, "namespace"),
    }
    ref = {k: v for k, v in ref.items() if v}
    if ref:
        found["resourceRef"] = ref
    details = {"path": path}
    if shown_current:
        details["currentValue"] = shown_current
    if shown:
        details["proposedValue"] = shown
    found["field"] = details
    found["file"] = {"path": file_path} if file_path else {}
    return found


# -- keeping credentials out of results -----------------------------------------------------

MAX_SHOWN = 128
REDACTED = "<redacted>"
_SENSITIVE = (
    "password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "credential",
    "privatekey", "private_key", "cert", "certificate", "bearer", "auth",
)  # fmt: skip
_SENSITIVE_WORD = re.compile("|".join(re.escape(word) for word in _SENSITIVE))
_SECRET_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"-----BEGIN [A-Z ]+-----",
        r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
        r"(?:ghp|gho|ghu|ghs)_[0-9a-zA-Z]{36}",
        r"github_pat_\w{82}",
        r"glpat-[\w-]{20}",
        r"AIza[\w-]{35}",
        r"sk-[A-Za-z0-9]{20,}",
        r"xox[baprs]-[A-Za-z0-9-]+",
        r"(?i)\b(?:postgres(?:ql)?|mysql|redis|amqp|mongodb(?:\+srv)?)://[^\s/:@]+:[^\s@]+@",
        r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]{10,}",
        r"(?i)\bBasic\s+[A-Za-z0-9+/=]{8,}",
    )
)


def sanitize(value: str, path: str, pattern: str) -> str:
    """A value safe to show in a result: redacted if it looks like a credential (or the
    field or setter is named like one), cut to 128 characters otherwise."""
    names = [n.strip().lower() for n in _SETTER.findall(pattern)]
    if any(_SENSITIVE_WORD.search(part) for part in (path.lower(), *names)):
        return REDACTED
    if value and (any(p.search(value) for p in _SECRET_PATTERNS) or _base64_like(value)):
        return REDACTED
    if len(value) <= MAX_SHOWN:
        return value
    return f"{value[:MAX_SHOWN]}... (truncated {len(value) - MAX_SHOWN} chars)"


def _base64_like(value: str) -> bool:
    if len(value) < 40 or not re.fullmatch(r"[A-Za-z0-9+/=]+", value):
        return False
    kinds = (
        any(c.isupper() for c in value),
        any(c.islower() for c in value),
        any(c.isdigit() for c in value),
        any(c in "+/=" for c in value),
    )
    return sum(kinds) >= 2
