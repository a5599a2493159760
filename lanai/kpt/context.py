"""package-context.yaml: what a package learns about itself (its name, its path).

Functions such as set-namespace read the ``kptfile.kpt.dev`` ConfigMap to default to
the package name. It is local config (never applied) and lives next to the root Kptfile.
"""

from __future__ import annotations

from lanai.kpt import package

CONTEXT_FILE = "package-context.yaml"
CONTEXT_NAME = "kptfile.kpt.dev"
LOCAL_CONFIG = "config.kubernetes.io/local-config"


def _quote(value: str) -> str:
    """A YAML scalar for ``value``: plain when safe, double-quoted otherwise."""
    safe = value and all(c.isalnum() or c in "-_./" for c in value)
    if safe and value.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "~"):
        try:
            float(value)
        except ValueError:
            return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def package_context(name: str, package_path: str = "") -> bytes:
    """The file's content for package ``name`` (the last segment of a path is used)."""
    name = name.rstrip("/").rsplit("/", 1)[-1]
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        f"  name: {CONTEXT_NAME}",
        "  annotations:",
        f'    {LOCAL_CONFIG}: "true"',
        "data:",
        f"  name: {_quote(name)}",
    ]
    if package_path:
        lines.append(f"  package-path: {_quote(package_path)}")
    return ("\n".join(lines) + "\n").encode()


def with_package_context(
    tree: package.PackageTree, name: str, package_path: str = "", *, root: str = ""
) -> package.PackageTree:
    """``tree`` with package-context.yaml (re)generated next to the root Kptfile."""
    result = dict(tree)
    result[package.join(root, CONTEXT_FILE)] = package_context(name, package_path)
    return result
