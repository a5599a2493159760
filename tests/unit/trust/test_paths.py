"""The path rule, case by case: what a package may hold, and what each refusal says."""

from __future__ import annotations

import pytest

from lanai.trust import paths

CLEAN = [
    "Kptfile",
    "README.md",
    "deploy/app.yaml",
    "a/b/c/d/e/f.yaml",
    ".krmignore",
    ".gitignore",
    ".github/workflows/ci.yaml",
    "..foo",
    "foo..",
    "a..b/c",
    "git",
    ".gitx",
    "x.git",
    "sub/.gitkeep",
    "naïve/ü.yaml",
    "spaces are fine.yaml",
    "back\\slash.yaml",
    "a" * 255,
    "/".join(["d" * 100] * 10) + "/f",  # 1011 bytes
]

REFUSED = [
    ("", "is empty"),
    ("../../x", '".." segment'),
    ("..", '".." segment'),
    ("a/../../b", '".." segment'),
    ("a/..", '".." segment'),
    (".", '"." segment'),
    ("./a", '"." segment'),
    ("a/./b", '"." segment'),
    ("/etc/passwd", 'starts with "/"'),
    ("/", 'starts with "/"'),
    ("a/", 'ends with "/"'),
    ("a//b", "empty segment"),
    (".git/config", '".git" segment'),
    (".git", '".git" segment'),
    ("sub/.git/hooks/pre-commit", '".git" segment'),
    (".GIT/config", '".git" segment'),
    (".Git/HEAD", '".git" segment'),
    (".git./config", '".git" segment'),
    (".git /config", '".git" segment'),
    ("GIT~1/config", '".git" segment'),
    ("a\x00b", "control character"),
    ("a\nb.yaml", "control character"),
    ("a\rb", "control character"),
    ("tab\there", "control character"),
    ("esc\x1b[31m", "control character"),
    ("del\x7f", "control character"),
    ("a" * 256, "longer than 255 bytes"),
    ("ü" * 128, "longer than 255 bytes"),  # 256 bytes in UTF-8
    ("/".join(["d" * 200] * 6), "longer than 1024 bytes"),
]


@pytest.mark.parametrize("path", CLEAN)
def test_clean_paths_pass_unchanged(path: str) -> None:
    assert paths.problem(path) is None
    assert paths.check(path) == path


@pytest.mark.parametrize(("path", "what"), REFUSED)
def test_bad_paths_are_refused_with_what_is_wrong(path: str, what: str) -> None:
    found = paths.problem(path)
    assert found is not None
    assert what in found
    with pytest.raises(paths.BadPath) as refused:
        paths.check(path)
    message = str(refused.value)
    assert message.startswith(f"file name {paths.quoted(path)} ")
    assert what in message
    assert "rename the file" in message
    assert refused.value.path == path


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("a\nb", '"a\\nb"'),
        ("nul\x00", '"nul\u2400"'),
        ("esc\x1b[2J", '"esc\u241b[2J"'),
        ("del\x7f", '"del\u2421"'),
        ("\x01\x1f", '"\u2401\u241f"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("\a\b\t\v\f\r", '"\\a\\b\\t\\v\\f\\r"'),
        ("x" * 130, '"' + "x" * 120 + '"...'),
        ("", '""'),
    ],
)
def test_messages_show_control_characters_escaped(path: str, shown: str) -> None:
    assert paths.quoted(path) == shown


def test_a_message_never_holds_a_raw_control_character() -> None:
    with pytest.raises(paths.BadPath) as refused:
        paths.check("evil\n\x00\x1b[2J.yaml")
    assert not any(paths.is_control(c) for c in str(refused.value))


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("", "empty segment"),
        ("a/b", '"/" inside one name'),
        ("..", '".." segment'),
        (".git", '".git" segment'),
        ("ok.yaml", None),
    ],
)
def test_tree_entry_names_are_checked_alone(name: str, what: str | None) -> None:
    found = paths.name_problem(name)
    assert (found is None) if what is None else (found is not None and what in found)


def test_join_checks_the_name_and_the_whole_path() -> None:
    assert paths.join("", "Kptfile") == "Kptfile"
    assert paths.join("sub", "cm.yaml") == "sub/cm.yaml"
    for directory, name in (("sub", "../x"), ("", ".git"), ("sub", "a\nb")):
        with pytest.raises(paths.BadPath):
            paths.join(directory, name)


def test_check_all_names_the_first_bad_path_in_sorted_order() -> None:
    paths.check_all(["Kptfile", "a/b.yaml"])
    with pytest.raises(paths.BadPath) as refused:
        paths.check_all(["z/../y", "Kptfile", "../x"])
    assert refused.value.path == "../x"
