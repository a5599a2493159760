"""``kpt fn eval``: one function over a package's resources, outside any pipeline.

It sits beside render, over the same tree and runtime contract, so ``lanai fn eval`` can
run it where renders run (a function worker, see ``lanai.functions.box``) rather than in
the process that talks to the user. As in kpt, the function sees every resource of the
package and its subpackages (Kptfiles included), or those of the ResourceList read from
a pipe (``fn eval -``); the log is kpt's (``[RUNNING]``, ``[PASS]``, ``[Results]``), and a
resource keeps its comments through the function, its head comment settling onto it as
kpt's function filter settles it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.kpt import fnapi, kptoutput, package, render, resourcelist, yamlio


@dataclass(frozen=True)
class Evaluated:
    """What one function did: the new tree when ``ok``, else the error."""

    ok: bool
    tree: package.PackageTree
    results: list[dict[str, Any]] = field(default_factory=list)
    """The function's results as kpt records them."""
    stderr: str = ""
    error: str = ""
    """kpt's closing ``Error:`` text; empty when the log already says it all (a function
    that exited non-zero)."""
    output: str = ""
    """For resources read from a pipe: the ResourceList kpt writes back (when ``ok``)."""
    log: str = ""
    """kpt's ``[RUNNING]``/``[PASS]``/``[FAIL]`` lines."""
    exit_code: int = 0


def function_config(data: Mapping[str, str] | None) -> CommentedMap | None:
    """A ConfigMap ``function-input`` holding ``data`` (kpt's ``-- KEY=VALUE``)."""
    if not data:
        return None
    config = CommentedMap()
    config["apiVersion"] = "v1"
    config["kind"] = "ConfigMap"
    config["metadata"] = CommentedMap(name=render.FUNCTION_INPUT)
    config["data"] = CommentedMap((str(k), str(v)) for k, v in data.items())
    return config


@dataclass
class _Applied:
    """One function over some resources: what it made of them, or why not."""

    produced: list[CommentedMap] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""
    error: str = ""
    log: list[str] = field(default_factory=list)
    exit_code: int = 0
    ok: bool = True


def _apply(
    items: list[CommentedMap],
    fn: fnapi.FunctionRef,
    config: Mapping[str, str] | None,
    runtime: fnapi.FunctionRuntime,
    shown: str,
) -> _Applied:
    """``fn`` over copies of ``items`` (each given an id for the way back), logged as kpt
    logs it under the name ``shown``; never raises."""
    applied = _Applied(log=[f"[RUNNING] {render.quoted(shown)}\n"])
    started = time.monotonic()

    def failed(message: str, code: int = 1, *, exited: bool = False) -> _Applied:
        _log_outcome(applied, "FAIL", shown, started, applied.stderr)
        if exited:  # reported by these lines alone, as kpt reports it
            applied.log.append(f"  Exit code: {code}\n\n")
        applied.ok = False
        applied.error = "" if exited else message
        applied.exit_code = code
        return applied

    def where(item: CommentedMap) -> str:
        return resourcelist.resource_path(item) or ""

    problem = render.check_krm(items, where)
    if problem:
        return failed(f"input resource list must contain only KRM resources: {problem}")
    sent = []
    for number, item in enumerate(items):
        copy = yamlio.clone(item)
        kptoutput.annotate(copy, resourcelist.ID, str(number))
        sent.append(copy)
    request = resourcelist.build(sent, function_config(config))
    try:
        output = runtime.evaluate(fn, request)
        produced = resourcelist.items_of(output.resource_list)
    except (fnapi.FunctionNotFound, fnapi.FunctionLimitExceeded) as error:
        applied.results = render.kpt_results(error.results)
        return failed(error.message)
    except fnapi.FunctionError as error:
        applied.results = render.kpt_results(error.results)
        applied.stderr = error.stderr
        return failed(error.message, error.exit_code or 1, exited=True)
    except resourcelist.ResourceError as error:
        return failed(str(error))
    applied.results = render.kpt_results(resourcelist.results_of(output.resource_list))
    applied.stderr = output.stderr
    if output.exit_code != 0:
        detail = output.stderr.strip() or f"exit code {output.exit_code}"
        return failed(detail, output.exit_code, exited=True)
    resourcelist.restore_comments(sent, produced)
    for item in produced:
        key = resourcelist.resource_id(item)
        if key is not None and key.isdigit() and int(key) < len(items):
            resourcelist.settle_head_comment(item)
            original = items[int(key)]
            index = resourcelist.resource_index(original)
            resourcelist.reconcile_location(
                item, resourcelist.resource_path(original), None if index is None else str(index)
            )
        _drop(item, resourcelist.ID)
        _drop(item, resourcelist.LEGACY_ID)
        if resourcelist.resource_path(item) is None:
            path = resourcelist.default_path(item)
            kptoutput.annotate(item, resourcelist.PATH, path)
            kptoutput.annotate(item, resourcelist.LEGACY_PATH, path)
    problem = render.check_krm(produced, where)
    if problem:
        return failed(f"output resource list must contain only KRM resources: {problem}")
    _log_outcome(applied, "PASS", shown, started, output.stderr)
    applied.produced = produced
    return applied


