"""``lanai repo reg|get|unreg|sync``: Repositories from the command line, as porchctl does.

``reg`` writes the Repository object (and, given credentials, the Secret it names) and
waits for Lanai to reach the repository, so a wrong URL or password fails the command
with Lanai's own message instead of surfacing later. ``sync`` asks for an extra sync the
Porch way, by setting ``spec.sync.runOnceAt``, and waits until Lanai reports it done.
"""

from __future__ import annotations

import argparse
import datetime
import re
from collections.abc import Mapping
from typing import Any

from lanai.api import conditions, constants, names
from lanai.cli import kube, listing, verbs, wait
from lanai.cli.logs import Subcommands
from lanai.cli.table import Column, field, text
from lanai.trust import urls


def _ready(obj: Mapping[str, Any]) -> str:
    found = conditions.find(field(obj, "status.conditions"), constants.READY)
    return text(found.get("status") if found else None)


COLUMNS = (
    Column("NAME", lambda o: text(field(o, "metadata.name"))),
    Column("TYPE", lambda o: text(field(o, "spec.type"))),
    Column("CONTENT", lambda o: text(field(o, "spec.content"))),
    Column("DEPLOYMENT", lambda o: text(bool(field(o, "spec.deployment")))),
    Column("READY", _ready),
    Column("ADDRESS", lambda o: text(field(o, "spec.git.repo") or field(o, "spec.oci.registry"))),
)


def default_name(url: str) -> str:
    """The last segment of the URL, without ``.git``, made an RFC 1123 label."""
    last = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    last = last.removesuffix(".git").lower()
    label = re.sub(r"[^a-z0-9-]+", "-", last).strip("-")[:63].strip("-")
    if not names.is_dns1123_label(label) or not label:
        raise kube.Usage(f"cannot derive a Repository name from {url!r}: pass --name")
    return label


def secret_name(repository: str) -> str:
    """The Secret ``reg`` writes credentials to (and ``unreg`` removes), as porchctl names it."""
    return f"{repository}-auth"


def credentials(
    repository: str, username: str | None, password: str | None, token: str | None
) -> dict[str, Any] | None:
    """The Secret for the given credentials (basic auth or a bearer token), or ``None``."""
    basic = bool(username or password)
    if basic and token:
        raise kube.Usage(
            "give either --repo-basic-username/--repo-basic-password or --repo-bearer-token"
        )
    if basic and not (username and password):
        raise kube.Usage("basic auth needs both --repo-basic-username and --repo-basic-password")
    if not basic and not token:
        return None
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(repository)},
    }
    if basic:
        body["type"] = "kubernetes.io/basic-auth"
        body["stringData"] = {"username": username, "password": password}
    else:
        body["type"] = "Opaque"
        body["stringData"] = {"bearerToken": token}
    return body


def repository_body(name: str, args: argparse.Namespace, secret: str | None) -> dict[str, Any]:
    # porchctl records the root as "/" (scripts read spec.git.directory back)
    git: dict[str, Any] = {"repo": args.url, "branch": args.branch}
    git["directory"] = args.directory or "/"
    if args.create_branch:
        git["createBranch"] = True
    if secret:
        git["secretRef"] = {"name": secret}
    spec: dict[str, Any] = {
        "type": "git",
        "content": "Package",
        "deployment": bool(args.deployment),
        "git": git,
    }
    if args.description:
        spec["description"] = args.description
    if args.sync_schedule:
        spec["sync"] = {"schedule": args.sync_schedule}
    return {
        "apiVersion": kube.REPOSITORIES.api_version,
        "kind": kube.REPOSITORIES.kind,
        "metadata": {"name": name},
        "spec": spec,
    }


async def get(session: kube.Session, args: argparse.Namespace) -> int:
    return await listing.run(session, args, kube.REPOSITORIES, COLUMNS)


async def _write_secret(session: kube.Session, body: dict[str, Any]) -> None:
    name = body["metadata"]["name"]
    try:
        await session.create(kube.SECRETS, body)
    except kube.ApiError as error:
        if kube.status_of(error) != 409:
            raise
        await session.patch(kube.SECRETS, name, {"stringData": body["stringData"]})


