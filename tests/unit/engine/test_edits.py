"""What an edit of a resources object is: what it changed since it last showed Git.

Each case names the files in Git when the object last showed them (base), the files in
Git now (head), what the object holds (submitted), and what is committed.
"""

from __future__ import annotations

import pytest

from lanai.api import conditions, constants
from lanai.engine import edits

KPTFILE = b"kind: Kptfile\n"
PNG = b"\x89PNG\xff"

Files = dict[str, bytes]
CASES: dict[str, tuple[Files | None, Files, Files, Files]] = {
    "a changed file replaces Git's": (
        {"Kptfile": KPTFILE, "a": b"1"},
        {"Kptfile": KPTFILE, "a": b"1"},
        {"Kptfile": KPTFILE, "a": b"2"},
        {"Kptfile": KPTFILE, "a": b"2"},
    ),
    "an added file is added": (
        {"Kptfile": KPTFILE},
        {"Kptfile": KPTFILE},
        {"Kptfile": KPTFILE, "b": b"new"},
        {"Kptfile": KPTFILE, "b": b"new"},
    ),
    "a removed file is removed": (
        {"Kptfile": KPTFILE, "a": b"1"},
        {"Kptfile": KPTFILE, "a": b"1"},
        {"Kptfile": KPTFILE},
        {"Kptfile": KPTFILE},
    ),
    "what Git got meanwhile stays when the edit did not touch it": (
        {"Kptfile": KPTFILE, "a": b"1"},
        {"Kptfile": b"kind: Kptfile\nmetadata: {labels: {x: y}}\n", "a": b"1"},
        {"Kptfile": KPTFILE, "a": b"2"},
        {"Kptfile": b"kind: Kptfile\nmetadata: {labels: {x: y}}\n", "a": b"2"},
    ),
    "a file Git added meanwhile stays": (
        {"Kptfile": KPTFILE},
        {"Kptfile": KPTFILE, "pushed": b"p"},
        {"Kptfile": KPTFILE, "a": b"1"},
        {"Kptfile": KPTFILE, "pushed": b"p", "a": b"1"},
    ),
    "the same file changed on both sides: the edit is the last write": (
        {"a": b"1"},
        {"a": b"git"},
        {"a": b"edit"},
        {"a": b"edit"},
    ),
    "a file the edit removed goes even if Git changed it": (
        {"a": b"1", "k": KPTFILE},
        {"a": b"git", "k": KPTFILE},
        {"k": KPTFILE},
        {"k": KPTFILE},
    ),
    "the object's own (older) files are no edit of files Git changed": (
        {"a": b"1", "b": b"1"},
        {"a": b"1", "b": b"2"},
        {"a": b"1", "b": b"1"},
        {"a": b"1", "b": b"2"},
    ),
    "files that are not text stay as Git holds them": (
        {"Kptfile": KPTFILE, "logo.png": PNG},
        {"Kptfile": KPTFILE, "logo.png": PNG + b"2"},
        {"Kptfile": b"kind: Kptfile\n# edited\n"},
        {"Kptfile": b"kind: Kptfile\n# edited\n", "logo.png": PNG + b"2"},
    ),
    "unknown base: the object's files are the whole edit": (
        None,
        {"Kptfile": KPTFILE, "a": b"1", "logo.png": PNG},
        {"Kptfile": KPTFILE, "b": b"2"},
        {"Kptfile": KPTFILE, "b": b"2", "logo.png": PNG},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_merge(case: str) -> None:
    base, head, submitted, committed = CASES[case]
    assert edits.merge(head, submitted, base) == committed


def test_omitted_files_are_never_part_of_an_edit() -> None:
    base = {"Kptfile": KPTFILE, "big.yaml": b"x" * 10}
    head = {"Kptfile": KPTFILE, "big.yaml": b"y" * 10}
    submitted = {"Kptfile": b"kind: Kptfile\n# edited\n"}  # big.yaml is not shown
    merged = edits.merge(head, submitted, base, omitted=["big.yaml"])
    assert merged == {"Kptfile": b"kind: Kptfile\n# edited\n", "big.yaml": b"y" * 10}
    assert edits.merge(head, submitted, None, omitted=["big.yaml"]) == merged


def test_an_object_showing_git_is_no_edit() -> None:
    head = {"Kptfile": KPTFILE, "a": b"1", "logo.png": PNG}
    shown = {"Kptfile": KPTFILE, "a": b"1"}
    assert edits.merge(head, shown, {"Kptfile": KPTFILE}) == head
    assert edits.merge(head, shown, None) == head


def test_hidden_files_are_those_not_text_and_those_omitted() -> None:
    in_git = {"Kptfile": b"k", "logo.png": PNG, "big.yaml": b"x", "a.yaml": b"a"}
    assert edits.hidden(in_git, ["big.yaml"]) == {"logo.png", "big.yaml"}
    assert edits.hidden(in_git) == {"logo.png"}
    assert edits.text_of(in_git) == {"Kptfile": "k", "big.yaml": "x", "a.yaml": "a"}


def test_pending_says_what_holds_the_edit_up() -> None:
    plain = edits.pending_condition()
    assert (plain.type, plain.status, plain.reason) == (constants.READY, "False", "Pending")
    assert plain.message == "an edit of the resources is not yet committed"
    caused = edits.pending_condition("cannot reach http://git: connection refused")
    assert caused.message == (
        "an edit of the resources is not yet committed: cannot reach http://git: connection refused"
    )
    assert len(edits.pending_condition("x" * 5000).message) <= 1024
    for condition in (plain, caused):
        assert edits.is_pending(conditions.upsert(None, condition)[0])


@pytest.mark.parametrize(
    "entry",
    [
        None,
        {"type": "Ready", "status": "True", "reason": "Ready", "message": ""},
        {"type": "Ready", "status": "False", "reason": "Pending", "message": "proposing"},
        {"type": "Ready", "status": "False", "reason": "Error", "message": edits.PENDING},
    ],
)
def test_other_conditions_are_not_an_edit_pending(entry: dict[str, str] | None) -> None:
    assert not edits.is_pending(entry)