def _log_outcome(applied: _Applied, verdict: str, shown: str, started: float, stderr: str) -> None:
    """kpt's closing lines for one function: the verdict and time, its results, its stderr."""
    took = render.go_duration(time.monotonic() - started)
    applied.log.append(f"[{verdict}] {render.quoted(shown)} in {took}\n")
    if applied.results:
        lines = [render.result_text(r) for r in applied.results]
        applied.log.append(render.one_line("[Results]", lines) + "\n")
    if stderr:
        applied.log.append(" " + render.one_line("Stderr", stderr.split("\n")))


def evaluate(
    tree: package.PackageTree,
    fn: fnapi.FunctionRef,
    config: Mapping[str, str] | None,
    runtime: fnapi.FunctionRuntime,
    shown: str | None = None,
) -> Evaluated:
    """Run ``fn`` over every resource of ``tree`` (Kptfiles included) and write what it
    returns back into the files; never raises for a failing function or bad resources
    (see ``Evaluated.ok``). ``shown`` is the name kpt's log gives the function."""
    files = package.all_resource_files(tree)
    try:
        items = resourcelist.read_resources(tree, files)
    except resourcelist.ResourceError as error:
        return Evaluated(ok=False, tree=tree, error=str(error), exit_code=1)
    for item in items:
        _drop(item, resourcelist.ID)  # the ids _apply gives are the ones to follow
    applied = _apply(items, fn, config, runtime, shown or fn.display)
    if applied.ok:
        try:
            updated = resourcelist.write_resources(tree, applied.produced, owned_files=files)
        except resourcelist.ResourceError as error:
            applied.ok, applied.error, applied.exit_code = False, str(error), 1
    return Evaluated(
        ok=applied.ok,
        tree=updated if applied.ok else tree,
        results=applied.results,
        stderr=applied.stderr,
        error=applied.error,
        log="".join(applied.log),
        exit_code=applied.exit_code,
    )


def evaluate_text(
    text: str,
    fn: fnapi.FunctionRef,
    config: Mapping[str, str] | None,
    runtime: fnapi.FunctionRuntime,
    shown: str | None = None,
) -> Evaluated:
    """``kpt fn eval -``: ``fn`` over the resources of ``text`` (a ResourceList, as
    ``kpt fn render -o stdout`` writes one, or a YAML stream); never raises. A resource
    the function made gets a path, as kpt's function filter gives one."""
    name = shown or fn.display
    try:
        listed = kptoutput.read(text)
    except kptoutput.OutputError as error:
        message = f"cannot read the input: {error}"
        return Evaluated(ok=False, tree={}, error=message, exit_code=1)
    applied = _apply(listed.items, fn, config, runtime, name)
    return Evaluated(
        ok=applied.ok,
        tree={},
        results=applied.results,
        stderr=applied.stderr,
        error=applied.error,
        output=kptoutput.wrap(applied.produced) if applied.ok else "",
        log="".join(applied.log),
        exit_code=applied.exit_code,
    )


def _drop(item: CommentedMap, key: str) -> None:
    metadata = item.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if isinstance(annotations, dict):
        annotations.pop(key, None)
        if not annotations:
            del metadata["annotations"]
