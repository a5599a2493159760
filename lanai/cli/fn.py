"""``lanai fn render`` and ``lanai fn eval``: kpt's local function commands.

They run the same render and runtimes as the operator over a directory on disk, so a
pipeline can be tried (and debugged) before it is pushed, with the builtin catalog,
local executables and, optionally, a function runner. As in the operator, functions run
in a worker process with a memory and a time limit (``--memory``, ``--timeout``); what
goes wrong ends in one line on stderr and exit code 1, never a traceback.

As kpt does, DIR may itself be a symlink (resolved, with kpt's ``[WARN] resolved
symlink`` line) and symlinks within the package are ignored: never read, never written
through (:mod:`lanai.kpt.ondisk`), each named in a warning.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from lanai.cli import execflags, limitflags
from lanai.cli.logs import Subcommands
from lanai.functions import execconfig, images, runtimes, wire
from lanai.functions.box import pool
from lanai.kpt import kptoutput, ondisk, package, render
from lanai.trust import limits

RESULTS_FILE = "results.yaml"
STDOUT = "stdout"
UNWRAP = "unwrap"
MAX_PIPED_BYTES = 64 * 1024 * 1024
"""Most a ``fn eval -`` reads from its input: a whole package's resources, bounded."""

Command = Callable[[argparse.Namespace], int]


class _Usage(Exception):
    """A problem with the command line or the directory, reported without a traceback."""


class _Failed(Exception):
    """A refusal kpt words itself; printed as ``Error: ...`` with exit code 1."""


def _box(args: argparse.Namespace, directory: Path) -> pool.Box:
    """One function worker for this command, already loading while the package is read."""
    try:
        executables = execflags.mapping(args)
    except execconfig.ConfigError as error:
        raise _Usage(str(error)) from error
    settings = runtimes.Settings(
        executables=executables,
        allow_exec=args.allow_exec,
        timeout=args.timeout,
        memory=args.memory,
        function_runner=args.function_runner or None,
        max_message=args.max_message_size,
        cwd=os.getcwd(),  # kpt runs exec steps from where it was started
    )
    box = pool.Box(settings, workers=1, fork=True, keep_warm=False)
    box.start(1)
    return box


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
    _SKIPPED.extend(skipped.warning() for skipped in loaded.skipped)
    return loaded.tree


_SKIPPED: list[str] = []
"""Warnings for symlinks left out of the package: printed after kpt's own output, so
its lines stay together as kpt prints them."""


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
    (target / RESULTS_FILE).write_text(render.results_yaml(results))


def _render(args: argparse.Namespace) -> int:
    directory = _directory(args.dir)
    output = args.output or ""
    _check_destination(output)
    if args.results_dir:
        Path(args.results_dir).mkdir(parents=True, exist_ok=True)
    with _box(args, directory) as box:
        tree = _load(directory)
        result = box.render(
            tree,
            root_name=directory.name,
            want_resources=bool(output),
            shown_root=_from_here(directory),
        )
    sys.stderr.write(result.log)
    if not output:
        if result.ok or result.tree != tree:  # on failure: the status, or what was saved
            ondisk.save(result.tree, directory)
        sys.stderr.write(result.summary)
    elif result.ok:
        _write_output(output, result.output, from_stdin=False)
    if args.results_dir:
        _write_results(args.results_dir, result.results)
        sys.stderr.write(f"For complete results, see {Path(args.results_dir, RESULTS_FILE)}\n")
    for warning in _SKIPPED:
        sys.stderr.write(warning + "\n")
    sys.stderr.flush()
    if not result.ok:
        if result.cli_error is not None:
            text = result.cli_error.replace("{root}", str(directory))
            sys.stderr.write(f"{text} \n")
        return 1
    return 0


def _from_here(directory: Path) -> str | None:
    """``directory``'s path from the working directory, if it is below it (kpt names
    packages that way in the status it records)."""
    relative = os.path.relpath(directory.absolute(), Path.cwd())
    return None if relative.startswith("..") else Path(relative).as_posix()


