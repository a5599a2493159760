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
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from lanai.api import constants

MERGE_PATCH = "application/merge-patch+json"
IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


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


def describe(error: ApiException) -> str:
    """The server's refusal as one line: ``Error from server (Reason): message``.

    The admission policy's and CEL's boilerplate is dropped: what is left is the rule's
    own message, which says what to do.
    """
    reason = error.reason or f"HTTP {error.status}"
    message = ""
    try:
        payload = json.loads(error.body) if error.body else {}
    except ValueError:
        payload = {}
    if isinstance(payload, dict):
        message = str(payload.get("message") or "")
        reason = str(payload.get("reason") or reason)
    if not message:
        message = f"the server answered {error.status} {error.reason or ''}".strip()
    message = _CEL_OBJECT.sub("", _POLICY_PREFIX.sub("", message))
    message = " ".join(message.split())
    if message == _NO_SUCH_KIND:
        message += " (are Lanai's CRDs installed? kubectl apply -k config/crd)"
    return f"Error from server ({reason}): {message}"


def status_of(error: ApiException) -> int:
    return int(error.status or 0)


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


def _kubeconfig_path(args: argparse.Namespace) -> str | None:
    """The kubeconfig to read: ``--kubeconfig``, ``$KUBECONFIG``, ``~/.kube/config``."""
    path: str | None = args.kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        return path
    default = Path.home() / ".kube" / "config"
    return str(default) if default.exists() else None


def _in_cluster(args: argparse.Namespace, configuration: client.Configuration) -> str:
    """Configure for the pod's ServiceAccount; its namespace."""
    config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    found = IN_CLUSTER_NAMESPACE.read_text().strip() if IN_CLUSTER_NAMESPACE.exists() else None
    return choose_namespace(args.namespace, found)


def _must_exist(path: str) -> None:
    if not any(Path(part).expanduser().exists() for part in path.split(os.pathsep) if part):
        raise Failure(f"kubeconfig {path} does not exist")


async def _configure(args: argparse.Namespace) -> tuple[client.Configuration, str]:
    """Client configuration and namespace from the kubeconfig (or the pod's account)."""
    configuration = client.Configuration()
    path = _kubeconfig_path(args)
    if path is None:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not args.context:
            return configuration, _in_cluster(args, configuration)
        raise Failure("no kubeconfig: set KUBECONFIG or pass --kubeconfig FILE")
    _must_exist(path)
    try:
        contexts, current = config.list_kube_config_contexts(path)
        if args.context:
            matching = [c for c in contexts if c.get("name") == args.context]
            if not matching:
                raise Failure(f'context "{args.context}" does not exist in {path}')
            current = matching[0]
        if not current:
            raise Failure(f"{path} has no current context: pass --context")
        await config.load_kube_config(
            config_file=path,
            context=args.context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, KeyError, TypeError) as error:
        raise Failure(f"cannot use kubeconfig {path}: {error}") from None
    context_namespace = (current.get("context") or {}).get("namespace")
    return configuration, choose_namespace(args.namespace, context_namespace)


def impersonation(user: str | None, groups: list[str] | None) -> dict[str, str]:
    """The headers kubectl sends for ``--as``/``--as-group``."""
    groups = groups or []
    if groups and not user:
        raise Usage("--as-group needs --as USER")
    if len(groups) > 1:
        raise Usage("only one --as-group is supported")
    headers = {"Impersonate-User": user} if user else {}
    if groups:
        headers["Impersonate-Group"] = groups[0]
    return headers


class Session:
    """One API client and the namespace commands act in; typed wrappers over dicts."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self._custom: Any = client.CustomObjectsApi(api)
        self._core: Any = client.CoreV1Api(api)

    async def close(self) -> None:
        await self.api.close()

    def _namespace(self, namespace: str | None) -> str:
        return namespace or self.namespace

    async def get(
        self, resource: Resource, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        obj: dict[str, Any] = await self._custom.get_namespaced_custom_object(
            resource.group, resource.version, self._namespace(namespace), resource.plural, name
        )
        return obj

    async def find(
        self, resource: Resource, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The object, or ``None`` when it does not exist."""
        try:
            return await self.get(resource, name, namespace)
        except ApiException as error:
            if status_of(error) == 404:
                return None
            raise

    async def list_objects(
        self, resource: Resource, *, field_selector: str = "", all_namespaces: bool = False
    ) -> list[dict[str, Any]]:
        options = {"field_selector": field_selector} if field_selector else {}
        if all_namespaces:
            found = await self._custom.list_cluster_custom_object(
                resource.group, resource.version, resource.plural, **options
            )
        else:
            found = await self._custom.list_namespaced_custom_object(
                resource.group, resource.version, self.namespace, resource.plural, **options
            )
        items: list[dict[str, Any]] = found.get("items") or []
        return items

    async def create(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        if resource is SECRETS:
            made = await self._core.create_namespaced_secret(self.namespace, body)
            result: dict[str, Any] = self.api.sanitize_for_serialization(made)
            return result
        obj: dict[str, Any] = await self._custom.create_namespaced_custom_object(
            resource.group, resource.version, self.namespace, resource.plural, body
        )
        return obj

    async def patch(self, resource: Resource, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (put ``metadata.resourceVersion`` in it to detect races)."""
        if resource is SECRETS:
            done = await self._core.patch_namespaced_secret(name, self.namespace, patch)
            result: dict[str, Any] = self.api.sanitize_for_serialization(done)
            return result
        obj: dict[str, Any] = await self._custom.patch_namespaced_custom_object(
            resource.group,
            resource.version,
            self.namespace,
            resource.plural,
            name,
            patch,
            _content_type=MERGE_PATCH,
        )
        return obj

    async def replace(self, resource: Resource, name: str, body: dict[str, Any]) -> dict[str, Any]:
        obj: dict[str, Any] = await self._custom.replace_namespaced_custom_object(
            resource.group, resource.version, self.namespace, resource.plural, name, body
        )
        return obj

    async def delete(self, resource: Resource, name: str) -> None:
        if resource is SECRETS:
            await self._core.delete_namespaced_secret(name, self.namespace)
            return
        await self._custom.delete_namespaced_custom_object(
            resource.group, resource.version, self.namespace, resource.plural, name
        )

    async def events(self, name: str, reason: str) -> list[dict[str, Any]]:
        """Events about the object ``name`` with ``reason`` (empty if not allowed to read)."""
        selector = f"involvedObject.name={name},reason={reason}"
        try:
            found = await self._core.list_namespaced_event(self.namespace, field_selector=selector)
        except ApiException as error:
            if status_of(error) in (401, 403):
                return []
            raise
        items: list[dict[str, Any]] = self.api.sanitize_for_serialization(found).get("items") or []
        return items


async def connect(args: argparse.Namespace) -> Session:
    configuration, namespace = await _configure(args)
    headers = impersonation(args.as_user, args.as_group)
    api = client.ApiClient(configuration)
    for header, value in headers.items():
        api.set_default_header(header, value)
    return Session(api, namespace)


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
        except ApiException as problem:
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
        except ApiException as problem:
            error(describe(problem))
            return 1
        except (OSError, TimeoutError) as problem:
            error(f"error: cannot reach the API server: {problem}")
            return 1
        except KeyboardInterrupt:
            error("interrupted")
            return 130

    return run
