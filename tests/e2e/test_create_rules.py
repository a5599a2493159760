"""What a new PackageRevision becomes, and which creates are refused.

Every refused create leaves Git as it was: the rules are checked, and the package is
built and rendered, before anything is pushed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from lanai.local import gitserver
from tests.support import gitwork
from tests.support.cluster import condition
from tests.support.team import REPO, Team, init_spec, make_team, publish
from tests.support.waiting import wait_for


def _yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _refused(team: Team, name: str) -> str:
    """The Ready=False message of a create the operator refused."""
    ready = condition(team.settled(name, ready="False"), "Ready")
    assert ready is not None
    return str(ready["message"])


def test_a_revision_without_a_source_is_an_init_with_a_default_description(team: Team) -> None:
    name = f"{REPO}.net.basens.v1"
    spec = {"repository": REPO, "packageName": "net/basens", "workspaceName": "v1"}
    team.create(name, spec)
    created = team.settled(name)
    assert created["spec"]["lifecycle"] == "Draft"
    assert created["status"]["creationSource"] == "init"
    kptfile = _yaml(team.show("refs/heads/drafts/net/basens/v1", "net/basens/Kptfile"))
    assert kptfile["metadata"]["name"] == "basens"
    assert kptfile["info"]["description"] == "net/basens description"
    assert '"type":"init"' in team.commit_message("refs/heads/drafts/net/basens/v1")


def test_init_writes_name_description_keywords_and_site(team: Team) -> None:
    name = f"{REPO}.site.v1"
    init = {"description": "edge site", "keywords": ["edge", "5g"], "site": "https://x.example"}
    team.create(name, {**init_spec("site", "v1"), "source": {"init": init}})
    team.settled(name)
    kptfile = _yaml(team.show("refs/heads/drafts/site/v1", "site/Kptfile"))
    assert kptfile["metadata"]["name"] == "site"
    assert kptfile["info"] == {
        "description": "edge site",
        "keywords": ["edge", "5g"],
        "site": "https://x.example",
    }


def test_nested_package_paths_are_refused(team: Team) -> None:
    team.create(f"{REPO}.outer.v1", init_spec("outer", "v1"))
    team.create(f"{REPO}.deep.inner.v1", init_spec("deep/inner", "v1"))
    team.settled(f"{REPO}.outer.v1")
    team.settled(f"{REPO}.deep.inner.v1")
    before = team.refs()

    team.create(f"{REPO}.outer.sub.v1", init_spec("outer/sub", "v1"))
    assert 'would be nested inside package "outer"' in _refused(team, f"{REPO}.outer.sub.v1")
    team.create(f"{REPO}.deep.v1", init_spec("deep", "v1"))
    assert 'would contain the existing package "deep/inner"' in _refused(team, f"{REPO}.deep.v1")
    assert team.refs() == before


def test_cloning_into_a_deployment_repository_adds_a_package_context(
    team: Team, git_server: gitserver.GitServer
) -> None:
    base = f"{REPO}.base.v1"
    team.create(base, init_spec("base", "v1"))
    publish(team, base)
    sites = make_team(
        team.cluster, team.namespace, git_server, "sites", deployment=True
    )  # fmt: skip
    name = "sites.edge.lab1.v1"
    sites.create(
        name,
        {
            **init_spec("edge/lab1", "v1", repository="sites"),
            "source": {"cloneFrom": {"upstreamRef": {"name": base}}},
        },
    )
    cloned = sites.settled(name)
    assert cloned["status"]["deployment"] is True
    context = _yaml(sites.show("refs/heads/drafts/edge/lab1/v1", "edge/lab1/package-context.yaml"))
    assert context["kind"] == "ConfigMap"
    assert context["metadata"]["name"] == "kptfile.kpt.dev"
    assert context["metadata"]["annotations"] == {"config.kubernetes.io/local-config": "true"}
    assert context["data"]["name"] == "lab1"
    resources = wait_for(lambda: sites.get(name, "prr"), what="the resources object")
    assert "package-context.yaml" in resources["spec"]["resources"]

    # A clone into a repository that is not a deployment repository gets none of its own
    plain = f"{REPO}.copy.v1"
    team.create(
        plain, {**init_spec("copy", "v1"), "source": {"cloneFrom": {"upstreamRef": {"name": base}}}}
    )
    assert team.settled(plain)["status"]["deployment"] is False
    # (the upstream's own, written by init as kpt's initializer does, is cloned as it is)
    draft = "refs/heads/drafts/copy/v1"
    assert _yaml(team.show(draft, "copy/package-context.yaml"))["data"] == {"name": "example"}


def test_upgrade_needs_three_published_sources_none_a_placeholder(team: Team) -> None:
    base = f"{REPO}.up.v1"
    team.create(base, init_spec("up", "v1"))
    publish(team, base)
    local = f"{REPO}.down.v1"
    team.create(
        local, {**init_spec("down", "v1"), "source": {"cloneFrom": {"upstreamRef": {"name": base}}}}
    )
    publish(team, local)
    draft = f"{REPO}.up.v2"
    team.create(draft, {**init_spec("up", "v2"), "source": {"copyFrom": {"name": base}}})
    team.settled(draft)
    placeholder = f"{REPO}.up.main"
    wait_for(lambda: team.get(placeholder), what="the branch placeholder")
    before = team.refs()

    # A Draft source may still be published: the upgrade waits for it, it is not refused.
    waiting = f"{REPO}.down.draftnew"
    upgrade = {"oldUpstream": base, "newUpstream": draft, "currentPackage": local}
    team.create(
        waiting,
        {
            **init_spec("down", "draftnew"),
            "source": {"upgrade": {field: {"name": s} for field, s in upgrade.items()}},
        },
    )
    ready = wait_for(
        lambda: (
            (found := condition(team.get(waiting), "Ready"))
            and found["status"] == "False"
            and found
        ),
        timeout=60,
        what=f"{waiting} to report what it waits for",
    )
    assert ready["reason"] == "Pending"
    assert f'"{draft}" is Draft; only Published revisions can be cloned' in ready["message"]
    assert team.delete(waiting) == ""  # nothing in Git: it just goes

    cases = {
        "placeholderold": (
            {"oldUpstream": placeholder, "newUpstream": base, "currentPackage": local},
            "placeholder package revision",
        ),
        "placeholdernew": (
            {"oldUpstream": base, "newUpstream": placeholder, "currentPackage": local},
            "placeholder package revision",
        ),
    }
    for workspace, (sources, expected) in cases.items():
        name = f"{REPO}.down.{workspace}"
        upgrade = {field: {"name": source} for field, source in sources.items()}
        team.create(name, {**init_spec("down", workspace), "source": {"upgrade": upgrade}})
        assert expected in _refused(team, name), workspace
    assert team.refs() == before


def test_readiness_gates_and_package_metadata_are_written_into_the_kptfile(team: Team) -> None:
    name = f"{REPO}.gates.v1"
    team.create(
        name,
        init_spec(
            "gates",
            "v1",
            readinessGates=[{"conditionType": "Tested"}, {"conditionType": "Scanned"}],
            packageMetadata={"labels": {"tier": "web"}, "annotations": {"owner": "net-team"}},
        ),
    )
    team.settled(name)
    kptfile = _yaml(team.show("refs/heads/drafts/gates/v1", "gates/Kptfile"))
    assert kptfile["info"]["readinessGates"] == [
        {"conditionType": "Tested"},
        {"conditionType": "Scanned"},
    ]
    assert kptfile["metadata"]["labels"] == {"tier": "web"}
    assert kptfile["metadata"]["annotations"]["owner"] == "net-team"


BROKEN_PIPELINE = """apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: broken
pipeline:
  mutators:
  - image: example.com/no-such-function:v1
