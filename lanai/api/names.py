"""Derived names: PackageRevision names and the rules for their parts.

The PackageRevision name is derived from its spec so that workspace uniqueness is a
property of the API server (two creates of the same package/workspace collide on the
name), and the CRD's CEL rule checks the same derivation.
"""

from __future__ import annotations

import re

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS1123_LABEL.match(value))


def is_package_path(value: str) -> bool:
    """A package name: DNS-1123 labels separated by '/'."""
    return bool(value) and all(is_dns1123_label(part) for part in value.split("/"))


def package_revision_name(repository: str, package: str, workspace: str) -> str:
    """``<repository>.<package with / as .>.<workspace>``, as the CRD's CEL rule expects."""
    return f"{repository}.{package.replace('/', '.')}.{workspace}"


def package_name(repository: str, package: str) -> str:
    """``<repository>.<package with / as .>``: the Package object of a package."""
    return f"{repository}.{package.replace('/', '.')}"
