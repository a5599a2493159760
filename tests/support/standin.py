"""A small HTTP server standing in for the API server in unit tests of the operator's
API calls: ``handle`` answers every request; the server's base URL is yielded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord


@asynccontextmanager
async def serving(handle: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def published(workspace: str) -> PackageRevisionRecord:
    """Revision ``v<N>`` of blueprints/app, published: what a sync mirrors."""
    return PackageRevisionRecord(
        key=PackageRevisionKey("ns", "blueprints", "app", workspace),
        lifecycle=Lifecycle.PUBLISHED,
        revision=int(workspace[1:]),
        commit=f"c-{workspace}",
        ref=f"refs/tags/app/{workspace}",
        self_lock={"type": "git", "git": {"commit": f"c-{workspace}"}},
    )
