from __future__ import annotations

import io
import json

from ruamel.yaml import YAML

from lanai.cli import kube, repo, rpkg, table


def _revision(name: str, **status: object) -> dict[str, object]:
    return {
        "metadata": {
            "name": name,
            "namespace": "team",
            "labels": {"porch.kpt.dev/latest-revision": "true"} if status.get("latest") else {},
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {
            "packageName": "basens",
            "workspaceName": "v1",
            "lifecycle": "Published",
            "repository": "blueprints",
        },
        "status": {"revision": status.get("revision", 1)},
    }


def test_layout_pads_columns_three_spaces_apart_without_trailing_blanks() -> None:
    text = table.layout(["NAME", "X"], [["a", "1"], ["longer", ""]])
    assert text == "NAME     X\na        1\nlonger\n"


def test_rpkg_table_has_porchctl_columns() -> None:
    text = table.render(rpkg.COLUMNS, [_revision("blueprints.basens.v1", latest=True)])
    header, row = text.splitlines()
    assert header.split() == [
        "NAME", "PACKAGE", "WORKSPACENAME", "REVISION", "LATEST", "LIFECYCLE", "REPOSITORY",
    ]  # fmt: skip
    assert row.split() == [
        "blueprints.basens.v1", "basens", "v1", "1", "true", "Published", "blueprints",
    ]  # fmt: skip


def test_latest_is_false_without_the_label_and_namespace_comes_first_with_all() -> None:
    text = table.render(rpkg.COLUMNS, [_revision("b.x.v1")], namespaces=True)
    header, row = text.splitlines()
    assert header.split()[0] == "NAMESPACE"
    assert row.split()[0] == "team"
    assert row.split()[5] == "false"


def test_repository_table_shows_ready_and_address() -> None:
    obj = {
        "metadata": {"name": "blueprints"},
        "spec": {"type": "git", "content": "Package", "git": {"repo": "https://git/x.git"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    header, row = table.render(repo.COLUMNS, [obj]).splitlines()
    assert header.split() == ["NAME", "TYPE", "CONTENT", "DEPLOYMENT", "READY", "ADDRESS"]
    assert row.split() == ["blueprints", "git", "Package", "false", "True", "https://git/x.git"]


def _emit(objects: list[dict[str, object]], output: str | None, single: bool = False) -> str:
    out = io.StringIO()
    table.emit(
        objects, output, resource=kube.REVISIONS, columns=rpkg.COLUMNS, single=single, out=out
    )
    return out.getvalue()


def test_output_name_is_kind_dot_group_slash_name() -> None:
    text = _emit([_revision("a.b.v1"), _revision("a.b.v2")], "name")
    assert text.splitlines() == [
        "packagerevision.porch.kpt.dev/a.b.v1",
        "packagerevision.porch.kpt.dev/a.b.v2",
    ]


def test_output_json_of_one_named_object_is_the_object_without_managed_fields() -> None:
    document = json.loads(_emit([_revision("a.b.v1")], "json", single=True))
    assert document["metadata"]["name"] == "a.b.v1"
    assert "managedFields" not in document["metadata"]


def test_output_yaml_of_a_listing_is_a_list() -> None:
    document = YAML(typ="safe").load(_emit([_revision("a.b.v1")], "yaml"))
    assert document["kind"] == "List"
    assert [i["metadata"]["name"] for i in document["items"]] == ["a.b.v1"]


def test_field_and_text() -> None:
    obj = {"spec": {"git": {"repo": "u"}}}
    assert table.field(obj, "spec.git.repo") == "u"
    assert table.field(obj, "spec.oci.registry") is None
    assert table.text(None) == ""
    assert table.text(True) == "true"
    assert table.text(-1) == "-1"