async def register(session: kube.Session, args: argparse.Namespace) -> int:
    try:  # before a Secret is written for a Repository the API server would refuse
        urls.git_url(args.url, "the repository URL")
    except urls.URLRefused as error:
        raise kube.Failure(str(error)) from None
    name = args.name or default_name(args.url)
    secret = credentials(
        name, args.repo_basic_username, args.repo_basic_password, args.repo_bearer_token
    )
    if secret is not None:
        await _write_secret(session, secret)
    body = repository_body(name, args, secret_name(name) if secret else None)
    await session.create(kube.REPOSITORIES, body)
    if args.wait:
        await wait.until_ready(session, kube.REPOSITORIES, name, within=args.timeout)
    print(f"{name} registered")
    return 0


async def unregister(session: kube.Session, args: argparse.Namespace) -> int:
    repository = await session.get(kube.REPOSITORIES, args.name)
    await session.delete(kube.REPOSITORIES, args.name)
    referenced = field(repository, "spec.git.secretRef.name")
    # Only the Secret reg wrote: another Secret may be shared by other Repositories.
    if referenced == secret_name(args.name) and not args.keep_auth_secret:
        try:
            await session.delete(kube.SECRETS, referenced)
        except kube.ApiError as error:
            if kube.status_of(error) != 404:
                raise
    if args.wait:
        await wait.until_gone(session, kube.REPOSITORIES, args.name, within=args.timeout)
    print(f"{args.name} unregistered")
    return 0


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def sync(session: kube.Session, args: argparse.Namespace) -> int:
    if args.all and args.names:
        raise kube.Usage("give repository names or --all, not both")
    if not args.all and not args.names:
        raise kube.Usage("give repository names, or --all for every Repository in the namespace")
    chosen = args.names or [
        text(field(r, "metadata.name")) for r in await session.list_objects(kube.REPOSITORIES)
    ]
    if not chosen:
        raise kube.Failure(f"no repositories in namespace {session.namespace}")
    stamp = now_rfc3339()

    def synced(obj: Mapping[str, Any]) -> str | None:
        return None if field(obj, "status.observedRunOnceAt") == stamp else "syncing"

    async def one(name: str) -> None:
        await session.patch(kube.REPOSITORIES, name, {"spec": {"sync": {"runOnceAt": stamp}}})
        if not args.wait:
            print(f"{name} sync requested", flush=True)
            return
        done = await wait.until_ready(
            session, kube.REPOSITORIES, name, within=args.timeout, pending=synced
        )
        count = field(done, "status.packageCount")
        print(f"{name} synced ({text(count) or 0} packages)", flush=True)

    return await kube.each(chosen, one)


def add_parsers(commands: Subcommands) -> None:
    group = verbs.group(
        commands,
        "repo",
        "repositories: reg, get, unreg, sync",
        "Manage Repositories through the API server, like porchctl repo.",
    )
    changing = group.changing
    get_ = group.get("list repositories", "repositories")
    get_.set_defaults(func=kube.command(get))

    reg = group.verbs.add_parser(
        "reg", aliases=["register"], parents=changing, help="register a Git repository"
    )
    reg.add_argument("url", metavar="URL", help="the repository's address")
    reg.add_argument("--name", help="Repository name (default: from the URL)")
    reg.add_argument("--description", help="a description")
    reg.add_argument("--branch", default="main", help="branch of published packages (main)")
    reg.add_argument("--directory", help="directory of the packages (default: /, the root)")
    reg.add_argument("--create-branch", action="store_true", help="create the branch if missing")
    reg.add_argument("--deployment", action="store_true", help="a deployment repository")
    reg.add_argument("--sync-schedule", metavar="CRON", help="sync schedule, e.g. '*/10 * * * *'")
    reg.add_argument("--repo-basic-username", metavar="USER", help="basic-auth user name")
    reg.add_argument("--repo-basic-password", metavar="PASSWORD", help="basic-auth password")
    reg.add_argument("--repo-bearer-token", metavar="TOKEN", help="bearer token")
    reg.set_defaults(func=kube.command(register))

    unreg = group.verbs.add_parser(
        "unreg", aliases=["unregister"], parents=changing, help="unregister a repository"
    )
    unreg.add_argument("name", metavar="NAME")
    unreg.add_argument(
        "--keep-auth-secret", action="store_true", help="keep the Secret reg wrote (NAME-auth)"
    )
    unreg.set_defaults(func=kube.command(unregister))

    sync_ = group.verbs.add_parser("sync", parents=changing, help="sync repositories now")
    sync_.add_argument("names", metavar="NAME", nargs="*")
    sync_.add_argument("--all", action="store_true", help="every Repository in the namespace")
    sync_.set_defaults(func=kube.command(sync))
