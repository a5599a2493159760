from __future__ import annotations

import pytest

from lanai.engine.overlap import Registration, conflict

OLD = Registration("old", "https://git.example/r.git", "main", "pkgs", "2026-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("url", "branch", "directory", "clash"),
    [
        ("https://git.example/r.git", "main", "pkgs", True),
        ("https://git.example/r", "main", "/pkgs/", True),
        ("https://git.example/r.git", "main", "pkgs/net", True),
        ("https://git.example/r.git", "main", "", True),
        ("https://git.example/r.git", "main", "other", False),
        ("https://git.example/r.git", "release", "pkgs", False),
        ("https://git.example/s.git", "main", "pkgs", False),
    ],
)
def test_newer_registration_conflicts_when_places_overlap(
    url: str, branch: str, directory: str, clash: bool
) -> None:
    new = Registration("new", url, branch, directory, "2026-02-01T00:00:00Z")
    assert (conflict(new, [OLD, new]) == OLD) is clash


def test_the_older_registration_keeps_working() -> None:
    new = Registration("new", OLD.url, OLD.branch, OLD.directory, "2026-02-01T00:00:00Z")
    assert conflict(OLD, [OLD, new]) is None
