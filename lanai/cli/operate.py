"""``lanai run`` and ``lanai up``: the operator, against a cluster or a local one."""

from __future__ import annotations

import argparse
import asyncio
import sys

from lanai.cli import execflags, limitflags, logs
from lanai.cli.logs import Subcommands
from lanai.functions import execconfig
from lanai.trust import limits, secrets, urls


def _run(args: argparse.Namespace) -> int:
    from lanai.handlers import operator

    logs.configure(args.verbose, args.log_format)
    try:
        executables = execflags.mapping(args)
    except execconfig.ConfigError as error:
        print(f"lanai run: {error}", file=sys.stderr)
        return 2
    allowed = tuple(args.allow_git_host or ())
    for entry in allowed:
        try:
            urls.parse_allowance(entry)
        except ValueError as error:
            print(f"lanai run: {error}", file=sys.stderr)
            return 2
    options = operator.Options(
        namespaces=tuple(args.namespace or ()),
        liveness_endpoint=args.liveness,
        fast=args.dev,
        metrics_address=args.metrics_address or None,
        sync_period=args.sync_period,
        function_executables=executables,
        function_runner=args.function_runner or None,
        function_timeout=args.function_timeout,
        function_memory=args.function_memory,
        function_workers=args.function_workers,
        git_timeout=args.git_timeout,
        secret_access=secrets.SecretAccess(args.secret_access),
        allow_git_hosts=allowed,
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
    execflags.add_arguments(run)
    run.add_argument(
        "--function-runner",
        metavar="HOST:PORT",
        help="send functions that are neither builtin nor --exec to this function runner",
    )
    run.add_argument(
        "--function-timeout",
        type=limitflags.seconds,
        default=limits.DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=limitflags.TIMEOUT_HELP,
    )
    run.add_argument(
        "--function-memory",
        type=limitflags.memory,
        default=limits.DEFAULT_MEMORY,
        metavar="MiB",
        help=limitflags.MEMORY_HELP,
    )
    run.add_argument(
        "--function-workers",
        type=limitflags.workers,
        default=limits.DEFAULT_WORKERS,
        metavar="N",
        help="worker processes that render, each with its own memory limit "
        f"(default {limits.DEFAULT_WORKERS})",
    )
    run.add_argument(
        "--git-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="longest wait to connect to a Git server, or for any of its answers (default 30)",
    )
    run.add_argument(
        "--secret-access",
        choices=[str(mode) for mode in secrets.SecretAccess],
        default=str(secrets.SecretAccess.REQUESTER),
        help="requester (default): read a Secret named by a Repository or PackageRevision "
        "only if the user who named it may get it (SubjectAccessReview); operator: read any "
        "Secret the operator may read (single-tenant installs only)",
    )
    run.add_argument(
        urls.ALLOW_FLAG,
        dest="allow_git_host",
        action="append",
        metavar="HOST|CIDR",
        help="let Git connections reach this host name, address or network although it is "
        "loopback, link-local or otherwise refused by default (repeatable)",
    )
    run.add_argument("-v", "--verbose", action="store_true")
    run.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="log line format"
    )
    run.set_defaults(func=_run)

    up = commands.add_parser("up", help="run Lanai here, with a local control plane if needed")
    up.add_argument(
        "--workdir", default=".lanai", help="where the local control plane keeps its state"
    )
    up.add_argument("-v", "--verbose", action="store_true")
    up.set_defaults(func=_up)
