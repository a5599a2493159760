"""Plan the Package objects: one per package in a Repository, a read model.

``kubectl get packages`` answers "which packages are there, and what is the latest
revision of each" without listing every revision. Like PackageRevision objects they are
derived from Git on every sync that saw a change: created for a package Git holds,
patched when its latest revision or revision count moved, deleted when its last
revision is gone. The plan is a pure function of the records and the existing objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lanai.api import constants, names
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import lifecycle


@dataclass(frozen=True, slots=True)
class ObservedPackage:
    """The parts of an existing Package object the planner compares."""

    name: str
    latest: int | None
    count: int | None
    deleting: bool = False


@dataclass
class PackagePlan:
    create: list[dict[str, Any]] = field(default_factory=list)
    patch: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.patch or self.delete)


@dataclass
class _Summary:
    package: str
    latest: int | None = None
    count: int = 0


def _summaries(records: Iterable[PackageRevisionRecord]) -> dict[str, _Summary]:
    found: dict[str, _Summary] = {}
    for record in records:
        package = record.key.package
        summary = found.setdefault(package, _Summary(package))
        summary.count += 1
        if record.lifecycle in lifecycle.PUBLISHED_STATES and record.revision > 0:
            summary.latest = max(summary.latest or 0, record.revision)
    return found


def _status(summary: _Summary) -> dict[str, Any]:
    return {"latestRevision": summary.latest, "revisionCount": summary.count}


def plan(
    namespace: str,
    repository: str,
    records: Iterable[PackageRevisionRecord],
    existing: Mapping[str, ObservedPackage],
) -> PackagePlan:
    """What to change so the Package objects of ``repository`` match ``records``."""
    result = PackagePlan()
    wanted: set[str] = set()
    for summary in _summaries(records).values():
        name = names.package_name(repository, summary.package)
        wanted.add(name)
        observed = existing.get(name)
        if observed is None:
            result.create.append(
                {
                    "apiVersion": f"{constants.PORCH_GROUP}/{constants.PORCH_VERSION}",
                    "kind": "Package",
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "labels": {constants.REPOSITORY_LABEL: repository},
                    },
                    "spec": {"packageName": summary.package, "repository": repository},
                    "status": {k: v for k, v in _status(summary).items() if v is not None},
                }
            )
        elif not observed.deleting and (observed.latest, observed.count) != (
            summary.latest,
            summary.count,
        ):
            result.patch.append((name, {"status": _status(summary)}))
    result.delete = [
        name for name, seen in existing.items() if name not in wanted and not seen.deleting
    ]
    return result
