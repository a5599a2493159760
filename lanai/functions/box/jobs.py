"""The work a function worker does, and how its answer becomes a result again.

One job is a whole render (or a ``fn eval``, or one function for ``lanai
function-runner``), so the parent and the worker exchange one message each way per
render, plus a small note whenever a function starts or ends.
Jobs go to the worker as dataclasses; answers come back as plain dicts, checked here
before the parent believes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanai.functions import runtimes
from lanai.functions.box import frames
from lanai.kpt import evaluation, fnapi, package, render, resourcelist


@dataclass(frozen=True)
class RenderJob:
    settings: runtimes.Settings
    files: dict[str, bytes]
    package_path: str = ""
    root_name: str = ""
    """How kpt's log names the root package (``lanai fn render``: its directory)."""
    want_resources: bool = False
    """Also answer with the rendered resources, as kpt's ResourceList (``-o``)."""
    shown_root: str | None = None
    """The root's path from ``lanai fn render``'s working directory, if below it."""


@dataclass(frozen=True)
class EvalJob:
    settings: runtimes.Settings
    tree: dict[str, bytes]
    image: str
    config: dict[str, str] | None = field(default=None)
    piped: str | None = None
    """Resources read from a pipe (``fn eval -``) instead of ``tree``'s files."""
    shown: str | None = None
    """The name kpt's log gives the function (the image as the user wrote it)."""


@dataclass(frozen=True)
class FunctionJob:
    """One function over a ResourceList (YAML bytes), as a function runner is asked."""

    settings: runtimes.Settings
    image: str
    resource_list: bytes


Job = RenderJob | EvalJob | FunctionJob


class BadAnswer(Exception):
    """The worker's answer does not have the shape of a result."""


# -- in the worker ---------------------------------------------------------------------


def perform(job: Job, runtime: fnapi.FunctionRuntime) -> dict[str, Any]:
    """Run ``job``; its outcome as plain data."""
    if isinstance(job, FunctionJob):
        return _function(job, runtime)
    if isinstance(job, RenderJob):
        rendered = render.render(
            dict(job.files),
            runtime,
            package_path=job.package_path,
            root_name=job.root_name,
            keep_resources=job.want_resources,
            shown_root=job.shown_root,
        )
        return {
            "ok": rendered.ok,
            "tree": _files(rendered.tree),
            "results": frames.plain(rendered.results),
            "error": rendered.error,
            "log": rendered.log,
            "cli_error": rendered.cli_error,
            "summary": rendered.summary,
            "condition_message": rendered.condition_message,
            "output": rendered.output,
        }
    if job.piped is not None:
        evaluated = evaluation.evaluate_text(
            job.piped, fnapi.FunctionRef(image=job.image), job.config, runtime, job.shown
        )
    else:
        evaluated = evaluation.evaluate(
            dict(job.tree), fnapi.FunctionRef(image=job.image), job.config, runtime, job.shown
        )
    return {
        "ok": evaluated.ok,
        "tree": _files(evaluated.tree),
        "results": frames.plain(evaluated.results),
        "stderr": str(evaluated.stderr),
        "error": str(evaluated.error),
        "output": str(evaluated.output),
        "log": str(evaluated.log),
        "exit_code": int(evaluated.exit_code),
    }


def _function(job: FunctionJob, runtime: fnapi.FunctionRuntime) -> dict[str, Any]:
    try:
        output = runtime.evaluate(
            fnapi.FunctionRef(image=job.image), resourcelist.decode(job.resource_list)
        )
    except fnapi.FunctionError as error:
        failed: dict[str, Any] = {
            "ok": False,
            "kind": type(error).__name__,
            "message": error.message,
            "stderr": error.stderr,
            "exit_code": error.exit_code,
            "results": frames.plain(error.results),
        }
        if isinstance(error, fnapi.FunctionLimitExceeded):
            failed.update(limit=error.limit, amount=float(error.amount))
        return failed
    except resourcelist.ResourceError as error:
        return {"ok": False, "kind": "FunctionError", "message": str(error)}
    return {
        "ok": True,
        "resource_list": resourcelist.encode(output.resource_list),
        "stderr": str(output.stderr),
        "exit_code": int(output.exit_code),
    }


def _files(tree: package.PackageTree) -> dict[str, bytes]:
    return {str(path): bytes(content) for path, content in tree.items()}


# -- in the parent ---------------------------------------------------------------------


Result = render.RenderResult | evaluation.Evaluated | fnapi.FunctionOutput | fnapi.FunctionError
"""What a job comes to; a function job's failure is its FunctionError (not raised here)."""


