"""``kpt fn eval``: one function over a package's resources, outside any pipeline.

It sits beside render, over the same tree and runtime contract, so ``lanai fn eval`` can
run it where renders run (a function worker, see ``lanai.functions.box``) rather than in
the process that talks to the user. The Kptfile is not shown to the function, as in kpt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.kpt import fnapi, kptfile, package, render, resourcelist, yamlio


@dataclass(frozen=True)
class Evaluated:
    """What one function did: the new tree when ``ok``, else the error."""

    ok: bool
    tree: package.PackageTree
    results: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""
    error: str = ""


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
