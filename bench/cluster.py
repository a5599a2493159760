"""Talk to the benchmark's control plane cheaply: counts, resourceVersions and metrics.

kubectl takes ~0.1 s to start and lists are large at 10,000 objects, so polling uses
the API directly with the admin client certificate: ``limit=1`` answers a count through
``metadata.remainingItemCount`` without transferring the objects.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

REVISIONS = "/apis/porch.kpt.dev/v1alpha2/namespaces/{ns}/packagerevisions"
_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$"
)
_LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


UNAVAILABLE_FOR = 60.0
"""Seconds a write may meet 503 while the API server serves freshly installed CRDs."""


class Api:
    def __init__(self, server: str, pki: Path) -> None:
        self.server = server
        self._context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self._context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def get(self, path: str) -> bytes:
        url = self.server + path
        with urllib.request.urlopen(url, context=self._context, timeout=120) as answer:  # noqa: S310
            body: bytes = answer.read()
            return body

    def send(
        self, method: str, path: str, body: Any, content_type: str = "application/json"
    ) -> Any:
        """POST/PATCH/... ``body`` as JSON; the decoded answer. A 503 (the API server
        still loading freshly installed CRDs) is retried for up to UNAVAILABLE_FOR s."""
        deadline = time.monotonic() + UNAVAILABLE_FOR
        while True:
            request = urllib.request.Request(  # noqa: S310 (the benchmark's own API server)
                self.server + path,
                data=json.dumps(body).encode(),
                method=method,
                headers={"Content-Type": content_type},
            )
            try:
                with urllib.request.urlopen(request, context=self._context, timeout=120) as answer:  # noqa: S310
                    return json.loads(answer.read())
            except urllib.error.HTTPError as error:
                if error.code != 503 or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def count(self, namespace: str) -> int:
        page = json.loads(self.get(REVISIONS.format(ns=namespace) + "?limit=1"))
        return len(page["items"]) + int(page["metadata"].get("remainingItemCount") or 0)

    def resource_versions(self, namespace: str) -> dict[str, str]:
        found: dict[str, str] = {}
        token = ""
        while True:
            query = "?limit=2000" + (f"&continue={token}" if token else "")
            page = json.loads(self.get(REVISIONS.format(ns=namespace) + query))
            for item in page["items"]:
                found[item["metadata"]["name"]] = item["metadata"]["resourceVersion"]
            token = page["metadata"].get("continue") or ""
            if not token:
                return found

    def writes(self) -> dict[str, float]:
        """API server write requests so far (POST/PUT/PATCH/DELETE), by resource."""
        return self.requests(("POST", "PUT", "PATCH", "DELETE"))

    def reads(self) -> dict[str, float]:
        """API server GET and LIST requests so far (watches not counted), by resource."""
        return self.requests(("GET", "LIST"))

    def requests(self, verbs: tuple[str, ...]) -> dict[str, float]:
        """API server requests of ``verbs`` so far, by resource."""
        totals: dict[str, float] = defaultdict(float)
        for name, labels, value in samples(self.get("/metrics").decode()):
            if name == "apiserver_request_total" and labels.get("verb") in verbs:
                resource = labels.get("resource", "")
                if labels.get("subresource"):
                    resource += "/" + labels["subresource"]
                totals[resource] += value
        return dict(totals)


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text format → (name, labels, value) triples."""
    found = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = {m["key"]: m["value"] for m in _LABEL.finditer(match["labels"] or "")}
        try:
            found.append((match["name"], labels, float(match["value"])))
        except ValueError:
            continue
    return found


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310
        return samples(answer.read().decode())


def memory(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM (peak), RssAnon and RssFile of a process, in MiB."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            found[key] = int(value.split()[0]) / 1024
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quiet(pids: list[int], busy: float = 0.1, window: float = 1.0, limit: float = 90.0) -> float:
    """Wait until ``pids`` together use less than ``busy`` of one core over ``window``
    seconds (a freshly started API server builds its OpenAPI documents for a while, which
    would land on the first samples' clock); the seconds waited. Gives up after ``limit``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = sum(cpu_seconds(pid) for pid in pids)
        time.sleep(window)
        if sum(cpu_seconds(pid) for pid in pids) - before < busy * window:
            break
    return time.monotonic() - started


def load_average() -> float:
    """The machine's 1-minute load average (other work shares these cores)."""
    return os.getloadavg()[0]


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {
        k: after.get(k, 0) - before.get(k, 0)
        for k in set(before) | set(after)
        if after.get(k, 0) != before.get(k, 0)
    }


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class Session:
    """One kept-alive HTTPS connection to the API server (admin client certificate).

    A benchmark's own requests should cost what a client's do, not a TLS handshake
    each (urllib opens a connection per request)."""

    def __init__(self, server: str, pki: Path) -> None:
        parts = urllib.parse.urlsplit(server)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 443
        self._context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self._context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self._connection: http.client.HTTPSConnection | None = None

    def connect(self, timeout: float | None = 120) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self._host, self._port, context=self._context, timeout=timeout
        )

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        """The decoded answer; :class:`urllib.error.HTTPError` for a status ≥ 400."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        for attempt in (0, 1):
            if self._connection is None:
                self._connection = self.connect()
            try:
                self._connection.request(method, path, body=data, headers=headers)
                answer = self._connection.getresponse()
                payload = answer.read()
            except (OSError, http.client.HTTPException):
                self._connection.close()
                self._connection = None
                if attempt:
                    raise
                continue
            if answer.status >= 400:
                raise urllib.error.HTTPError(
                    path,
                    answer.status,
                    payload.decode(errors="replace")[:500],
                    answer.headers,
                    None,
                )
            return json.loads(payload)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def install(kube: Any, root: Path, namespace: str, user: str, password: str) -> Path:
    """What an installation has (the CRDs, the admission policies: without the one that
    records a Repository's requester its Secret is never read, the operator's
    ServiceAccount and RBAC), a namespace, and the ``git-auth`` Secret holding the Git
    server's credentials. The kubeconfig the operator is to run with (its
    ServiceAccount's, with a bound token)."""
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(root / "crds"))
    kube.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    kube.kubectl("apply", "--server-side", "-k", str(root / "config" / "policy"))
    kube.kubectl("create", "namespace", namespace)
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/basic-auth",
            "metadata": {"name": "git-auth", "namespace": namespace},
            "stringData": {"username": user, "password": password},
        }
    )
    # Not the admin certificate: a client certificate's chain is verified on every
    # request (~0.15 ms of API server CPU each), while a token is verified once and then
    # cached, and system:masters skips the RBAC check that a real installation pays.
    kube.install_rbac()
    path: Path = kube.service_account_kubeconfig(
        Path(kube.kubeconfig).parent / "operator.kubeconfig", duration="24h"
    )
    return path


def repository(name: str, namespace: str, url: str) -> dict[str, Any]:
    """A Repository of the Git server's ``url``, read with the ``git-auth`` Secret."""
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": "git",
            "git": {"repo": url, "branch": "main", "secretRef": {"name": "git-auth"}},
        },
    }


def apply_when_served(kube: Any, body: dict[str, Any]) -> None:
    """``kubectl apply``, retried while the API server does not serve a CRD it has only
    just installed (ServiceUnavailable, "not found")."""
    deadline = time.monotonic() + UNAVAILABLE_FOR
    while True:
        try:
            kube.apply(body)
            return
        except AssertionError as error:
            text = str(error)
            if time.monotonic() > deadline or not (
                "ServiceUnavailable" in text or "not found" in text
            ):
                raise
        time.sleep(0.2)
