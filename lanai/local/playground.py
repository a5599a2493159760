"""``lanai up``: Lanai running in one command, with or without a cluster.

With a reachable cluster in KUBECONFIG, install the CRDs and run the operator against
it. Without one, start the bundled control plane and a local Git server holding a demo
blueprint, register that repository, print the kubectl commands to try, and run the
operator until interrupted; everything stops with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import subprocess
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lanai.handlers import operator
from lanai.local import controlplane, gitserver, housekeeping

logger = logging.getLogger("lanai.up")

SOURCE_ROOT = Path(__file__).resolve().parents[2]
DEMO_NAMESPACE = "default"
DEMO_REPOSITORY = "blueprints"
DEMO_USER = "lanai"
DEMO_PASSWORD = "lanai-demo-password"  # noqa: S105 - a demo server on 127.0.0.1 only


def _kubectl(kubeconfig: Path | None, *args: str, input_text: str | None = None) -> str:
    argv = ["kubectl", *([f"--kubeconfig={kubeconfig}"] if kubeconfig else []), *args]
    done = subprocess.run(argv, input=input_text, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def cluster_reachable() -> bool:
    if not os.environ.get("KUBECONFIG") and not (Path.home() / ".kube" / "config").exists():
        return False
    done = subprocess.run(
        ["kubectl", "version", "--request-timeout=3s"], capture_output=True, check=False
    )
    return done.returncode == 0


def install(kubeconfig: Path | None) -> None:
    for directory in ("crds", "config/policy"):
        path = SOURCE_ROOT / directory
        if (path / "kustomization.yaml").exists():
            _kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-k", str(path))
        if directory == "crds":
            # A kind is served a moment after its CRD is created (longer on a busy
            # machine): registering the demo Repository before that fails.
            crds = sorted(p for p in path.glob("*.yaml") if p.name != "kustomization.yaml")
            files = [f"--filename={p}" for p in crds]
            _kubectl(kubeconfig, "wait", "--for=condition=Established", "--timeout=120s", *files)


def _demo_blueprint(server: gitserver.GitServer, workdir: Path) -> str:
    url = server.create_repository(DEMO_REPOSITORY)
    checkout = workdir / "demo-checkout"
    if checkout.exists():
        return url
    files = {
        "hello/Kptfile": textwrap.dedent("""\
            apiVersion: kpt.dev/v1
            kind: Kptfile
            metadata:
              name: hello
              annotations:
                config.kubernetes.io/local-config: "true"
            info:
              description: A first blueprint to clone, propose and approve
            """),
        "hello/configmap.yaml": textwrap.dedent("""\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: hello
            data:
              greeting: hello from a kpt package  # edit me in your clone
            """),
    }
    authed = url.replace("http://", f"http://{DEMO_USER}:{DEMO_PASSWORD}@")
    subprocess.run(["git", "clone", "-q", authed, str(checkout)], check=True)
    for name, content in files.items():
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text(content)
    ident = ["-c", "user.name=lanai demo", "-c", "user.email=demo@lanai.invalid"]
    subprocess.run(["git", "-C", str(checkout), "add", "."], check=True)
    subprocess.run(
        ["git", "-C", str(checkout), *ident, "commit", "-qm", "Add the hello blueprint"], check=True
    )
    subprocess.run(["git", "-C", str(checkout), "tag", "hello/v1"], check=True)
    subprocess.run(
        ["git", "-C", str(checkout), "push", "-q", "origin", "main", "hello/v1"], check=True
    )
    return url


def _register(kubeconfig: Path, url: str) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/basic-auth",
        "metadata": {"name": "blueprints-auth", "namespace": DEMO_NAMESPACE},
        "stringData": {"username": DEMO_USER, "password": DEMO_PASSWORD},
    }
    repo = {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": DEMO_REPOSITORY, "namespace": DEMO_NAMESPACE},
        "spec": {
            "description": "Demo blueprints served by lanai up",
            "type": "git",
            "content": "Package",
            "git": {"repo": url, "branch": "main", "secretRef": {"name": "blueprints-auth"}},
        },
    }
    _wait_for_requester_policy(kubeconfig, repo)
    for document in (secret, repo):
        _apply_when_served(kubeconfig, document)


def _wait_for_requester_policy(kubeconfig: Path, repo: Mapping[str, Any], tries: int = 120) -> None:
    """Until the API server records who registers a Repository (the admission policy
    just installed takes a moment to load): without that record Lanai reads no Secret
    for it. Probed with server-side dry runs, which change nothing."""
    for _attempt in range(tries):
        try:
            answer = _kubectl(
                kubeconfig, "create", "--dry-run=server", "-o", "json", "-f", "-",
                input_text=json.dumps(repo),
            )  # fmt: skip
        except RuntimeError as error:
            if "ServiceUnavailable" not in str(error):
                raise
        else:
            annotations = (json.loads(answer).get("metadata") or {}).get("annotations") or {}
            if "lanai.porch.kpt.dev/requested-by" in annotations:
                return
        time.sleep(0.5)
    raise RuntimeError("the admission policies in config/policy did not take effect in time")


def _apply_when_served(kubeconfig: Path, document: Mapping[str, Any], tries: int = 60) -> None:
    """Apply; while the API server answers that the kind is not served yet (it is still
    loading a CRD it just established), wait half a second and try again."""
    for attempt in range(tries):
        try:
            _kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(document))
            return
        except RuntimeError as error:
            if "ServiceUnavailable" not in str(error) or attempt == tries - 1:
                raise
            time.sleep(0.5)


CLONE_MANIFEST = """apiVersion: porch.kpt.dev/v1alpha2
kind: PackageRevision
metadata:
  name: blueprints.hello-site.v1
