"""The task handler: builds a revision's content from its source, and renders it.

init writes a fresh Kptfile; clone takes a published upstream revision's files and
records upstream and upstreamLock; copy takes another revision of the same package.
A source's symlinks and submodules are not files: they are left out of what is built,
and :class:`Built` says so, for a warning on the new revision.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lanai.api import values
from lanai.api.keys import PackageRevisionKey
from lanai.kpt import context, merge
from lanai.kpt import kptfile as kpt_kptfile
from lanai.kpt.merge.strategies import annotate_tree
from lanai.tasks import gitsource, kptfiles
from lanai.tasks.requests import CreateRequest, Rendered, Source

Reader = Callable[[PackageRevisionKey], Awaitable["Upstream"]]


@dataclass(frozen=True)
class Upstream:
    """A source revision as the tasks need it: its Git lock and its files."""

    key: PackageRevisionKey
    self_lock: Mapping[str, Any]
    commit: str
    files: dict[str, bytes]
    skipped: tuple[values.Skipped, ...] = ()


@dataclass(frozen=True)
class Built:
    """A new revision's content, its creation task, and what was left out of it."""

    files: dict[str, bytes]
    task: values.Task
    warnings: tuple[str, ...] = ()


def left_out(source: str, skipped: tuple[values.Skipped, ...]) -> tuple[str, ...]:
    """The warning for a source's entries that are not files (none: no warning)."""
    if not skipped:
        return ()
    shown = ", ".join(str(s) for s in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
    return (
        f"left out {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} of {source} that "
        f"are not files: {shown}; symlinks and submodules within a package are ignored",
    )


Renderer = Callable[[Mapping[str, bytes]], Awaitable[Rendered]]


ABSTRACT_CONTEXT = (
    b"apiVersion: v1\n"
    b"kind: ConfigMap\n"
    b"metadata:\n"
    b"  name: kptfile.kpt.dev\n"
    b"  annotations:\n"
    b'    config.kubernetes.io/local-config: "true"\n'
    b"data:\n"
    b"  name: example\n"
)
"""``package-context.yaml`` as ``kpt pkg init`` writes it (a deployment repository's
packages get their real name in it when cloned)."""


class TaskError(ValueError):
    """A source cannot be turned into a package (the message says why)."""


class SourceUnavailable(TaskError):
    """The source cannot be reached right now (a Git server that did not answer)."""


async def render_nothing(files: Mapping[str, bytes]) -> Rendered:
    """Until a function runtime is configured: packages without a pipeline pass."""
    content = files.get(kptfiles.KPTFILE)
    if content and kptfiles.pipeline(kptfiles.load(content)):
        return Rendered(
            dict(files),
            ok=False,
            message="error rendering package in kpt function pipeline: "
            "no function runtime is configured",
        )
    return Rendered(dict(files), ok=True)


class TaskHandler:
    def __init__(
        self, renderer: Renderer = render_nothing, git_sources: gitsource.GitSources | None = None
    ) -> None:
        self._render = renderer
        self._git_sources = git_sources

    async def build(self, request: CreateRequest, read: Reader, deployment: bool) -> Built:
        source = request.source
        key = request.key
        if source.kind == "init":
            files = self._init(key, source.init)
            return Built(files, values.Task("init", {"init": dict(source.init)}))
        if source.kind == "copy" and source.upstream:
            copied = await read(source.upstream)
            return Built(
                dict(copied.files),
                values.Task("copy", {"copyFrom": {"name": source.upstream.name}}),
                left_out(source.upstream.name, copied.skipped),
            )
        if source.kind == "clone" and source.upstream:
            upstream = await read(source.upstream)
            lock = dict(upstream.self_lock.get("git", {}) if upstream.self_lock else {})
            files = self._clone(key, upstream.files, lock, upstream.commit, deployment)
            detail: dict[str, Any] = {"cloneFrom": {"upstreamRef": {"name": source.upstream.name}}}
            warnings = left_out(source.upstream.name, upstream.skipped)
            return Built(files, values.Task("clone", detail), warnings)
        if source.kind == "clone" and source.git is not None:
            fetched = await self._fetch(source, key.namespace)
            git = {k: str(source.git.get(k) or "") for k in ("repo", "directory", "ref")}
            files = self._clone(key, fetched.files, git, fetched.commit, deployment)
            detail = {"cloneFrom": {"type": "git", "git": {**git, "commit": fetched.commit}}}
            warnings = left_out(f"{git['repo']} ({fetched.commit[:12]})", fetched.skipped)
            return Built(files, values.Task("clone", detail), warnings)
        if source.kind == "upgrade" and source.upstream and source.old_upstream and source.current:
            files, warnings = await self._upgrade(source, read, key, deployment)
            detail = {
                "upgrade": {
                    "oldUpstream": {"name": source.old_upstream.name},
                    "newUpstream": {"name": source.upstream.name},
                    "currentPackage": {"name": source.current.name},
                    "strategy": source.strategy,
                }
            }
            return Built(files, values.Task("upgrade", detail), warnings)
        raise TaskError(f"source {source.kind} is not supported")

    async def _fetch(self, source: Source, namespace: str) -> gitsource.Fetched:
        git = source.git or {}
        if self._git_sources is None:
            raise TaskError("cloning from a Git URL is not configured")
        if not git.get("repo"):
            raise TaskError("spec.source.cloneFrom.git.repo is required")
        try:
            return await self._git_sources.read(
                namespace, str(git["repo"]), str(git.get("ref") or ""),
                str(git.get("directory") or ""), source.git_auth,
            )  # fmt: skip
        except gitsource.GitSourceUnreachable as error:
            raise SourceUnavailable(str(error)) from None
        except gitsource.GitSourceError as error:
            raise TaskError(str(error)) from None

    async def _upgrade(
        self, source: Source, read: Reader, key: PackageRevisionKey, deployment: bool
    ) -> tuple[dict[str, bytes], tuple[str, ...]]:
        if source.upstream is None or source.old_upstream is None or source.current is None:
            raise TaskError("upgrade needs oldUpstream, newUpstream and currentPackage")
        original = await read(source.old_upstream)
        updated = await read(source.upstream)
        current = await read(source.current)
        local = {p: c for p, c in current.files.items() if p != context.CONTEXT_FILE}
        try:
            merged = merge.upgrade(original.files, updated.files, local, source.strategy)
            lock = updated.self_lock.get("git", {}) if updated.self_lock else {}
            merged = merge.set_upstream_lock(
                merged,
                str(lock.get("repo", "")),
                str(lock.get("directory", "")),
                str(lock.get("ref", "")),
                str(lock.get("commit", updated.commit)),
            )
        except merge.MergeError as error:
            raise TaskError(f"upgrade failed: {error}") from None
        if deployment or context.CONTEXT_FILE in current.files:
            merged = context.with_package_context(merged, key.package)
        warnings = left_out(source.upstream.name, updated.skipped)
        warnings += left_out(source.current.name, current.skipped)
        return dict(merged), warnings

    @staticmethod
    def _init(key: PackageRevisionKey, init: Mapping[str, Any]) -> dict[str, bytes]:
        name = posixpath.basename(key.package)
        description = str(init.get("description") or f"{key.package} description")
        document = kptfiles.new(
            name, description, list(init.get("keywords") or []), str(init.get("site") or "")
        )
        readme = f"# {name}\n\n{description}\n"
        return {
            kptfiles.KPTFILE: kptfiles.dump(document),
            "README.md": readme.encode(),
            # kpt's initializer writes the abstract package context beside the Kptfile
            context.CONTEXT_FILE: ABSTRACT_CONTEXT,
        }

    @staticmethod
    def _clone(
        key: PackageRevisionKey,
        files: Mapping[str, bytes],
        lock: Mapping[str, Any],
        commit: str,
        deployment: bool,
    ) -> dict[str, bytes]:
        """The upstream's files renamed to the new package, with upstream locks and
        merge identities (so a later upgrade can follow local renames)."""
        if kptfiles.KPTFILE not in files:
            raise TaskError("the upstream package has no Kptfile")
        document = kptfiles.load(files[kptfiles.KPTFILE])
        kptfiles.rename(document, posixpath.basename(key.package))
        kptfiles.mark_cloned(document, posixpath.basename(key.package))
        kptfiles.set_upstream(document, lock, str(lock.get("commit") or commit))
        result = dict(files)
        result[kptfiles.KPTFILE] = kptfiles.dump(document)
        result = dict(annotate_tree(result))
        if deployment:
            result = dict(context.with_package_context(result, key.package))
        return result

    async def render(self, files: Mapping[str, bytes]) -> Rendered:
        return await self._render(files)

    def with_metadata(
        self,
        files: Mapping[str, bytes],
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        readiness_gates: tuple[str, ...],
        *,
        exact: bool = False,
    ) -> dict[str, bytes]:
        """The Kptfile with these labels, annotations and gates added (``exact``: and no
        others; kpt's own annotations stay)."""
        result = dict(files)
        if kptfiles.KPTFILE not in files:
            return result
        if not (exact or labels or annotations or readiness_gates):
            return result
        document = kptfiles.load(files[kptfiles.KPTFILE])
        kptfiles.set_metadata(document, labels, annotations, exact=exact)
        if exact:
            kpt_kptfile.replace_readiness_gates(document, readiness_gates)
        else:
            kpt_kptfile.set_readiness_gates(document, readiness_gates)
        result[kptfiles.KPTFILE] = kptfiles.dump(document)
        return result
