"""The task handler: builds a revision's content from its source, and renders it.

init writes a fresh Kptfile; clone takes a published upstream revision's files and
records upstream and upstreamLock; copy takes another revision of the same package.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lanai.api import values
from lanai.api.keys import PackageRevisionKey
from lanai.kpt import context
from lanai.kpt import kptfile as kpt_kptfile
from lanai.tasks import kptfiles
from lanai.tasks.requests import CreateRequest, Rendered

Reader = Callable[[PackageRevisionKey], Awaitable["Upstream"]]


@dataclass(frozen=True)
class Upstream:
    """A source revision as the tasks need it: its Git lock and its files."""

    key: PackageRevisionKey
    self_lock: Mapping[str, Any]
    commit: str
    files: dict[str, bytes]


Renderer = Callable[[Mapping[str, bytes]], Awaitable[Rendered]]


class TaskError(ValueError):
    """A source cannot be turned into a package (the message says why)."""


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
    def __init__(self, renderer: Renderer = render_nothing) -> None:
        self._render = renderer

    async def build(
        self, request: CreateRequest, read: Reader, deployment: bool
    ) -> tuple[dict[str, bytes], values.Task]:
        source = request.source
        key = request.key
        if source.kind == "init":
            files = self._init(key, source.init)
            return files, values.Task("init", {"init": dict(source.init)})
        if source.kind == "copy" and source.upstream:
            copied = await read(source.upstream)
            return dict(copied.files), values.Task(
                "copy", {"copyFrom": {"name": source.upstream.name}}
            )
        if source.kind == "clone" and source.upstream:
            files = self._clone(key, await read(source.upstream))
            if deployment:
                files = context.with_package_context(files, key.package)
            detail = {"cloneFrom": {"upstreamRef": {"name": source.upstream.name}}}
            return files, values.Task("clone", detail)
        raise TaskError(f"source {source.kind} is not supported yet")

    @staticmethod
    def _init(key: PackageRevisionKey, init: Mapping[str, Any]) -> dict[str, bytes]:
        name = posixpath.basename(key.package)
        description = str(init.get("description") or f"{key.package} description")
        document = kptfiles.new(
            name, description, list(init.get("keywords") or []), str(init.get("site") or "")
        )
        readme = f"# {name}\n\n{description}\n"
        return {kptfiles.KPTFILE: kptfiles.dump(document), "README.md": readme.encode()}

    @staticmethod
    def _clone(key: PackageRevisionKey, upstream: Upstream) -> dict[str, bytes]:
        files = upstream.files
        if kptfiles.KPTFILE not in files:
            raise TaskError(f"upstream {upstream.key.name} has no Kptfile")
        document = kptfiles.load(files[kptfiles.KPTFILE])
        kptfiles.rename(document, posixpath.basename(key.package))
        lock = upstream.self_lock.get("git", {}) if upstream.self_lock else {}
        kptfiles.set_upstream(document, lock, str(lock.get("commit", upstream.commit)))
        result = dict(files)
        result[kptfiles.KPTFILE] = kptfiles.dump(document)
        return result

    async def render(self, files: Mapping[str, bytes]) -> Rendered:
        return await self._render(files)

    def with_metadata(
        self,
        files: Mapping[str, bytes],
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        readiness_gates: tuple[str, ...],
    ) -> dict[str, bytes]:
        result = dict(files)
        if not (labels or annotations or readiness_gates) or kptfiles.KPTFILE not in files:
            return result
        document = kptfiles.load(files[kptfiles.KPTFILE])
        kptfiles.set_metadata(document, labels, annotations)
        kpt_kptfile.set_readiness_gates(document, readiness_gates)
        result[kptfiles.KPTFILE] = kptfiles.dump(document)
        return result
