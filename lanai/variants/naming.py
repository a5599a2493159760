"""Names of the PackageVariants a PackageVariantSet makes (Porch's, kept valid).

``<set>-<downstream repo>-<downstream package>``; when that is longer than 63
characters, Porch's form: its first 54 characters, a dash and 8 hex digits of its SHA-1.
Where either would not be a valid object name (a nested package has '/'), the invalid
characters become dashes first; the hash is always of the whole identifier, so the name
stays stable and distinct.
"""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = 63
HASH_LENGTH = 8
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_INVALID_RUN = re.compile(r"[^-a-z0-9.]+")


def identifier(set_name: str, repo: str, package: str) -> str:
    return f"{set_name}-{repo}-{package}"


def is_valid_name(name: str) -> bool:
    """A DNS-1123 subdomain (what object names must be), at most 63 characters here."""
    return 0 < len(name) <= MAX_LENGTH and all(_LABEL.match(p) for p in name.split("."))


def variant_name(set_name: str, repo: str, package: str) -> str:
    whole = identifier(set_name, repo, package)
    if len(whole) <= MAX_LENGTH and is_valid_name(whole):
        return whole
    digest = hashlib.sha1(whole.encode(), usedforsecurity=False).hexdigest()[:HASH_LENGTH]
    keep = MAX_LENGTH - HASH_LENGTH - 1
    porch = f"{whole[:keep]}-{digest}"
    if is_valid_name(porch):
        return porch
    cleaned = _INVALID_RUN.sub("-", whole.lower())
    cleaned = re.sub(r"\.[-.]*", ".", re.sub(r"-+\.", ".", cleaned))[:keep].strip("-.")
    candidate = f"{cleaned}-{digest}" if cleaned else digest
    return candidate if is_valid_name(candidate) else digest
