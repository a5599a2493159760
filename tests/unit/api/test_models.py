from __future__ import annotations

from lanai.api import models


def test_repository_spec_defaults_match_porch() -> None:
    spec = models.RepositorySpec.model_validate({"type": "git", "git": {"repo": "https://x/y.git"}})
    assert spec.git is not None
    assert spec.git.branch == "main"
    assert spec.git.create_branch is False
    assert spec.content == "Package"


def test_a_leading_slash_in_directory_is_ignored() -> None:
    spec = models.GitSpec.model_validate({"repo": "r", "directory": "/catalog/"})
    assert spec.package_root == "catalog"


def test_unknown_fields_are_tolerated() -> None:
    spec = models.RepositorySpec.model_validate({"type": "git", "git": {"repo": "r"}, "future": 1})
    assert spec.type is models.RepositoryType.GIT
