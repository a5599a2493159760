from __future__ import annotations

import pytest

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
