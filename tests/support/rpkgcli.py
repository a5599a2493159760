"""``python -m lanai`` (or ``kubectl lanai``) run as a user would, in one namespace of the
test cluster: the command line e2e tests drive (test_cli, the Porch scenarios)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from tests.support.cluster import Cluster


@dataclass
class Cli:
    """Runs ``python -m lanai`` (or ``kubectl lanai``) in one namespace of the test cluster."""

    cluster: Cluster
    namespace: str | None

    def __call__(
        self,
        *args: str,
        user: str | None = None,
        ok: bool = True,
        kubectl: bool = False,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = ["kubectl", "lanai"] if kubectl else [sys.executable, "-m", "lanai"]
        argv += list(args)
        if self.namespace:
            argv += ["-n", self.namespace]
        if user:
            argv += ["--as", user]
        environment = {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig), **(env or {})}
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, env=environment, input=input
        )
        shown = f"{' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        if ok:
            assert done.returncode == 0, shown
        else:
            assert done.returncode != 0, shown
            assert "Traceback" not in done.stderr, shown
        return done
