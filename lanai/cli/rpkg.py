"""``lanai rpkg …``: package revisions from the command line, as ``porchctl rpkg`` offers.

Each verb is one or two API calls on PackageRevision objects (create one, patch its
lifecycle, delete it; files through PackageRevisionResources, in :mod:`files`) and then,
unless ``--no-wait``, a wait for Lanai to carry the change out in Git, so that the exit
code says whether it worked. The same verbs as porchctl, with its flags where Lanai has
the feature: people who know one know the other.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Mapping
from typing import Any

from lanai.api import constants
from lanai.cli import create, files, kube, listing, moves, verbs, wait
from lanai.cli.logs import Subcommands
from lanai.cli.table import Column, field, text

COLUMNS = (
    Column("NAME", lambda o: text(field(o, "metadata.name"))),
    Column("PACKAGE", lambda o: text(field(o, "spec.packageName"))),
    Column("WORKSPACENAME", lambda o: text(field(o, "spec.workspaceName"))),
    # porchctl (kubectl's table) shows an absent revision (not yet published) as <none>
    Column("REVISION", lambda o: text(field(o, "status.revision")) or "<none>"),
    Column("LATEST", lambda o: text(create.is_latest(o))),
    Column("LIFECYCLE", lambda o: text(field(o, "spec.lifecycle"))),
    Column("REPOSITORY", lambda o: text(field(o, "spec.repository"))),
)
STRATEGIES = ("resource-merge", "fast-forward", "force-delete-replace", "copy-merge")


def selector(package: str | None, revision: int | None, workspace: str | None) -> str:
    """porchctl's filters as a field selector (the CRD makes these fields selectable)."""
    terms = []
    if package:
        terms.append(f"spec.packageName={package}")
    if revision is not None:
        terms.append(f"status.revision={revision}")
    if workspace:
        terms.append(f"spec.workspaceName={workspace}")
    return ",".join(terms)


def _check_show_kptfile(args: argparse.Namespace) -> None:
    """porchctl's rules for ``--show-kptfile``, in its words (exit code 1 as porchctl)."""
    if len(args.names) != 1:
        raise kube.Failure(
            "--show-kptfile requires exactly one package revision name as an argument"
        )
    if args.package or args.revision is not None or args.workspace:
        raise kube.Failure(
            "--show-kptfile cannot be combined with --name, --revision, or --workspace"
        )
    if args.all_namespaces:
        raise kube.Failure("--show-kptfile cannot be combined with --all-namespaces")


async def get(session: kube.Session, args: argparse.Namespace) -> int:
    if args.show_kptfile:
        _check_show_kptfile(args)
        kptfile = await files.root_kptfile(session, args.names[0])
        sys.stdout.write(kptfile)
        return 0
    chosen = selector(args.package, args.revision, args.workspace)
    return await listing.run(session, args, kube.REVISIONS, COLUMNS, chosen)


async def _create(session: kube.Session, args: argparse.Namespace, body: dict[str, Any]) -> str:
    made = await session.create(kube.REVISIONS, body)
    name = create.name_of(made)
    if args.wait:
        await wait.until_ready(session, kube.REVISIONS, name, within=args.timeout)
    return name


async def _refuse_existing(session: kube.Session, repository: str, package: str, verb: str) -> None:
    """As porchctl (and Porch's server) refuse them, in their words (Go's %q quotes as
    JSON does for these names): ``init`` and ``clone`` make a package's first revision;
    later ones are made with ``copy``. Checked before anything is created (Lanai's
    operator refuses a clone as well, on the object)."""
    found = await session.list_objects(kube.REVISIONS, field_selector=selector(package, None, None))
    if not any(field(o, "spec.repository") == repository for o in found):
        return
    if verb == "clone":
        raise kube.Failure(
            f"`clone` cannot create a new revision for package {json.dumps(package)} that "
            f"already exists in repo {json.dumps(repository)}; make subsequent revisions using "
            "`copy`"
        )
    raise kube.Failure(
        f"package {json.dumps(package)} already exists in repository {json.dumps(repository)}"
    )


