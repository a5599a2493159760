"""package-context.yaml: what a package cloned into a deployment repository learns
about itself (its name), for functions such as set-namespace to use."""

from __future__ import annotations

from collections.abc import Mapping

CONTEXT_FILE = "package-context.yaml"


def with_package_context(
    files: Mapping[str, bytes], package: str, package_path: str = ""
) -> dict[str, bytes]:
    name = package.rsplit("/", 1)[-1]
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        "  name: kptfile.kpt.dev",
        "  annotations:",
        '    config.kubernetes.io/local-config: "true"',
        "data:",
        f"  name: {name}",
    ]
    if package_path:
        lines.append(f"  package-path: {package_path}")
    result = dict(files)
    result[CONTEXT_FILE] = ("\n".join(lines) + "\n").encode()
    return result
