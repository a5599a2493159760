"""What every ``lanai`` subcommand shares: logging setup and the subparser type."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TypeAlias

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``add_subparsers()`` returns."""


def configure(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # kopf logs each handler run at INFO; useful when debugging, noise otherwise.
    logging.getLogger("kopf").setLevel(logging.DEBUG if verbose else logging.INFO)
