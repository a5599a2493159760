"""The PackageRevision objects ``init``, ``clone``, ``copy`` and ``upgrade`` create.

Porch's CLI decides a few things for its users that the API leaves open: the name (here
derived as the CRD's CEL rule wants it), whether a clone source is a Git URL or a
registered revision, and which revisions an upgrade merges (the old upstream is found
from the package's source, or from its upstream lock; the new one is the latest
published revision of that upstream package, or ``--revision N``). These are plain
functions over objects already read, so each rule is tested by a table of cases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from lanai.api import constants, names
from lanai.cli import kube
from lanai.cli.table import field
from lanai.trust import urls

PUBLISHED = ("Published", "DeletionProposed")
_URL_LIKE = re.compile(
    r"^([a-zA-Z][a-zA-Z0-9+.-]*://|[a-zA-Z][a-zA-Z0-9+.-]*::|[^/]*@)|[/\\]|\.git$"
)
"""A scheme, ``ext::``-style transport, ``user@host:path``, a path or ``*.git``: meant as a
Git URL (revision names have none of these), so checked as one."""


def revision_body(
    namespace: str,
    repository: str,
    package: str,
    workspace: str,
    source: Mapping[str, Any],
    *,
    lifecycle: str = "Draft",
) -> dict[str, Any]:
    if not names.is_package_path(package):
        raise kube.Failure(
            f"package name {package!r} must be lowercase DNS-1123 labels separated by '/'"
        )
    if not names.is_dns1123_label(workspace):
        raise kube.Failure(f"workspace {workspace!r} must be a DNS-1123 label (e.g. v1)")
    return {
        "apiVersion": kube.REVISIONS.api_version,
        "kind": kube.REVISIONS.kind,
        "metadata": {
            "name": names.package_revision_name(repository, package, workspace),
            "namespace": namespace,
        },
        "spec": {
            "packageName": package,
            "repository": repository,
            "workspaceName": workspace,
            "lifecycle": lifecycle,
            "source": dict(source),
        },
    }


def next_body(
    namespace: str, original: Mapping[str, Any], workspace: str, source: Mapping[str, Any]
) -> dict[str, Any]:
    """A new revision of ``original``'s package (same repository) in ``workspace``."""
    spec = original.get("spec") or {}
    return revision_body(
        namespace, str(spec.get("repository")), str(spec.get("packageName")), workspace, source
    )


def init_source(
    package: str, description: str | None, keywords: Iterable[str], site: str | None
) -> dict[str, Any]:
    init: dict[str, Any] = {"description": description or f"{package} description"}
    words = [w.strip() for word in keywords for w in word.split(",") if w.strip()]
    if words:
        init["keywords"] = words
    if site:
        init["site"] = site
    return {"init": init}


def is_git_url(source: str) -> bool:
    return bool(_URL_LIKE.search(source))


_PACKAGE_URL = re.compile(r"^(?P<repo>.+?\.git)(?P<directory>/[^@]*)?(?:@(?P<ref>.+))?$")


def _split_package_url(
    source: str, ref: str | None, directory: str | None
) -> tuple[str, str | None, str | None]:
    """kpt's and porchctl's ``REPO.git/DIRECTORY@REF`` form: the repository, then the
    ref and directory (a flag that says otherwise is refused, in porchctl's words)."""
    found = _PACKAGE_URL.match(source)
    if found is None or not (found["directory"] or found["ref"]):
        return source, ref, directory
    parsed_dir = (found["directory"] or "").strip("/") or None
    if directory and parsed_dir and directory.strip("/") != parsed_dir:
        raise kube.Usage(
            f"directory {directory} specified by --directory contradicts directory "
            f"{parsed_dir} specified by SOURCE_PACKAGE"
        )
    if ref and found["ref"] and ref != found["ref"]:
        raise kube.Usage(
            f"ref {ref} specified by --ref contradicts ref {found['ref']} specified by "
            "SOURCE_PACKAGE"
        )
    return found["repo"], ref or found["ref"], directory or parsed_dir


