"""The ``--exec``/``--exec-config`` flags that ``fn`` and ``function-runner`` share."""

from __future__ import annotations

import argparse

from lanai.functions import execconfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exec",
        action="append",
        default=[],
        metavar="IMAGE=PATH",
        help="run IMAGE (any tag, unless IMAGE has one) with the executable PATH (repeatable)",
    )
    parser.add_argument(
        "--exec-config",
        metavar="FILE",
        help="image-to-executable map in Porch's function-runner config format",
    )
    parser.add_argument(
        "--functions",
        metavar="DIR",
        help="where --exec-config's function files are (default: beside the config file)",
    )


def mapping(args: argparse.Namespace) -> dict[str, str]:
    """Image → executable from the flags; the config file first, ``--exec`` overrides.

    Raises :class:`execconfig.ConfigError` with a message for the user.
    """
    found: dict[str, str] = {}
    if args.exec_config:
        found.update(execconfig.load_config(args.exec_config, args.functions))
    found.update(execconfig.parse_flags(args.exec))
    return found