spec:
  repository: blueprints
  packageName: hello-site
  workspaceName: v1
  lifecycle: Draft
  source:
    cloneFrom:
      upstreamRef:
        name: blueprints.hello.v1
"""


def _instructions(kubeconfig: Path) -> str:
    name = "blueprints.hello-site.v1"
    move = "kubectl patch rpkg " + name + ' --type merge -p \'{"spec":{"lifecycle":"%s"}}\''
    return "\n".join(
        [
            "",
            "Lanai is running on a local control plane. In another terminal:",
            "",
            f"export KUBECONFIG={kubeconfig}",
            "kubectl get repositories",
            "kubectl get packagerevisions",
            "",
            "# Clone the hello blueprint into a new package (a Draft):",
            "kubectl apply -f - <<'EOF'",
            CLONE_MANIFEST.rstrip(),
            "EOF",
            f"kubectl get rpkg {name} -w     # until READY is True",
            f"kubectl edit prr {name}        # change the greeting",
            "",
            "# Propose and approve it (revision 1, tagged hello-site/v1 in Git):",
            move % "Proposed",
            move % "Published",
            "",
            "Stop with Ctrl-C (the control plane and Git server stop too).",
            "",
        ]
    )


def up(workdir: str, fast: bool = True) -> int:
    options = operator.Options(fast=fast)
    if cluster_reachable():
        logger.info("using the cluster in KUBECONFIG")
        install(None)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(operator.serve(options))
        return 0

    root = Path(workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    logger.info("no cluster reachable: starting the bundled control plane in %s", root)
    # The demo Git server listens on 127.0.0.1, which Git connections may not reach by
    # default (loopback); allow exactly that address, nothing else of this machine.
    options = dataclasses.replace(options, allow_git_hosts=(gitserver.HOST,))
    plane = controlplane.ControlPlane(root / "controlplane", controlplane.find_binaries())
    # A playground lives for days: its Git server keeps its repositories packed, as a
    # hosting service does, so pushes do not slow down as revisions pile up.
    server = gitserver.GitServer(
        root / "git",
        gitserver.Credentials(users={DEMO_USER: DEMO_PASSWORD}),
        housekeeping=housekeeping.Housekeeping(),
    ).start()
    try:
        plane.start()
        os.environ["KUBECONFIG"] = str(plane.kubeconfig)
        install(plane.kubeconfig)
        url = _demo_blueprint(server, root)
        _register(plane.kubeconfig, url)
        print(_instructions(plane.kubeconfig), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(operator.serve(options))
    finally:
        server.stop()
        plane.stop()
    return 0
