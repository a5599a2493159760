"""Our own render cases: one per behaviour kpt's ``e2e/testdata/fn-render`` cases exercise.

Written for Lanai (small packages, builtin catalog functions), with the outcome kpt
v1.0.0-beta.67 gives for the same behaviour: which files change and how (its YAML
formatting, the Kptfile's ``Rendered`` condition and ``renderStatus``), its messages on
stderr and its exit code.
"""

from __future__ import annotations

from tests.conformance.runner import PACKAGE, Case

RESULTS = """\
apiVersion: kpt.dev/v1
kind: FunctionResultList
metadata:
  name: fnresults
exitCode: 0
items:
  - image: ghcr.io/kptdev/krm-functions-catalog/set-labels:latest
    exitCode: 0
    results:
      - message: set 2 labels in total
        severity: info
"""

HEAD = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: app\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  size: small\n"
DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # the front end
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: web
        image: nginx
"""
LABELS = "  - image: set-labels:latest\n    configMap:\n      tier: web\n"
NAMESPACE = "  - image: set-namespace:latest\n    configMap:\n      namespace: prod\n"
BAD_NAMESPACE = "  - image: set-namespace:latest\n    configMap:\n      nothing: here\n"


def kptfile(mutators: str = "", validators: str = "", annotations: str = "") -> str:
    text = HEAD
    if annotations:
        text += "  annotations:\n" + annotations
    if mutators or validators:
        text += "pipeline:\n"
    if mutators:
        text += "  mutators:\n" + mutators
    if validators:
        text += "  validators:\n" + validators
    return text


STARLARK_GENERATE = """\
  - image: starlark:latest
    configMap:
      source: |
        ctx.resource_list["items"].append({
          "apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "made", "annotations": {"config.kubernetes.io/path": "made.yaml"}},
          "data": {"by": "starlark"}})
"""
STARLARK_DELETE = """\
  - image: starlark:latest
    configMap:
      source: |
        ctx.resource_list["items"] = [r for r in ctx.resource_list["items"]
                                      if r["kind"] != "ConfigMap"]
"""
STARLARK_MOVE = """\
  - image: starlark:latest
    configMap:
      source: |
        for r in ctx.resource_list["items"]:
          if r["kind"] == "ConfigMap":
            r["metadata"]["annotations"]["config.kubernetes.io/path"] = "moved/cm.yaml"
"""
STARLARK_FAIL = """\
  - image: starlark:latest
    configMap:
      source: |
        fail("no good")
"""

HEADER = "# Owned by the platform team.\n# Change it through the blueprint.\n\n"
APP = (
    HEADER
    + """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
      - name: api
        image: api:1.2
"""
)
NAMESPACE_ONLY = kptfile(NAMESPACE)
ANNOTATE = ("fn", "eval", "-", "--image", "set-annotations:latest", "--", "team=blue")
LABEL = ("fn", "eval", "-", "--image", "set-labels:latest", "--", "tier=web")
STARLARK_RENAME = """\
# How the pipeline renames the API's file.

apiVersion: fn.kpt.dev/v1alpha1
kind: StarlarkRun
metadata:
  name: rename
source: |
  for r in ctx.resource_list["items"]:
    if r["kind"] == "Deployment":
      r["metadata"]["annotations"]["internal.config.kubernetes.io/path"] = "api.yaml"
