"""A blueprints repository like the ``test-blueprints`` one Porch's CLI scenarios clone
from, written by hand for Lanai's tests: a person's Git history, no Porch or Lanai metadata.

Each package lives in a directory of its own name on ``main``; every published version is
a tag ``<package>/v<n>`` on the commit that finished it (kpt's and Porch's layout for
packages in Git), so a registered Repository lists ``<repo>.<package>.v<n>`` with revision
``n`` and the ``main`` placeholder. The contents are ours; the package names, versions and
the fields the scenarios print (``basens``' description and Namespace ``example``,
``empty``'s "Empty Blueprint", a readiness gate that ``unready`` leaves unmet) follow the
scenarios.
"""

from __future__ import annotations

from pathlib import Path

from lanai.local import gitserver
from tests.support import gitwork

NAME = "test-blueprints"


def _kptfile(name: str, description: str, extra: str = "") -> str:
    return (
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n"
        f"  name: {name}\ninfo:\n  description: {description}\n{extra}"
    )


_NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: example\n"
UNREADY_GATE = "blueprints.example.com/reviewed"
_UNREADY = (
    f"  readinessGates:\n  - conditionType: {UNREADY_GATE}\n"
    f'status:\n  conditions:\n  - type: {UNREADY_GATE}\n    status: "False"\n'
    "    reason: NotReviewed\n"
)


def _bucket(name: str) -> str:
    return (
        "apiVersion: storage.example.com/v1\nkind: Bucket\nmetadata:\n"
        f"  name: {name}\nspec:\n  storageClass: standard\n"
    )


def _labelled_namespace(version: int) -> str:
    return _NAMESPACE + f"  labels:\n    blueprint-version: v{version}\n"


# (package, version, files): committed in this order, each tagged <package>/v<version>
HISTORY: tuple[tuple[str, int, dict[str, str]], ...] = (
    ("basens", 1, {"Kptfile": _kptfile("basens", "sample description"),
                   "namespace.yaml": _NAMESPACE}),
    ("basens", 2, {"namespace.yaml": _labelled_namespace(2)}),
    ("basens", 3, {"namespace.yaml": _labelled_namespace(3)}),
    ("basens", 4, {"namespace.yaml": _labelled_namespace(4)}),
    ("bucket", 1, {"Kptfile": _kptfile("bucket", "a storage bucket"),
                   "bucket.yaml": _bucket("blueprint-bucket")}),
    ("empty", 1, {"Kptfile": _kptfile("empty", "Empty Blueprint")}),
    ("redis-bucket", 1, {"Kptfile": _kptfile("redis-bucket", "a bucket for a redis cache"),
                         "bucket.yaml": _bucket("redis-bucket")}),
    ("unready", 1, {"Kptfile": _kptfile("unready", "a package awaiting review", _UNREADY),
                    "configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                    "  name: unready\ndata:\n  reviewed: \"no\"\n"}),
    ("update", 1, {"Kptfile": _kptfile("update", "a package that gets updated"),
                   "configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                   "  name: update\ndata:\n  version: \"1\"\n"}),
    ("update", 2, {"configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                   "  name: update\ndata:\n  version: \"2\"\n"}),
)  # fmt: skip

TAGS = tuple(f"{package}/v{version}" for package, version, _ in HISTORY)


def ensure(server: gitserver.GitServer, work: Path) -> str:
    """The URL of the blueprints repository on ``server``, written (once) by a person's
    commits and tags pushed through the server; ``work`` is a scratch directory."""
    if server.repository_path(NAME).exists():
        return f"{server.url}/{NAME}.git"
    url = server.create_repository(NAME)
    gitwork.clone(url, work)
    for package, version, files in HISTORY:
        gitwork.commit_package(work, package, files, f"{package}: version {version}")
        gitwork.git(work, "tag", f"{package}/v{version}")
    gitwork.git(work, "push", "-q", "origin", "main", *TAGS)
    return url
