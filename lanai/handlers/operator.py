"""Assembles and runs the operator: one kopf registry, settings, shared runtime.

Everything is registered on an explicit registry (not kopf's global one), so importing
this package has no side effects and tests can assemble an operator of their own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kopf
import prometheus_client

from lanai.api import constants
from lanai.cache import gitcache, interface
from lanai.engine import errors
from lanai.engine.engine import Engine
from lanai.functions.box import pool
from lanai.git import egress, network, sockets
from lanai.handlers import (
    editing,
    events,
    identity,
    kube,
    memory,
    mirroring,
    packagerevision,
    packagevariant,
    packagevariantset,
    repository,
    runtime,
    settings,
)
from lanai.tasks import gitsource, handler, rendering
from lanai.trust import limits, secrets, urls

logger = logging.getLogger("lanai")


@dataclass(frozen=True)
class Options:
    namespaces: Sequence[str] = field(default_factory=tuple)
    liveness_endpoint: str | None = None
    fast: bool = False
    """Short watch timeouts and retry delays: for tests and local development."""
    sync_period: float = 60.0
    cache_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get("LANAI_CACHE_DIR") or tempfile.mkdtemp(prefix="lanai-cache-")
        )
    )
    """Where the Git mirrors live (an emptyDir in a pod: they are rebuilt from Git)."""
    metrics_address: str | None = None
    """host:port for Prometheus /metrics, e.g. 0.0.0.0:8080; None disables it."""
    function_executables: Mapping[str, str] = field(default_factory=dict)
    """Function image → local executable speaking the KRM function protocol."""
    function_timeout: float = limits.DEFAULT_TIMEOUT
    """Seconds one function may run (see :mod:`lanai.trust.limits`)."""
    function_memory: int = limits.DEFAULT_MEMORY
    """Bytes of memory one render's functions may use, in its worker; each executable too."""
    function_workers: int = limits.DEFAULT_WORKERS
    """Worker processes that render (each at most ~25 MiB idle plus function_memory)."""
    function_runner: str | None = None
    """host:port of a function runner for images neither builtin nor mapped to --exec."""
    git_timeout: float = network.DEFAULT_TIMEOUT
    """Seconds to connect to a Git server, and to wait for each of its answers."""
    secret_access: secrets.SecretAccess = secrets.SecretAccess.REQUESTER
    """Read a Secret only for users who may read it (see :mod:`lanai.trust.secrets`)."""
    allow_git_hosts: Sequence[str] = field(default_factory=tuple)
    """Host names, addresses or CIDR networks Git connections may reach although the
    default policy refuses them (loopback, link-local, ...); see :mod:`lanai.trust.urls`."""


async def address_policy(
    options: Options, server_url: str | None, env: Mapping[str, str]
) -> urls.AddressPolicy:
    """The Git address policy: the operator's allowances, and the API server (from its
    kubeconfig ``server_url`` and the in-cluster ``env``) refused; names resolved now."""
    servers = urls.api_servers(server_url, env)
    resolved: dict[str, list[urls.IPAddress]] = {}
    for host, port in servers:
        if urls.literal(host) is None:
            try:
                found = await asyncio.to_thread(egress.resolve, host, port)
            except OSError as error:
                logger.warning("cannot resolve the API server %s: %s", host, error)
                continue
            resolved[host] = [address for _family, address in found]
    return urls.AddressPolicy.allowing(options.allow_git_hosts, servers, resolved)


def build_box(options: Options) -> pool.Box:
    """The function workers every render runs in; none is started yet."""
    settings = rendering.settings(
        options.function_executables,
        timeout=options.function_timeout,
        memory=options.function_memory,
        function_runner=options.function_runner,
    )
    return pool.Box(settings, workers=options.function_workers)


def build_engine(cache: gitcache.Cache, options: Options, box: pool.Box) -> Engine:
    async def resolve(namespace: str, name: str) -> interface.Repository:
        repository = cache.get(namespace, name)
        # Not before its first listing: "not in Git" would be wrong, and acted on (a
        # deletion would finish without touching Git).
        if repository is None or not repository.loaded:
            raise errors.Unavailable(
                f'Repository "{name}" is not ready: it does not exist in namespace '
                f"{namespace}, or its first sync has not finished"
            )
        return repository

    tasks = handler.TaskHandler(
        rendering.KptRenderer(box, options.function_workers),
        gitsource.GitSources(cache.root / "upstreams", cache.guard),
    )
    return Engine(resolve, tasks)


def build_registry(options: Options, box: pool.Box) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
            **kwargs
        ) or kopf.login_with_kubeconfig(**kwargs)
        return info

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure_settings(settings, options)
        network.set_timeouts(options.git_timeout)
        if options.metrics_address:
            host, _sep, port = options.metrics_address.rpartition(":")
            prometheus_client.start_http_server(int(port), addr=host or "0.0.0.0")  # noqa: S104
            logger.info("serving metrics on %s/metrics", options.metrics_address)
        api = await kube.new_api_client(settings)
        try:
            server_url: str | None = (await asyncio.to_thread(kube.login, settings)).server
        except Exception as error:
            logger.warning("cannot read the API server's address: %s", error)
            server_url = None
        guard = egress.Egress(await address_policy(options, server_url, os.environ))
        try:
            sockets.install()
        except sockets.Unavailable as error:  # every Git call will say so as well
            logger.error("Git connections are disabled: %s", error)
        cache = gitcache.Cache(options.cache_dir, guard)
        memo["runtime"] = runtime.Runtime(
            api=api,
            identity=await identity.whoami(api),
            events=events.Recorder(api),
            cache=cache,
            engine=build_engine(cache, options, box),
            sync_period=options.sync_period,
            retry_cap=5.0 if options.fast else 60.0,
            git_timeout=options.git_timeout,
            secret_access=options.secret_access,
        )

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        rt = memo.get("runtime")
        if isinstance(rt, runtime.Runtime):
            await rt.api.close()

    for plural, index, indexer in (
        (constants.PACKAGE_REVISIONS, mirroring.INDEX, mirroring.index_revision),
        (constants.PACKAGES, mirroring.PACKAGE_INDEX, mirroring.index_package),
    ):
        kopf.index(
            constants.PORCH_GROUP, constants.PORCH_VERSION, plural, id=index, registry=registry
        )(indexer)
    repository.register(registry)
    packagerevision.register(registry)
    editing.register(registry)
    packagevariant.register(registry)
    packagevariantset.register(registry)
    return registry


def configure_settings(kopf_settings: kopf.OperatorSettings, options: Options) -> None:
    settings.configure(kopf_settings, fast=options.fast)


async def serve(options: Options, stop_flag: asyncio.Event | None = None) -> None:
    memory.limit_arenas()
    box = build_box(options)
    registry = build_registry(options, box)
    memory.calm_gc()
    ready = asyncio.Event()

    async def announce() -> None:
        await ready.wait()
        logger.info("lanai operator is ready")
        # One function worker loads now, beside the first syncs rather than before them,
        # so the first render need not wait for it.
        await asyncio.to_thread(box.start, 1)

    announcer = asyncio.create_task(announce())
    try:
        await kopf.operator(
            registry=registry,
            memo=kopf.Memo(),
            standalone=True,
            clusterwide=not options.namespaces,
            namespaces=list(options.namespaces),
            liveness_endpoint=options.liveness_endpoint,
            ready_flag=ready,
            stop_flag=stop_flag,
        )
    finally:
        announcer.cancel()
        await asyncio.to_thread(box.close)
