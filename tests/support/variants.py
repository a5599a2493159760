"""A fleet for PackageVariant tests: a published blueprint and labelled deployment
Repositories in one namespace, the people's roles, and readers of what Lanai made."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lanai.local import gitserver
from tests.support.cluster import Cluster, condition
from tests.support.team import APPROVER, AUTHOR, Team, edit, init_spec, make_team, publish
from tests.support.waiting import wait_for

BLUEPRINT = "blue"
CONFIG = """apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  color: {color}
"""


@dataclass
class Fleet:
    team: Team
    git_server: gitserver.GitServer
    sites: dict[str, Team] = field(default_factory=dict)

    @property
    def cluster(self) -> Cluster:
        return self.team.cluster

    @property
    def namespace(self) -> str:
        return self.team.namespace

    def blueprint(self, version: int = 1, color: str = "blue", package: str = BLUEPRINT) -> str:
        """Publish revision ``version`` of the blueprint (a ConfigMap app with ``color``)."""
        name = f"{self.team.repository}.{package}.v{version}"
        if version == 1:
            self.team.create(name, init_spec(package, "v1"))
        else:
            self.team.create(
                name,
                {
                    "repository": self.team.repository,
                    "packageName": package,
                    "workspaceName": f"v{version}",
                    "lifecycle": "Draft",
                    "source": {
                        "copyFrom": {"name": f"{self.team.repository}.{package}.v{version - 1}"}
                    },
                },
            )
        self.team.settled(name)
        edit(self.team, name, {"app.yaml": CONFIG.format(color=color)})
        publish(self.team, name)
        return name

    def site(self, name: str, deployment: bool = True, **labels: str) -> Team:
        site = make_team(self.cluster, self.namespace, self.git_server, name, deployment=deployment)
        if labels:
            self.label(name, **labels)
        self.sites[name] = site
        return site

    def label(self, repository: str, **labels: str | None) -> None:
        args = [f"{k}-" if v is None else f"{k}={v}" for k, v in labels.items()]
        self.cluster.kubectl(
            "label", "--overwrite", "-n", self.namespace, "repository", repository, *args
        )

    def apply(self, manifest: dict[str, Any], user: str = AUTHOR) -> None:
        manifest.setdefault("metadata", {})["namespace"] = self.namespace
        self.cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest), user=user)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.cluster.get(kind, name, self.namespace)

    def variants(self) -> list[dict[str, Any]]:
        return self.cluster.list("packagevariants", self.namespace)

    def revisions(self, package: str | None = None) -> list[dict[str, Any]]:
        found = self.cluster.list("rpkg", self.namespace)
        return [r for r in found if package is None or r["spec"]["packageName"] == package]

    def ready(self, kind: str, name: str, timeout: float = 90) -> dict[str, Any]:
        """Wait until ``kind/name`` has Ready=True about its current generation."""

        def probe() -> dict[str, Any] | None:
            obj = self.get(kind, name)
            found = condition(obj, "Ready")
            if not obj or not found or found["status"] != "True":
                return None
            if found.get("observedGeneration") != obj["metadata"]["generation"]:
                return None
            return obj

        return wait_for(probe, timeout=timeout, interval=0.3, what=f"{kind} {name} to be Ready")

    def stalled(self, kind: str, name: str, timeout: float = 60) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            found = condition(self.get(kind, name), "Stalled")
            return found if found and found["status"] == "True" else None

        return wait_for(probe, timeout=timeout, interval=0.3, what=f"{kind} {name} Stalled")

    def publish_downstream(self, name: str) -> dict[str, Any]:
        return publish(self.team, name)


def let_author_use_variants(cluster: Cluster, namespace: str, user: str = AUTHOR) -> None:
    cluster.kubectl(
        "apply", "--server-side", "-f", str(cluster.root / "config" / "rbac" / "variant_roles.yaml")
    )
    if cluster.get("rolebinding", "variant-author", namespace) is None:
        cluster.kubectl(
            "create", "rolebinding", "-n", namespace, "variant-author",
            "--clusterrole=lanai-variant-author", f"--user={user}",
        )  # fmt: skip


def let_read_configmaps(cluster: Cluster, namespace: str, user: str = AUTHOR) -> None:
    if cluster.get("role", "read-configmaps", namespace) is None:
        cluster.kubectl(
            "create", "role", "-n", namespace, "read-configmaps",
            "--verb=get,list", "--resource=configmaps",
        )  # fmt: skip
        cluster.kubectl(
            "create", "rolebinding", "-n", namespace, "read-configmaps",
            "--role=read-configmaps", f"--user={user}",
        )  # fmt: skip


__all__ = ["APPROVER", "AUTHOR", "BLUEPRINT", "Fleet", "let_author_use_variants"]
