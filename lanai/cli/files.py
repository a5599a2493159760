"""``rpkg pull`` and ``rpkg push``: a revision's files between the API server and a directory.

A Draft's (and a Proposed revision's) files are the ``spec.resources`` map of its
PackageRevisionResources object; replacing that map commits to the draft and renders it.
``pull`` writes the map into a directory, with ``.KptRevisionMetadata`` recording which
object and ``resourceVersion`` it came from, as Porch's CLI does; ``push`` sends the
directory back with that ``resourceVersion``, so a push over someone else's newer change
is refused (409) instead of silently undoing it. Without a directory they speak a
ResourceList on stdout/stdin, for piping through ``kpt fn`` tools.

Every file name is checked by ``lanai.trust.paths`` (a name the server sends that would
leave the directory is refused, never cleaned up), and the directory is read and written
by :mod:`lanai.kpt.ondisk`: symlinks in it are ignored with a warning, never followed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from lanai.api import constants
from lanai.cli import create, kube, wait
from lanai.cli.logs import Subcommands
from lanai.cli.table import dump_yaml, field

METADATA_FILE = ".KptRevisionMetadata"


METADATA_KIND = "KptRevisionMetadata"


def metadata_object(resources: Mapping[str, Any]) -> dict[str, Any]:
    """kpt's ``KptRevisionMetadata`` object, as porchctl writes it: which revision, at which
    resourceVersion (``apiVersion`` empty, as porchctl's typed client leaves it)."""
    metadata = resources.get("metadata") or {}
    kept = {
        k: metadata[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in metadata
    }
    return {"apiVersion": "", "kind": METADATA_KIND, "metadata": kept}


def metadata_text(resources: Mapping[str, Any]) -> str:
    """What ``.KptRevisionMetadata`` holds (porchctl and ``lanai rpkg push`` read it back)."""
    return dump_yaml(metadata_object(resources))


def pulled_from(text: str) -> tuple[str, str]:
    """``(name, resourceVersion)`` from ``.KptRevisionMetadata``."""
    try:
        document = YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        raise kube.Failure(f"{METADATA_FILE} is not valid YAML: {error}") from None
    metadata = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(metadata, dict) or not metadata.get("name"):
        raise kube.Failure(f"{METADATA_FILE} does not name the revision it was pulled from")
    return str(metadata["name"]), str(metadata.get("resourceVersion") or "")


def checked(resources: Mapping[str, str]) -> dict[str, bytes]:
    """The files as a tree to write, refusing any path the rules refuse (nothing is
    renamed) and one that would overwrite the metadata file."""
    from lanai.trust import paths

    tree: dict[str, bytes] = {}
    for path, content in resources.items():
        problem = paths.problem(path)
        if problem is None and path == METADATA_FILE:
            problem = "is the name of the metadata file pull writes"
        if problem is not None:
            raise kube.Failure(
                f"the server sent a file Lanai will not write: {paths.BadPath(path, problem)}"
            )
        tree[path] = content.encode()
    return tree


def write_dir(directory: Path, name: str, resources: Mapping[str, str], metadata: str) -> None:
    """Make ``directory`` hold exactly the pulled files; refuse to overwrite anything else."""
    if directory.exists() and not directory.is_dir():
        raise kube.Failure(f"{directory} exists and is not a directory")
    from lanai.kpt import ondisk  # the kpt layer only for commands that touch files

    tree = checked(resources)
    if directory.is_dir() and any(directory.iterdir()):
        marker = _loaded(directory).get(METADATA_FILE)  # never read through a symlink
        if marker is None or pulled_from(marker.decode(errors="replace"))[0] != name:
            raise kube.Failure(
                f"{directory} is not empty and not a pulled copy of {name}: pull into a new "
                "or empty directory"
            )
    tree[METADATA_FILE] = metadata.encode()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        ondisk.save(tree, directory)
    except ondisk.DirectoryError as error:
        raise kube.Failure(f"{error}; {directory} is unchanged") from None


def _loaded(directory: Path) -> dict[str, bytes]:
    """The directory's files; a warning on stderr for each symlink left out."""
    from lanai.kpt import ondisk

    try:
        loaded = ondisk.load(directory)
    except ondisk.DirectoryError as error:
        raise kube.Failure(str(error)) from None
    for skipped in loaded.skipped:
        kube.error(skipped.warning())
    return loaded.tree


def read_dir(directory: Path) -> tuple[dict[str, str], str | None]:
    """The directory's files as text (``.git`` left out) and its metadata file, if any."""
    if not directory.is_dir():
        raise kube.Failure(f"{directory} is not a directory")
    files: dict[str, str] = {}
    metadata = None
    for path, content in _loaded(directory).items():
        try:
            decoded = content.decode()
        except UnicodeDecodeError:
            raise kube.Failure(
                f"{path} is not UTF-8 text: the PackageRevisionResources API carries text only"
            ) from None
        if path == METADATA_FILE:
            metadata = decoded
        else:
            files[path] = decoded
    return files, metadata


def as_resource_list(resources: Mapping[str, str], metadata: Mapping[str, Any]) -> str:
    """The package's KRM files as one ResourceList (paths in annotations), like Porch's,
    led by the ``KptRevisionMetadata`` item porchctl adds (path ``.KptRevisionMetadata``)
    so that ``push -`` of the same list knows the resourceVersion it was pulled at."""
    from lanai.kpt import resourcelist

    tree = {path: content.encode() for path, content in resources.items()}
    try:
        listed = resourcelist.from_tree(tree)
    except resourcelist.ResourceError as error:
        raise kube.Failure(str(error)) from None
    mark = metadata_object(metadata)
    where = {"config.kubernetes.io/index": "0", "config.kubernetes.io/path": METADATA_FILE}
    mark["metadata"] = {**mark["metadata"], "annotations": where}
    listed["items"] = [mark, *(listed.get("items") or [])]
    return resourcelist.encode(listed).decode()


def from_resource_list(
    text: str, current: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, Any] | None]:
    """``current`` with its KRM files replaced by the ResourceList's items; other files
    (README.md, ...) stay as they are. The ``KptRevisionMetadata`` item a pull added is no
    file: it is returned apart (its metadata), or None when the list has none."""
    from lanai.kpt import package, resourcelist

    tree = {path: content.encode() for path, content in current.items()}
    try:
        decoded = resourcelist.decode(text.encode())
        listed = decoded.get("items")
        pulled: dict[str, Any] | None = None
        if isinstance(listed, list):
            marks = [i for i in listed if isinstance(i, Mapping) and i.get("kind") == METADATA_KIND]
            for mark in marks:
                pulled = dict(mark.get("metadata") or {})
                listed.remove(mark)
        items = resourcelist.items_of(decoded)
        written = resourcelist.write_resources(
            tree, items, owned_files=package.all_resource_files(tree)
        )
    except resourcelist.ResourceError as error:
        raise kube.Failure(f"stdin: {error}") from None
    return {path: content.decode() for path, content in written.items()}, pulled


# -- commands ----------------------------------------------------------------------------


async def _resources(session: kube.Session, name: str) -> dict[str, Any]:
    found = await session.find(kube.RESOURCES, name)
    if found is not None:
        return found
    revision = await session.find(kube.REVISIONS, name)
    if revision is None:
        raise kube.Failure(f'package revision "{name}" not found in namespace {session.namespace}')
    if create.lifecycle_of(revision) in create.PUBLISHED:
        return await _requested(session, revision)
    raise kube.Failure(f"{name} has no files yet: Lanai has not written them (is it Ready?)")


async def root_kptfile(session: kube.Session, name: str) -> str:
    """The root Kptfile of revision ``name`` as stored (``rpkg get --show-kptfile``)."""
    resources = (await _resources(session, name)).get("spec", {}).get("resources") or {}
    if "Kptfile" not in resources:
        raise kube.Failure(f'package revision "{name}" does not contain a root Kptfile')
    return str(resources["Kptfile"])


REQUEST_TIMEOUT = 60.0


async def _requested(session: kube.Session, revision: Mapping[str, Any]) -> dict[str, Any]:
    """A published revision's resources object, made on request: created with just its
    names, Lanai fills in the files from the tag."""
    name = str(field(revision, "metadata.name"))
    body = {
        "apiVersion": kube.RESOURCES.api_version,
        "kind": kube.RESOURCES.kind,
        "metadata": {"name": name},
        "spec": {
            key: field(revision, f"spec.{key}")
            for key in ("packageName", "repository", "workspaceName")
        },
    }
    try:
        await session.create(kube.RESOURCES, body)
    except kube.ApiError as error:
        if error.status != 409:  # 409: someone asked at the same moment
            raise

    def pending(obj: Mapping[str, Any]) -> str | None:
        if field(obj, "status.lifecycle") and field(obj, "status.observedGeneration") == field(
            obj, "metadata.generation"
        ):
            return None
        return "Lanai is reading the files from Git"

    return await wait.until_ready(
        session, kube.RESOURCES, name, within=REQUEST_TIMEOUT, required=False, pending=pending
    )


async def pull(session: kube.Session, args: argparse.Namespace) -> int:
    resources = await _resources(session, args.name)
    files: dict[str, str] = dict(field(resources, "spec.resources") or {})
    omitted = field(resources, "status.omittedFiles") or []
    if omitted:
        kube.error(
            f"warning: {len(omitted)} file(s) too large for the API are not included "
            f"({', '.join(omitted)}); they are in Git"
        )
    if args.dir is None:
        sys.stdout.write(as_resource_list(files, resources))
        return 0
    write_dir(Path(args.dir), args.name, files, metadata_text(resources))
    return 0


def render_refusal(error: str, *objects: Mapping[str, Any]) -> str:
    """Porch's words for a push whose render failed: not pushed, or (with the
    ``porch.kpt.dev/push-on-render-failure: "true"`` annotation on the revision or its
    resources, which Lanai's operator honours the same way) pushed anyway."""
    key = constants.PUSH_ON_RENDER_FAILURE_ANNOTATION
    pushed = any((field(obj, "metadata.annotations") or {}).get(key) == "true" for obj in objects)
    what = (
        "Package pushed to remote despite render failure."
        if pushed
        else "Package NOT pushed to remote. Fix locally (until 'kpt fn render' succeeds) and retry."
    )
    return f"error rendering package in kpt function pipeline. {what} Details: {error}"


def _report_render(resources: Mapping[str, Any]) -> None:
    result = field(resources, "status.renderStatus.result")
    if isinstance(result, dict):
        from lanai.cli import fn

        fn.print_runs(result, sys.stderr)


async def push(session: kube.Session, args: argparse.Namespace) -> int:
    current = await _resources(session, args.name)
    version = ""
    if args.dir in (None, "-"):
        shown: dict[str, str] = dict(field(current, "spec.resources") or {})
        files, pulled = from_resource_list(sys.stdin.read(), shown)
        if pulled is not None:
            # as porchctl: the list's own resourceVersion, which an update needs
            if pulled.get("name") not in (None, args.name):
                raise kube.Failure(f"stdin was pulled from {pulled['name']}, not {args.name}")
            version = str(pulled.get("resourceVersion") or "")
            if not version:
                raise kube.Failure("resourceVersion must be specified for an update")
    else:
        files, marker = read_dir(Path(args.dir))
        if marker is not None:
            source, version = pulled_from(marker)
            if source != args.name:
                raise kube.Failure(f"{args.dir} was pulled from {source}, not {args.name}")
    metadata = {k: v for k, v in (current.get("metadata") or {}).items() if k != "managedFields"}
    if version:
        metadata["resourceVersion"] = version
    body = {**current, "metadata": metadata, "spec": {**current["spec"], "resources": files}}
    try:
        await session.replace(kube.RESOURCES, args.name, body)
    except kube.ApiError as error:
        if kube.status_of(error) == 409:
            raise kube.Failure(
                f"Operation cannot be fulfilled on {kube.RESOURCES.plural}.{kube.RESOURCES.group} "
                f'"{args.name}": the object has been modified; please apply your changes to '
                "the latest version and try again (pull it again, redo your edits and push)"
            ) from None
        raise
    if args.wait:
        try:
            done = await wait.until_ready(
                session,
                kube.RESOURCES,
                args.name,
                within=args.timeout,
                condition=constants.RENDERED,
                required=False,
            )
        except kube.Failure:
            found = await session.find(kube.RESOURCES, args.name) or {}
            _report_render(found)
            failed = field(found, "status.renderStatus.error")
            if not failed:
                raise
            owner = await session.find(kube.REVISIONS, args.name) or {}
            raise kube.Failure(render_refusal(str(failed), owner, found)) from None
        _report_render(done)
    print(f"{args.name} pushed")
    return 0


def add_parsers(verbs: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    """``parents``: the connection flags, then the waiting flags (pull does not wait)."""
    for verb, command, flags, summary, description in (
        (
            "pull",
            pull,
            parents[:1],
            "write a Draft's or Proposed revision's files into a directory",
            "Write the files of NAME into DIR (with .KptRevisionMetadata); without DIR "
            "print them as a ResourceList.",
        ),
        (
            "push",
            push,
            parents,
            "replace a Draft's files with a directory's (commits and renders)",
            "Replace the files of the Draft NAME with those of DIR; with '-' or no DIR, "
            "read a ResourceList from stdin (other files stay).",
        ),
    ):
        parser = verbs.add_parser(verb, parents=flags, help=summary, description=description)
        parser.add_argument("name", metavar="NAME")
        parser.add_argument("dir", metavar="DIR", nargs="?")
        parser.set_defaults(func=kube.command(command))
