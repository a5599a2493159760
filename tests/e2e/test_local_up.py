"""The README's run command without a cluster: ``lanai up`` brings everything up.

It starts the bundled control plane and a local Git server with a demo blueprint,
registers the repository, runs the operator, and on Ctrl-C stops all of it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from lanai.local import controlplane, playground, processes
from tests.support.cluster import Cluster, condition
from tests.support.waiting import wait_for


def test_up_without_a_cluster_runs_the_demo_and_stops_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1")
    # Resolve the binaries with the real HOME: under the fake one the build cache is
    # empty and `lanai up` would rebuild Kubernetes from source.
    env["LANAI_CONTROLPLANE_BIN"] = str(controlplane.find_binaries())
    log = tmp_path / "up.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "lanai", "up", "--workdir", str(tmp_path / "state")],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        match = wait_for(
            lambda: re.search(r"export KUBECONFIG=(\S+)", log.read_text()),
            timeout=120,
            what="the instructions",
        )
        cluster = Cluster(kubeconfig=Path(match.group(1)), root=Path.cwd())

        def ready() -> bool:
            repo = cluster.get("repositories.config.porch.kpt.dev", "blueprints", "default")
            found = condition(repo, "Ready")
            return bool(found and found["status"] == "True")

        wait_for(ready, timeout=60, what="the demo repository to become Ready")

        # The printed walk-through works: clone, propose, approve.
        cluster.apply(playground.CLONE_MANIFEST)
        name = "blueprints.hello-site.v1"
        for lifecycle in ("Draft", "Proposed", "Published"):
            if lifecycle != "Draft":
                patch = f'{{"spec":{{"lifecycle":"{lifecycle}"}}}}'
                cluster.kubectl("patch", "rpkg", name, "--type", "merge", "-p", patch)
            wait_for(
                lambda: (
                    (o := cluster.get("rpkg", name, "default"))
                    and (o.get("status") or {}).get("observedGeneration")
                    == o["metadata"]["generation"]
                    and (condition(o, "Ready") or {}).get("status") == "True"
                ),
                timeout=60,
                what=f"{name} {lifecycle} and Ready",
            )
        published = cluster.get("rpkg", name, "default")
        assert published is not None
        assert published["status"]["revision"] == 1
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, log.read_text()[-3000:]
    # Nothing is left running: no etcd or API server from this workdir.
    time.sleep(0.5)
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "state")], capture_output=True, text=True, check=False
    ).stdout.split()
    assert leftovers == [], processes.tail(log)
