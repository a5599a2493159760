from __future__ import annotations

import pytest
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from lanai.kpt import yamlio

INDENTLESS = """\
# leading comment
apiVersion: v1
kind: ConfigMap
metadata:
  name: example # trailing comment
  annotations:
    quoted: "true"
    single: 'x'
data:
  list:
  - a
  # between items
  - b
"""

INDENTED = """\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: app
          args:
            - "--flag"
---
apiVersion: v1
kind: Service
metadata:
  name: svc
"""

EXPLICIT = """\
---
apiVersion: v1
kind: A
---
apiVersion: v1
kind: B
"""


@pytest.mark.parametrize("text", [INDENTLESS, INDENTED, EXPLICIT])
def test_round_trip_is_byte_identical(text: str) -> None:
    style = yamlio.detect_style(text)
    assert yamlio.dump_documents(yamlio.load_documents(text), style) == text


def test_detects_sequence_indentation() -> None:
    assert yamlio.detect_style(INDENTLESS).indentless
    assert not yamlio.detect_style(INDENTED).indentless
    assert yamlio.detect_style(EXPLICIT).explicit_start


def test_edit_keeps_comments_quotes_and_indentation() -> None:
    docs = yamlio.load_documents(INDENTED)
    docs[1]["metadata"]["namespace"] = "prod"
    out = yamlio.dump_documents(docs, yamlio.detect_style(INDENTED))
    assert '            - "--flag"' in out
    assert "  namespace: prod\n" in out
    docs = yamlio.load_documents(INDENTLESS)
    docs[0]["data"]["list"].append("c")
    out = yamlio.dump_documents(docs, yamlio.detect_style(INDENTLESS))
    assert out.startswith("# leading comment\n")
    assert "# trailing comment" in out
    assert "  # between items\n" in out
    assert 'quoted: "true"' in out
    assert "single: 'x'" in out
    assert "  - c\n" in out


def test_empty_documents_are_skipped_and_scalars_refused() -> None:
    assert len(yamlio.load_documents("---\n---\na: 1\n")) == 1
    with pytest.raises(yamlio.YamlIOError):
        yamlio.load_documents("- a\n")
    with pytest.raises(yamlio.YamlIOError):
        yamlio.load_documents("a: [\n")


def test_json_files_are_krm() -> None:
    content = b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}'
    docs, style = yamlio.load_file("x.json", content)
    assert style.json
    assert docs[0]["metadata"]["name"] == "j"
    docs[0]["metadata"]["name"] = "k"
    out = yamlio.dump_documents(docs, style)
    assert '"name": "k"' in out


def test_unchanged_detects_pure_reformatting() -> None:
    docs, style = yamlio.load_file("a.yaml", INDENTLESS.encode())
    assert yamlio.unchanged(INDENTLESS.encode(), docs, style, "a.yaml")
    docs[0]["data"]["x"] = "y"
    assert not yamlio.unchanged(INDENTLESS.encode(), docs, style, "a.yaml")


def _bomb(levels: int) -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: bomb", "data:"]
    lines.append('  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]')
    for level in range(1, levels):
        lines.append(f"  a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _single(text: str) -> str:
    return SingleQuotedScalarString(text)


def test_aliases_that_expand_without_bound_are_refused() -> None:
    assert yamlio.load_documents(_bomb(3))  # 9^3 nodes: aliases are fine in moderation
    with pytest.raises(yamlio.YamlIOError, match="aliases expand to more than 1,000,000 nodes"):
        yamlio.load_documents(_bomb(9))


def test_files_beyond_the_size_bound_are_refused_with_the_way_out() -> None:
    huge = b"apiVersion: v1\nkind: ConfigMap\ndata:\n  blob: " + b"x" * yamlio.MAX_FILE_BYTES
    with pytest.raises(yamlio.YamlIOError, match=r"huge\.yaml: 8\.0 MiB .*\.krmignore"):
        yamlio.load_file("huge.yaml", huge)


def test_clone_is_independent_and_dumps_the_same() -> None:
    docs = yamlio.load_documents(INDENTLESS + "---\n" + "anchored: &x {a: 1}\nalias: *x\n")
    copies = [yamlio.clone(doc) for doc in docs]
    assert yamlio.dump_documents(copies) == yamlio.dump_documents(docs)
    assert copies[1]["alias"] is copies[1]["anchored"]  # sharing survives, as in deepcopy
    copies[0]["data"]["list"].append("c")
    copies[0]["metadata"].yaml_add_eol_comment("# new", "name")
    assert docs[0]["data"]["list"] == ["a", "b"]
    assert "# new" not in yamlio.dump_documents(docs)


@pytest.mark.parametrize(
    ("edit", "same_data"),
    [
        (lambda doc: doc["metadata"].__setitem__("name", "other"), False),
        (lambda doc: doc["data"]["list"].reverse(), False),
        (lambda doc: doc["metadata"].yaml_add_eol_comment("# new", "name"), True),
        (lambda doc: doc["metadata"]["annotations"].__setitem__("quoted", _single("true")), True),
        (lambda doc: doc.move_to_end("apiVersion"), False),
    ],
    ids=["value", "list order", "comment", "quoting", "key order"],
)
def test_equivalent_sees_every_difference_a_dump_would_show(edit: object, same_data: bool) -> None:
    original = yamlio.load_document(INDENTLESS)
    changed = yamlio.clone(original)
    assert yamlio.equivalent(changed, original)
    edit(changed)  # type: ignore[operator]
    assert not yamlio.equivalent(changed, original)
    assert yamlio.same_data(changed, original) is same_data


def test_equivalent_can_ignore_keys_at_a_path() -> None:
    original = yamlio.load_document(INDENTLESS)
    changed = yamlio.clone(original)
    changed["metadata"]["annotations"]["internal"] = "x"
    ignored = {("metadata", "annotations"): frozenset({"internal"})}
    assert yamlio.equivalent(changed, original, ignored)
    assert not yamlio.equivalent(changed, original)
    original.ca  # noqa: B018 - reading .ca creates an empty comment record
    assert yamlio.equivalent(yamlio.load_document(INDENTLESS), original)


def test_recent_kptfiles_are_bounded_by_their_text() -> None:
    recent = yamlio._Recent(120)
    recent.put(("Kptfile", b"x" * 30), "thirty")
    recent.put(("Kptfile", b"y" * 30), "thirty again")
    recent.put(("Kptfile", b"z" * 31), "too large alone")  # over a quarter: not kept
    assert recent.get(("Kptfile", b"z" * 31)) is None
    assert recent.get(("Kptfile", b"x" * 30)) == "thirty"  # now the most recent
    recent.put(("Kptfile", b"w" * 30), "a")
    recent.put(("Kptfile", b"v" * 30), "b")
    recent.put(("Kptfile", b"u" * 30), "c")  # 150 in all: the least recent goes
    assert recent.get(("Kptfile", b"y" * 30)) is None
    assert recent.get(("Kptfile", b"x" * 30)) == "thirty"


def test_a_kptfile_read_again_is_not_parsed_again() -> None:
    content = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: once\n"
    first, _ = yamlio.KptfileLoads().shared("Kptfile", content)
    again, _ = yamlio.KptfileLoads().shared("Kptfile", content)
    assert again is first
    copied, _ = yamlio.KptfileLoads()("Kptfile", content)
    assert copied[0] is not first[0]
    assert copied[0] == first[0]
