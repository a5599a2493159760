"""kpt's error chain: how wrapping at each level spells the Rendered condition's message."""

from __future__ import annotations

from lanai.kpt.errorchain import RENDER, Link, text, wrap


def test_a_plain_error_stays_on_the_packages_line() -> None:
    assert text(wrap(RENDER, ".", "input resource list must contain only KRM resources")) == (
        "pkg.render: pkg .: input resource list must contain only KRM resources"
    )


def test_a_wrapped_error_of_kpts_own_goes_on_a_new_indented_line() -> None:
    step = Link("pipeline.run", "./db", "already handled error")
    assert text(wrap(RENDER, ".", step)) == (
        "pkg.render: pkg .:\n\tpipeline.run: pkg ./db: already handled error"
    )


def test_wrapping_blanks_what_repeats_the_wrapper() -> None:
    # hydrate(db) wraps its pipeline's error, and its parent wraps that again with db
    inner = wrap(RENDER, "./db", Link("pipeline.run", "./db", "boom"))
    assert text(inner) == "pkg.render: pkg ./db:\n\tpipeline.run: boom"
    assert text(wrap(RENDER, "./db", inner)) == "pkg.render: pkg ./db:\n\tpipeline.run: boom"


def test_a_nested_subpackage_keeps_each_level() -> None:
    inner = wrap(RENDER, "./a/b", wrap(RENDER, "./a/b", Link("pipeline.run", "./a/b", "boom")))
    assert text(wrap(RENDER, "./a", inner)) == (
        "pkg.render: pkg ./a:\n\tpkg ./a/b:\n\tpipeline.run: boom"
    )


def test_an_empty_wrapped_error_adds_nothing() -> None:
    assert text(Link(RENDER, ".", Link())) == "pkg.render: pkg ."
    assert text(Link()) == "no error"
