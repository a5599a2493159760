"""A kubeconfig (or a pod's ServiceAccount) as a :class:`Connection`, the way kubectl reads it.

What people's kubeconfigs hold: several files in ``$KUBECONFIG`` (the first file to name
a context, cluster or user wins, as does the first ``current-context``), a chosen
context, certificate authorities and client certificates inline or as files (relative
to the kubeconfig that names them), tokens and token files, basic auth, the
``insecure-skip-tls-verify``/``tls-server-name``/``proxy-url`` options, impersonation
(``as``/``as-groups``), and exec credential plugins (``client.authentication.k8s.io``,
what EKS, GKE and AKS logins use). Legacy ``auth-provider`` entries are read for a cached
``access-token`` only.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from lanai.kubeclient.connection import Connection

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
EXEC_TIMEOUT = 60.0


class KubeconfigError(Exception):
    """The kubeconfig cannot be used; the message says which part and why."""


@dataclass(frozen=True)
class Config:
    """Where to connect, as whom, and the namespace the context names (if any)."""

    connection: Connection
    namespace: str | None
    context: str


def default_paths(explicit: str | None = None) -> list[Path]:
    """``explicit``, else ``$KUBECONFIG`` (a path list), else ``~/.kube/config`` if present."""
    listed = explicit or os.environ.get("KUBECONFIG", "")
    paths = [Path(p).expanduser() for p in listed.split(os.pathsep) if p.strip()]
    if paths or explicit:
        return paths
    home = Path.home() / ".kube" / "config"
    return [home] if home.exists() else []


Named = dict[str, tuple[dict[str, Any], Path]]
"""Entries by name, each with the file that defined it (relative paths start there)."""


@dataclass
class _Merged:
    current: str | None = None
    contexts: Named = field(default_factory=dict)
    clusters: Named = field(default_factory=dict)
    users: Named = field(default_factory=dict)


def _merge(paths: Sequence[Path]) -> _Merged:
    merged = _Merged()
    for path in paths:
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except OSError as error:
            raise KubeconfigError(f"cannot read kubeconfig {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise KubeconfigError(f"kubeconfig {path} is not valid YAML: {error}") from None
        if not isinstance(document, dict):
            raise KubeconfigError(f"kubeconfig {path} is not a mapping")
        merged.current = merged.current or document.get("current-context") or None
        for section, key, into in (
            ("contexts", "context", merged.contexts),
            ("clusters", "cluster", merged.clusters),
            ("users", "user", merged.users),
        ):
            for entry in document.get(section) or []:
                name = entry.get("name") if isinstance(entry, dict) else None
                if name and name not in into:
                    into[name] = (entry.get(key) or {}, path)
    return merged


def load(paths: Sequence[Path], context: str | None = None) -> Config:
    """The connection of ``context`` (default: the current context) in ``paths``."""
    if not paths:
        raise KubeconfigError("no kubeconfig: set KUBECONFIG or pass --kubeconfig FILE")
    missing = [str(p) for p in paths if not p.exists()]
    if len(missing) == len(paths):
        raise KubeconfigError(f"kubeconfig {os.pathsep.join(missing)} does not exist")
    merged = _merge([p for p in paths if p.exists()])
    chosen = context or merged.current
    where = os.pathsep.join(str(p) for p in paths)
    if not chosen:
        raise KubeconfigError(f"{where} has no current context: pass --context")
    if chosen not in merged.contexts:
        raise KubeconfigError(f'context "{chosen}" does not exist in {where}')
    entry, _ = merged.contexts[chosen]
    cluster_name, user_name = entry.get("cluster"), entry.get("user")
    if cluster_name not in merged.clusters:
        raise KubeconfigError(f'context "{chosen}" names cluster "{cluster_name}", not defined')
    cluster, cluster_file = merged.clusters[cluster_name]
    user, user_file = merged.users.get(user_name or "", ({}, cluster_file))
    if not cluster.get("server"):
        raise KubeconfigError(f'cluster "{cluster_name}" has no server')
    connection = Connection(
        server=str(cluster["server"]),
        ca_data=_data(cluster, "certificate-authority", cluster_file),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name") or None,
        proxy_url=cluster.get("proxy-url") or None,
        certificate_data=_data(user, "client-certificate", user_file),
        private_key_data=_data(user, "client-key", user_file),
        token=_token(user, user_file),
        username=user.get("username") or None,
        password=user.get("password"),
        extra_headers=_impersonation(user.get("as"), user.get("as-groups") or []),
    )
    if isinstance(user.get("exec"), dict):
        connection = _exec(user["exec"], connection, cluster, user_name or "")
    return Config(connection, entry.get("namespace") or None, chosen)


def in_cluster() -> Config | None:
    """The pod's ServiceAccount, when running in a pod (else ``None``)."""
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    token = SERVICE_ACCOUNT / "token"
    if not host or not token.exists():
        return None
    host = f"[{host}]" if ":" in host else host
    ca = SERVICE_ACCOUNT / "ca.crt"
    namespace = SERVICE_ACCOUNT / "namespace"
    connection = Connection(
        server=f"https://{host}:{port or 443}",
        ca_data=ca.read_bytes() if ca.exists() else None,
        token=token.read_text().strip(),
    )
    found = namespace.read_text().strip() if namespace.exists() else None
    return Config(connection, found, "in-cluster")


