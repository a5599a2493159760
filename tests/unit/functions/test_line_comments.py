"""Line comments the builtin functions write (setters, search-replace put-comment)."""

from __future__ import annotations

from lanai.functions.builtin import krm
from lanai.kpt import yamlio

NESTED = """\
spec:
  a:
    # before the nested map
    b: c
  l:
  # before the first item
  - x
  s: v # already here
"""


def test_a_comment_lands_on_the_key_line_even_above_comment_lines_of_its_value() -> None:
    doc = yamlio.load_document(NESTED)
    for key in ("a", "l", "s"):
        krm.set_line_comment(doc["spec"], key, f"note {key}")
    out = yamlio.dump_document(doc)
    assert "  a: # note a\n    # before the nested map\n    b: c\n" in out
    assert "  l: # note l\n  # before the first item\n  - x\n" in out
    assert "  s: v # note s\n" in out
    again = yamlio.load_document(out)
    assert [krm.line_comment(again["spec"], k) for k in ("a", "l", "s")] == [
        "note a",
        "note l",
        "note s",
    ]
