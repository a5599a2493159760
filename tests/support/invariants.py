"""What must hold after any fault: the fault suite's single definition of "nothing lost".

After kills, outages, restarts and races, a team's Repository must converge to a state
where Git and the API agree exactly: published numbers are unique and gapless, with one
approval commit and one object each, every Draft/Proposed branch belongs to an object
and every such object to a branch, every object is Ready for its current spec, and the
files an object shows are the files Git holds. Git is read from the server's disk (never through the
operator) and the API with kubectl, so the check trusts nothing of Lanai's.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from lanai.git import layout
from tests.support.cluster import condition
from tests.support.team import Team
from tests.support.waiting import wait_for


@dataclass
class Snapshot:
    """Git's refs and the API's objects of one Repository, read at one moment."""

    refs: dict[str, str]
    revisions: list[dict[str, Any]]
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    approvals: Counter[tuple[str, int]] = field(default_factory=Counter)
    """Approval commits on the Repository's branch, by (package path, revision)."""


APPROVAL = re.compile(r"^Approving package revision (\S+)/(\d+)$")
"""The summary of an approval commit (Porch's words)."""


def approvals(team: Team, branch: str = "main") -> Counter[tuple[str, int]]:
    """How many approval commits of each (package path, revision) the branch holds."""
    subjects = team._git("log", "--format=%s", f"refs/heads/{branch}").splitlines()
    found = (APPROVAL.match(subject) for subject in subjects)
    return Counter((match[1], int(match[2])) for match in found if match)


def commits_between(team: Team, base: str, ref: str) -> int:
    """How many commits ``ref`` has that ``base`` has not."""
    return int(team._git("rev-list", "--count", f"{base}..{ref}").strip())


def snapshot(team: Team) -> Snapshot:
    revisions = [
        obj
        for obj in team.cluster.list("rpkg", team.namespace)
        if obj["spec"].get("repository") == team.repository
    ]
    resources = {
        obj["metadata"]["name"]: obj
        for obj in team.cluster.list("prr", team.namespace)
        if obj["spec"].get("repository") == team.repository
    }
    return Snapshot(team.refs(), revisions, resources, approvals(team))


def problems(team: Team, snap: Snapshot) -> list[str]:
    """Every way ``snap`` breaks the invariants ([] when it holds them all)."""
    found: list[str] = []
    tags: dict[str, set[int]] = defaultdict(set)
    tagged_commits: dict[str, str] = {}
    branches: dict[tuple[str, str], str] = {}
    for ref, commit in snap.refs.items():
        parsed = layout.parse(ref)
        if parsed is None:
            continue
        if parsed.kind == "tag":
            tags[parsed.path].add(parsed.revision)
            if commit in tagged_commits:
                found.append(f"{ref} and {tagged_commits[commit]} tag the same commit")
            tagged_commits[commit] = ref
        elif parsed.kind in ("draft", "proposed"):
            key = (parsed.path, parsed.workspace)
            if key in branches:
                found.append(f"{ref} and {branches[key]}: one workspace on two branches")
            branches[key] = ref
    for path, numbers in tags.items():
        if numbers != set(range(1, max(numbers) + 1)):
            found.append(f"tags of {path} are not 1..{max(numbers)}: {sorted(numbers)}")
    for (path, number), count in snap.approvals.items():
        if count > 1:
            found.append(f"{count} approval commits of {path} v{number}: approved twice")

    seen: dict[tuple[str, str], str] = {}
    numbered: dict[tuple[str, int], str] = {}
    for obj in snap.revisions:
        name = obj["metadata"]["name"]
        spec, status = obj["spec"], obj.get("status") or {}
        key = (spec["packageName"], spec["workspaceName"])
        if key in seen:
            found.append(f"{name} and {seen[key]} are one revision twice")
        seen[key] = name
        if obj["metadata"].get("deletionTimestamp"):
            found.append(f"{name} is still terminating")
        ready = condition(obj, "Ready")
        if not ready or ready["status"] != "True":
            found.append(f"{name} is not Ready: {ready}")
        if status.get("observedGeneration") != obj["metadata"]["generation"]:
            found.append(f"{name} has not observed generation {obj['metadata']['generation']}")
        lifecycle = spec.get("lifecycle") or "Draft"
        branch = branches.pop(key, None)
        if lifecycle in ("Draft", "Proposed"):
            kind = "drafts" if lifecycle == "Draft" else "proposed"
            if branch is None or not branch.startswith(f"refs/heads/{kind}/"):
                found.append(f"{name} is {lifecycle} but Git has {branch}")
            else:
                found += _files_differ(team, snap, name, branch)
        elif status.get("revision", 0) > 0:
            number = status["revision"]
            if number not in tags.get(spec["packageName"], set()):
                found.append(f"{name} is revision {number} but Git has no such tag")
            twin = numbered.setdefault((spec["packageName"], number), name)
            if twin != name:
                found.append(f"{name} and {twin} are both revision {number}")
    for path, numbers in tags.items():
        for number in sorted(numbers):
            if (path, number) not in numbered:
                found.append(f"{path} v{number} is in Git but no PackageRevision shows it")
    for (path, workspace), ref in branches.items():
        found.append(f"{ref} belongs to no PackageRevision ({path}, {workspace})")
    return found


def _files_differ(team: Team, snap: Snapshot, name: str, branch: str) -> list[str]:
    """The resources object shows exactly the files the branch holds."""
    shown = snap.resources.get(name)
    if shown is None:
        return [f"{name} has no PackageRevisionResources"]
    package = shown["spec"]["packageName"]
    prefix = f"{package}/"
    in_git = {
        path[len(prefix) :]: team.show(branch, path)
        for path in team.files(branch)
        if path.startswith(prefix)
    }
    resources = shown["spec"].get("resources") or {}
    omitted = set((shown.get("status") or {}).get("omittedFiles") or ())
    wrong = sorted(
        path
        for path in set(in_git) | set(resources)
        if path not in omitted and in_git.get(path) != resources.get(path)
    )
    return [f"{name}: files differ from {branch}: {wrong}"] if wrong else []


def converged(team: Team, timeout: float = 120) -> Snapshot:
    """Wait until the Repository holds every invariant; fail with what still breaks them."""
    last: list[str] = []

    def holds() -> Snapshot | None:
        nonlocal last
        snap = snapshot(team)
        last = problems(team, snap)
        return snap if not last else None

    try:
        return wait_for(holds, timeout=timeout, interval=0.5, what="the invariants to hold")
    except AssertionError:
        raise AssertionError("the invariants do not hold:\n" + json.dumps(last, indent=1)) from None