def with_impersonation(config: Config, user: str | None, groups: Sequence[str]) -> Config:
    """``config`` acting as ``user`` (and ``groups``), like kubectl's ``--as``."""
    if not user and not groups:
        return config
    if groups and not user:
        raise KubeconfigError("--as-group needs --as USER")
    headers = _impersonation(user, groups)
    return replace(config, connection=replace(config.connection, extra_headers=headers))


def _impersonation(user: str | None, groups: Sequence[str]) -> tuple[tuple[str, str], ...]:
    headers = [("Impersonate-User", user)] if user else []
    return (*headers, *(("Impersonate-Group", group) for group in groups))


def _data(section: Mapping[str, Any], key: str, origin: Path) -> bytes | None:
    """``<key>-data`` (base64) or the file ``<key>`` names (relative to its kubeconfig)."""
    inline = section.get(f"{key}-data")
    if inline:
        try:
            return base64.b64decode(inline)
        except ValueError:
            raise KubeconfigError(f"{key}-data in {origin} is not base64") from None
    named = section.get(key)
    if not named:
        return None
    path = Path(named).expanduser()
    path = path if path.is_absolute() else origin.parent / path
    try:
        return path.read_bytes()
    except OSError as error:
        raise KubeconfigError(f"{key} {path} (from {origin}): {error.strerror}") from None


def _token(user: Mapping[str, Any], origin: Path) -> str | None:
    if user.get("token"):
        return str(user["token"])
    if user.get("tokenFile"):
        path = Path(user["tokenFile"]).expanduser()
        path = path if path.is_absolute() else origin.parent / path
        try:
            return path.read_text().strip()
        except OSError as error:
            raise KubeconfigError(f"tokenFile {path}: {error.strerror}") from None
    provider = user.get("auth-provider")
    if isinstance(provider, dict):
        token = (provider.get("config") or {}).get("access-token")
        return str(token) if token else None
    return None


def _exec(
    spec: Mapping[str, Any], base: Connection, cluster: Mapping[str, Any], user: str
) -> Connection:
    """Run the user's credential plugin and take the token or client certificate it prints."""
    command = spec.get("command")
    if not command:
        raise KubeconfigError(f'user "{user}": exec has no command')
    api_version = spec.get("apiVersion") or "client.authentication.k8s.io/v1"
    request: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
    if spec.get("provideClusterInfo"):
        request["spec"]["cluster"] = {
            "server": cluster.get("server"),
            "certificate-authority-data": cluster.get("certificate-authority-data"),
            "insecure-skip-tls-verify": cluster.get("insecure-skip-tls-verify"),
        }
    env = dict(os.environ)
    env.update({str(e.get("name")): str(e.get("value")) for e in spec.get("env") or []})
    env["KUBERNETES_EXEC_INFO"] = json.dumps(request)
    try:
        done = subprocess.run(
            [str(command), *map(str, spec.get("args") or [])],
            env=env,
            capture_output=True,
            text=True,
            timeout=EXEC_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        hint = spec.get("installHint") or ""
        raise KubeconfigError(
            f'user "{user}": credential plugin {command}: {error}. {hint}'
        ) from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        raise KubeconfigError(f'user "{user}": credential plugin {command} failed: {detail[0]}')
    try:
        status = json.loads(done.stdout).get("status") or {}
    except (ValueError, AttributeError):
        raise KubeconfigError(
            f'user "{user}": credential plugin {command} printed no ExecCredential'
        ) from None
    if status.get("token"):
        return replace(base, token=str(status["token"]))
    if status.get("clientCertificateData") and status.get("clientKeyData"):
        return replace(
            base,
            certificate_data=str(status["clientCertificateData"]).encode(),
            private_key_data=str(status["clientKeyData"]).encode(),
        )
    raise KubeconfigError(
        f'user "{user}": credential plugin {command} gave no token or certificate'
    )