def answer(job: Job, reply: Any) -> Result:
    """The result ``reply`` describes; :class:`BadAnswer` if it describes none."""
    if not isinstance(reply, dict):
        raise BadAnswer("the answer is not a mapping")
    if isinstance(job, FunctionJob):
        return _function_answer(reply)
    tree = reply.get("tree")
    if not isinstance(tree, dict) or not all(
        isinstance(k, str) and isinstance(v, bytes) for k, v in tree.items()
    ):
        raise BadAnswer("the answer holds no file tree")
    ok, results, error = reply.get("ok"), reply.get("results"), reply.get("error")
    if not isinstance(ok, bool) or not isinstance(error, str):
        raise BadAnswer("the answer has no outcome")
    if isinstance(job, RenderJob):
        if not isinstance(results, dict):
            raise BadAnswer("the answer has no function results")
        texts = {k: reply.get(k) for k in ("log", "summary", "condition_message", "output")}
        cli_error = reply.get("cli_error")
        if not all(isinstance(v, str) for v in texts.values()) or not isinstance(
            cli_error, str | None
        ):
            raise BadAnswer("the answer has no render log")
        return render.RenderResult(
            ok=ok,
            tree=tree,
            results=results,
            error=error,
            log=str(texts["log"]),
            cli_error=cli_error,
            summary=str(texts["summary"]),
            condition_message=str(texts["condition_message"]),
            output=str(texts["output"]),
        )
    stderr, output, log = reply.get("stderr"), reply.get("output"), reply.get("log")
    exit_code = reply.get("exit_code")
    if not isinstance(results, list) or not all(
        isinstance(text, str) for text in (stderr, output, log)
    ):
        raise BadAnswer("the answer has no function results")
    return evaluation.Evaluated(
        ok=ok,
        tree=tree,
        results=[r for r in results if isinstance(r, dict)],
        stderr=str(stderr),
        error=error,
        output=str(output),
        log=str(log),
        exit_code=exit_code if isinstance(exit_code, int) else 0,
    )


def _function_answer(reply: dict[str, Any]) -> fnapi.FunctionOutput | fnapi.FunctionError:
    if reply.get("ok") is True:
        encoded, stderr, code = (
            reply.get("resource_list"),
            reply.get("stderr"),
            reply.get("exit_code"),
        )
        if (
            not isinstance(encoded, bytes)
            or not isinstance(stderr, str)
            or not isinstance(code, int)
        ):
            raise BadAnswer("the answer has no ResourceList")
        try:
            return fnapi.FunctionOutput(resourcelist.decode(encoded), stderr=stderr, exit_code=code)
        except resourcelist.ResourceError as error:
            raise BadAnswer(str(error)) from None
    message, kind = reply.get("message"), reply.get("kind")
    if not isinstance(message, str):
        raise BadAnswer("the answer has no outcome")
    stderr = reply.get("stderr")
    code = reply.get("exit_code")
    results = reply.get("results")
    common: dict[str, Any] = {
        "message": message,
        "stderr": stderr if isinstance(stderr, str) else "",
        "exit_code": code if isinstance(code, int) else 1,
        "results": [r for r in results if isinstance(r, dict)] if isinstance(results, list) else [],
    }
    if kind == "FunctionNotFound":
        return fnapi.FunctionNotFound(**common)
    limit, amount = reply.get("limit"), reply.get("amount")
    if kind == "FunctionLimitExceeded" and isinstance(limit, str) and isinstance(amount, float):
        return fnapi.FunctionLimitExceeded(**common, limit=limit, amount=amount)
    return fnapi.FunctionError(**common)


def failure(job: Job, message: str, step: fnapi.FunctionRef | None, limit: str = "") -> Result:
    """The result of a job its worker could not finish: nothing changed, ``message``
    (``limit``: which limit it broke, if any)."""
    if isinstance(job, FunctionJob):
        result = [{"message": message, "severity": "error"}]
        if limit:
            return fnapi.FunctionLimitExceeded(message=message, results=result, limit=limit)
        return fnapi.FunctionError(message=message, results=result)
    if isinstance(job, EvalJob):
        return evaluation.Evaluated(ok=False, tree=dict(job.tree), error=message)
    where = f"{job.package_path}: " if job.package_path else ""
    items: list[dict[str, Any]] = []
    if step is not None:
        if step.package is not None:
            where += f"{render.where(step.package)}: "
        item: dict[str, Any] = {"image": step.image} if step.image else {"exec": step.exec}
        item.update(exitCode=1, results=[{"message": message, "severity": "error"}])
        items.append(item)
    results = {
        "apiVersion": "kpt.dev/v1",
        "kind": "FunctionResultList",
        "metadata": {"name": "fnresults"},
        "exitCode": 1,
        "items": items,
    }
    return render.RenderResult(
        ok=False,
        tree=dict(job.files),
        results=results,
        error=f"{render.ERROR_PREFIX}: {where}{message}",
        cli_error=f"Error: {message}",
        condition_message=message,
    )