async def init(session: kube.Session, args: argparse.Namespace) -> int:
    await _refuse_existing(session, args.repository, args.package, "init")
    source = create.init_source(args.package, args.description, args.keywords or [], args.site)
    body = create.revision_body(
        session.namespace, args.repository, args.package, args.workspace, source
    )
    print(f"{await _create(session, args, body)} created")
    return 0


async def clone(session: kube.Session, args: argparse.Namespace) -> int:
    await _refuse_existing(session, args.repository, args.package, "clone")
    source = create.clone_source(
        args.source, ref=args.ref, directory=args.directory, secret=args.secret_ref
    )
    body = create.revision_body(
        session.namespace, args.repository, args.package, args.workspace, source
    )
    print(f"{await _create(session, args, body)} created")
    return 0


async def copy(session: kube.Session, args: argparse.Namespace) -> int:
    original = await session.get(kube.REVISIONS, args.source)
    source = {"copyFrom": {"name": args.source}}
    body = create.next_body(session.namespace, original, args.workspace, source)
    print(f"{await _create(session, args, body)} created")
    return 0


async def upgrade(session: kube.Session, args: argparse.Namespace) -> int:
    current = await session.get(kube.REVISIONS, args.source)
    if create.lifecycle_of(current) not in create.PUBLISHED:
        raise kube.Failure(
            f"{args.source} is {create.lifecycle_of(current)}: only a published revision can "
            "be upgraded (the upgrade is a new Draft of the same package)"
        )
    revisions = await session.list_objects(kube.REVISIONS)
    repositories = await session.list_objects(kube.REPOSITORIES)
    old = create.upstream_of(current, revisions, repositories)
    if old is None:
        raise kube.Failure(
            f"{args.source} has no upstream: it was neither cloned nor upgraded from a "
            "registered revision"
        )
    old_obj = next((r for r in revisions if create.name_of(r) == old), None)
    if old_obj is None:
        raise kube.Failure(f"the upstream revision {old} of {args.source} no longer exists")
    new = create.newer_upstream(old_obj, revisions, args.revision)
    if new is None:
        wanted = f"revision {args.revision}" if args.revision is not None else "a revision"
        package = field(old_obj, "spec.packageName")
        raise kube.Failure(f"the upstream package {package} has no published {wanted}")
    if create.name_of(new) == old:
        raise kube.Failure(
            f"{args.source} is already at {old}, the latest revision of its upstream "
            f"({create.revision_of(new)})"
        )
    source = create.upgrade_source(old, create.name_of(new), args.source, args.strategy)
    body = create.next_body(session.namespace, current, args.workspace, source)
    made = await _create(session, args, body)
    print(f"{args.source} upgraded to {made}")  # porchctl's line
    return 0


def _blocked(session: kube.Session, since: datetime.datetime) -> wait.Blocked:
    async def check(obj: Mapping[str, Any]) -> str | None:
        metadata = obj.get("metadata") or {}
        if not metadata.get("deletionTimestamp"):
            return None
        # Lanai says it on the object (readable by whoever may delete it), and in an Event.
        for found in (obj.get("status") or {}).get("conditions") or []:
            blocked = found.get("reason") == constants.REASON_DELETION_BLOCKED
            if found.get("type") == constants.READY and blocked:
                return str(found.get("message") or "")
        events = await session.events(str(metadata.get("name")), "DeletionBlocked")
        return wait.latest_message(events, metadata.get("uid"), since)

    return check


async def delete(session: kube.Session, args: argparse.Namespace) -> int:
    async def one(name: str) -> None:
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        await session.delete(kube.REVISIONS, name)
        if args.wait:
            await wait.until_gone(
                session,
                kube.REVISIONS,
                name,
                within=args.timeout,
                blocked=_blocked(session, now - datetime.timedelta(seconds=1)),
            )
        print(f"{name} deleted", flush=True)

    return await kube.each(args.names, one)


