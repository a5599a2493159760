"""What Lanai's function-runner client and server agree on beyond the .proto.

Porch's protocol reports a failed function as a gRPC error whose text carries stderr;
the structured results are lost on the way. Lanai's server additionally sends them as
a small binary trailer that Porch's client ignores and Lanai's client reads back, so
a render through the runner reports the same results as one run locally. Trailers share
gRPC's metadata budget (8 KiB by default on the receiving side), hence the caps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

SERVICE = "evaluator.FunctionEvaluator"
DEFAULT_PORT = 9445
DEFAULT_MAX_MESSAGE = 6 * 1024 * 1024
"""Porch's default for ``--max-request-body-size``, on both sides."""
RUNNER_TIMEOUT = 60.0
RUNNER_MAX_CONCURRENT = 8
RUNNER_QUEUE_TIMEOUT = 30.0
"""The runner's defaults, here so that ``lanai`` builds its command line without gRPC."""

RESULTS_TRAILER = "lanai-function-results-bin"
MAX_TRAILER = 3 * 1024
MAX_DETAILS = 2 * 1024


def channel_options(max_message: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", max_message),
        ("grpc.max_receive_message_length", max_message),
    ]


def encode_results(results: Sequence[dict[str, Any]], limit: int = MAX_TRAILER) -> bytes | None:
    """JSON of as many leading results as fit in ``limit`` bytes; ``None`` if none do."""
    kept = list(results)
    while kept:
        data = json.dumps(kept, separators=(",", ":"), default=str).encode()
        if len(data) <= limit:
            return data
        kept.pop()
    return None


def decode_results(metadata: Iterable[tuple[str, str | bytes]] | None) -> list[dict[str, Any]]:
    """The results trailer of a failed call, or ``[]`` when absent or malformed."""
    for key, value in metadata or ():
        if key != RESULTS_TRAILER or not isinstance(value, bytes):
            continue
        try:
            found = json.loads(value)
        except ValueError:
            return []
        if isinstance(found, list):
            return [r for r in found if isinstance(r, dict)]
    return []


def clip(text: str, limit: int = MAX_DETAILS) -> str:
    """The end of ``text`` (where a failing program says why), at most ``limit`` chars."""
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]