"""

CASES: list[Case] = [
    Case(
        "basic pipeline: mutators change resources, the Kptfile records the outcome",
        {"Kptfile": kptfile(NAMESPACE + LABELS), "cm.yaml": CM, "deploy.yaml": DEPLOY},
        stderr=(
            'Package: "pkg"',
            '[RUNNING] "ghcr.io/kptdev/krm-functions-catalog/set-namespace:latest"',
            '[PASS] "ghcr.io/kptdev/krm-functions-catalog/set-namespace:latest" in 0s',
            '[RUNNING] "ghcr.io/kptdev/krm-functions-catalog/set-labels:latest"',
            "Successfully executed 2 function(s) in 1 package(s).",
        ),
    ),
    Case(
        "a short image name and a semver range resolve to the catalog's image",
        {
            "Kptfile": kptfile(
                "  - image: set-namespace\n    tag: 0.4.1 - 0.4.3\n    configMap:\n"
                "      namespace: prod\n"
            ),
            "cm.yaml": CM,
        },
        stderr=('[PASS] "ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.3"',),
    ),
    Case(
        "a failing function leaves resources alone and records the failure in the Kptfile",
        {"Kptfile": kptfile(LABELS + STARLARK_FAIL), "cm.yaml": CM},
        exit_code=1,
        stderr=(
            '[PASS] "ghcr.io/kptdev/krm-functions-catalog/set-labels:latest"',
            '[FAIL] "ghcr.io/kptdev/krm-functions-catalog/starlark:latest" in 0s',
            "no good",
            "Exit code: 1",
        ),
    ),
    Case(
        "save-on-render-failure keeps what the functions before the failure did",
        {
            "Kptfile": kptfile(
                LABELS + STARLARK_FAIL,
                annotations='    kpt.dev/save-on-render-failure: "true"\n',
            ),
            "cm.yaml": CM,
        },
        exit_code=1,
        stderr=("Partially executed 1 function(s) in 1 package(s).",),
    ),
    Case(
        "set-namespace reports a functionConfig without a namespace and the render goes on",
        {"Kptfile": kptfile(BAD_NAMESPACE + LABELS), "cm.yaml": CM},
        stderr=(
            '[PASS] "ghcr.io/kptdev/krm-functions-catalog/set-namespace:latest" in 0s',
            "[Results]: [error] v1/ConfigMap/function-input: `data.namespace` should not be empty",
            "Successfully executed 2 function(s) in 1 package(s).",
        ),
    ),
    Case(
        "a failing validator fails the render and changes nothing but the Kptfile",
        {"Kptfile": kptfile(LABELS, STARLARK_FAIL), "cm.yaml": CM},
        exit_code=1,
        stderr=('[FAIL] "ghcr.io/kptdev/krm-functions-catalog/starlark:latest"', "no good"),
    ),
    Case(
        "a generator's new resource is written to the file its path annotation names",
        {"Kptfile": kptfile(STARLARK_GENERATE), "cm.yaml": CM},
    ),
    Case(
        "a resource a function drops is deleted, and so is its file",
        {"Kptfile": kptfile(STARLARK_DELETE), "cm.yaml": CM, "deploy.yaml": DEPLOY},
    ),
    Case(
        "a function that changes the path annotation moves the resource",
        {"Kptfile": kptfile(STARLARK_MOVE), "cm.yaml": CM},
    ),
    Case(
        "selectors limit a function to the resources they match",
        {
            "Kptfile": kptfile(LABELS + "    selectors:\n    - kind: ConfigMap\n"),
            "cm.yaml": CM,
            "deploy.yaml": DEPLOY,
        },
        stderr=('"ghcr.io/kptdev/krm-functions-catalog/set-labels:latest" on 1 resource(s)',),
    ),
    Case(
        "exclude leaves the resources it matches alone",
        {
            "Kptfile": kptfile(LABELS + "    exclude:\n    - kind: ConfigMap\n"),
            "cm.yaml": CM,
            "deploy.yaml": DEPLOY,
        },
    ),
    Case(
        "a parent's pipeline sees its subpackages' resources, a subpackage's only its own",
        {
            "Kptfile": kptfile(LABELS),
            "cm.yaml": CM,
            "sub/Kptfile": kptfile(NAMESPACE).replace("name: app", "name: sub"),
            "sub/deploy.yaml": DEPLOY,
        },
        stderr=('Package: "pkg/sub"', 'Package: "pkg"', "in 2 package(s)"),
    ),
    Case(
        "bfs-rendering runs the parent's pipeline before its subpackages'",
        {
            "Kptfile": kptfile(LABELS, annotations='    kpt.dev/bfs-rendering: "true"\n'),
            "cm.yaml": CM,
            "sub/Kptfile": kptfile(NAMESPACE).replace("name: app", "name: sub"),
            "sub/deploy.yaml": DEPLOY,
        },
        stderr=('Package: "pkg"', 'Package: "pkg/sub"'),
    ),
    Case(
        "a functionConfig read from a file (configPath)",
        {
            "Kptfile": kptfile("  - image: set-labels:latest\n    configPath: labels.yaml\n"),
            "labels.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: labels\n"
            '  annotations:\n    config.kubernetes.io/local-config: "true"\n'
            "data:\n  tier: web\n",
            "cm.yaml": CM,
        },
    ),
    Case(
        "a configPath that names no file is refused",
        {
            "Kptfile": kptfile("  - image: set-labels:latest\n    configPath: gone.yaml\n"),
            "cm.yaml": CM,
        },
        exit_code=1,
        stderr=(
            "Kptfile is invalid:",
            "Field: `pipeline.mutators[0].configPath`",
            'failed to open functionConfig from path "gone.yaml"',
        ),
    ),
    Case(
        "a package without a Kptfile is refused",
        {"cm.yaml": CM},
        exit_code=1,
        stderr=('Error: No Kptfile found at "', '/pkg".'),
    ),
    Case(
        "a Kptfile with an unknown field is refused with kpt's words",
        {"Kptfile": HEAD + "pipline:\n  mutators: []\n", "cm.yaml": CM},
        exit_code=1,
        stderr=("/pkg\" can't be read.", "field pipline not found in type v1.KptFile"),
    ),
    Case(
        "a file that is not KRM is refused before any function sees it",
        {"Kptfile": kptfile(LABELS), "cm.yaml": CM, "notes.yaml": "just: a map\n"},
        exit_code=1,
        stderr=("input resource list must contain only KRM resources",),
    ),
    Case(
        "exec functions need --allow-exec",
        {"Kptfile": kptfile("  - exec: ./noop.sh\n"), "cm.yaml": CM},
        exit_code=1,
        stderr=("must run with `--allow-exec` option to allow running function binaries",),
    ),
    Case(
        "results are written to --results-dir",
        {"Kptfile": kptfile(LABELS), "cm.yaml": CM},
        args=("--results-dir", "{results}"),
        stderr=("For complete results, see",),
        results=RESULTS,
    ),
    Case(
        "-o stdout writes the rendered resources and leaves the package alone",
        {"Kptfile": kptfile(LABELS), "cm.yaml": CM},
        args=("-o", "stdout"),
        stdout="kind: ResourceList",
    ),
    Case(
        "a package without a pipeline is rendered: the Kptfile records success",
        {"Kptfile": kptfile(), "cm.yaml": CM},
    ),
    Case(
        ".krmignore keeps files from the functions",
        {
            "Kptfile": kptfile(LABELS),
            "cm.yaml": CM,
            ".krmignore": "ignored/\n",
            "ignored/cm.yaml": CM.replace("name: web", "name: other"),
        },
    ),
    Case(
        "-o stdout: one ResourceList, kpt's reader annotations on each resource",
        {"Kptfile": NAMESPACE_ONLY, "app.yaml": APP},
        args=("-o", "stdout"),
        stdout="",
    ),
    Case(
        "-o unwrap: the resources as a YAML stream, kpt's annotations gone",
        {"Kptfile": NAMESPACE_ONLY, "app.yaml": APP},
        args=("-o", "unwrap"),
        stdout="",
    ),
    Case(
        "-o DIR: the resources written as files under a new directory",
        {"Kptfile": NAMESPACE_ONLY, "app.yaml": APP},
        args=("-o", "pkg/out"),
        stderr=('[PASS] "ghcr.io/kptdev/krm-functions-catalog/set-namespace:latest" in 0s',),
    ),
    Case(
        "fn eval - reads the ResourceList a render wrote and writes one for the next",
        {"Kptfile": NAMESPACE_ONLY, "app.yaml": APP},
        pipeline=(("fn", "render", PACKAGE, "-o", "stdout"), ANNOTATE, LABEL),
        stderr=(
            'Package: "pkg"',
            '[PASS] "ghcr.io/kptdev/krm-functions-catalog/set-namespace:latest" in 0s',
            '[RUNNING] "ghcr.io/kptdev/krm-functions-catalog/set-annotations:latest"',
            '[PASS] "ghcr.io/kptdev/krm-functions-catalog/set-annotations:latest" in 0s',
            '[RUNNING] "ghcr.io/kptdev/krm-functions-catalog/set-labels:latest"',
            '[PASS] "ghcr.io/kptdev/krm-functions-catalog/set-labels:latest" in 0s',
        ),
        stdout="",
    ),
    Case(
        "fn eval - -o unwrap ends a pipe with plain YAML",
        {"Kptfile": NAMESPACE_ONLY, "app.yaml": APP},
        pipeline=(
            ("fn", "render", PACKAGE, "-o", "stdout"),
            (*LABEL[:5], "-o", "unwrap", *LABEL[5:]),
        ),
        stdout="",
    ),
    Case(
        "fn eval - records its results in --results-dir",
        {"Kptfile": NAMESPACE_ONLY, "app.yaml": APP},
        pipeline=(
            ("fn", "render", PACKAGE, "-o", "stdout"),
            (*LABEL[:5], "--results-dir", "{results}", *LABEL[5:]),
        ),
        stderr=("For complete results, see",),
        stdout="",
        results="",
    ),
    Case(
        "a configPath into a subpackage is refused; the Kptfile says so on the package's line",
        {
            "Kptfile": kptfile("  - image: set-labels:latest\n    configPath: db/labels.yaml\n"),
            "cm.yaml": CM,
            "db/Kptfile": kptfile().replace("name: app", "name: db"),
            "db/labels.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: labels\n"
            "data:\n  tier: db\n",
        },
        exit_code=1,
        stderr=("is part of a subpackage",),
    ),
    Case(
        "a file that is not KRM fails a package without a pipeline too",
        {"Kptfile": kptfile(), "cm.yaml": CM, "list.yaml": "- just\n- a list\n"},
        exit_code=1,
        stderr=("input resource list must contain only KRM resources",),
    ),
    Case(
        "a subpackage Kptfile that cannot be read stops the render at its parent",
        {
            "Kptfile": kptfile(LABELS),
            "cm.yaml": CM,
            "db/Kptfile": HEAD.replace("name: app", "name: db") + "pipeline: [oops\n",
        },
        exit_code=1,
        stderr=("can't be read.",),
    ),
    Case(
        "a kustomization.yaml is no KRM resource but functions see it",
        {
            "Kptfile": kptfile(LABELS),
            "cm.yaml": CM,
            "kustomization.yaml": HEADER + "# what kustomize builds\nresources:\n- cm.yaml\n",
        },
    ),
    Case(
        "a function that sets the path annotation renames the file",
        {
            "Kptfile": kptfile("  - image: starlark:latest\n    configPath: rename.yaml\n"),
            "deploy.yaml": DEPLOY,
            "rename.yaml": STARLARK_RENAME,
        },
    ),
    Case(
        "a failure deep in the package tree names each package on the way down",
        {
            "Kptfile": kptfile(),
            "team/Kptfile": kptfile().replace("name: app", "name: team"),
            "team/db/Kptfile": kptfile(STARLARK_FAIL).replace("name: app", "name: db"),
            "team/db/cm.yaml": CM,
        },
        exit_code=1,
        stderr=('Package: "pkg/team/db"', '[FAIL] "ghcr.io/kptdev/krm-functions-catalog/starlark'),
    ),
    Case(
        "fn eval DIR runs one function over every resource, Kptfiles included",
        {
            "Kptfile": kptfile(),
            "app.yaml": APP,
            "db/Kptfile": kptfile().replace("name: app", "name: db"),
        },
        pipeline=(("fn", "eval", PACKAGE, "--image", "set-labels", "--", "tier=web"),),
        stderr=(
            '[RUNNING] "ghcr.io/kptdev/krm-functions-catalog/set-labels"',
            '[PASS] "ghcr.io/kptdev/krm-functions-catalog/set-labels" in 0s',
            "[Results]: [info]: set 5 labels in total",
        ),
    ),
    Case(
        "null values keep their spelling in a rewritten file",
        {
            "Kptfile": kptfile(NAMESPACE),
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n"
            "  creationTimestamp: null\ndata:\n  none: ~\n",
        },
    ),
]