def _check_destination(output: str) -> None:
    """kpt refuses an output directory that exists before doing anything."""
    if output and output not in (STDOUT, UNWRAP) and Path(output).exists():
        quoted = json.dumps(output, ensure_ascii=False)  # Go's %q, as kpt prints it
        raise _Failed(f"directory {quoted} already exists, please delete the directory and retry")


def _write_output(destination: str, wrapped: str, *, from_stdin: bool) -> None:
    """Where kpt sends a command's resources (its ResourceList ``wrapped``): to stdout as
    it is, unwrapped into a YAML stream, or as files under a new directory; with no
    destination, only resources that came from stdin go back to stdout."""
    if destination == STDOUT or (not destination and from_stdin):
        sys.stdout.write(wrapped)
    elif destination == UNWRAP:
        sys.stdout.write(kptoutput.unwrap(_read_list(wrapped).items))
    elif destination:
        files: dict[str, bytes] = {}
        for path, content in kptoutput.package_files(_read_list(wrapped).items).items():
            cleaned = package.normalize(path.lstrip("/"))  # kpt joins it to DIR
            if cleaned is None or cleaned == ".." or cleaned.startswith("../"):
                raise _Failed(f"resource path {path!r} is outside the output directory")
            files[cleaned] = content
        target = Path(destination)
        target.mkdir(parents=True, exist_ok=True)
        ondisk.save(files, target)
    sys.stdout.flush()


def _read_list(text: str) -> kptoutput.Listed:
    try:
        return kptoutput.read(text)
    except kptoutput.OutputError as error:
        raise _Failed(str(error)) from error


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "t"):
        return True
    if lowered in ("false", "0", "f"):
        return False
    raise argparse.ArgumentTypeError(f"want true or false, got {value!r}")


def _function_config(pairs: list[str]) -> dict[str, str] | None:
    if not pairs:
        return None
    data: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise _Usage(f"function config wants KEY=VALUE, got {pair!r}")
        data[key] = value
    return data


def _eval(args: argparse.Namespace) -> int:
    """Run one function over the package's resources (Kptfiles included, as in kpt), or
    with ``-`` over the resources read from stdin."""
    try:
        image = images.expand(args.image)
    except images.InvalidImage as error:
        raise _Usage(str(error)) from error
    config = _function_config(args.passthrough)
    if args.dir == "-":
        return _eval_piped(args, image, config)
    if args.output:
        raise _Usage("-o is for resources read from stdin ('lanai fn eval -')")
    directory = _directory(args.dir)
    with _box(args, directory) as box:
        tree = _load(directory)
        evaluated = box.evaluate(tree, image, config, shown=_shown(args.image))
    sys.stderr.write(evaluated.log)
    if evaluated.ok:
        ondisk.save(evaluated.tree, directory)
    for warning in _SKIPPED:
        sys.stderr.write(warning + "\n")
    sys.stderr.flush()
    if not evaluated.ok:
        if evaluated.error:  # a function that exited non-zero was reported in the log
            sys.stderr.write(f"Error: {_one_line(evaluated.error)} \n")
        return 1
    return 0


def _shown(image: str) -> str:
    """How kpt's eval names ``--image``: with the catalog's prefix, the tag as given."""
    return image if "/" in image else f"{images.DEFAULT_CATALOG}/{image}"


def _eval_piped(args: argparse.Namespace, image: str, config: dict[str, str] | None) -> int:
    """``kpt fn eval -``: the function over the ResourceList (or YAML stream) on stdin;
    its log on stderr, the resources to stdout (or ``-o``)."""
    output = args.output or ""
    _check_destination(output)
    if args.results_dir:
        Path(args.results_dir).mkdir(parents=True, exist_ok=True)
    text = _stdin_text()
    with _box(args, Path(".")) as box:
        evaluated = box.evaluate({}, image, config, piped=text, shown=_shown(args.image))
    sys.stderr.write(evaluated.log)
    if args.results_dir:
        item: dict[str, Any] = {"image": _shown(args.image)}
        if evaluated.stderr:
            item["stderr"] = evaluated.stderr
        item["exitCode"] = 0 if evaluated.ok else evaluated.exit_code or 1
        if evaluated.results:
            item["results"] = evaluated.results
        results = {
            "apiVersion": "kpt.dev/v1",
            "kind": "FunctionResultList",
            "metadata": {"name": "fnresults"},
            "exitCode": 0 if evaluated.ok else 1,
            "items": [item],
        }
        _write_results(args.results_dir, results)
        sys.stderr.write(f"\nFor complete results, see {Path(args.results_dir, RESULTS_FILE)}\n")
    sys.stderr.flush()
    if not evaluated.ok:
        if evaluated.error:  # a function that exited non-zero was reported in the log
            sys.stderr.write(f"Error: {_one_line(evaluated.error)} \n")
        return 1
    _write_output(output, evaluated.output, from_stdin=True)
    return 0


