"""The cluster as tests see it: kubectl with the harness kubeconfig, as any identity."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

_yaml = YAML(typ="safe")


@dataclass
class Cluster:
    kubeconfig: Path
    root: Path  # the repository root, for manifests under crds/ and config/

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        user: str | None = None,
        groups: list[str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl; ``user``/``groups`` act as that identity through impersonation,
        which works the same on the bundled control plane and on any existing cluster."""
        argv = ["kubectl", f"--kubeconfig={self.kubeconfig}"]
        if user:
            argv.append(f"--as={user}")
            argv.extend(f"--as-group={group}" for group in groups or [])
            if not groups:
                argv.append("--as-group=system:authenticated")
        argv.extend(args)
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        done = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, env=env
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({done.returncode}):\n{done.stderr}{done.stdout}"
            )
        return done

    def apply(
        self, manifest: str | dict[str, Any], **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self.kubectl("apply", "-f", "-", input=text, **kwargs)

    def create(
        self, manifest: str | dict[str, Any], **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self.kubectl("create", "-f", "-", input=text, **kwargs)

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        args = ["get", resource, name, "-o", "json"]
        if namespace:
            args += ["-n", namespace]
        done = self.kubectl(*args, check=False)
        if done.returncode != 0:
            if "NotFound" in done.stderr:
                return None
            raise AssertionError(done.stderr)
        document: dict[str, Any] = json.loads(done.stdout)
        return document

    def merge_patch(
        self,
        resource: str,
        name: str,
        namespace: str,
        patch: dict[str, Any],
        user: str | None = None,
    ) -> str:
        """Merge-patch an object (as ``user``); the API server's refusal, or ''."""
        done = self.kubectl(
            "patch", "-n", namespace, resource, name, "--type=merge", "-p", json.dumps(patch),
            user=user, check=False,
        )  # fmt: skip
        return done.stderr if done.returncode else ""

    def list(self, resource: str, namespace: str, *selectors: str) -> list[dict[str, Any]]:
        done = self.kubectl("get", resource, "-n", namespace, "-o", "json", *selectors)
        items: list[dict[str, Any]] = json.loads(done.stdout)["items"]
        return items

    def install_rbac(self) -> None:
        """The operator's ServiceAccount, ClusterRole and bindings (config/rbac)."""
        namespace = self.kubectl(
            "create", "namespace", "lanai-system", "--dry-run=client", "-o=yaml"
        )
        self.kubectl("apply", "--server-side", "-f", "-", input=namespace.stdout)
        self.kubectl("apply", "--server-side", "-k", str(self.root / "config" / "rbac"))

    def service_account_kubeconfig(self, path: Path, duration: str = "2h") -> Path:
        """A kubeconfig at ``path`` acting as the operator's ServiceAccount
        (``lanai-system/lanai``) with a bound token: the operator as it is installed."""
        token = self.kubectl(
            "create", "token", "lanai", "-n", "lanai-system", f"--duration={duration}"
        ).stdout.strip()
        config = _yaml.load(self.kubeconfig.read_text())
        context = config["contexts"][0]
        context["context"]["user"] = "lanai-operator"
        config["contexts"] = [context]
        config["current-context"] = context["name"]
        config["users"] = [{"name": "lanai-operator", "user": {"token": token}}]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        return path

    def new_namespace(self, prefix: str = "t") -> str:
        """A fresh namespace per test: namespaces never finish deleting without a
        controller-manager, so tests never share or delete them."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.kubectl("create", "namespace", name)
        return name


def load_yaml(text: str) -> Any:
    return _yaml.load(text)


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    """The status condition of type ``kind``, if the object has one."""
    if not obj:
        return None
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            found: dict[str, Any] = entry
            return found
    return None
