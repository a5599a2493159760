"""Package-revision rules that decide, without I/O, what the engine may do.

Revision numbering, the latest-revision label, readiness gates and deletion rules,
each a pure function over plain values so they can be tested by tables of cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lanai.api.keys import PackageKey, PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.engine import lifecycle

PLACEHOLDER_REVISION = -1
"""The package as it stands on the repository's branch: never latest, never a source."""


@dataclass(frozen=True)
class RevisionFacts:
    """What the rules need to know about one package revision."""

    key: PackageRevisionKey
    lifecycle: Lifecycle
    revision: int = 0
    upstream_names: tuple[str, ...] = ()
    """Names of the revisions this one was cloned or upgraded from."""

    @property
    def is_placeholder(self) -> bool:
        return self.revision == PLACEHOLDER_REVISION

    @property
    def is_published(self) -> bool:
        return self.lifecycle in lifecycle.PUBLISHED_STATES and self.revision > 0


class RuleError(ValueError):
    """An operation the rules forbid; the message says what to do instead."""


class NotYet(RuleError):
    """An operation the rules allow only once something else has happened (a source
    revision created and published): refused for now, possible later."""


def next_revision(published: Iterable[int]) -> int:
    """Highest published revision of the package + 1 (placeholders do not count)."""
    return max((n for n in published if n > 0), default=0) + 1


def latest_revisions(revisions: Iterable[RevisionFacts]) -> dict[PackageKey, PackageRevisionKey]:
    """For each package, the revision that carries ``porch.kpt.dev/latest-revision``."""
    best: dict[PackageKey, RevisionFacts] = {}
    for facts in revisions:
        if not facts.is_published:
            continue
        current = best.get(facts.key.package_key)
        if current is None or facts.revision > current.revision:
            best[facts.key.package_key] = facts
    return {package: facts.key for package, facts in best.items()}


def unmet_readiness_gates(
    gates: Sequence[str], package_conditions: Sequence[Mapping[str, object]]
) -> list[str]:
    """Gate condition types that are not ``True`` in the package's conditions."""
    status = {str(c.get("type")): str(c.get("status")) for c in package_conditions}
    return [gate for gate in gates if status.get(gate) != "True"]


def gates_message(unmet: Sequence[str], target: Lifecycle) -> str:
    """Why a propose or approve waits for readiness gates, and how to meet them."""
    verb = "proposed" if target == Lifecycle.PROPOSED else "approved"
    return (
        f"readiness gates not met: {', '.join(unmet)} must be True in the package "
        f"conditions (the Kptfile's status.conditions) before the revision can be {verb}; "
        "set them in the Kptfile of the Draft"
    )


def check_deletable(target: RevisionFacts, everything: Iterable[RevisionFacts]) -> None:
    """Raise :class:`RuleError` if ``target`` may not be deleted now."""
    if target.lifecycle == Lifecycle.PUBLISHED and not target.is_placeholder:
        raise RuleError(  # Porch's words (pkg/registry/porch, validateDelete)
            "published PackageRevisions must be proposed for deletion by setting "
            "spec.lifecycle to 'DeletionProposed' prior to deletion"
        )
    name = target.key.name
    users = sorted(
        other.key.name
        for other in everything
        if other.key != target.key and name in other.upstream_names
    )
    if users:
        raise RuleError(
            f"{name} is the upstream of {', '.join(users)}; delete or upgrade those first"
        )


def check_clone_source(source: RevisionFacts | None, name: str) -> RevisionFacts:
    """A clone or upgrade source must exist, be published and not be a placeholder.

    A source that is not in Git yet, or not published yet, may be on its way (its
    creation or approval is still being carried out): :class:`NotYet`. A placeholder
    never becomes a source: :class:`RuleError`.
    """
    if source is None:
        raise NotYet(
            f'the source PackageRevision "{name}" is not in Git yet; waiting until it is '
            "created and published"
        )
    if source.is_placeholder:
        raise RuleError(
            f'"{name}" is a placeholder package revision (the package on its branch); '
            "clone from a published revision such as <repository>.<package>.v1"
        )
    if not source.is_published:
        raise NotYet(
            f'"{name}" is {source.lifecycle}; only Published revisions can be cloned: '
            "waiting until it is published"
        )
    return source


def check_copy_source(source: RevisionFacts | None, name: str, target: PackageRevisionKey) -> None:
    """copyFrom: a published revision of the same package in the same repository."""
    found = check_clone_source(source, name)
    if found.key.package_key != target.package_key:
        raise RuleError(
            f'copyFrom "{name}" is package {found.key.package} in repository '
            f"{found.key.repository}; a copy must come from the same package "
            f"({target.package} in {target.repository}) — use cloneFrom for another package"
        )


def check_new_package_path(package: str, existing: Iterable[str]) -> None:
    """A new package may not sit inside another package, nor contain one."""
    for other in existing:
        if other == package:
            continue
        if package.startswith(other + "/"):
            raise RuleError(f'package "{package}" would be nested inside package "{other}"')
        if other.startswith(package + "/"):
            raise RuleError(f'package "{package}" would contain the existing package "{other}"')
