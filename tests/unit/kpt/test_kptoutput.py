"""Resources written and read as kpt does outside a package (``-o``, ``fn eval -``)."""

from __future__ import annotations

import pytest

from lanai.kpt import kptoutput, resourcelist, yamlio

WRAPPED = """\
apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
# owned by the platform team
- # the web front
  apiVersion: v1
  kind: Service
  metadata:
    name: web
    annotations:
      config.kubernetes.io/index: '0'
      config.kubernetes.io/path: 'svc.yaml'
      internal.config.kubernetes.io/index: '0'
      internal.config.kubernetes.io/path: 'svc.yaml'
      internal.config.kubernetes.io/seqindent: 'wide'
  spec:
    ports:
    - port: 80
"""


@pytest.mark.parametrize(
    ("document", "style"),
    [
        ("a:\n- x\n", "compact"),
        ("a:\n  - x\n", "wide"),
        ("a:\n  # a comment\n  - x\n", "wide"),
        ("text: |\n  - not a list\n", "compact"),
        ("a: b\n", "compact"),
    ],
)
def test_list_indentation_is_read_as_kpt_reads_it(document: str, style: str) -> None:
    assert kptoutput.seqindent(document) == style


def test_a_resource_list_is_read_with_each_resources_own_head_comment() -> None:
    listed = kptoutput.read(WRAPPED)
    assert listed.wrapped
    [service] = listed.items
    assert service["metadata"]["name"] == "web"
    assert kptoutput.wrap(listed.items) == WRAPPED


def test_unwrapping_drops_kpts_annotations_and_keeps_the_indentation() -> None:
    assert kptoutput.unwrap(kptoutput.read(WRAPPED).items) == (
        "# owned by the platform team\n"
        "# the web front\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
        "spec:\n  ports:\n    - port: 80\n"
    )


def test_files_go_where_their_path_annotations_say() -> None:
    files = kptoutput.package_files(kptoutput.read(WRAPPED).items)
    assert list(files) == ["svc.yaml"]
    assert b"config.kubernetes.io" not in files["svc.yaml"]


def test_a_rendered_resource_gets_kpts_annotations_where_ours_were() -> None:
    [item] = yamlio.load_documents(
        "apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  annotations:\n    keep: me\n"
    )
    resourcelist.annotate(item, "dir/a.yaml", 2, "7")
    item["metadata"]["annotations"]["added-by-a-function"] = "x"
    formed = kptoutput.kpt_form(item, "compact")
    assert list(formed["metadata"]["annotations"].items()) == [
        ("keep", "me"),
        ("config.kubernetes.io/index", "2"),
        ("config.kubernetes.io/path", "dir/a.yaml"),
        ("internal.config.kubernetes.io/index", "2"),
        ("internal.config.kubernetes.io/path", "dir/a.yaml"),
        ("internal.config.kubernetes.io/seqindent", "compact"),
        ("added-by-a-function", "x"),
    ]


def test_a_document_level_comment_that_no_function_saw_is_not_written() -> None:
    [item] = yamlio.load_documents("# header\n\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n")
    assert "# header" not in kptoutput.wrap([item])
    resourcelist.settle_head_comment(item)  # what a function pass does
    assert kptoutput.wrap([item]).split("items:\n", 1)[1].startswith("# header\n- apiVersion")


def test_a_stream_is_annotated_with_index_and_indentation() -> None:
    listed = kptoutput.read("kind: A\nmetadata: {name: a}\n---\nkind: B\nmetadata: {name: b}\n")
    assert not listed.wrapped
    assert [dict(i["metadata"]["annotations"]) for i in listed.items] == [
        {
            "config.kubernetes.io/index": str(n),
            "internal.config.kubernetes.io/index": str(n),
            "internal.config.kubernetes.io/seqindent": "compact",
        }
        for n in (0, 1)
    ]
