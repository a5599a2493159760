"""``lanai function-runner``: serve Porch's FunctionEvaluator over Lanai's runtimes."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

import prometheus_client

from lanai.cli import execflags, limitflags, logs
from lanai.cli.logs import Subcommands
from lanai.functions import execconfig, runtimes, wire
from lanai.functions.box import pool
from lanai.trust import limits

logger = logging.getLogger(__name__)


def _serve(args: argparse.Namespace) -> int:
    from lanai.functions import runner_server  # gRPC loads only for this command

    logs.configure(args.verbose)
    try:
        executables = execflags.mapping(args)
    except execconfig.ConfigError as error:
        print(f"lanai function-runner: {error}", file=sys.stderr)
        return 2
    options = runner_server.Options(
        host=args.host,
        port=args.port,
        max_message=args.max_request_body_size,
        timeout=args.timeout,
        max_concurrent=args.max_concurrent,
        queue_timeout=args.queue_timeout,
    )
    # Only configured images: a caller must not make the runner start arbitrary files.
    # Every evaluation runs in a function worker, with a memory and time limit.
    settings = runtimes.Settings(
        executables=executables,
        allow_exec=False,
        timeout=options.timeout,
        memory=args.memory,
        builtin=not args.no_builtin,
    )
    box = pool.Box(settings, workers=min(options.max_concurrent, limits.MAX_WORKERS))
    for image, path in sorted(executables.items()):
        logger.info("image %s runs %s", image, path)
    if args.metrics_address:
        host, _sep, port = args.metrics_address.rpartition(":")
        prometheus_client.start_http_server(int(port), addr=host or "0.0.0.0")  # noqa: S104
        logger.info("serving metrics on %s/metrics", args.metrics_address)
    try:
        server = runner_server.Server(pool.BoxedRuntime(box), options).start()
    except OSError as error:
        box.close()
        print(f"lanai function-runner: {error}", file=sys.stderr)
        return 1
    box.start(1)
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            logger.info("stopping on signal %d", signum)
            threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.wait()
    box.close()
    return 0


def add_parsers(commands: Subcommands) -> None:
    serve = commands.add_parser(
        "function-runner",
        help="serve Porch's function-runner gRPC protocol (evaluator.FunctionEvaluator)",
        description="Serve evaluator.FunctionEvaluator and grpc.health.v1 over the builtin "
        "catalog functions and configured executables. At most --max-concurrent "
        "evaluations run at once, each in a worker process bounded by --memory and "
        "--timeout; other callers wait for a slot until their deadline "
        "(at most --queue-timeout), then get RESOURCE_EXHAUSTED.",
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on")  # noqa: S104
    serve.add_argument(
        "--port", type=int, default=wire.DEFAULT_PORT, help="gRPC port (default 9445; 0 picks one)"
    )
    execflags.add_arguments(serve)
    serve.add_argument(
        "--no-builtin", action="store_true", help="do not run catalog functions in process"
    )
    serve.add_argument(
        "--max-request-body-size",
        "--max-message-size",
        type=int,
        default=wire.DEFAULT_MAX_MESSAGE,
        metavar="BYTES",
        help="largest gRPC message received or sent (default 6 MiB, as Porch)",
    )
    serve.add_argument(
        "--timeout",
        type=limitflags.seconds,
        default=wire.RUNNER_TIMEOUT,
        metavar="SECONDS",
        help="longest one evaluation may take (default 60)",
    )
    serve.add_argument(
        "--memory",
        type=limitflags.memory,
        default=limits.DEFAULT_MEMORY,
        metavar="MiB",
        help="memory one evaluation may use, in its worker process, in MiB or as 256Mi "
        f"(default {limits.DEFAULT_MEMORY // limits.MIB})",
    )
    serve.add_argument(
        "--max-concurrent",
        type=int,
        default=wire.RUNNER_MAX_CONCURRENT,
        metavar="N",
        help="evaluations run at once (default 8)",
    )
    serve.add_argument(
        "--queue-timeout",
        type=float,
        default=wire.RUNNER_QUEUE_TIMEOUT,
        metavar="SECONDS",
        help="longest a caller waits for a free slot (default 30)",
    )
    serve.add_argument(
        "--metrics-address",
        default="",
        metavar="HOST:PORT",
        help="serve Prometheus /metrics here (default: off)",
    )
    serve.add_argument("-v", "--verbose", action="store_true")
    serve.set_defaults(func=_serve)
