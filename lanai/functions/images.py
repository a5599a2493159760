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
from typing import Any

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
    ref: ImageRef | None
    try:
        ref = parse(image)
    except InvalidImage:
        ref = _with_constraint(image)
    if ref is None:
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


def _with_constraint(image: str) -> ImageRef | None:
    """``repo:~0.2`` (what a Kptfile ``tag`` constraint makes of an image) with the
    constraint resolved against the known catalog tags; ``None`` if it is no constraint.
    Raises :class:`InvalidImage` when no known tag satisfies it."""
    repository = _repository_of(image.strip())
    tag = image.strip()[len(repository) + 1 :]
    if not tag or parse_constraint(tag) is None or "/" in tag:
        return None
    try:
        base = parse(repository)
    except InvalidImage:
        return None
    name = _normalise(base.repository).rsplit("/", 1)[-1]
    return ImageRef(repository=base.repository, tag=resolve_tag(tag, CATALOG_TAGS.get(name, ())))


def expand(image: str) -> str:
    """The full image a Kptfile's ``image`` means: a short name gets the catalog prefix."""
    ref = parse(image)
    repository = ref.repository
    if "/" not in repository:
        repository = f"{DEFAULT_CATALOG}/{repository}"
    suffix = f"@{ref.digest}" if ref.digest else ""
    return f"{repository}:{ref.tag}{suffix}"


# -- version tags ------------------------------------------------------------------------