def _stdin_text() -> str:
    data = sys.stdin.buffer.read(MAX_PIPED_BYTES + 1)
    if len(data) > MAX_PIPED_BYTES:
        raise _Failed(f"the input is larger than {MAX_PIPED_BYTES // 2**20} MiB")
    try:
        return data.decode()
    except UnicodeDecodeError as error:
        raise _Failed("the input is not UTF-8 text") from error


def _one_line(message: str) -> str:
    """Error messages end the output in one line; a function's own lines are above."""
    return " ".join(message.split("\n")).strip()


def _guarded(command: Command) -> Command:
    """Usage errors exit 2, anything else that goes wrong 1; each is one line."""

    def run(args: argparse.Namespace) -> int:
        try:
            status: int = command(args)
        except _Usage as error:
            print(f"lanai fn: {error}", file=sys.stderr)
            return 2
        except _Failed as error:
            print(f"Error: {error} ", file=sys.stderr)
            return 1
        except ondisk.DirectoryError as error:
            print(f"lanai fn: {error}; the package is unchanged", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("lanai fn: interrupted", file=sys.stderr)
            return 130
        except OSError as error:
            where = f" {error.filename!r}" if error.filename else ""
            print(f"lanai fn: cannot use{where}: {error.strerror or error}", file=sys.stderr)
            return 1
        except Exception as error:  # a bug must still end in one line, not a traceback
            print(f"lanai fn: {type(error).__name__}: {_one_line(str(error))}", file=sys.stderr)
            return 1
        return status

    return run


def _runtime_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", metavar="DIR", nargs="?", default=".", help="the package directory (default: .)"
    )
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
        type=limitflags.seconds,
        default=limits.DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=limitflags.TIMEOUT_HELP,
    )
    parser.add_argument(
        "--memory",
        type=limitflags.memory,
        default=limits.DEFAULT_MEMORY,
        metavar="MiB",
        help=limitflags.MEMORY_HELP,
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
    render_.add_argument(
        "-o",
        "--output",
        metavar="stdout|unwrap|DIR",
        help="write the rendered resources there instead of changing DIR",
    )
    render_.add_argument(
        "--image-pull-policy",
        type=str.capitalize,
        choices=["Always", "Ifnotpresent", "Never"],
        default="Ifnotpresent",
        help="accepted for kpt's command line; builtin functions need no pull",
    )
    render_.add_argument(
        "--truncate-output",
        type=_boolean,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="accepted for kpt's command line (kpt no longer truncates)",
    )
    render_.add_argument(
        "--allow-network", action="store_true", help="accepted for kpt's command line"
    )
    render_.set_defaults(func=_guarded(_render))

    eval_ = verbs.add_parser(
        "eval",
        help="run one function over the resources of DIR, in place",
        description="Run IMAGE over DIR's resources (DIR '-': the ResourceList on stdin, "
        "written back to stdout); KEY=VALUE pairs after '--' form its ConfigMap "
        "functionConfig.",
        usage="lanai fn eval DIR --image IMAGE [options] [-- KEY=VALUE ...]",
    )
    _runtime_arguments(eval_)
    eval_.add_argument("--image", "-i", required=True, help="the function's image")
    eval_.add_argument(
        "-o",
        "--output",
        metavar="stdout|unwrap|DIR",
        help="with DIR '-': where the resources go (default: stdout, as a ResourceList)",
    )
    eval_.add_argument(
        "--results-dir", metavar="DIR", help=f"write the FunctionResultList to DIR/{RESULTS_FILE}"
    )
    eval_.set_defaults(func=_guarded(_eval), passthrough=[])
