"""Packages whose pipelines attack the operator: memory bombs and endless loops.

The scripts are the ones a security review used: a starlark step that doubles a string
31 times (2 GiB), a list of 10^9 zeros (8 GB, which starlark's Rust heap refuses with a
panic or an abort), and a loop that never ends in useful time.
"""

from __future__ import annotations

import textwrap

DOUBLING = 's = "x"\nfor i in range(31):\n    s = s + s\n'
HUGE_LIST = "x = [0] * 1000000000\n"
ENDLESS = "def spin():\n    for i in range(1000000000):\n        pass\n\nspin()\n"
HARMLESS = 'print("harmless")\n'

STARLARK_IMAGE = "ghcr.io/kptdev/krm-functions-catalog/starlark:v0.5.0"
SET_LABELS_IMAGE = "ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.2.0"

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  size: '1'\n"


def starlark_config(source: str, name: str = "attack") -> str:
    return (
        "apiVersion: fn.kpt.dev/v1alpha1\n"
        "kind: StarlarkRun\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  annotations:\n"
        '    config.kubernetes.io/local-config: "true"\n'
        "source: |\n" + textwrap.indent(source, "  ")
    )


def kptfile(name: str, *steps: str) -> str:
    """A Kptfile whose mutators are ``steps`` (YAML list items, already indented)."""
    text = f"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\n"
    if steps:
        text += "pipeline:\n  mutators:\n" + "".join(steps)
    return text


def labels_step(**labels: str) -> str:
    pairs = "".join(f"      {k}: {v}\n" for k, v in labels.items())
    return f"  - image: {SET_LABELS_IMAGE}\n    configMap:\n{pairs}"


def starlark_step(config_path: str = "starlark.yaml") -> str:
    return f"  - image: {STARLARK_IMAGE}\n    configPath: {config_path}\n"


def starlark_package(source: str, name: str = "attack", labels: bool = False) -> dict[str, str]:
    """Files of a package (path → text) whose pipeline runs ``source`` in starlark, after
    a harmless set-labels step when ``labels``."""
    steps = [labels_step(app="web")] if labels else []
    steps.append(starlark_step())
    return {
        "Kptfile": kptfile(name, *steps),
        "starlark.yaml": starlark_config(source),
        "cm.yaml": CONFIGMAP,
    }


def as_bytes(files: dict[str, str]) -> dict[str, bytes]:
    return {path: text.encode() for path, text in files.items()}
