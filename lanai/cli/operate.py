"""``lanai run`` and ``lanai up``: the operator, against a cluster or a local one."""

from __future__ import annotations

import argparse
import asyncio

from lanai.cli import logs
from lanai.cli.logs import Subcommands


def _run(args: argparse.Namespace) -> int:
    from lanai.handlers import operator

    logs.configure(args.verbose)
    options = operator.Options(
        namespaces=tuple(args.namespace or ()),
        liveness_endpoint=args.liveness,
        fast=args.dev,
        metrics_address=args.metrics_address or None,
        sync_period=args.sync_period,
    )
    asyncio.run(operator.serve(options))
    return 0


def _up(args: argparse.Namespace) -> int:
    from lanai.local import playground

    logs.configure(args.verbose)
    return playground.up(workdir=args.workdir, fast=True)


def add_parsers(commands: Subcommands) -> None:
    run = commands.add_parser("run", help="run the operator against the current cluster")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument(
        "-n", "--namespace", action="append", help="watch only this namespace (repeatable)"
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="watch every namespace (default)"
    )
    run.add_argument(
        "--liveness", metavar="URL", help="serve liveness at URL, e.g. http://0.0.0.0:8080/healthz"
    )
    run.add_argument(
        "--metrics-address",
        default="0.0.0.0:8080",
        metavar="HOST:PORT",
        help="serve Prometheus /metrics here (default 0.0.0.0:8080; '' disables)",
    )
    run.add_argument(
        "--sync-period",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often a Repository without spec.sync.schedule is re-read (default 60)",
    )
    run.add_argument(
        "--dev", action="store_true", help="short timeouts and retries (tests, local use)"
    )
    run.add_argument("-v", "--verbose", action="store_true")
    run.set_defaults(func=_run)

    up = commands.add_parser("up", help="run Lanai here, with a local control plane if needed")
    up.add_argument(
        "--workdir", default=".lanai", help="where the local control plane keeps its state"
    )
    up.add_argument("-v", "--verbose", action="store_true")
    up.set_defaults(func=_up)