def clone_source(
    source: str, *, ref: str | None, directory: str | None, secret: str | None
) -> dict[str, Any]:
    """``cloneFrom``: a Git URL (with ref/directory/secret) or a registered revision."""
    if source.startswith("oci://"):
        raise kube.Failure("cloning from OCI is not supported by Lanai; clone from Git")
    if is_git_url(source):
        source, ref, directory = _split_package_url(source, ref, directory)
        try:
            urls.git_url(source, "a Git source")
        except urls.URLRefused as error:
            raise kube.Failure(str(error)) from None
        git: dict[str, Any] = {"repo": source}
        if ref:
            git["ref"] = ref
        if directory:
            git["directory"] = directory
        if secret:
            git["secretRef"] = {"name": secret}
        return {"cloneFrom": {"type": "git", "git": git}}
    if ref or directory or secret:
        raise kube.Usage("--ref, --directory and --secret-ref apply only to a Git URL source")
    return {"cloneFrom": {"upstreamRef": {"name": source}}}


def lifecycle_of(obj: Mapping[str, Any]) -> str:
    return str(field(obj, "spec.lifecycle") or "Draft")


def revision_of(obj: Mapping[str, Any]) -> int:
    value = field(obj, "status.revision")
    return int(value) if isinstance(value, int) else 0


def name_of(obj: Mapping[str, Any]) -> str:
    return str(field(obj, "metadata.name") or "")


# -- upgrade -----------------------------------------------------------------------------


def _by_name(revisions: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {name_of(r): r for r in revisions}


def _locked_upstream(
    lock: Mapping[str, Any],
    revisions: Iterable[Mapping[str, Any]],
    repositories: Iterable[Mapping[str, Any]],
) -> str | None:
    """The registered revision a ``status.upstreamLock`` points at (Git URL + tag)."""
    git = lock.get("git") or {}
    url, ref, directory = git.get("repo"), str(git.get("ref") or ""), git.get("directory")
    package, _, version = ref.rpartition("/v")
    if not url or not version.isdigit():
        return None
    for repository in repositories:
        if field(repository, "spec.git.repo") != url:
            continue
        root = str(field(repository, "spec.git.directory") or "").strip("/")
        for revision in revisions:
            spec = revision.get("spec") or {}
            path = "/".join(p for p in (root, str(spec.get("packageName"))) if p)
            if (
                spec.get("repository") == name_of(repository)
                and path == package
                and (directory is None or str(directory).strip("/") == path)
                and revision_of(revision) == int(version)
            ):
                return name_of(revision)
    return None


def upstream_of(
    current: Mapping[str, Any],
    revisions: Iterable[Mapping[str, Any]],
    repositories: Iterable[Mapping[str, Any]] = (),
) -> str | None:
    """The name of the revision ``current`` was last cloned or upgraded from.

    ``copyFrom`` is followed back to the copied revision; a revision Lanai found in Git
    (no ``spec.source``) is matched through its upstream lock.
    """
    revisions = list(revisions)
    by_name = _by_name(revisions)
    seen: set[str] = set()
    obj: Mapping[str, Any] | None = current
    while obj is not None and name_of(obj) not in seen:
        seen.add(name_of(obj))
        source = field(obj, "spec.source") or {}
        if field(source, "cloneFrom.upstreamRef.name"):
            return str(source["cloneFrom"]["upstreamRef"]["name"])
        if field(source, "upgrade.newUpstream.name"):
            return str(source["upgrade"]["newUpstream"]["name"])
        if field(source, "copyFrom.name"):
            obj = by_name.get(str(source["copyFrom"]["name"]))
            continue
        lock = field(obj, "status.upstreamLock")
        if isinstance(lock, Mapping):
            return _locked_upstream(lock, revisions, repositories)
        return None
    return None


def newer_upstream(
    old: Mapping[str, Any], revisions: Iterable[Mapping[str, Any]], revision: int | None
) -> Mapping[str, Any] | None:
    """The published revision of ``old``'s package to upgrade to: ``revision``, or the
    highest one."""
    spec = old.get("spec") or {}
    candidates = [
        r
        for r in revisions
        if (r.get("spec") or {}).get("repository") == spec.get("repository")
        and (r.get("spec") or {}).get("packageName") == spec.get("packageName")
        and lifecycle_of(r) in PUBLISHED
        and revision_of(r) > 0
    ]
    if revision is not None:
        return next((r for r in candidates if revision_of(r) == revision), None)
    return max(candidates, key=revision_of, default=None)


def upgrade_source(old: str, new: str, current: str, strategy: str) -> dict[str, Any]:
    return {
        "upgrade": {
            "oldUpstream": {"name": old},
            "newUpstream": {"name": new},
            "currentPackage": {"name": current},
            "strategy": strategy,
        }
    }


def is_latest(obj: Mapping[str, Any]) -> bool:
    labels = field(obj, "metadata.labels") or {}
    return bool(labels.get(constants.LATEST_REVISION_LABEL) == "true")
