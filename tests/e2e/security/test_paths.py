"""File names, symlinks and sizes: the attacks of the security review, as the package
author, against the real API server, Git server and operator.

At admission the API server refuses every bad PackageRevisionResources key and an
oversized object with Lanai's own message (crds/, written from lanai.trust), so nothing
reaches Git and the PackageRevision stays as it was. What still reaches the operator
from Git (someone pushes a hostile tree) leaves the revision Ready=False with a reason
and an Event, is never read, edited or cloned, and is never retried in a loop. Symlinks
and submodules are never read: a clone leaves them out with a warning, an edit keeps them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from lanai.trust import paths, sizes
from tests.support import manifests, rawtree
from tests.support.cluster import condition
from tests.support.team import AUTHOR, REPO, Team, init_spec, publish
from tests.support.waiting import wait_for

BAD_KEYS = [
    "../../x",
    ".git/config",
    "a/../../b",
    "..",
    "",
    "a\x00b",
    "/etc/passwd",
    "a\nb.yaml",
    ".GIT/config",
    "a//b",
    "dir/",
    "./Kptfile",
    "esc\x1b[2J.yaml",
]


def _patch_resources(team: Team, name: str, files: dict[str, str], tmp_path: Path) -> str:
    """Merge-patch the resources as the author (from a file: a NUL cannot be in argv);
    the API server's refusal, or ''."""
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"spec": {"resources": files}}))
    done = team.cluster.kubectl(
        "patch", "-n", team.namespace, "prr", name, "--type=merge", f"--patch-file={patch}",
        user=AUTHOR, check=False,
    )  # fmt: skip
    return done.stderr if done.returncode else ""


def _as_it_was(obj: dict[str, Any]) -> tuple[Any, ...]:
    status = obj.get("status") or {}
    ready = condition(obj, "Ready") or {}
    return (obj["spec"], status.get("selfLock"), ready.get("status"), ready.get("message"))


