"""Function image names: what a Kptfile writes versus which catalog function it means.

The same catalog function is spelled many ways over kpt's history: a bare short name
(``set-namespace``), the current home ``ghcr.io/kptdev/krm-functions-catalog/...``, the
old ``gcr.io/kpt-fn/...`` and ``gcr.io/kpt-fn-contrib/...``, with or without a tag or a
digest, sometimes prefixed by Docker Hub's implicit registry. Runtimes that implement
catalog functions themselves (the builtin one) must see through the spelling; runtimes
that run real images must not rewrite anything, so this module only parses and
classifies and never touches the name a user wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Where a short name (no registry, no path) is looked up, as kpt does.
DEFAULT_CATALOG = "ghcr.io/kptdev/krm-functions-catalog"

#: Repository prefixes whose images are catalog functions, newest first.
CATALOG_PREFIXES: tuple[str, ...] = (
    "ghcr.io/kptdev/krm-functions-catalog/contrib",
    "ghcr.io/kptdev/krm-functions-catalog",
    "gcr.io/kpt-fn-contrib",
    "gcr.io/kpt-fn",
    "ghcr.io/googlecontainertools/kpt-functions-catalog",
)

_DOCKER_HUB = ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/")
_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class InvalidImage(ValueError):
    """The string is not an OCI image reference."""


@dataclass(frozen=True)
class ImageRef:
    """An image reference split into repository, tag and digest (nothing defaulted away)."""

    repository: str
    tag: str = "latest"
    digest: str | None = None

    @property
    def name(self) -> str:
        """The last path component of the repository: ``set-namespace``."""
        return self.repository.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class CatalogFunction:
    """A catalog function an image names: its short name and its tag."""

    name: str
    tag: str = "latest"


def parse(image: str) -> ImageRef:
    """Split ``image`` into repository, tag and digest; raise :class:`InvalidImage`."""
    text = image.strip()
    if not text or any(c.isspace() for c in text):
        raise InvalidImage(f"invalid image name {image!r}")
    digest: str | None = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not re.fullmatch(r"[A-Za-z0-9_+.-]+:[A-Fa-f0-9]{32,}", digest):
            raise InvalidImage(f"invalid digest in image name {image!r}")
    tag = "latest"
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG.match(tag):
            raise InvalidImage(f"invalid tag in image name {image!r}")
    if not text or text.startswith("/") or text.endswith("/") or "//" in text:
        raise InvalidImage(f"invalid image name {image!r}")
    parts = text.split("/")
    # The first component may be a registry host (has a dot, a port, or is localhost).
    first = parts[0]
    host = len(parts) > 1 and ("." in first or ":" in first or first == "localhost")
    for part in parts[1:] if host else parts:
        if not _NAME.match(part):
            raise InvalidImage(f"invalid image name {image!r}")
    return ImageRef(repository=text, tag=tag, digest=digest)


def _normalise(repository: str) -> str:
    lowered = repository.lower()
    for prefix in _DOCKER_HUB:
        if lowered.startswith(prefix):
            return repository[len(prefix) :]
    return repository


def catalog_function(image: str) -> CatalogFunction | None:
    """The catalog function ``image`` names, or ``None`` when it is not a catalog image.

    ``set-namespace``, ``set-namespace:v0.4.1``,
    ``ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1`` and
    ``gcr.io/kpt-fn/set-namespace:v0.4.1`` all give ``set-namespace`` / ``v0.4.1`` (or
    ``latest``); ``docker.io/`` is looked through. Invalid names give ``None``.
    """
    try:
        ref = parse(image)
    except InvalidImage:
        return None
    repository = _normalise(ref.repository)
    tag = ref.tag
    if "/" not in repository:
        return CatalogFunction(name=repository, tag=tag)
    for prefix in CATALOG_PREFIXES:
        if repository.startswith(prefix + "/"):
            rest = repository[len(prefix) + 1 :]
            if "/" in rest:
                return None
            return CatalogFunction(name=rest, tag=tag)
    return None


def expand(image: str) -> str:
    """The full image a Kptfile's ``image`` means: a short name gets the catalog prefix."""
    ref = parse(image)
    repository = ref.repository
    if "/" not in repository:
        repository = f"{DEFAULT_CATALOG}/{repository}"
    suffix = f"@{ref.digest}" if ref.digest else ""
    return f"{repository}:{ref.tag}{suffix}"
