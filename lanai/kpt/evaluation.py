"""``kpt fn eval``: one function over a package's resources, outside any pipeline.

It sits beside render, over the same tree and runtime contract, so ``lanai fn eval`` can
run it where renders run (a function worker, see ``lanai.functions.box``) rather than in
the process that talks to the user. The Kptfile is not shown to the function, as in kpt.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from lanai.kpt import fnapi, kptfile, kptoutput, package, render, resourcelist, yamlio


@dataclass(frozen=True)
class Evaluated:
    """What one function did: the new tree when ``ok``, else the error."""

    ok: bool
    tree: package.PackageTree
    results: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""
    error: str = ""
    output: str = ""
    """For resources read from a pipe: the ResourceList kpt writes back (when ``ok``)."""
    log: str = ""
    """For resources read from a pipe: kpt's ``[RUNNING]``/``[PASS]`` lines."""
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


def evaluate(
    tree: package.PackageTree,
    fn: fnapi.FunctionRef,
    config: Mapping[str, str] | None,
    runtime: fnapi.FunctionRuntime,
) -> Evaluated:
    """Run ``fn`` over every resource of ``tree`` but the Kptfiles; never raises for a
    failing function or bad resources (see ``Evaluated.ok``)."""
    files = [
        f for f in package.all_resource_files(tree) if PurePosixPath(f).name != kptfile.KPTFILE
    ]
    try:
        items = resourcelist.read_resources(tree, files)
        before = {
            resourcelist.resource_id(item): (
                resourcelist.resource_path(item),
                str(resourcelist.resource_index(item)),
            )
            for item in items
        }
        copies = [yamlio.clone(item) for item in items]
        request = resourcelist.build(copies, function_config(config))
        output = runtime.evaluate(fn, request)
        produced = resourcelist.items_of(output.resource_list)
        resourcelist.restore_comments(items, produced)
        for item in produced:
            path, index = before.get(resourcelist.resource_id(item), (None, None))
            resourcelist.reconcile_location(item, path, index)
        updated = resourcelist.write_resources(tree, produced, owned_files=files)
    except fnapi.FunctionError as error:
        return Evaluated(
            ok=False, tree=tree, results=error.results, stderr=error.stderr, error=error.message
        )
    except resourcelist.ResourceError as error:
        return Evaluated(ok=False, tree=tree, error=str(error))
    return Evaluated(
        ok=True,
        tree=updated,
        results=resourcelist.results_of(output.resource_list),
        stderr=output.stderr,
    )


def evaluate_text(
    text: str,
    fn: fnapi.FunctionRef,
    config: Mapping[str, str] | None,
    runtime: fnapi.FunctionRuntime,
) -> Evaluated:
    """``kpt fn eval -``: ``fn`` over the resources of ``text`` (a ResourceList, as
    ``kpt fn render -o stdout`` writes one, or a YAML stream); never raises.

    As kpt's function filter does, a resource keeps its comments through the function
    and its head comment settles onto it, and one the function made gets a path."""
    name = fn.display
    log = [f"[RUNNING] {render.quoted(name)}\n"]
    started = time.monotonic()

    def failed(
        message: str,
        results: list[dict[str, Any]],
        stderr: str,
        code: int,
        *,
        exited: bool = False,
    ) -> Evaluated:
        """kpt's lines for a failure; a function that exited non-zero (``exited``) is
        reported by them alone (no closing ``Error:``, ``error`` left empty)."""
        took = render.go_duration(time.monotonic() - started)
        log.append(f"[FAIL] {render.quoted(name)} in {took}\n")
        if results:
            log.append(render.one_line("[Results]", [render.result_text(r) for r in results]))
            log.append("\n")
        if stderr:
            log.append(" " + render.one_line("Stderr", stderr.split("\n")))
        if exited:
            log.append(f"  Exit code: {code}\n\n")
        return Evaluated(
            ok=False,
            tree={},
            results=results,
            stderr=stderr,
            error="" if exited else message,
            log="".join(log),
            exit_code=code,
        )

    try:
        listed = kptoutput.read(text)
    except kptoutput.OutputError as error:
        return failed(f"cannot read the input: {error}", [], "", 1)
    problem = render.check_krm(listed.items, lambda item: resourcelist.resource_path(item) or "")
    if problem:
        return failed(f"input resource list must contain only KRM resources: {problem}", [], "", 1)
    sent = []
    for number, item in enumerate(listed.items):
        copy = yamlio.clone(item)
        _annotation(copy, resourcelist.ID, str(number))
        sent.append(copy)
    inputs = {str(number): item for number, item in enumerate(listed.items)}
    request = resourcelist.build(sent, function_config(config))
    try:
        output = runtime.evaluate(fn, request)
        produced = resourcelist.items_of(output.resource_list)
    except fnapi.FunctionNotFound as error:
        return failed(error.message, [], "", 1)
    except fnapi.FunctionLimitExceeded as error:
        return failed(error.message, render.kpt_results(error.results), error.stderr, 1)
    except fnapi.FunctionError as error:
        results = render.kpt_results(error.results)
        code = error.exit_code or 1
        return failed(error.message, results, error.stderr, code, exited=True)
    except resourcelist.ResourceError as error:
        return failed(str(error), [], "", 1)
    results = render.kpt_results(resourcelist.results_of(output.resource_list))
    if output.exit_code != 0:
        detail = output.stderr.strip() or f"exit code {output.exit_code}"
        return failed(detail, results, output.stderr, output.exit_code, exited=True)
    resourcelist.restore_comments(sent, produced)
    for item in produced:
        key = resourcelist.resource_id(item)
        if key in inputs:
            resourcelist.settle_head_comment(item)
        _drop_annotation(item, resourcelist.ID)
        _drop_annotation(item, resourcelist.LEGACY_ID)
        if resourcelist.resource_path(item) is None:
            path = resourcelist.default_path(item)
            _annotation(item, resourcelist.PATH, path)
            _annotation(item, resourcelist.LEGACY_PATH, path)
    problem = render.check_krm(produced, lambda item: resourcelist.resource_path(item) or "")
    if problem:
        message = f"output resource list must contain only KRM resources: {problem}"
        return failed(message, results, output.stderr, 1)
    took = render.go_duration(time.monotonic() - started)
    log.append(f"[PASS] {render.quoted(name)} in {took}\n")
    if results:
        log.append(render.one_line("[Results]", [render.result_text(r) for r in results]) + "\n")
    if output.stderr:
        log.append(" " + render.one_line("Stderr", output.stderr.split("\n")))
    return Evaluated(
        ok=True,
        tree={},
        results=results,
        stderr=output.stderr,
        output=kptoutput.wrap(produced),
        log="".join(log),
    )


def _annotation(item: CommentedMap, key: str, value: str) -> None:
    metadata = item.get("metadata")
    if not isinstance(metadata, CommentedMap):
        metadata = CommentedMap()
        item["metadata"] = metadata
    annotations = metadata.get("annotations")
    if not isinstance(annotations, CommentedMap):
        annotations = CommentedMap()
        metadata["annotations"] = annotations
    annotations[key] = SingleQuotedScalarString(value)


def _drop_annotation(item: CommentedMap, key: str) -> None:
    metadata = item.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if isinstance(annotations, dict):
        annotations.pop(key, None)
        if not annotations:
            del metadata["annotations"]
