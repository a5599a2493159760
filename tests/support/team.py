"""A team at work: a namespace with a Ready Repository, an author and an approver.

Authors and approvers act as themselves (impersonation with the example roles of
config/rbac), so the approval policy, the identity annotations and the commits the
operator makes for them are exercised together. Git state is read from the server's
own disk, never through the operator.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanai.local import gitserver
from tests.support import gitwork, manifests
from tests.support.cluster import Cluster, condition
from tests.support.waiting import wait_for

AUTHOR = "alice@example.com"
APPROVER = "bob@example.com"
REPO = "blueprints"


@dataclass
class Team:
    """A namespace with a registered, Ready Repository and bound author/approver roles."""

    cluster: Cluster
    namespace: str
    url: str
    git_dir: Path
    repository: str = REPO

    def _git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.git_dir), *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def refs(self) -> dict[str, str]:
        """Every ref of the Git repository (name → commit), read from the server's disk."""
        lines = self._git("for-each-ref", "--format=%(refname) %(objectname)").splitlines()
        pairs = (line.split(" ", 1) for line in lines)
        return {pair[0]: pair[1] for pair in pairs}

    def show(self, ref: str, path: str) -> str:
        return self._git("show", f"{ref}:{path}")

    def files(self, ref: str) -> list[str]:
        """Every file path in the tree of ``ref``."""
        return self._git("ls-tree", "-r", "--name-only", ref).splitlines()

    def commit_message(self, ref: str) -> str:
        """The author name of ``ref``'s commit, then its message."""
        return self._git("log", "-1", "--format=%an%n%B", ref)

    def author(self, ref: str) -> str:
        """``name <email>`` of the author of ``ref``'s commit."""
        return self._git("log", "-1", "--format=%an <%ae>", ref).strip()

    def create(self, name: str, spec: dict[str, Any], user: str = AUTHOR, **metadata: Any) -> None:
        body = {
            "apiVersion": "porch.kpt.dev/v1alpha2",
            "kind": "PackageRevision",
            "metadata": {"name": name, "namespace": self.namespace, **metadata},
            "spec": spec,
        }
        self.cluster.kubectl("create", "-f", "-", input=json.dumps(body), user=user)

    def move(self, name: str, lifecycle: str, user: str) -> str:
        """Patch spec.lifecycle as ``user``; the API server's refusal, or ''."""
        patch = {"spec": {"lifecycle": lifecycle}}
        return self.cluster.merge_patch("rpkg", name, self.namespace, patch, user=user)

    def delete(self, name: str, user: str = APPROVER, wait: bool = True) -> str:
        """Delete the PackageRevision as ``user``; the API server's refusal, or ''."""
        done = self.cluster.kubectl(
            "delete", "-n", self.namespace, "rpkg", name, f"--wait={str(wait).lower()}",
            user=user, check=False,
        )  # fmt: skip
        return done.stderr if done.returncode else ""

    def get(self, name: str, kind: str = "rpkg") -> dict[str, Any] | None:
        return self.cluster.get(kind, name, self.namespace)

    def gone(self, name: str) -> None:
        wait_for(lambda: self.get(name) is None, timeout=60, what=f"{name} to be deleted")

    def events(self, name: str) -> list[dict[str, Any]]:
        return manifests.events(self.cluster, self.namespace, name)

    def reasons(self, name: str) -> set[str]:
        return {event["reason"] for event in self.events(name)}

    def settled(self, name: str, ready: str = "True") -> dict[str, Any]:
        """Wait until the operator acted on the latest spec and Ready is ``ready``."""

        def probe() -> dict[str, Any] | None:
            obj = self.get(name)
            if obj is None:
                return None
            status = obj.get("status") or {}
            found = condition(obj, "Ready")
            if status.get("observedGeneration") != obj["metadata"]["generation"]:
                return None
            return obj if found and found["status"] == ready else None

        return wait_for(probe, timeout=60, what=f"{name} settled with Ready={ready}")

    def let_read_secret(self, secret: str, user: str = AUTHOR) -> None:
        """Grant ``user`` get on the one Secret ``secret`` (Lanai reads a Secret a
        PackageRevision names only for users who may read it themselves)."""
        role = f"read-{secret}"
        if self.cluster.get("role", role, self.namespace) is None:
            self.cluster.kubectl(
                "create", "role", "-n", self.namespace, role, "--verb=get",
                "--resource=secrets", f"--resource-name={secret}",
            )  # fmt: skip
        binding = f"{role}-{hashlib.sha256(user.encode()).hexdigest()[:8]}"
        if self.cluster.get("rolebinding", binding, self.namespace) is None:
            self.cluster.kubectl(
                "create", "rolebinding", "-n", self.namespace, binding,
                f"--role={role}", f"--user={user}",
            )  # fmt: skip

    def latest(self, package: str) -> str | None:
        """The name of the revision of ``package`` labelled latest, once exactly one is."""
        labelled = self.cluster.list(
            "rpkg", self.namespace, "-l", "porch.kpt.dev/latest-revision=true"
        )
        names = [o["metadata"]["name"] for o in labelled if o["spec"]["packageName"] == package]
        return names[0] if len(names) == 1 else None


