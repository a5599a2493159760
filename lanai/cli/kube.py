"""The CLI's one way to the API server: kubeconfig, identity, objects and readable errors.

``lanai rpkg`` and ``lanai repo`` talk only to the API server, as kubectl does, so they
take kubectl's connection flags (``--kubeconfig``/``KUBECONFIG``, ``--context``, ``-n``,
``--as``) and the namespace of the kubeconfig context. Everything the server refuses (the
approval policy's 403, a CEL rule's 422, a 409 conflict, a 404) is shown as one line, the
way kubectl shows it, never as a traceback; the exit code is 1 for failures, 2 for usage.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lanai.api import constants
from lanai.kubeclient import client, kubeconfig

ApiError = client.ApiError


class Failure(Exception):
    """The command did not do what was asked; the message says why (exit code 1)."""


class Usage(Exception):
    """The command line cannot work as given (exit code 2, like argparse)."""


@dataclass(frozen=True)
class Resource:
    """A kind the CLI reads or writes, with the names kubectl would print for it."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def reference(self, name: str) -> str:
        """``packagerevision.porch.kpt.dev/NAME``, as ``kubectl get -o name`` prints it."""
        singular = self.kind.lower()
        return f"{singular}.{self.group}/{name}" if self.group else f"{singular}/{name}"


REVISIONS = Resource(
    constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGE_REVISIONS, "PackageRevision"
)
RESOURCES = Resource(
    constants.PORCH_GROUP,
    constants.PORCH_VERSION,
    constants.PACKAGE_REVISION_RESOURCES,
    "PackageRevisionResources",
)
REPOSITORIES = Resource(
    constants.CONFIG_GROUP, constants.CONFIG_VERSION, constants.REPOSITORIES, "Repository"
)
SECRETS = Resource("", "v1", "secrets", "Secret")


# -- errors ------------------------------------------------------------------------------

_POLICY_PREFIX = re.compile(
    r"ValidatingAdmissionPolicy '[^']*' with binding '[^']*' denied request: "
)
_CEL_OBJECT = re.compile(r'Invalid value: (?:"object": )?(?=[^"])')
"""A CEL rule on an object has no value to show: older servers print ``"object"``."""
_NO_SUCH_KIND = "the server could not find the requested resource"


def describe(error: client.ApiError) -> str:
    """The server's refusal as one line: ``Error from server (Reason): message``.

    The admission policy's and CEL's boilerplate is dropped: what is left is the rule's
    own message, which says what to do.
    """
    reason = error.reason or f"HTTP {error.status}"
    message = error.message or f"the server answered {error.status} {error.reason}".strip()
    message = _CEL_OBJECT.sub("", _POLICY_PREFIX.sub("", message))
    message = " ".join(message.split())
    if message == _NO_SUCH_KIND:
        message += " (are Lanai's CRDs installed? kubectl apply -k config/crd)"
    return f"Error from server ({reason}): {message}"


def status_of(error: client.ApiError) -> int:
    return error.status


# -- flags and connection ----------------------------------------------------------------


def connection_arguments() -> argparse.ArgumentParser:
    """kubectl's connection flags, as a parent parser every verb includes."""
    flags = argparse.ArgumentParser(add_help=False)
    group = flags.add_argument_group("cluster")
    group.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (default $KUBECONFIG)")
    group.add_argument("--context", help="the kubeconfig context to use")
    group.add_argument(
        "-n", "--namespace", help="namespace (default: the context's namespace, else 'default')"
    )
    group.add_argument("--as", dest="as_user", metavar="USER", help="act as this user")
    group.add_argument(
        "--as-group", metavar="GROUP", action="append", help="act with this group (with --as)"
    )
    return flags


def choose_namespace(explicit: str | None, from_context: str | None) -> str:
    """``-n`` first, then the kubeconfig context's namespace, then ``default``."""
    return explicit or from_context or "default"


