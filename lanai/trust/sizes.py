"""How much of a package Lanai takes in: its own limits, said in its own words.

Without them the limits are someone else's: etcd refuses an oversized object with a gRPC
message, and a Git tree of 2 GB would be read into the operator's memory before anything
noticed. Each limit here comes with the message that names it, the size found and what
to do. Other helpers' limits (functions' memory and time) live in ``limits.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB

RESOURCES_CHARACTERS = 1_310_720
"""Most characters of file content one PackageRevisionResources object takes (1.25 MiB).

etcd stores an object in at most 1.5 MiB (its default --max-request-bytes); JSON
escaping, names, metadata, managedFields and status need the rest. The CRD's CEL rule
enforces it at admission (CEL counts characters, not bytes: text that is mostly ASCII,
as YAML is, is about as many bytes). Keep crds/porch.kpt.dev_packagerevisionresources.yaml
in step; a unit test compares them."""

PACKAGE_FILES = 4096
"""Most files Lanai reads from one package in Git: as many as the resources object
shows (the CRD's maxProperties)."""

PACKAGE_BYTES = 8 * MiB
"""Most bytes of file content Lanai reads from one package in Git (a revision, a clone
source). Rendering holds about 40 times a package's YAML in memory (measured: 2.4 MiB of
ConfigMaps took 100 MiB), so 8 MiB keeps one render inside the operator's 512 MiB; it is
six times what the API can show of a package, and far more than configuration needs."""

GIT_HINT = (
    "keep large or generated files out of the package (for instance in another repository "
    "or an OCI artifact), or split it into several packages"
)
RESOURCES_HINT = (
    "keep large or generated files out of the package, or commit them to the draft branch "
    "with git: Lanai keeps the files it cannot show in Git, unchanged by edits here"
)


class TooLarge(ValueError):
    """A package over a limit; the message names the limit, the size found and a way out."""


def amount(size: int) -> str:
    """``size`` bytes for people: ``8 MiB``, ``1.5 MiB``, ``900 KiB``, ``12 bytes``."""
    for unit, scale in (("MiB", MiB), ("KiB", KiB)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class PackageLimits:
    """How much of one package Lanai reads from, or writes to, Git."""

    bytes: int = PACKAGE_BYTES
    files: int = PACKAGE_FILES


DEFAULT = PackageLimits()


@dataclass
class Tally:
    """Counts a package's files, directories and bytes as they are found, and refuses the
    first one over a limit, before anything is read."""

    what: str
    """The package, for messages (e.g. ``package "net/basens" at 3f2a1b9c0d4e``)."""
    limits: PackageLimits = DEFAULT
    files: int = 0
    directories: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        """One more file of ``size`` bytes; :class:`TooLarge` if that is over a limit."""
        self.files += 1
        self.bytes += size
        if self.files > self.limits.files:
            raise TooLarge(
                f"{self.what} holds more than {self.limits.files} files, the most Lanai "
                f"reads from one package: {GIT_HINT}"
            )
        if self.bytes > self.limits.bytes:
            most = self.limits.bytes
            raise TooLarge(
                f"{self.what} is too large: its files hold more than {amount(most)} ({most} "
                f"bytes; {self.bytes} bytes found in its first {self.files} files), the most "
                f"Lanai reads from one package: {GIT_HINT}"
            )

    def enter(self) -> None:
        """One more directory: a tree of empty directories is bounded too."""
        self.directories += 1
        if self.directories > self.limits.files:
            raise TooLarge(
                f"{self.what} holds more than {self.limits.files} directories, the most "
                f"Lanai reads from one package: {GIT_HINT}"
            )
