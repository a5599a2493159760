from __future__ import annotations

import pytest

from lanai.functions import images


@pytest.mark.parametrize(
    ("image", "name", "tag"),
    [
        ("set-namespace", "set-namespace", "latest"),
        ("set-namespace:v0.4.1", "set-namespace", "v0.4.1"),
        ("ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1", "set-namespace", "v0.4.1"),
        ("ghcr.io/kptdev/krm-functions-catalog/set-labels", "set-labels", "latest"),
        ("gcr.io/kpt-fn/set-namespace:v0.4.1", "set-namespace", "v0.4.1"),
        ("gcr.io/kpt-fn/apply-setters:unstable", "apply-setters", "unstable"),
        ("gcr.io/kpt-fn-contrib/starlark:v0.5", "starlark", "v0.5"),
        ("docker.io/set-namespace:v1", "set-namespace", "v1"),
        ("docker.io/library/starlark", "starlark", "latest"),
        ("gcr.io/kpt-fn/set-namespace@sha256:" + "a" * 64, "set-namespace", "latest"),
    ],
)
def test_catalog_names(image: str, name: str, tag: str) -> None:
    assert images.catalog_function(image) == images.CatalogFunction(name=name, tag=tag)


@pytest.mark.parametrize(
    "image",
    [
        "example.com/org/set-namespace:v1",
        "docker.io/someone/set-namespace",
        "gcr.io/kpt-fn/nested/set-namespace",
        "localhost:5000/set-namespace",
        "",
        "Bad Name",
        "gcr.io/kpt-fn/x:bad tag",
    ],
)
def test_not_catalog_images(image: str) -> None:
    assert images.catalog_function(image) is None


@pytest.mark.parametrize(
    ("image", "repository", "tag", "digest"),
    [
        ("localhost:5000/fn:1.2", "localhost:5000/fn", "1.2", None),
        ("localhost:5000/fn", "localhost:5000/fn", "latest", None),
        ("a/b@sha256:" + "0" * 64, "a/b", "latest", "sha256:" + "0" * 64),
    ],
)
def test_parse(image: str, repository: str, tag: str, digest: str | None) -> None:
    ref = images.parse(image)
    assert (ref.repository, ref.tag, ref.digest) == (repository, tag, digest)


def test_expand() -> None:
    assert images.expand("set-namespace") == (
        "ghcr.io/kptdev/krm-functions-catalog/set-namespace:latest"
    )
    assert images.expand("gcr.io/kpt-fn/x:v1") == "gcr.io/kpt-fn/x:v1"