def _branch(team: Team, ref: str) -> dict[str, str]:
    """path → mode of every entry of ``ref``'s tree (symlinks and submodules included)."""
    done = subprocess.run(
        ["git", "-C", str(team.git_dir), "ls-tree", "-r", ref],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    entries = (line.split("\t", 1) for line in done.stdout.splitlines())
    return {path: meta.split()[0] for meta, path in entries}


def _warnings(team: Team, name: str, reason: str, kind: str = "PackageRevision") -> list[str]:
    """Messages of the Events of ``reason`` on the ``kind`` named ``name`` (a revision and
    its resources object share the name)."""
    return [
        e["message"]
        for e in team.events(name)
        if e["reason"] == reason and e["involvedObject"].get("kind") == kind
    ]


def test_bad_file_names_are_refused_at_admission_and_nothing_reaches_git(
    team: Team, tmp_path: Path
) -> None:
    name = f"{REPO}.names.v1"
    team.create(name, init_spec("names", "v1"))
    before = team.settled(name)
    resources = wait_for(lambda: team.get(name, "prr"), what="the resources object")
    refs = team.refs()
    for key in BAD_KEYS:
        refused = _patch_resources(team, name, {key: "kind: ConfigMap\n"}, tmp_path)
        problem = paths.problem(key)
        assert problem is not None
        assert str(paths.BadPath(key, problem)) in refused, (key, refused)
    assert team.refs() == refs
    after = team.get(name, "prr") or {}
    assert after["metadata"]["generation"] == resources["metadata"]["generation"]
    assert after["spec"]["resources"] == resources["spec"]["resources"]
    assert _as_it_was(team.get(name) or {}) == _as_it_was(before)
    # The same rule lets a clean name through.
    assert _patch_resources(team, name, {"deploy/app.yaml": "kind: ConfigMap\n"}, tmp_path) == ""


def test_an_oversized_edit_is_refused_at_admission_with_lanais_message(
    team: Team, tmp_path: Path
) -> None:
    name = f"{REPO}.huge.v1"
    team.create(name, init_spec("huge", "v1"))
    before = team.settled(name)
    refs = team.refs()
    big = "# generated\n" + "x" * (sizes.RESOURCES_CHARACTERS + 10_000)
    refused = _patch_resources(team, name, {"big.yaml": big}, tmp_path)
    assert "the files are too large for one PackageRevisionResources object: they total" in refused
    assert f"it holds at most {sizes.RESOURCES_CHARACTERS}" in refused
    assert "Keep large or generated files out of the package" in refused
    assert "etcdserver" not in refused
    assert team.refs() == refs
    assert _as_it_was(team.get(name) or {}) == _as_it_was(before)


def test_a_hostile_name_pushed_to_a_draft_makes_it_not_ready_never_retried(
    team: Team, tmp_path: Path
) -> None:
    name = f"{REPO}.evil.v1"
    team.create(name, init_spec("evil", "v1"))
    team.settled(name)
    branch = "refs/heads/drafts/evil/v1"
    hostile = {b"Kptfile": rawtree.kptfile("evil"), b".git": {b"config": b"[core]\n"}}
    pushed = rawtree.commit(team.git_dir, branch, {b"evil": hostile})
    manifests.sync_now(team.cluster, team.namespace, REPO)

    def not_ready() -> dict[str, Any] | None:
        ready = condition(team.get(name), "Ready") or {}
        return ready if ready.get("status") == "False" else None

    ready = wait_for(not_ready, timeout=60, what="the hostile draft to be Ready=False")
    assert ready["reason"] == "Error"
    assert 'package "evil" at ' in ready["message"]
    assert 'file name ".git" has a ".git" segment' in ready["message"]
    errors = wait_for(lambda: _warnings(team, name, "Error"), what="an Error event")
    assert errors == [ready["message"]]

    # An edit through the resources object is refused, reported once, and Git is unchanged.
    prr = team.get(name, "prr") or {}
    assert _patch_resources(team, name, {"more.yaml": "kind: A\n"}, tmp_path) == ""

    def refused() -> dict[str, Any] | None:
        found = condition(team.get(name, "prr"), "Ready") or {}
        return found if found.get("reason") == "Rejected" else None

    rejected = wait_for(refused, timeout=60, what="the edit to be rejected")
    assert rejected["status"] == "False"
    assert "cannot be edited" in rejected["message"]
    assert '".git" segment' in rejected["message"]
    assert (team.get(name, "prr") or {})["metadata"]["generation"] > prr["metadata"]["generation"]
    manifests.sync_now(team.cluster, team.namespace, REPO)
    assert team.refs()[branch] == pushed
    assert _warnings(team, name, "Error") == errors  # once, not every second
    assert len(_warnings(team, name, "Rejected", "PackageRevisionResources")) == 1
    assert len(_warnings(team, name, "Rejected")) == 1  # on the revision too
    moved = team.move(name, "Proposed", AUTHOR)
    assert moved == ""

    def proposal_refused() -> dict[str, Any] | None:
        found = condition(team.get(name), "Ready") or {}
        return found if found.get("reason") == "Rejected" else None

    assert "cannot move to Proposed" in wait_for(proposal_refused, timeout=60)["message"]
    assert team.refs()[branch] == pushed


def _published_in_git(team: Team, package: str, tree: dict[bytes, rawtree.Node]) -> str:
    """A revision v1 of ``package`` pushed to Git as a tag; its PackageRevision's name."""
    rawtree.commit(team.git_dir, f"refs/tags/{package}/v1", {package.encode(): tree})
    manifests.sync_now(team.cluster, team.namespace, REPO)
    name = f"{REPO}.{package}.v1"
    wait_for(lambda: team.get(name), timeout=60, what=f"{name} from Git")
    return name


def _clone(team: Team, upstream: str, package: str) -> str:
    name = f"{REPO}.{package}.v1"
    spec = init_spec(package, "v1", source={"cloneFrom": {"upstreamRef": {"name": upstream}}})
    team.create(name, spec)
    return name


def test_a_published_revision_with_a_hostile_name_is_not_ready_and_cannot_be_cloned(
    team: Team,
) -> None:
    hostile = {b"Kptfile": rawtree.kptfile("trap"), b"a": {b"..": {b"x.yaml": b"kind: A\n"}}}
    upstream = _published_in_git(team, "trap", hostile)
    found = wait_for(
        lambda: (c := condition(team.get(upstream), "Ready")) and c["status"] == "False" and c,
        timeout=60,
        what="the hostile revision to be Ready=False",
    )
    assert 'file name "a/.." has a ".." segment' in found["message"]
    assert _warnings(team, upstream, "Error") == [found["message"]]
    # Its files asked for (as ``rpkg pull`` does): never read, the object says why.
    spec = (team.get(upstream) or {})["spec"]
    team.cluster.create(
        {
            "apiVersion": "porch.kpt.dev/v1alpha2",
            "kind": "PackageRevisionResources",
            "metadata": {"name": upstream, "namespace": team.namespace},
            "spec": {k: spec[k] for k in ("packageName", "repository", "workspaceName")},
        },
        user=AUTHOR,
    )
    shown = wait_for(lambda: (c := condition(team.get(upstream, "prr"), "Ready")) and c, timeout=60)
    assert (shown["status"], shown["message"]) == ("False", found["message"])
    assert not (team.get(upstream, "prr") or {})["spec"].get("resources")

    clone = _clone(team, upstream, "victim")
    failed = team.settled(clone, ready="False")
    ready = condition(failed, "Ready") or {}
    assert ready["reason"] == "Rejected"
    assert f'PackageRevision "{upstream}" cannot be used' in ready["message"]
    assert '".." segment' in ready["message"]
    assert "Rejected" in team.reasons(clone)
    assert not any("victim" in ref for ref in team.refs())


def test_an_oversized_package_in_git_is_refused_before_it_is_read(team: Team) -> None:
    big = {b"Kptfile": rawtree.kptfile("bulky"), b"blob.bin": b"\0" * (sizes.PACKAGE_BYTES + 1)}
    upstream = _published_in_git(team, "bulky", big)
    found = wait_for(
        lambda: (c := condition(team.get(upstream), "Ready")) and c["status"] == "False" and c,
        timeout=60,
        what="the oversized revision to be Ready=False",
    )
    assert (
        f"is too large: its files hold more than {sizes.amount(sizes.PACKAGE_BYTES)}"
        in (found["message"])
    )
    assert "keep large or generated files out of the package" in found["message"]
    clone = _clone(team, upstream, "bulkier")
    ready = condition(team.settled(clone, ready="False"), "Ready") or {}
    assert ready["reason"] == "Rejected"
    assert "too large" in ready["message"]


def test_a_clone_leaves_symlinks_and_submodules_out_with_a_warning(team: Team) -> None:
    tree = {
        b"Kptfile": rawtree.kptfile("linked"),
        b"cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
        b"passwd.yaml": (rawtree.LINK, "/etc/passwd"),
        b"vendor": (rawtree.SUBMODULE, "3" * 40),
    }
    upstream = _published_in_git(team, "linked", tree)
    ready = condition(wait_for(lambda: team.get(upstream), timeout=60), "Ready") or {}
    assert ready.get("status") != "False"
    clone = _clone(team, upstream, "copied")
    team.settled(clone)
    warning = wait_for(lambda: _warnings(team, clone, "EntriesSkipped"), what="the warning")
    assert warning == [
        f'left out 2 entries of {upstream} that are not files: "passwd.yaml" (a symlink), '
        '"vendor" (a submodule); symlinks and submodules within a package are ignored'
    ]
    files = _branch(team, "refs/heads/drafts/copied/v1")
    assert set(files) == {"copied/Kptfile", "copied/cm.yaml"}
    shown = (team.get(clone, "prr") or {})["spec"]["resources"]
    assert "root:" not in json.dumps(shown)


def test_an_edit_of_a_draft_keeps_its_symlinks_in_git(team: Team, tmp_path: Path) -> None:
    name = f"{REPO}.keeper.v1"
    team.create(name, init_spec("keeper", "v1"))
    team.settled(name)
    branch = "refs/heads/drafts/keeper/v1"
    kptfile = team.show(branch, "keeper/Kptfile").encode()
    tree = {b"Kptfile": kptfile, b"link.yaml": (rawtree.LINK, "../../../etc/passwd")}
    pushed = rawtree.commit(team.git_dir, branch, {b"keeper": tree})
    manifests.sync_now(team.cluster, team.namespace, REPO)
    wait_for(
        lambda: (team.get(name) or {}).get("status", {}).get("selfLock", {}).get("git", {})
        .get("commit") == pushed,
        timeout=60,
        what="the pushed draft to be read",
    )  # fmt: skip
    # A KRM resource: render refuses anything else, as kpt does.
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
    assert _patch_resources(team, name, {"cm.yaml": cm}, tmp_path) == ""
    edited = wait_for(
        lambda: (ref := team.refs()[branch]) != pushed and ref, timeout=60, what="the edit"
    )
    entries = _branch(team, edited)
    assert entries["keeper/link.yaml"] == "120000"  # still a symlink, never read
    assert entries["keeper/cm.yaml"] == "100644"
    assert "link.yaml" not in (team.get(name, "prr") or {})["spec"]["resources"]
    publish(team, name)
    assert _branch(team, "refs/tags/keeper/v1")["keeper/link.yaml"] == "120000"
