"""``lanai pkg update``: the operator's upgrade merge on directories.

People upgrade a local package before they push it, and the merge is the part of kpt
users notice first when it is wrong; this runs exactly the merge the operator runs for
``source.upgrade`` (``lanai.kpt.merge``), over three directories: the upstream the
package was cloned from, the new upstream, and the local package, which is updated in
place. Fetching upstreams from Git is left to ``git``; nothing here talks to a cluster.
As in kpt, DIR may be a symlink (resolved, with kpt's warning) and symlinks within the
packages are ignored, never read or written through.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lanai.cli.logs import Subcommands
from lanai.kpt import merge, ondisk


def _update(args: argparse.Namespace) -> int:
    for label, value in (
        ("DIR", args.dir),
        ("--original", args.original),
        ("--upstream", args.upstream),
    ):
        if not Path(value).is_dir():
            print(f"lanai pkg update: {label} {value!r} is not a directory", file=sys.stderr)
            return 2
    directory, resolved = ondisk.resolve(args.dir)
    if resolved:
        print(resolved, file=sys.stderr)
    try:
        before = ondisk.load(directory).tree
        after = merge.upgrade_dirs(
            args.original,
            args.upstream,
            directory,
            args.strategy,
            warn=lambda line: print(line, file=sys.stderr),
        )
    except (merge.MergeError, ondisk.DirectoryError) as error:
        print(f"lanai pkg update: {error}; {args.dir} is unchanged", file=sys.stderr)
        return 1
    changed = sorted(path for path in after if before.get(path) != after[path])
    removed = sorted(path for path in before if path not in after)
    for path in changed:
        print(f"{'added' if path not in before else 'updated'} {path}")
    for path in removed:
        print(f"removed {path}")
    if not changed and not removed:
        print(f"{args.dir} is already up to date")
    return 0


def add_parsers(commands: Subcommands) -> None:
    pkg = commands.add_parser("pkg", help="work with local package directories")
    verbs = pkg.add_subparsers(dest="verb", required=True)
    update = verbs.add_parser(
        "update",
        help="merge a new upstream revision into a local package, in place",
        description="Three-way merge like 'kpt pkg update': the changes between ORIGINAL "
        "(the upstream DIR was cloned from) and UPSTREAM (the new upstream) are applied to "
        "DIR, keeping DIR's local changes. On a conflict the strategy decides; on an error "
        "DIR is left as it was.",
    )
    update.add_argument("dir", metavar="DIR", help="the local package, updated in place")
    update.add_argument(
        "--original", required=True, metavar="ORIGINAL", help="the upstream DIR was cloned from"
    )
    update.add_argument(
        "--upstream", required=True, metavar="UPSTREAM", help="the new upstream revision"
    )
    update.add_argument(
        "--strategy",
        default="resource-merge",
        choices=merge.STRATEGIES,
        help="how to merge (default resource-merge, as kpt)",
    )
    update.set_defaults(func=_update)
