"""The ``lanai`` command: run the operator, or bring up a local playground.

``lanai run``      the operator, against the cluster in KUBECONFIG (or in-cluster);
``lanai up``       the README's run command: a cluster if there is one, else the
                   bundled local control plane, then the operator.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from lanai import __version__


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # kopf logs each handler run at INFO; useful when debugging, noise otherwise.
    logging.getLogger("kopf").setLevel(logging.DEBUG if verbose else logging.INFO)


def _run(args: argparse.Namespace) -> int:
    from lanai.handlers import operator

    _configure_logging(args.verbose)
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

    _configure_logging(args.verbose)
    return playground.up(workdir=args.workdir, fast=True)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="lanai", description=__doc__.splitlines()[0] if __doc__ else None
    )
    root.add_argument("--version", action="version", version=f"lanai {__version__}")
    commands = root.add_subparsers(dest="command", required=True)

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
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
