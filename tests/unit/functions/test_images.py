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


@pytest.mark.parametrize(
    ("tag", "resolved"),
    [
        # kpt's own render cases: a range and a tilde constraint.
        ("0.4.1 - 0.4.3", "v0.4.3"),
        ("~0.4", "v0.4.5"),
        ("^0.3", "v0.3.4"),
        (">=0.3, <0.4", "v0.3.4"),
        ("0.3.x", "v0.3.4"),
        ("<0.2 || 0.4.0", "v0.4.0"),
        ("!=0.4.5, >=0.4", "v0.4.4"),
        # An exact version or any other valid tag is used as written.
        ("v0.4.1", "v0.4.1"),
        ("0.4", "0.4"),
        ("latest", "latest"),
        ("unstable", "unstable"),
    ],
)
def test_tags_resolve_as_kpt_resolves_them(tag: str, resolved: str) -> None:
    assert images.resolve_tag(tag, images.CATALOG_TAGS["set-namespace"]) == resolved


def test_a_constraint_nothing_satisfies_is_an_error() -> None:
    with pytest.raises(images.InvalidImage) as caught:
        images.resolve_tag("~9.0", images.CATALOG_TAGS["set-namespace"])
    assert str(caught.value) == 'no tag could be found matching the version constraint "~9.0"'


def test_an_invalid_literal_tag_is_refused_with_kpts_message() -> None:
    with pytest.raises(images.InvalidImage, match="must be a valid image tag"):
        images.resolve_tag("not a tag!", ())


def test_prereleases_only_match_prerelease_constraints() -> None:
    tags = ("v1.0.0", "v1.1.0-rc.1")
    assert images.resolve_tag(">=1.0", tags) == "v1.0.0"
    assert images.resolve_tag(">=1.1.0-rc.0", tags) == "v1.1.0-rc.1"


def test_function_images_resolve_their_tag_field() -> None:
    catalog = "ghcr.io/kptdev/krm-functions-catalog/"
    assert images.resolve_function_image(catalog + "set-labels", "~0.2") == (
        catalog + "set-labels:v0.2.5"
    )
    assert images.resolve_function_image(catalog + "set-labels:v0.1", "v0.2.1") == (
        catalog + "set-labels:v0.2.1"
    )
    assert images.resolve_function_image(catalog + "set-labels:v0.1", None) == (
        catalog + "set-labels:v0.1"
    )


def test_a_constraint_in_an_image_names_the_builtin() -> None:
    found = images.catalog_function(
        "ghcr.io/kptdev/krm-functions-catalog/set-namespace:0.4.1 - 0.4.3"
    )
    assert found == images.CatalogFunction(name="set-namespace", tag="v0.4.3")


def test_constraints_on_other_images_cannot_be_resolved_here() -> None:
    with pytest.raises(images.InvalidImage, match="no tag could be found"):
        images.resolve_function_image("example.com/team/set-labels", "~0.2")
    assert images.resolve_function_image("example.com/team/set-labels", "v1") == (
        "example.com/team/set-labels:v1"
    )