def _configure(args: argparse.Namespace) -> tuple[kubeconfig.Config, str]:
    """The connection and namespace: the kubeconfig, or the pod's ServiceAccount."""
    paths = kubeconfig.default_paths(args.kubeconfig)
    found = None
    if not paths and not args.context:
        found = kubeconfig.in_cluster()
    try:
        config = found or kubeconfig.load(paths, args.context)
        config = kubeconfig.with_impersonation(config, args.as_user, args.as_group or [])
    except kubeconfig.KubeconfigError as error:
        if "--as-group" in str(error):
            raise Usage(str(error)) from None
        raise Failure(str(error)) from None
    return config, choose_namespace(args.namespace, config.namespace)


class Session:
    """One API client and the namespace commands act in; typed wrappers over dicts."""

    def __init__(self, api: client.Api, namespace: str) -> None:
        self.api = api
        self.namespace = namespace

    async def close(self) -> None:
        await self.api.close()

    def _namespace(self, namespace: str | None) -> str:
        return namespace or self.namespace

    async def get(
        self, resource: Resource, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        return await client.get(
            self.api,
            resource.group,
            resource.version,
            self._namespace(namespace),
            resource.plural,
            name,
        )

    async def find(
        self, resource: Resource, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The object, or ``None`` when it does not exist."""
        return await client.find(
            self.api,
            resource.group,
            resource.version,
            self._namespace(namespace),
            resource.plural,
            name,
        )

    async def list_objects(
        self, resource: Resource, *, field_selector: str = "", all_namespaces: bool = False
    ) -> list[dict[str, Any]]:
        return await client.list_objects(
            self.api,
            resource.group,
            resource.version,
            None if all_namespaces else self.namespace,
            resource.plural,
            field_selector=field_selector,
        )

    async def create(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        return await client.create(
            self.api, resource.group, resource.version, self.namespace, resource.plural, body
        )

    async def patch(self, resource: Resource, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (put ``metadata.resourceVersion`` in it to detect races)."""
        return await client.merge_patch(
            self.api, resource.group, resource.version, self.namespace, resource.plural, name, patch
        )

    async def replace(self, resource: Resource, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return await client.replace(
            self.api, resource.group, resource.version, self.namespace, resource.plural, name, body
        )

    async def delete(self, resource: Resource, name: str) -> None:
        await client.delete(
            self.api, resource.group, resource.version, self.namespace, resource.plural, name
        )

    async def events(self, name: str, reason: str) -> list[dict[str, Any]]:
        """Events about the object ``name`` with ``reason`` (empty if not allowed to read)."""
        selector = f"involvedObject.name={name},reason={reason}"
        try:
            return await client.list_objects(
                self.api, "", "v1", self.namespace, "events", field_selector=selector
            )
        except client.ApiError as error:
            if error.status in (401, 403):
                return []
            raise


async def connect(args: argparse.Namespace) -> Session:
    config, namespace = _configure(args)
    return Session(client.Api(connect=lambda: config.connection), namespace)


# -- running a command -------------------------------------------------------------------

Command = Callable[[Session, argparse.Namespace], Awaitable[int]]


async def _session_run(command: Command, args: argparse.Namespace) -> int:
    session = await connect(args)
    try:
        return await command(session, args)
    finally:
        await session.close()


def error(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def each(names: Iterable[str], action: Callable[[str], Awaitable[None]]) -> int:
    """Run ``action`` for every name; one failing does not stop the others (exit code 1)."""
    failed = False
    for name in names:
        try:
            await action(name)
        except client.ApiError as problem:
            error(describe(problem))
            failed = True
        except Failure as problem:
            error(f"error: {problem}")
            failed = True
    return 1 if failed else 0


def command(function: Command) -> Callable[[argparse.Namespace], int]:
    """An argparse ``func`` that runs ``function`` with a session and turns every error
    into one line on stderr and an exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            return asyncio.run(_session_run(function, args))
        except Usage as problem:
            error(f"error: {problem}")
            return 2
        except Failure as problem:
            error(f"error: {problem}")
            return 1
        except client.ApiError as problem:
            error(describe(problem))
            return 1
        except (OSError, TimeoutError) as problem:
            error(f"error: cannot reach the API server: {problem}")
            return 1
        except KeyboardInterrupt:
            error("interrupted")
            return 130

    return run