def make_team(
    cluster: Cluster,
    namespace: str,
    git_server: gitserver.GitServer,
    repository: str = REPO,
    **git: Any,
) -> Team:
    """Bind the example roles in ``namespace`` and register a Repository (``git``: extra
    spec.git fields; ``deployment=True`` for a deployment repository); wait until Ready."""
    cluster.kubectl(
        "apply", "--server-side", "-f", str(cluster.root / "config" / "rbac" / "user_roles.yaml")
    )
    for user, role in ((AUTHOR, "lanai-package-author"), (APPROVER, "lanai-package-approver")):
        if cluster.get("rolebinding", f"{role}-binding", namespace) is None:
            cluster.kubectl(
                "create", "rolebinding", "-n", namespace, f"{role}-binding",
                f"--clusterrole={role}", f"--user={user}",
            )  # fmt: skip
    deployment = bool(git.pop("deployment", False))
    url = git_server.create_repository(f"{namespace}-{repository}")
    if cluster.get("secret", "git-auth", namespace) is None:
        secret = manifests.basic_auth_secret(
            "git-auth", namespace, gitwork.GIT_USER, gitwork.GIT_PASSWORD
        )
        cluster.apply(secret)
    body = manifests.repository(repository, namespace, url, "git-auth", **git)
    body["spec"]["deployment"] = deployment
    cluster.apply(body)
    wait_for(
        lambda: manifests.repository_ready(cluster, repository, namespace),
        timeout=60,
        what=f"the Repository {repository} to be Ready",
    )
    return Team(
        cluster, namespace, url, git_server.repository_path(f"{namespace}-{repository}"), repository
    )


def init_spec(package: str, workspace: str, repository: str = REPO, **extra: Any) -> dict[str, Any]:
    return {
        "repository": repository,
        "packageName": package,
        "workspaceName": workspace,
        "lifecycle": "Draft",
        "source": {"init": {"description": f"{package} for tests"}},
        **extra,
    }


def publish(team: Team, name: str) -> dict[str, Any]:
    """Propose as the author, approve as the approver; the settled Published object."""
    team.settled(name)
    assert team.move(name, "Proposed", AUTHOR) == ""
    team.settled(name)
    assert team.move(name, "Published", APPROVER) == ""
    return team.settled(name)


def edit(team: Team, name: str, files: dict[str, str]) -> None:
    """Replace files of a Draft through its resources object and wait for the commit."""
    current = wait_for(lambda: team.get(name, "prr"), what=f"resources of {name}")
    merged = {**current["spec"]["resources"], **files}
    team.cluster.kubectl(
        "patch", "-n", team.namespace, "prr", name, "--type=merge",
        "-p", json.dumps({"spec": {"resources": merged}}), user=AUTHOR,
    )  # fmt: skip

    def committed() -> bool:
        obj = team.get(name, "prr") or {}
        status = obj.get("status") or {}
        return status.get("observedGeneration") == obj.get("metadata", {}).get("generation")

    wait_for(committed, timeout=60, what=f"the edit of {name} to be committed")
