"""The ``get`` verb both ``rpkg`` and ``repo`` have: named objects or a filtered list.

Like ``kubectl get``: names print those objects (a missing one is an error line and exit
code 1, the others still print), no names list the namespace (``-A``: every namespace),
and an empty list says so on stderr rather than printing an empty table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from lanai.cli import jsonpath, kube, table
from lanai.cli.table import Column, field, text


def _output(value: str) -> str:
    try:
        return table.output_format(value)
    except jsonpath.Unsupported as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown output format {value!r}: use yaml, json, name, "
            "custom-columns=HEADER:PATH,... or jsonpath=TEMPLATE"
        ) from None


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        type=_output,
        help="yaml, json, name, custom-columns=HEADER:PATH,... or jsonpath=TEMPLATE",
    )
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="list across all namespaces"
    )


def _order(obj: Mapping[str, Any]) -> tuple[str, str]:
    return text(field(obj, "metadata.namespace")), text(field(obj, "metadata.name"))


async def objects(
    session: kube.Session, resource: kube.Resource, args: argparse.Namespace, selected: str = ""
) -> tuple[list[dict[str, Any]], bool]:
    """The named objects, or all matching ``selected``; and whether a name was missing."""
    if not args.names:
        found = await session.list_objects(
            resource, field_selector=selected, all_namespaces=args.all_namespaces
        )
        if not found and not args.output:
            where = "any namespace" if args.all_namespaces else f"{session.namespace} namespace"
            kube.error(f"No resources found in {where}.")
        return sorted(found, key=_order), False
    named: list[dict[str, Any]] = []

    async def one(name: str) -> None:
        named.append(await session.get(resource, name))

    missing = await kube.each(args.names, one) != 0
    return named, missing


def show(
    found: list[dict[str, Any]],
    args: argparse.Namespace,
    resource: kube.Resource,
    columns: Sequence[Column],
) -> None:
    if found or args.output:
        table.emit(
            found,
            args.output,
            resource=resource,
            columns=columns,
            single=len(args.names) == 1,
            namespaces=args.all_namespaces,
            out=sys.stdout,
        )


async def run(
    session: kube.Session,
    args: argparse.Namespace,
    resource: kube.Resource,
    columns: Sequence[Column],
    selected: str = "",
) -> int:
    found, missing = await objects(session, resource, args, selected)
    show(found, args, resource, columns)
    return 1 if missing else 0