"""


def test_a_create_whose_render_fails_leaves_no_branch(
    team: Team, git_server: gitserver.GitServer, tmp_path: Path
) -> None:
    url = git_server.create_repository(f"{team.namespace}-upstream")
    gitwork.seed(url, tmp_path / "upstream", {"broken": {"Kptfile": BROKEN_PIPELINE}})
    before = team.refs()
    name = f"{REPO}.broken.v1"
    source = {
        "git": {
            "repo": url,
            "ref": "main",
            "directory": "broken",
            "secretRef": {"name": "git-auth"},
        }
    }
    team.let_read_secret("git-auth")
    team.create(name, {**init_spec("broken", "v1"), "source": {"cloneFrom": source}})
    failed = team.settled(name, ready="False")
    ready = condition(failed, "Ready")
    rendered = condition(failed, "Rendered")
    assert ready is not None
    assert rendered is not None
    assert ready["reason"] == "RenderFailed"
    assert "error rendering package in kpt function pipeline" in ready["message"]
    assert "example.com/no-such-function:v1" in ready["message"]
    assert (rendered["status"], rendered["reason"]) == ("False", "RenderFailed")
    assert team.refs() == before
    assert team.get(name, "prr") is None


def test_revisions_are_numbered_per_package_in_sub_folders_and_directories(
    team: Team, git_server: gitserver.GitServer
) -> None:
    nested = make_team(team.cluster, team.namespace, git_server, "nested", directory="catalog")
    c1 = "nested.a.b.c.v1"
    nested.create(c1, init_spec("a/b/c", "v1", repository="nested"))
    d1 = "nested.a.b.d.v1"
    nested.create(d1, init_spec("a/b/d", "v1", repository="nested"))
    assert publish(nested, c1)["status"]["revision"] == 1
    assert publish(nested, d1)["status"]["revision"] == 1
    c2 = "nested.a.b.c.v2"
    nested.create(
        c2, {**init_spec("a/b/c", "v2", repository="nested"), "source": {"copyFrom": {"name": c1}}}
    )
    assert publish(nested, c2)["status"]["revision"] == 2
    # The same package path in the other Repository counts on its own.
    root = f"{REPO}.a.b.c.v1"
    team.create(root, init_spec("a/b/c", "v1"))
    assert publish(team, root)["status"]["revision"] == 1

    tags = sorted(ref for ref in nested.refs() if ref.startswith("refs/tags/"))
    assert tags == [
        "refs/tags/catalog/a/b/c/v1",
        "refs/tags/catalog/a/b/c/v2",
        "refs/tags/catalog/a/b/d/v1",
    ]
    files = nested.files("refs/heads/main")
    assert {"catalog/a/b/c/Kptfile", "catalog/a/b/d/Kptfile"} <= set(files)
    assert "refs/tags/a/b/c/v1" in team.refs()
