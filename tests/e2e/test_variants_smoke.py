from __future__ import annotations

from lanai.local import gitserver
from tests.support.team import Team
from tests.support.variants import Fleet, let_author_use_variants


def test_one_variant(team: Team, git_server: gitserver.GitServer) -> None:
    fleet = Fleet(team, git_server)
    let_author_use_variants(team.cluster, team.namespace)
    fleet.blueprint()
    fleet.site("site-1")
    fleet.apply({
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "PackageVariant",
        "metadata": {"name": "pv1"},
        "spec": {
            "upstream": {"repo": "blueprints", "package": "blue"},
            "downstream": {"repo": "site-1", "package": "blue"},
            "packageContext": {"data": {"site": "one"}},
            "pipeline": {"mutators": [{"image": "set-labels:v0.2", "name": "l", "configMap": {"a": "b"}}]},
        },
    })
    pv = fleet.ready("packagevariant", "pv1")
    print(pv["status"])
    print(team.cluster.kubectl("get", "rpkg", "-n", team.namespace).stdout)
    prr = fleet.get("prr", "site-1.blue.packagevariant-1")
    print(prr["spec"]["resources"]["package-context.yaml"], prr["spec"]["resources"]["Kptfile"])


def test_timeline(team: Team, git_server: gitserver.GitServer, operator) -> None:  # type: ignore[no-untyped-def]
    import time
    fleet = Fleet(team, git_server)
    let_author_use_variants(team.cluster, team.namespace)
    fleet.blueprint()
    fleet.site("site-1")
    t0 = time.monotonic()
    fleet.apply({
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "PackageVariant",
        "metadata": {"name": "pv1"},
        "spec": {
            "upstream": {"repo": "blueprints", "package": "blue"},
            "downstream": {"repo": "site-1", "package": "blue"},
            "packageContext": {"data": {"site": "one"}},
        },
    })
    fleet.ready("packagevariant", "pv1")
    print("READY after", time.monotonic() - t0)
    log = operator.log()
    print("\n".join(l for l in log.splitlines()[-400:] if "site-1" in l or "pv1" in l or "ariant" in l)[-8000:])
