"""Objects the tests apply (Repository, Secret) and read back (revisions, Events)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from tests.support import gitwork
from tests.support.cluster import Cluster, condition


def repository(
    name: str, namespace: str, url: str, secret: str | None, **git: Any
) -> dict[str, Any]:
    spec_git: dict[str, Any] = {"repo": url, "branch": "main", **git}
    if secret:
        spec_git["secretRef"] = {"name": secret}
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "git", "content": "Package", "git": spec_git},
    }


def basic_auth_secret(name: str, namespace: str, user: str, password: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/basic-auth",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"username": user, "password": password},
    }


def register(cluster: Cluster, namespace: str, name: str, url: str, **git: Any) -> None:
    """Register ``url`` as Repository ``name``, with the Git server's credentials."""
    cluster.apply(basic_auth_secret("git-auth", namespace, gitwork.GIT_USER, gitwork.GIT_PASSWORD))
    cluster.apply(repository(name, namespace, url, "git-auth", **git))


def events(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    """The Events whose involved object is named ``name``."""
    done = cluster.kubectl(
        "get",
        "events",
        "-n",
        namespace,
        "-o",
        "json",
        f"--field-selector=involvedObject.name={name}",
    )
    items: list[dict[str, Any]] = json.loads(done.stdout)["items"]
    return items


def repository_ready(
    cluster: Cluster, name: str, namespace: str, status: str = "True"
) -> dict[str, Any] | None:
    """The Repository's Ready condition when it has ``status``, else None (for wait_for)."""
    found = condition(cluster.get("repositories.config.porch.kpt.dev", name, namespace), "Ready")
    return found if found and found["status"] == status else None


def revisions(cluster: Cluster, namespace: str) -> dict[str, dict[str, Any]]:
    """Every PackageRevision in ``namespace``, by name."""
    return {item["metadata"]["name"]: item for item in cluster.list("rpkg", namespace)}


def sync_now(cluster: Cluster, namespace: str, name: str) -> str:
    """Ask for one extra sync now (spec.sync.runOnceAt); returns the time set."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "repository",
        name,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"sync": {"runOnceAt": now}}}),
    )
    return now


def synced_since(cluster: Cluster, namespace: str, name: str, asked: str) -> bool:
    """The sync asked for at ``asked`` (see :func:`sync_now`) has run."""
    found = cluster.get("repository", name, namespace) or {}
    return bool((found.get("status") or {}).get("observedRunOnceAt") == asked)
