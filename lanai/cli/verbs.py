"""The command-line shape ``rpkg`` and ``repo`` share, so both read the same way.

Each is a group of verbs; every verb takes kubectl's connection flags, verbs that change
something also take ``--no-wait``/``--timeout``, and both have a ``get`` (alias ``list``)
with optional names, ``-o`` and ``-A``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from lanai.cli import kube, listing, wait
from lanai.cli.logs import Subcommands


@dataclass(frozen=True)
class Group:
    verbs: Subcommands
    reading: list[argparse.ArgumentParser]
    """Parent parsers of verbs that only read: the connection flags."""
    changing: list[argparse.ArgumentParser]
    """Parent parsers of verbs that change something: connection and waiting flags."""

    def get(self, summary: str, what: str) -> argparse.ArgumentParser:
        parser = self.verbs.add_parser("get", aliases=["list"], parents=self.reading, help=summary)
        parser.add_argument("names", metavar="NAME", nargs="*", help=f"only these {what}")
        listing.arguments(parser)
        return parser


def group(commands: Subcommands, name: str, summary: str, description: str) -> Group:
    parser = commands.add_parser(name, help=summary, description=description)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    connection = kube.connection_arguments()
    return Group(verbs, [connection], [connection, wait.arguments()])
