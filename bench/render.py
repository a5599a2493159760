"""Measure 6: ``kpt fn render`` of a 100-resource package through a builtin pipeline.

The function issue asks that a package of 100 resources through a 3-function builtin
pipeline renders in tens of milliseconds. The package is what a blueprint looks like:
25 apps of a Deployment, a Service, a ConfigMap and a ServiceAccount each, one file per
app, with comments and setter markers. The pipeline is set-namespace, set-labels and
apply-setters, configured by ``configMap`` and by ``configPath`` (re-read before each
function), through the same runtime chain the operator uses.

Cold: the first render of the package as it comes from upstream (every file changes).
Warm: rendering that output again, which changes nothing (what an edit that leaves the
pipeline's inputs alone costs, and kpt's idempotency). Both in process, no I/O.
"""

from __future__ import annotations

import time

from bench import stats
from lanai.kpt import package, render
from lanai.tasks import rendering

APPS = 25
TARGET_MS = 100.0
"""'Tens of milliseconds, not seconds': p50 at most 100 ms."""

KPTFILE = """\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: shop
info:
  description: a blueprint of 25 small services
pipeline:
  mutators:
    - image: set-namespace:v0.4.1
      configMap:
        namespace: shop-prod
    - image: ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.2.0
      configMap:
        app.kubernetes.io/part-of: shop
        environment: prod
    - image: gcr.io/kpt-fn/apply-setters:v0.2.0
      configPath: setters.yaml
"""

SETTERS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: setters
  annotations:
    config.kubernetes.io/local-config: "true"
data:
  replicas: "3"
  registry: registry.example.com/shop
  tier: backend
"""


def _app(index: int) -> str:
    name = f"svc-{index:02d}"
    return f"""\
# {name}: one of the shop's services
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
    tier: backend # kpt-set: ${{tier}}
spec:
  replicas: 1 # kpt-set: ${{replicas}}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      serviceAccountName: {name}
      containers:
        - name: app
          image: registry.example.com/shop/{name}:1.0 # kpt-set: ${{registry}}/{name}:1.0
          ports:
            - containerPort: 8080
              name: http
          env:
            - name: LOG_LEVEL
              value: info
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {name}
  ports:
    - port: 80
      targetPort: http
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
data:
  # the service's settings
  timeout: "30s"
  retries: "3"
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
"""


def package_tree() -> package.PackageTree:
    tree: package.PackageTree = {
        "Kptfile": KPTFILE.encode(),
        "setters.yaml": SETTERS.encode(),
        "README.md": b"# shop\nNot KRM: travels with the package untouched.\n",
    }
    for index in range(APPS):
        tree[f"apps/svc-{index:02d}.yaml"] = _app(index).encode()
    return tree


def _timed(
    tree: package.PackageTree, runtime: object, rounds: int
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per render. On a shared machine the CPU time is
    what the render itself costs; the wall time adds waiting for a core."""
    wall, cpu = [], []
    for _ in range(rounds):
        started, used = time.perf_counter(), time.process_time()
        result = render.render(dict(tree), runtime)  # type: ignore[arg-type]
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
        if not result.ok:
            raise RuntimeError(f"render failed: {result.error}")
    return wall, cpu


def run(report: stats.Report, rounds: int = 50) -> None:
    runtime = runtimes.build(runtimes.Settings()).runtime
    tree = package_tree()
    resources = APPS * 4 + 1
    first = render.render(dict(tree), runtime)
    if not first.ok:
        raise RuntimeError(f"render failed: {first.error}")
    if render.render(dict(first.tree), runtime).tree != first.tree:
        raise RuntimeError("rendering the rendered package changed it: render is not idempotent")
    namespaced = first.tree["apps/svc-00.yaml"].decode()
    if "namespace: shop-prod" not in namespaced or "replicas: 3" not in namespaced:
        raise RuntimeError("the pipeline did not apply: " + namespaced[:400])
    _timed(tree, runtime, 3)  # warm the imports once
    for label, source in (
        (f"render cold, {resources} resources x 3 builtin functions", tree),
        (f"render warm (output re-rendered, no change), {resources} resources", first.tree),
    ):
        wall, cpu = _timed(source, runtime, rounds)
        report.add_percentiles(label, wall, "ms", p50=TARGET_MS)
        report.add_percentiles(f"{label}, CPU time", cpu, "ms")
