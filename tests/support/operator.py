"""The operator under test runs as its own process, as it would in a pod.

Tests start it, read its log, kill it at any moment and start it again.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lanai.local import gitserver, processes


@dataclass
class OperatorProcess:
    kubeconfig: Path
    workdir: Path
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    metrics_port: int = 0
    health_port: int = 0

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}/healthz"

    @property
    def log_path(self) -> Path:
        return self.workdir / "operator.log"

    def start(self) -> OperatorProcess:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.metrics_port = processes.free_port()
        self.health_port = processes.free_port()
        with self.log_path.open("a") as log:
            log.write(f"\n===== operator start #{self.starts} =====\n")
        env = dict(
            os.environ,
            KUBECONFIG=str(self.kubeconfig),
            LANAI_CACHE_DIR=str(self.workdir / "cache"),
            PYTHONUNBUFFERED="1",
            **self.env,
        )
        self.process = processes.spawn(
            [
                sys.executable,
                "-m",
                "lanai",
                "run",
                "--all-namespaces",
                "--dev",
                f"--metrics-address=127.0.0.1:{self.metrics_port}",
                f"--liveness={self.health_url}",
                # The test bed's Git servers listen on 127.0.0.1: allow that address and
                # no other (127.0.0.2 stays a forbidden loopback target for tests).
                f"--allow-git-host={gitserver.HOST}",
                *self.extra_args,
            ],
            self.log_path,
            env=env,
        )
        self.wait_for_log(r"lanai operator is ready", since_start=True)
        return self

    def stop(self) -> None:
        processes.stop(self.process)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no finalizers run; what a crashed pod looks like."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def restart(self) -> OperatorProcess:
        self.stop()
        return self.start()

    def log(self, since_start: bool = False) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        if since_start:
            marker = f"===== operator start #{self.starts} ====="
            text = text[text.rfind(marker) :] if marker in text else text
        return text

    def wait_for_log(self, pattern: str, timeout: float = 60, since_start: bool = False) -> str:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log(since_start=since_start)
            if match := regex.search(text):
                return match.group(0)
            if self.process and self.process.poll() is not None:
                tail = processes.tail(self.log_path, 60)
                raise AssertionError(f"operator exited ({self.process.returncode}):\n{tail}")
            time.sleep(0.1)
        raise AssertionError(
            f"no {pattern!r} in the operator log:\n{processes.tail(self.log_path, 60)}"
        )
