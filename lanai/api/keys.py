"""Identities of packages and package revisions, shared by the engine, cache and tasks."""

from __future__ import annotations

from dataclasses import dataclass

from lanai.api import names


@dataclass(frozen=True, order=True, slots=True)
class PackageKey:
    """A package: a directory with a Kptfile in one Repository."""

    namespace: str
    repository: str
    package: str


@dataclass(frozen=True, order=True, slots=True)
class PackageRevisionKey:
    """One revision of a package, named by its workspace (unique per package)."""

    namespace: str
    repository: str
    package: str
    workspace: str

    @property
    def package_key(self) -> PackageKey:
        return PackageKey(self.namespace, self.repository, self.package)

    @property
    def name(self) -> str:
        """The PackageRevision object's name."""
        return names.package_revision_name(self.repository, self.package, self.workspace)
