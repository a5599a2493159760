"""Argument types for the function limits that ``lanai run`` and ``lanai fn`` share.

The rules are :mod:`lanai.trust.limits`'; here they only become argparse errors, so a
bad value is refused with the rule's message before anything starts.
"""

from __future__ import annotations

import argparse

from lanai.trust import limits


def memory(text: str) -> int:
    """Bytes, from MiB (``256``) or a quantity (``256Mi``, ``1Gi``)."""
    try:
        return limits.parse_memory(text)
    except limits.LimitError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def seconds(text: str) -> float:
    try:
        return limits.parse_seconds(text)
    except limits.LimitError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def workers(text: str) -> int:
    try:
        return limits.check_workers(int(text))
    except ValueError as error:  # LimitError is a ValueError too
        raise argparse.ArgumentTypeError(
            str(error) if isinstance(error, limits.LimitError) else f"{text!r} is not a number"
        ) from None


MEMORY_HELP = (
    f"memory one render's functions may use, in MiB or as 256Mi/1Gi "
    f"(default {limits.DEFAULT_MEMORY // limits.MIB}); each executable function gets as much"
)
TIMEOUT_HELP = f"longest one function may run, in seconds (default {limits.DEFAULT_TIMEOUT:g})"
