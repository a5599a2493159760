"""The ``lanai`` command: the operator, its local playground, and kpt function tools.

``lanai run``              the operator, against the cluster in KUBECONFIG (or in-cluster);
``lanai up``               the README's run command: a cluster if there is one, else the
                           bundled local control plane, then the operator;
``lanai fn render DIR``    ``kpt fn render`` on a local package, with Lanai's runtimes;
``lanai fn eval DIR``      run one function over a local package;
``lanai pkg update DIR``   merge a new upstream revision into a local package;
``lanai function-runner``  Porch's function-runner gRPC service over Lanai's runtimes;
``lanai rpkg …``           package revisions through the API server, like porchctl rpkg;
``lanai repo …``           repositories through the API server, like porchctl repo.

Installed as ``kubectl-lanai`` too, so kubectl runs it as the plugin ``kubectl lanai``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from lanai import __version__

COMMANDS = {
    "run": "operate",
    "up": "operate",
    "fn": "fn",
    "pkg": "pkg",
    "function-runner": "runner",
    "rpkg": "rpkg",
    "repo": "repo",
}
"""Each command and the module under ``lanai.cli`` that adds its parser. Only the module
of the command being run is imported: ``lanai rpkg`` need not load the kpt and function
machinery (or the operator) to answer."""


def program(argv0: str) -> str:
    """``kubectl lanai`` when kubectl runs us as its plugin, else ``lanai``."""
    return "kubectl lanai" if Path(argv0).name == "kubectl-lanai" else "lanai"


def parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv`` (every command's when it names none of them)."""
    root = argparse.ArgumentParser(
        prog=program(sys.argv[0]), description=__doc__.splitlines()[0] if __doc__ else None
    )
    root.add_argument("--version", action="version", version=f"lanai {__version__}")
    commands = root.add_subparsers(dest="command", required=True)
    named = next((a for a in argv or () if not a.startswith("-")), None)
    modules = [COMMANDS[named]] if named in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for module in modules:
        importlib.import_module(f"lanai.cli.{module}").add_parsers(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = parser(argv)
    args, extra = root.parse_known_args(argv)
    # argparse cannot give a subcommand "everything after --" once its positionals are
    # matched, so commands that take such arguments (fn eval) collect them here.
    if extra and hasattr(args, "passthrough") and extra[0] == "--":
        args.passthrough = extra[1:]
    elif extra:
        root.error(f"unrecognized arguments: {' '.join(extra)}")
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
