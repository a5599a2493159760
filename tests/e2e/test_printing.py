"""What ``kubectl get`` shows of Repositories and PackageRevisions, and how to filter.

The columns are the CRDs' printer columns (Porch's, in Porch's order); the filters are
the PackageRevision CRD's selectable fields, so ``--field-selector`` works as with Porch.
"""

from __future__ import annotations

import re

from lanai.local import gitserver
from tests.support import manifests
from tests.support.cluster import Cluster
from tests.support.team import APPROVER, AUTHOR, REPO, Team, init_spec, publish
from tests.support.waiting import wait_for


def _table(cluster: Cluster, *args: str) -> tuple[list[str], list[dict[str, str]]]:
    """``kubectl get ARGS`` as (headers, rows); columns are found by the headers'
    positions, so values with spaces (a cron schedule) stay whole."""
    lines = cluster.kubectl("get", *args).stdout.rstrip("\n").splitlines()
    header = lines[0]
    starts = [0] + [match.end() for match in re.finditer(r" {2,}", header)]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    headers = [header[start:end].strip() for start, end in bounds]
    rows = [
        {name: line[start:end].strip() for name, (start, end) in zip(headers, bounds, strict=True)}
        for line in lines[1:]
    ]
    return headers, rows


def test_repositories_print_porch_columns(team: Team, git_server: gitserver.GitServer) -> None:
    url = git_server.create_repository(f"{team.namespace}-deploy")
    body = manifests.repository("deploy", team.namespace, url, "git-auth", directory="sites")
    body["spec"]["deployment"] = True
    body["spec"]["sync"] = {"schedule": "*/10 * * * *"}
    team.cluster.apply(body)
    wait_for(
        lambda: manifests.repository_ready(team.cluster, "deploy", team.namespace),
        what="the deployment Repository to be Ready",
    )

    headers, rows = _table(team.cluster, "repositories", "-n", team.namespace)
    assert headers == [
        "NAME", "TYPE", "CONTENT", "SYNC SCHEDULE", "DEPLOYMENT", "READY", "ADDRESS", "BRANCH",
        "AGE",
    ]  # fmt: skip
    by_name = {row["NAME"]: row for row in rows}
    assert by_name["deploy"] == {
        **by_name["deploy"],
        "TYPE": "git",
        "CONTENT": "Package",
        "SYNC SCHEDULE": "*/10 * * * *",
        "DEPLOYMENT": "true",
        "READY": "True",
        "ADDRESS": url,
        "BRANCH": "main",
    }
    assert by_name[REPO]["DEPLOYMENT"] == "false"
    assert by_name[REPO]["SYNC SCHEDULE"] == ""
    assert re.fullmatch(r"\d+[sm]", by_name["deploy"]["AGE"])
    # The short name works too, and -o wide adds the package count and the message.
    headers, rows = _table(team.cluster, "repo", "-n", team.namespace, "-o", "wide")
    assert headers[-3:] == ["PACKAGES", "MESSAGE", "AGE"]
    assert {row["NAME"]: row["MESSAGE"] for row in rows}["deploy"] == "Repository is ready"


def test_package_revisions_print_porch_columns(team: Team) -> None:
    published = f"{REPO}.net.app.v1"
    team.create(published, init_spec("net/app", "v1"))
    publish(team, published)
    wait_for(lambda: team.latest("net/app") == published, what="the latest-revision label")
    draft = f"{REPO}.net.app.v2"
    team.create(draft, {**init_spec("net/app", "v2"), "source": {"copyFrom": {"name": published}}})
    team.settled(draft)
    placeholder = f"{REPO}.net.app.main"
    wait_for(lambda: team.get(placeholder), what="the branch placeholder")
    # as Porch labels them: every revision but the latest says "false" (once synced)
    wait_for(
        lambda: (
            ((team.get(draft) or {}).get("metadata", {}).get("labels") or {}).get(
                "porch.kpt.dev/latest-revision"
            )
            == "false"
        ),
        what="the draft's latest-revision label",
    )

    headers, rows = _table(team.cluster, "rpkg", "-n", team.namespace)
    assert headers == [
        "NAME", "PACKAGE", "WORKSPACENAME", "REVISION", "LATEST", "LIFECYCLE", "REPOSITORY",
        "AGE",
    ]  # fmt: skip
    shown = {row["NAME"]: [row[h] for h in headers[1:-1]] for row in rows}
    assert shown[published] == ["net/app", "v1", "1", "true", "Published", REPO]
    assert shown[draft][:4] == ["net/app", "v2", "", "false"]  # no revision until published
    assert shown[draft][4:] == ["Draft", REPO]
    assert shown[placeholder][:3] == ["net/app", "main", "-1"]
    assert shown[placeholder][3] != "true"  # the placeholder is never latest
    _, wide = _table(team.cluster, "packagerevisions", "-n", team.namespace, "-o", "wide")
    assert {row["NAME"]: row["READY"] for row in wide}[draft] == "True"


def _names(team: Team, *selectors: str) -> set[str]:
    found = team.cluster.list("rpkg", team.namespace, f"--field-selector={','.join(selectors)}")
    return {item["metadata"]["name"] for item in found}


def test_package_revisions_are_filtered_by_field_selectors(team: Team) -> None:
    v1 = f"{REPO}.web.v1"
    team.create(v1, init_spec("web", "v1"))
    publish(team, v1)
    v2 = f"{REPO}.web.v2"
    team.create(v2, {**init_spec("web", "v2"), "lifecycle": "Proposed"}, user=AUTHOR)
    other = f"{REPO}.db.v1"
    team.create(other, init_spec("db", "v1"))
    team.settled(v2)
    team.settled(other)
    placeholder = f"{REPO}.web.main"
    wait_for(lambda: team.get(placeholder), what="the branch placeholder")

    assert _names(team, "spec.packageName=web") == {v1, v2, placeholder}
    assert _names(team, "spec.packageName=web", "spec.lifecycle=Proposed") == {v2}
    assert _names(team, "spec.lifecycle=Published") == {v1, placeholder}
    assert _names(team, "spec.workspaceName=v1") == {v1, other}
    assert _names(team, "status.revision=1") == {v1}
    assert _names(team, "status.revision=-1") == {placeholder}
    assert _names(team, f"spec.repository={REPO}", "spec.packageName=db") == {other}
    assert _names(team, "spec.packageName!=web") == {other}
    # A field that is not selectable is refused by the API server, not silently ignored.
    refused = team.cluster.kubectl(
        "get", "rpkg", "-n", team.namespace, "--field-selector=spec.source=x",
        user=APPROVER, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "field label not supported" in refused.stderr
