"""A real kube-apiserver and etcd on 127.0.0.1, from the binaries our Go module builds.

Everything a test or ``lanai up`` needs: fresh certificates, etcd, the API server with
RBAC, client-certificate auth and service-account keys, a kubeconfig that kubectl,
kubernetes-asyncio and kopf all read, and identities minted on demand.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lanai.local import pki, processes

ADMIN_USER = "lanai-admin"


class ControlPlaneError(RuntimeError):
    """The control plane could not be built, started or reached."""


def find_binaries(explicit: str | None = None) -> Path:
    """Where kube-apiserver and etcd live: $LANAI_CONTROLPLANE_BIN, else build them."""
    directory = explicit or os.environ.get("LANAI_CONTROLPLANE_BIN")
    if directory:
        path = Path(directory)
    else:
        script = Path(__file__).resolve().parents[2] / "tests/e2e/controlplane/build.sh"
        if not script.exists():
            raise ControlPlaneError(
                "no control-plane binaries: set LANAI_CONTROLPLANE_BIN to a directory holding "
                "kube-apiserver and etcd, or run from a source checkout"
            )
        done = subprocess.run(["bash", str(script)], check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise ControlPlaneError(f"building the control plane failed:\n{done.stderr[-4000:]}")
        path = Path(done.stdout.strip().splitlines()[-1])
    for binary in ("kube-apiserver", "etcd"):
        if not (path / binary).is_file():
            raise ControlPlaneError(f"{path / binary} is missing")
    return path


def kubeconfig_document(server: str, ca_pem: bytes, client: pki.KeyPair, user: str) -> str:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "lanai",
                "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(client.cert_pem),
                    "client-key-data": b64(client.key_pem),
                },
            }
        ],
        "contexts": [{"name": "lanai", "context": {"cluster": "lanai", "user": user}}],
        "current-context": "lanai",
    }
    return json.dumps(config, indent=2)


@dataclass
class ControlPlane:
    """etcd + kube-apiserver in ``workdir``; ``start()`` then ``stop()``."""

    workdir: Path
    binaries: Path
    etcd_port: int = 0
    api_port: int = 0
    ca: pki.CertificateAuthority = field(default_factory=pki.CertificateAuthority)
    apiserver_args: list[str] = field(default_factory=list)
    """More kube-apiserver flags (a benchmark's audit log, say)."""
    _etcd: subprocess.Popen[bytes] | None = None
    _apiserver: subprocess.Popen[bytes] | None = None
    _apiserver_command: list[str] = field(default_factory=list)
    _admin: tuple[Path, Path, Path] | None = None

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def pids(self) -> dict[str, int]:
        """Process ids of the running parts (``etcd``, ``kube-apiserver``)."""
        running = {"etcd": self._etcd, "kube-apiserver": self._apiserver}
        return {name: p.pid for name, p in running.items() if p is not None}

    @property
    def etcd_log(self) -> Path:
        return self.workdir / "etcd.log"

    @property
    def apiserver_log(self) -> Path:
        return self.workdir / "kube-apiserver.log"

    def start(self, timeout: float = 120.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        pki_dir = self.workdir / "pki"
        pki_dir.mkdir(exist_ok=True)
        ca_file = pki_dir / "ca.crt"
        ca_file.write_bytes(self.ca.cert_pem)
        serving_cert, serving_key = self.ca.serving(
            "kube-apiserver", ["127.0.0.1", "localhost", "::1", "kubernetes.default.svc"]
        ).write(pki_dir, "apiserver")
        sa_public, sa_private = pki.service_account_signing_key().write(pki_dir, "sa")

        self.etcd_port = self.etcd_port or processes.free_port()
        peer_port = processes.free_port()
        etcd_url = f"http://127.0.0.1:{self.etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        self._etcd = processes.spawn(
            [
                str(self.binaries / "etcd"),
                "--name=lanai",
                f"--data-dir={self.workdir / 'etcd-data'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=lanai={peer_url}",
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=8589934592",
                "--log-level=warn",
            ],
            self.etcd_log,
        )
        deadline = time.monotonic() + timeout
        self._wait(f"{etcd_url}/health", deadline, self._etcd, self.etcd_log, tls=False)

        self.api_port = self.api_port or processes.free_port()
        self._apiserver_command = [
            str(self.binaries / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            f"--cert-dir={pki_dir}",
            f"--tls-cert-file={serving_cert}",
            f"--tls-private-key-file={serving_key}",
            f"--client-ca-file={ca_file}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer=https://127.0.0.1:{self.api_port}/",
            f"--service-account-key-file={sa_public}",
            f"--service-account-signing-key-file={sa_private}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            "--disable-admission-plugins=ServiceAccount",
            "--enable-priority-and-fairness=false",
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            "--v=0",
            *self.apiserver_args,
        ]
        admin = self.ca.client(ADMIN_USER, ["system:masters"])
        self.kubeconfig.write_text(
            kubeconfig_document(self.server, self.ca.cert_pem, admin, ADMIN_USER)
        )
        self.kubeconfig.chmod(0o600)
        admin_cert, admin_key = admin.write(pki_dir, "admin")
        self._admin = (admin_cert, admin_key, ca_file)
        self.start_apiserver(timeout=max(1.0, deadline - time.monotonic()))

    def start_apiserver(self, timeout: float = 120.0) -> None:
        """Start the API server (again, after :meth:`stop_apiserver`: same address,
        certificates and etcd, so clients reconnect to what they knew) and wait until
        it is ready."""
        assert self._apiserver_command, "start() first"
        assert self._apiserver is None or self._apiserver.poll() is not None, "already running"
        self._apiserver = processes.spawn(self._apiserver_command, self.apiserver_log)
        self._wait(
            f"{self.server}/readyz",
            time.monotonic() + timeout,
            self._apiserver,
            self.apiserver_log,
            tls=True,
            client=self._admin,
        )

    def stop_apiserver(self) -> None:
        """Stop the API server alone; etcd keeps every object (a restart, not a reset)."""
        processes.stop(self._apiserver)
        self._apiserver = None

    def restart_apiserver(self, timeout: float = 120.0) -> None:
        self.stop_apiserver()
        self.start_apiserver(timeout)

    def _wait(
        self,
        url: str,
        deadline: float,
        process: subprocess.Popen[bytes],
        log: Path,
        *,
        tls: bool,
        client: tuple[Path, Path, Path] | None = None,
    ) -> None:
        context = None
        if tls and client:
            context = ssl.create_default_context(cafile=str(client[2]))
            context.load_cert_chain(str(client[0]), str(client[1]))
        last = ""
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.stop()
                raise ControlPlaneError(
                    f"{log.stem} exited with {process.returncode}:\n{processes.tail(log)}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError) as error:
                last = str(error)
            time.sleep(0.1)
        self.stop()
        raise ControlPlaneError(f"{url} not ready in time ({last}):\n{processes.tail(log)}")

    def mint_kubeconfig(self, user: str, groups: list[str] | None = None) -> Path:
        """A kubeconfig acting as ``user`` in ``groups`` (RBAC decides what it may do)."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in user)
        suffix = "_".join(groups or [])
        digest = hashlib.sha256(suffix.encode()).hexdigest()[:8]
        path = self.workdir / "users" / f"{safe}--{digest}.kubeconfig"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            pair = self.ca.client(user, groups)
            path.write_text(kubeconfig_document(self.server, self.ca.cert_pem, pair, user))
            path.chmod(0o600)
        return path

    def stop(self) -> None:
        processes.stop(self._apiserver)
        processes.stop(self._etcd)
        self._apiserver = self._etcd = None