# -- the command line --------------------------------------------------------------------


def add_parsers(commands: Subcommands) -> None:
    group = verbs.group(
        commands,
        "rpkg",
        "package revisions: get, init, clone, copy, propose, approve, pull, push, ...",
        "Manage package revisions through the API server, like porchctl rpkg.",
    )
    changing = group.changing
    get_ = group.get("list package revisions (a table, or -o yaml|json|name)", "revisions")
    get_.add_argument("--name", dest="package", metavar="PACKAGE", help="only this package")
    get_.add_argument("--revision", type=int, metavar="N", help="only this revision number")
    get_.add_argument("--workspace", metavar="WORKSPACE", help="only this workspace")
    get_.add_argument(
        "--show-kptfile",
        action="store_true",
        help="print the root Kptfile of the one revision named (as porchctl)",
    )
    get_.set_defaults(func=kube.command(get))

    init_ = group.verbs.add_parser("init", parents=changing, help="create a new package as a Draft")
    init_.add_argument("package", metavar="PACKAGE", help="package path, e.g. network/basens")
    init_.add_argument("--repository", required=True, help="the Repository to create it in")
    init_.add_argument("--workspace", default="v1", help="workspace name (default v1)")
    init_.add_argument("--description", help="Kptfile info.description")
    init_.add_argument("--keywords", action="append", metavar="A,B", help="Kptfile keywords")
    init_.add_argument("--site", help="Kptfile info.site (a URL)")
    init_.set_defaults(func=kube.command(init))

    clone_ = group.verbs.add_parser(
        "clone",
        parents=changing,
        help="create a Draft cloned from a published revision or a Git URL",
        description="SOURCE is the name of a published PackageRevision, or a Git URL "
        "(with --ref and --directory).",
    )
    clone_.add_argument("source", metavar="SOURCE")
    clone_.add_argument("package", metavar="PACKAGE", help="the new package's path")
    clone_.add_argument("--repository", required=True, help="the Repository to clone into")
    clone_.add_argument("--workspace", default="v1", help="workspace name (default v1)")
    clone_.add_argument("--ref", help="Git source: branch, tag or commit")
    clone_.add_argument("--directory", help="Git source: directory of the package")
    clone_.add_argument("--secret-ref", metavar="SECRET", help="Git source: credentials Secret")
    clone_.set_defaults(func=kube.command(clone))

    copy_ = group.verbs.add_parser(
        "copy", parents=changing, help="create a new Draft of a package from a published revision"
    )
    copy_.add_argument("source", metavar="SOURCE", help="a published revision")
    copy_.add_argument("--workspace", required=True, help="workspace name of the new revision")
    copy_.set_defaults(func=kube.command(copy))

    upgrade_ = group.verbs.add_parser(
        "upgrade",
        parents=changing,
        help="create a Draft that merges a newer upstream revision into a published one",
    )
    upgrade_.add_argument("source", metavar="NAME", help="the published downstream revision")
    upgrade_.add_argument("--workspace", required=True, help="workspace name of the new Draft")
    upgrade_.add_argument(
        "--revision", type=int, metavar="N", help="upstream revision (default: the latest)"
    )
    upgrade_.add_argument(
        "--strategy", choices=STRATEGIES, default="resource-merge", help="merge strategy"
    )
    upgrade_.set_defaults(func=kube.command(upgrade))

    for verb, summary in moves.HELP.items():
        move = group.verbs.add_parser(verb, parents=changing, help=summary)
        move.add_argument("names", metavar="NAME", nargs="+")
        move.set_defaults(func=kube.command(moves.move_all), verb=verb)

    del_ = group.verbs.add_parser(
        "del",
        aliases=["delete"],
        parents=changing,
        help="delete revisions (a Published one only after propose-delete)",
    )
    del_.add_argument("names", metavar="NAME", nargs="+")
    del_.set_defaults(func=kube.command(delete))

    files.add_parsers(group.verbs, changing)