_LITERAL_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_VERSION = re.compile(
    r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_PART = r"[0-9xX*]+"
_CONSTRAINT_VERSION = (
    rf"v?{_PART}(?:\.{_PART})?(?:\.{_PART})?"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_OPERATOR = r"(?:!=|>=|=>|<=|=<|~>|[=><~^])?"
_ONE = re.compile(rf"\s*({_OPERATOR})\s*({_CONSTRAINT_VERSION})\s*,?")
_RANGE = re.compile(rf"\s*({_CONSTRAINT_VERSION})\s+-\s+({_CONSTRAINT_VERSION})\s*")
_TAG_ERROR = (
    "must start with an alphanumeric character or underscore, followed by at most 127 "
    "alphanumeric characters, underscores, periods, or dashes"
)

#: Published tags of the catalog functions Lanai runs in process, for resolving
#: version constraints (``tag: "~0.2"``) without asking a registry: the catalog's
#: release tags and the versions kpt's documentation and tests name.
CATALOG_TAGS: dict[str, tuple[str, ...]] = {
    "apply-replacements": ("v0.1.0", "v0.1.1", "v0.1.2"),
    "apply-setters": ("v0.1.0", "v0.1.1", "v0.2.0", "v0.2.1"),
    "ensure-name-substring": ("v0.1.0", "v0.1.1", "v0.2.0"),
    "search-replace": ("v0.1.0", "v0.1.1", "v0.2.0"),
    "set-annotations": ("v0.1.3", "v0.1.4"),
    "set-labels": (
        "v0.1.3", "v0.1.4", "v0.1.5", "v0.2.1", "v0.2.2", "v0.2.3", "v0.2.4", "v0.2.5",
    ),
    "set-namespace": (
        "v0.1.0", "v0.1.1", "v0.1.2", "v0.1.3", "v0.1.4", "v0.2.0", "v0.3.0", "v0.3.1",
        "v0.3.2", "v0.3.3", "v0.3.4", "v0.4.0", "v0.4.1", "v0.4.2", "v0.4.3", "v0.4.4",
        "v0.4.5",
    ),
    "starlark": (
        "v0.1.0", "v0.1.1", "v0.1.2", "v0.2.0", "v0.2.1", "v0.2.2", "v0.3.0", "v0.4.0",
        "v0.4.1", "v0.4.2", "v0.4.3", "v0.5.0", "v0.5.1",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Version:
    """A semantic version as Masterminds/semver reads a tag (``v`` and parts optional)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    original: str = ""

    def key(self) -> tuple[Any, ...]:
        """Orders versions by precedence (a pre-release sorts before its release)."""
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)


def parse_version(text: str) -> Version | None:
    found = _VERSION.match(text)
    if found is None:
        return None
    major, minor, patch, pre, _ = found.groups()
    return Version(
        int(major),
        int(minor or 0),
        int(patch or 0),
        tuple(pre.split(".")) if pre else (),
        text,
    )


@dataclass(frozen=True)
class _Term:
    """One comparison; ``fixed`` counts the version parts given (the rest are wildcards)."""

    operator: str
    version: Version
    fixed: int

    def lower_upper(self) -> tuple[Version | None, bool, Version | None, bool]:
        """(lower, inclusive, upper, inclusive) bounds of the term."""
        v, n = self.version, self.fixed
        floor = Version(v.major, v.minor, v.patch, v.prerelease)
        op = self.operator
        if op in ("", "=") and n < 3:
            return floor, True, _bump(v, n), False
        if op in ("", "="):
            return floor, True, floor, True
        if op in ("~", "~>"):
            return floor, True, _bump(v, 2 if n >= 2 else 1), False
        if op == "^":
            if v.major > 0 or n == 1:
                return floor, True, _bump(v, 1), False
            if v.minor > 0 or n == 2:
                return floor, True, _bump(v, 2), False
            return floor, True, _bump(v, 3), False
        if op in (">=", "=>"):
            return floor, True, None, False
        if op == ">":
            return (_bump(v, n), True, None, False) if n < 3 else (floor, False, None, False)
        if op == "<":
            return None, False, floor, False
        if op in ("<=", "=<"):
            return (None, False, _bump(v, n), False) if n < 3 else (None, False, floor, True)
        raise ValueError(op)

    def check(self, candidate: Version) -> bool:
        if candidate.prerelease and not self.version.prerelease:
            return False
        if self.operator == "!=":
            inside = _Term("=", self.version, self.fixed).check(candidate)
            return not inside
        lower, lower_in, upper, upper_in = self.lower_upper()
        key = candidate.key()
        if lower is not None and (key < lower.key() or (key == lower.key() and not lower_in)):
            return False
        return not (
            upper is not None and (key > upper.key() or (key == upper.key() and not upper_in))
        )


def _bump(version: Version, fixed: int) -> Version:
    """The first version past the ``fixed`` leading parts (``1.2.x`` → ``1.3.0``)."""
    if fixed <= 1:
        return Version(version.major + 1, 0, 0)
    if fixed == 2:
        return Version(version.major, version.minor + 1, 0)
    return Version(version.major, version.minor, version.patch + 1)


def _term(operator: str, text: str) -> _Term:
    core = text.lstrip("v").split("+", 1)[0]
    head, _, pre = core.partition("-")
    parts = head.split(".")
    fixed = 0
    for part in parts:
        if part in ("x", "X", "*"):
            break
        fixed += 1
    numbers = [int(p) if p.isdigit() else 0 for p in parts[:fixed]] + [0, 0, 0]
    version = Version(numbers[0], numbers[1], numbers[2], tuple(pre.split(".")) if pre else ())
    if fixed == 0 and operator in ("", "="):
        return _Term(">=", Version(0, 0, 0), 3)
    return _Term(operator, version, fixed)


def parse_constraint(text: str) -> list[list[_Term]] | None:
    """Masterminds/semver constraints: ``,``/space-separated terms AND-ed, ``||`` OR-ed,
    ``a - b`` ranges, ``~``, ``^``, comparisons and ``x``/``*`` wildcards."""
    rewritten = _RANGE.sub(lambda m: f" >= {m[1]}, <= {m[2]} ", text)
    groups: list[list[_Term]] = []
    for alternative in rewritten.split("||"):
        terms: list[_Term] = []
        position = 0
        alternative = alternative.strip()
        if not alternative:
            return None
        while position < len(alternative):
            found = _ONE.match(alternative, position)
            if found is None or found.end() == position:
                return None
            terms.append(_term(found[1], found[2]))
            position = found.end()
        groups.append(terms)
    return groups


def matches(constraint: list[list[_Term]], version: Version) -> bool:
    return any(all(term.check(version) for term in group) for group in constraint)


def resolve_tag(tag: str, available: tuple[str, ...] | list[str]) -> str:
    """The tag kpt runs for a Kptfile ``tag``: an exact version or other literal tag as
    written, a constraint as the highest available tag satisfying it."""
    if parse_version(tag) is not None:
        return tag
    constraint = parse_constraint(tag)
    if constraint is None:
        if not _LITERAL_TAG.match(tag):
            raise InvalidImage(f"`function.tag` {tag!r} must be a valid image tag: {_TAG_ERROR}")
        return tag
    candidates = [
        v
        for t in available
        if not t.startswith("sha256-") and "-git-" not in t
        for v in [parse_version(t)]
        if v is not None and matches(constraint, v)
    ]
    if not candidates:
        raise InvalidImage(f'no tag could be found matching the version constraint "{tag}"')
    return max(candidates, key=Version.key).original


def resolve_function_image(image: str, tag: str | None) -> str:
    """A Kptfile function's image with its ``tag`` applied (it replaces a tag the image
    has), a version constraint resolved against the tags known for the catalog functions
    Lanai runs itself (kpt asks the registry; other images have no known tags here)."""
    if not tag:
        return image
    repository = _repository_of(image)
    found = catalog_function(repository)
    known = CATALOG_TAGS.get(found.name, ()) if found is not None else ()
    return f"{repository}:{resolve_tag(tag, known)}"


def _repository_of(image: str) -> str:
    text = image.split("@", 1)[0]
    slash, colon = text.rfind("/"), text.rfind(":")
    return text[:colon] if colon > slash else text
