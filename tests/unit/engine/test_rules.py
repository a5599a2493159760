from __future__ import annotations

import pytest

from lanai.api.keys import PackageKey, PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.engine import rules
from lanai.engine.rules import RevisionFacts


def key(
    package: str = "nginx", workspace: str = "ws", repository: str = "blueprints"
) -> PackageRevisionKey:
    return PackageRevisionKey("ns", repository, package, workspace)


def published(package: str, revision: int, **kw: object) -> RevisionFacts:
    return RevisionFacts(key(package, f"v{revision}"), Lifecycle.PUBLISHED, revision, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("existing", "expected"),
    [([], 1), ([1], 2), ([1, 2, 5], 6), ([-1], 1), ([-1, 3], 4), ([0], 1)],
)
def test_next_revision(existing: list[int], expected: int) -> None:
    assert rules.next_revision(existing) == expected


def test_latest_is_the_highest_published_revision_per_package() -> None:
    revisions = [
        published("nginx", 1),
        published("nginx", 3),
        published("nginx", 2),
        RevisionFacts(key("nginx", "main"), Lifecycle.PUBLISHED, rules.PLACEHOLDER_REVISION),
        RevisionFacts(key("nginx", "draft"), Lifecycle.DRAFT, 0),
        published("redis", 1),
        published("apps/redis", 7),
    ]
    latest = rules.latest_revisions(revisions)
    assert latest == {
        PackageKey("ns", "blueprints", "nginx"): key("nginx", "v3"),
        PackageKey("ns", "blueprints", "redis"): key("redis", "v1"),
        PackageKey("ns", "blueprints", "apps/redis"): key("apps/redis", "v7"),
    }


def test_latest_moves_back_when_the_highest_is_gone() -> None:
    assert rules.latest_revisions([published("nginx", 1), published("nginx", 2)])[
        PackageKey("ns", "blueprints", "nginx")
    ] == key("nginx", "v2")
    assert rules.latest_revisions([published("nginx", 1)])[
        PackageKey("ns", "blueprints", "nginx")
    ] == key("nginx", "v1")


def test_a_placeholder_alone_is_never_latest() -> None:
    placeholder = RevisionFacts(key("nginx", "main"), Lifecycle.PUBLISHED, -1)
    assert rules.latest_revisions([placeholder]) == {}


@pytest.mark.parametrize(
    ("gates", "conditions", "unmet"),
    [
        ([], [], []),
        (["Tested"], [], ["Tested"]),
        (["Tested"], [{"type": "Tested", "status": "True"}], []),
        (
            ["Tested", "Scanned"],
            [{"type": "Tested", "status": "False"}, {"type": "Scanned", "status": "True"}],
            ["Tested"],
        ),
        # The rest of Porch's PackageRevisionIsReady table.
        (["Tested", "Scanned"], [{"type": "Tested", "status": "True"}], ["Scanned"]),
        (
            ["Tested", "Scanned"],
            [{"type": "Tested", "status": "True"}, {"type": "Scanned", "status": "True"}],
            [],
        ),
        (["Tested"], [{"type": "Tested", "status": "Unknown"}], ["Tested"]),
        (["Tested"], [{"type": "Tested", "status": "true"}], ["Tested"]),  # exactly "True"
        ([], [{"type": "Tested", "status": "False"}], []),  # no gate: conditions do not hold
    ],
)
def test_unmet_readiness_gates(
    gates: list[str], conditions: list[dict[str, str]], unmet: list[str]
) -> None:
    assert rules.unmet_readiness_gates(gates, conditions) == unmet


def test_published_revisions_must_be_proposed_for_deletion_first() -> None:
    with pytest.raises(rules.RuleError, match="must be proposed for deletion"):
        rules.check_deletable(published("nginx", 1), [])
    rules.check_deletable(RevisionFacts(key(), Lifecycle.DELETION_PROPOSED, 1), [])
    rules.check_deletable(RevisionFacts(key(), Lifecycle.DRAFT), [])
    rules.check_deletable(RevisionFacts(key(), Lifecycle.PROPOSED), [])


def test_a_placeholder_can_be_deleted() -> None:
    rules.check_deletable(RevisionFacts(key("nginx", "main"), Lifecycle.PUBLISHED, -1), [])


def test_an_upstream_in_use_cannot_be_deleted() -> None:
    upstream = RevisionFacts(key("nginx", "v1"), Lifecycle.DELETION_PROPOSED, 1)
    clone = RevisionFacts(
        key("my-nginx", "ws", "deploy"), Lifecycle.DRAFT, upstream_names=(upstream.key.name,)
    )
    with pytest.raises(rules.RuleError, match=r"is the upstream of deploy\.my-nginx\.ws"):
        rules.check_deletable(upstream, [upstream, clone])


@pytest.mark.parametrize(
    ("source", "message", "later"),
    [
        (None, "not in Git yet", True),
        (
            RevisionFacts(key("nginx", "main"), Lifecycle.PUBLISHED, -1),
            "placeholder package revision",
            False,
        ),
        (RevisionFacts(key("nginx", "ws"), Lifecycle.DRAFT), "only Published revisions", True),
        (RevisionFacts(key("nginx", "ws"), Lifecycle.PROPOSED), "waiting until it is", True),
    ],
)
def test_clone_sources_must_be_published_and_real(
    source: RevisionFacts | None, message: str, later: bool
) -> None:
    """A source on its way (not in Git, not published yet) may become one; a placeholder
    never does."""
    with pytest.raises(rules.RuleError, match=message) as refused:
        rules.check_clone_source(source, "x")
    assert isinstance(refused.value, rules.NotYet) is later


def test_a_published_source_passes() -> None:
    source = published("nginx", 3)
    assert rules.check_clone_source(source, "blueprints.nginx.v3") is source


@pytest.mark.parametrize(
    ("target", "verb"), [(Lifecycle.PROPOSED, "proposed"), (Lifecycle.PUBLISHED, "approved")]
)
def test_gates_message_says_what_to_wait_for(target: Lifecycle, verb: str) -> None:
    message = rules.gates_message(["Tested", "Scanned"], target)
    assert "Tested, Scanned must be True" in message
    assert f"can be {verb}" in message
    assert "Kptfile" in message


def test_copy_must_come_from_the_same_package() -> None:
    target = key("nginx", "new")
    rules.check_copy_source(published("nginx", 1), "blueprints.nginx.v1", target)
    with pytest.raises(rules.RuleError, match="same package"):
        rules.check_copy_source(published("redis", 1), "blueprints.redis.v1", target)


@pytest.mark.parametrize(
    ("package", "existing", "message"),
    [
        ("a/b", ["a"], 'nested inside package "a"'),
        ("a", ["a/b"], 'contain the existing package "a/b"'),
        ("ab", ["a"], None),
        ("a", ["a"], None),
    ],
)
def test_nested_packages_are_refused(
    package: str, existing: list[str], message: str | None
) -> None:
    if message is None:
        rules.check_new_package_path(package, existing)
    else:
        with pytest.raises(rules.RuleError, match=message):
            rules.check_new_package_path(package, existing)
