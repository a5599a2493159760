"""``lanai fn render`` and ``lanai fn eval``: kpt's local function commands.

They run the same render and runtimes as the operator over a directory on disk, so a
pipeline can be tried (and debugged) before it is pushed, with the builtin catalog,
local executables and, optionally, a function runner.

As kpt does, DIR may itself be a symlink (resolved, with kpt's ``[WARN] resolved
symlink`` line) and symlinks within the package are ignored: never read, never written
through (:mod:`lanai.kpt.ondisk`), each named in a warning.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from lanai.cli import execflags
from lanai.cli.logs import Subcommands
from lanai.functions import (
    builtin_runtime,
    chain,
    exec_runtime,
    execconfig,
    images,
    wire,
)
from lanai.kpt import fnapi, ondisk, package, render, resourcelist, yamlio

if TYPE_CHECKING:
    from lanai.functions import grpc_runtime

RESULTS_FILE = "results.yaml"

Command = Callable[[argparse.Namespace], int]


class _Usage(Exception):
    """A problem with the command line or the directory, reported without a traceback."""


def _runtime(
    args: argparse.Namespace, directory: Path
) -> tuple[chain.ChainRuntime, grpc_runtime.GrpcRuntime | None]:
    """The chain for this command and the gRPC runtime to close (or ``None``)."""
    try:
        executables = execflags.mapping(args)
    except execconfig.ConfigError as error:
        raise _Usage(str(error)) from error
    runtimes: list[fnapi.FunctionRuntime] = [
        builtin_runtime.BuiltinRuntime(),
        exec_runtime.ExecRuntime(
            executables, allow_exec=args.allow_exec, timeout=args.timeout, cwd=directory
        ),
    ]
    remote = None
    if args.function_runner:
        from lanai.functions import grpc_runtime  # gRPC loads only when asked for

        remote = grpc_runtime.GrpcRuntime(
            args.function_runner, timeout=args.timeout, max_message=args.max_message_size
        )
        runtimes.append(remote)
    return chain.ChainRuntime(runtimes), remote


def _directory(value: str) -> Path:
    """DIR, resolved if it is a symlink (kpt's warning then goes to stderr)."""
    if not Path(value).is_dir():
        raise _Usage(f"{value!r} is not a directory")
    directory, warning = ondisk.resolve(value)
    if warning:
        print(warning, file=sys.stderr)
    return directory


def _load(directory: Path) -> package.PackageTree:
    """The package's files; a warning for each symlink (or special file) left out."""
    loaded = ondisk.load(directory)
    for skipped in loaded.skipped:
        print(skipped.warning(), file=sys.stderr)
    return loaded.tree


def _indented(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


def _result_line(result: dict[str, Any]) -> str:
    line = f"[{result.get('severity', 'info')}] {result.get('message', '')}"
    ref = result.get("resourceRef")
    if isinstance(ref, dict) and ref.get("name"):
        line += f" ({ref.get('kind', '')}/{ref.get('name')})"
    field = result.get("field")
    if isinstance(field, dict) and field.get("path"):
        line += f" field {field['path']}"
    return line


def print_summary(results: dict[str, Any], packages: int, out: TextIO) -> None:
    """One line per function run, kpt-style, with its results and stderr."""
    items = print_runs(results, out)
    if results.get("exitCode", 0) == 0:
        print(
            f"\nSuccessfully executed {len(items)} function(s) in {packages} package(s).", file=out
        )


def print_runs(results: dict[str, Any], out: TextIO) -> list[dict[str, Any]]:
    """Each function run of a FunctionResultList, kpt-style; returns the runs."""
    items: list[dict[str, Any]] = results.get("items") or []
    for item in items:
        name = item.get("image") or item.get("exec") or "<function>"
        status = "PASS" if item.get("exitCode", 0) == 0 else "FAIL"
        print(f'[{status}] "{name}"', file=out)
        if item.get("results"):
            print("  Results:", file=out)
            for result in item["results"]:
                print(_indented(_result_line(result)), file=out)
        if item.get("stderr"):
            print("  Stderr:", file=out)
            print(_indented(str(item["stderr"])), file=out)
        if status == "FAIL":
            print(f"  Exit code: {item.get('exitCode')}", file=out)
    return items


def _write_results(directory: str, results: dict[str, Any]) -> None:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    with (target / RESULTS_FILE).open("w") as stream:
        yaml.dump(results, stream)


def _render(args: argparse.Namespace) -> int:
    directory = _directory(args.dir)
    runtime, remote = _runtime(args, directory)
    try:
        tree = _load(directory)
        print(f'Package "{directory.name}":', flush=True)
        result = render.render(tree, runtime)
    finally:
        if remote is not None:
            remote.close()
    print_summary(result.results, len(package.packages(tree)) or 1, sys.stdout)
    if args.results_dir:
        _write_results(args.results_dir, result.results)
    if result.ok or result.tree != tree:  # a failure changes files only when asked to save
        ondisk.save(result.tree, directory)
    if not result.ok:
        print(f"\nError: {result.error}", file=sys.stderr)
        return 1
    return 0


def _function_config(pairs: list[str]) -> CommentedMap | None:
    if not pairs:
        return None
    data = CommentedMap()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise _Usage(f"function config wants KEY=VALUE, got {pair!r}")
        data[key] = value
    config = CommentedMap()
    config["apiVersion"] = "v1"
    config["kind"] = "ConfigMap"
    config["metadata"] = CommentedMap(name=render.FUNCTION_INPUT)
    config["data"] = data
    return config


def _eval(args: argparse.Namespace) -> int:
    """Run one function over the package's resources (the Kptfile excluded, as in kpt)."""
    directory = _directory(args.dir)
    try:
        image = images.expand(args.image)
    except images.InvalidImage as error:
        raise _Usage(str(error)) from error
    config = _function_config(args.passthrough)
    tree = _load(directory)
    runtime, remote = _runtime(args, directory)
    files = [f for f in package.all_resource_files(tree) if Path(f).name != "Kptfile"]
    try:
        items = resourcelist.read_resources(tree, files)
        before = {
            resourcelist.resource_id(item): (
                resourcelist.resource_path(item),
                str(resourcelist.resource_index(item)),
            )
            for item in items
        }
        request = resourcelist.build([yamlio.clone(item) for item in items], config)
        output = runtime.evaluate(fnapi.FunctionRef(image=image), request)
        produced = resourcelist.items_of(output.resource_list)
        resourcelist.restore_comments(items, produced)
        for item in produced:
            path, index = before.get(resourcelist.resource_id(item), (None, None))
            resourcelist.reconcile_location(item, path, index)
        updated = resourcelist.write_resources(tree, produced, owned_files=files)
    except fnapi.FunctionError as error:
        print(f'[FAIL] "{image}"', file=sys.stdout)
        if error.stderr:
            print(_indented(error.stderr), file=sys.stdout)
        print(f"\nError: {error.message}", file=sys.stderr)
        return 1
    except resourcelist.ResourceError as error:
        print(f"\nError: {error}", file=sys.stderr)
        return 1
    finally:
        if remote is not None:
            remote.close()
    print(f'[PASS] "{image}"')
    for result in resourcelist.results_of(output.resource_list):
        print(_indented(_result_line(result)))
    if output.stderr:
        print(_indented(output.stderr))
    ondisk.save(updated, directory)
    return 0


def _guarded(command: Command) -> Command:
    def run(args: argparse.Namespace) -> int:
        try:
            status: int = command(args)
        except _Usage as error:
            print(f"lanai fn: {error}", file=sys.stderr)
            return 2
        except ondisk.DirectoryError as error:
            print(f"lanai fn: {error}; the package is unchanged", file=sys.stderr)
            return 1
        return status

    return run


def _runtime_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the package directory")
    execflags.add_arguments(parser)
    parser.add_argument(
        "--allow-exec", action="store_true", help="run Kptfile functions given as 'exec' paths"
    )
    parser.add_argument(
        "--function-runner",
        metavar="HOST:PORT",
        help="also evaluate images on this function runner (Porch's or lanai's)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=exec_runtime.DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="longest one function may run (default 60)",
    )
    parser.add_argument(
        "--max-message-size",
        type=int,
        default=wire.DEFAULT_MAX_MESSAGE,
        metavar="BYTES",
        help="largest message to or from the function runner (default 6 MiB)",
    )


def add_parsers(commands: Subcommands) -> None:
    fn = commands.add_parser("fn", help="run kpt functions over a local package")
    verbs = fn.add_subparsers(dest="verb", required=True)

    render_ = verbs.add_parser(
        "render",
        help="run the Kptfile pipelines of DIR and its subpackages, in place",
        description="Render DIR in place like 'kpt fn render'. On failure the files are "
        "left as they were, unless the root Kptfile has kpt.dev/save-on-render-failure.",
    )
    _runtime_arguments(render_)
    render_.add_argument(
        "--results-dir", metavar="DIR", help=f"write the FunctionResultList to DIR/{RESULTS_FILE}"
    )
    render_.set_defaults(func=_guarded(_render))

    eval_ = verbs.add_parser(
        "eval",
        help="run one function over the resources of DIR, in place",
        description="Run IMAGE over DIR's resources; KEY=VALUE pairs after '--' form its "
        "ConfigMap functionConfig.",
        usage="lanai fn eval DIR --image IMAGE [options] [-- KEY=VALUE ...]",
    )
    _runtime_arguments(eval_)
    eval_.add_argument("--image", "-i", required=True, help="the function's image")
    eval_.set_defaults(func=_guarded(_eval), passthrough=[])
