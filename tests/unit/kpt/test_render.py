from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ruamel.yaml.comments import CommentedMap

from lanai.kpt import fnapi, kptfile, package, render, resourcelist, yamlio

Behaviour = Callable[[CommentedMap], fnapi.FunctionOutput]


class FakeRuntime:
    """Functions keyed by image (or exec); records what each call received."""

    def __init__(self, functions: dict[str, Behaviour]) -> None:
        self.functions = functions
        self.calls: list[tuple[str, list[str], Any]] = []

    def evaluate(self, fn: fnapi.FunctionRef, resource_list: CommentedMap) -> fnapi.FunctionOutput:
        key = fn.image or fn.exec or ""
        paths = [resourcelist.resource_path(i) or "" for i in resource_list["items"]]
        config = yamlio.to_plain(resource_list.get("functionConfig"))
        self.calls.append((key, paths, config))
        if key not in self.functions:
            raise fnapi.FunctionNotFound(f"function {key} not found")
        return self.functions[key](resource_list)


def label(key: str, value: str) -> Behaviour:
    def run(resource_list: CommentedMap) -> fnapi.FunctionOutput:
        for item in resource_list["items"]:
            metadata = item.setdefault("metadata", CommentedMap())
            metadata.setdefault("labels", CommentedMap())[key] = value
        return fnapi.FunctionOutput(resource_list)

    return run


def failing(resource_list: CommentedMap) -> fnapi.FunctionOutput:
    raise fnapi.FunctionError(
        "validation failed",
        stderr="replicas too high",
        results=[{"message": "replicas too high", "severity": "error"}],
    )


def noop(resource_list: CommentedMap) -> fnapi.FunctionOutput:
    return fnapi.FunctionOutput(resource_list)


def image(name: str) -> str:
    return f"example.com/{name}:v1"


def kptfile_text(
    name: str,
    mutators: list[str] = (),  # type: ignore[assignment]
    validators: list[str] = (),  # type: ignore[assignment]
    annotations: dict[str, str] | None = None,
) -> bytes:
    lines = ["apiVersion: kpt.dev/v1", "kind: Kptfile", "metadata:", f"  name: {name}"]
    if annotations:
        lines.append("  annotations:")
        lines += [f'    {k}: "{v}"' for k, v in annotations.items()]
    if mutators or validators:
        lines.append("pipeline:")
    for section, functions in (("mutators", mutators), ("validators", validators)):
        if functions:
            lines.append(f"  {section}:")
            for function in functions:
                first, *rest = function.splitlines()
                lines.append(f"  - {first}")
                lines += [f"    {line}" for line in rest]
    return ("\n".join(lines) + "\n").encode()


def configmap(name: str, comment: str = "") -> bytes:
    suffix = f" # {comment}" if comment else ""
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}{suffix}\n"
        f"data:\n  items:\n  - one\n"
    ).encode()


def labels_of(tree: package.PackageTree, path: str) -> dict[str, str]:
    document = yamlio.load_documents(tree[path].decode())[0]
    return dict(yamlio.to_plain(document["metadata"].get("labels") or {}))


def nested_tree(annotations: dict[str, str] | None = None) -> package.PackageTree:
    return {
        "Kptfile": kptfile_text("root", [f"image: {image('root-label')}"], annotations=annotations),
        "root.yaml": configmap("root", "root comment"),
        "README.md": b"hello\n",
        "sub/Kptfile": kptfile_text("sub", [f"image: {image('sub-label')}"]),
        "sub/sub.yaml": configmap("sub"),
    }


def nested_runtime() -> FakeRuntime:
    return FakeRuntime(
        {image("root-label"): label("root", "yes"), image("sub-label"): label("sub", "yes")}
    )


def test_subpackage_renders_first_and_only_parent_sees_both() -> None:
    runtime = nested_runtime()
    result = render.render(nested_tree(), runtime)
    assert result.ok, result.error
    # as in kpt, a function sees paths relative to the package each resource belongs to
    assert [(call[0], call[1]) for call in runtime.calls] == [
        (image("sub-label"), ["Kptfile", "sub.yaml"]),
        (image("root-label"), ["Kptfile", "root.yaml", "Kptfile", "sub.yaml"]),
    ]
    assert labels_of(result.tree, "sub/sub.yaml") == {"sub": "yes", "root": "yes"}
    assert labels_of(result.tree, "root.yaml") == {"root": "yes"}
    assert b"# root comment" in result.tree["root.yaml"]
    assert result.tree["README.md"] == b"hello\n"
    assert b"internal.config" not in result.tree["root.yaml"]
    assert result.results["exitCode"] == 0
    assert [item["image"] for item in result.results["items"]] == [
        image("sub-label"),
        image("root-label"),
    ]


def test_bfs_rendering_runs_top_down() -> None:
    runtime = nested_runtime()
    tree = nested_tree({kptfile.BFS_RENDERING: "true"})
    result = render.render(tree, runtime)
    assert result.ok, result.error
    assert [call[0] for call in runtime.calls] == [image("root-label"), image("sub-label")]
    assert runtime.calls[0][1] == ["Kptfile", "root.yaml", "Kptfile", "sub.yaml"]
    assert runtime.calls[1][1] == ["Kptfile", "sub.yaml"]
    assert labels_of(result.tree, "sub/sub.yaml") == {"root": "yes", "sub": "yes"}


def test_selectors_and_exclude_narrow_input_and_output_replaces_only_those() -> None:
    tree = {
        "Kptfile": kptfile_text(
            "root",
            [
                f"image: {image('label')}\n"
                "selectors:\n- kind: ConfigMap\n- kind: Service\n  labels: {tier: web}\n"
                "exclude:\n- name: skip"
            ],
        ),
        "a.yaml": configmap("a"),
        "skip.yaml": configmap("skip"),
        "svc.yaml": b"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
        b"  labels:\n    tier: web\n",
        "other.yaml": b"apiVersion: v1\nkind: Service\nmetadata:\n  name: db\n",
    }
    runtime = FakeRuntime({image("label"): label("seen", "1")})
    result = render.render(tree, runtime)
    assert result.ok, result.error
    assert runtime.calls[0][1] == ["a.yaml", "svc.yaml"]
    assert labels_of(result.tree, "a.yaml") == {"seen": "1"}
    assert labels_of(result.tree, "svc.yaml") == {"tier": "web", "seen": "1"}
    assert result.tree["skip.yaml"] == tree["skip.yaml"]
    assert result.tree["other.yaml"] == tree["other.yaml"]


def test_config_path_is_reread_after_each_mutator() -> None:
    def change_config(resource_list: CommentedMap) -> fnapi.FunctionOutput:
        for item in resource_list["items"]:
            if item["metadata"]["name"] == "settings":
                item["data"]["value"] = "changed"
        return fnapi.FunctionOutput(resource_list)

    tree = {
        "Kptfile": kptfile_text(
            "root",
            [
                f"image: {image('change')}",
                f"image: {image('read')}\nconfigPath: settings.yaml",
            ],
        ),
        "settings.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
        b"data:\n  value: original\n",
    }
    runtime = FakeRuntime({image("change"): change_config, image("read"): noop})
    result = render.render(tree, runtime)
    assert result.ok, result.error
    config = runtime.calls[1][2]
    assert config["data"] == {"value": "changed"}
    assert "annotations" not in config["metadata"]


def test_config_map_becomes_function_input() -> None:
    tree = {
        "Kptfile": kptfile_text("root", [f"image: {image('read')}\nconfigMap:\n  key: value"]),
    }
    runtime = FakeRuntime({image("read"): noop})
    assert render.render(tree, runtime).ok
    config = runtime.calls[0][2]
    assert config["kind"] == "ConfigMap"
    assert config["metadata"]["name"] == "function-input"
    assert config["data"] == {"key": "value"}


def assert_only_status_recorded(after: dict[str, bytes], before: dict[str, bytes]) -> None:
    """A failed render changes nothing but the root Kptfile's status, as kpt writes it."""
    assert {k: v for k, v in after.items() if k != "Kptfile"} == {
        k: v for k, v in before.items() if k != "Kptfile"
    }
    model = kptfile.parse(after["Kptfile"])
    assert model.status is not None
    assert model.status.conditions is not None
    assert model.status.conditions[-1].status == "False"


def test_config_path_missing_or_outside_fails() -> None:
    for config_path, fragment in (
        ("nope.yaml", "no such file or directory"),
        ("../x.yaml", "path must not be outside the package"),
    ):
        tree = {
            "Kptfile": kptfile_text("root", [f"image: {image('read')}\nconfigPath: {config_path}"]),
        }
        result = render.render(tree, FakeRuntime({image("read"): noop}))
        assert not result.ok
        assert fragment in result.error
        assert result.tree == tree  # kpt records nothing when the root Kptfile is invalid


def test_failing_validator_stops_and_nothing_is_written() -> None:
    tree = {
        "Kptfile": kptfile_text(
            "root",
            [f"image: {image('label')}"],
            [f"image: {image('fail')}", f"image: {image('never')}"],
        ),
        "a.yaml": configmap("a"),
    }
    runtime = FakeRuntime(
        {image("label"): label("x", "y"), image("fail"): failing, image("never"): noop}
    )
    result = render.render(tree, runtime)
    assert not result.ok
    assert result.error.startswith("error rendering package in kpt function pipeline")
    assert "validation failed" in result.error
    assert_only_status_recorded(result.tree, tree)
    assert [call[0] for call in runtime.calls] == [image("label"), image("fail")]
    assert result.results["exitCode"] == 1
    failed = result.results["items"][-1]
    assert failed["image"] == image("fail")
    assert failed["exitCode"] == 1
    assert failed["stderr"] == "replicas too high"
    assert failed["results"][0]["severity"] == "error"


def test_save_on_render_failure_keeps_partial_render() -> None:
    tree = {
        "Kptfile": kptfile_text(
            "root",
            [f"image: {image('label')}"],
            [f"image: {image('fail')}"],
            annotations={kptfile.SAVE_ON_RENDER_FAILURE: "true"},
        ),
        "a.yaml": configmap("a"),
    }
    runtime = FakeRuntime({image("label"): label("x", "y"), image("fail"): failing})
    result = render.render(tree, runtime)
    assert not result.ok
    assert labels_of(result.tree, "a.yaml") == {"x": "y"}
    model = kptfile.parse(result.tree["Kptfile"])
    assert model.status is not None
    assert model.status.conditions is not None
    condition = model.status.conditions[0]
    assert (condition.type, condition.status, condition.reason) == (
        "Rendered",
        "False",
        "RenderFailed",
    )
    assert model.status.render_status is not None
    assert model.status.render_status.error_summary == "example.com/fail:v1: exit code 1"


def test_validators_get_a_copy() -> None:
    tree = {
        "Kptfile": kptfile_text("root", validators=[f"image: {image('label')}"]),
        "a.yaml": configmap("a"),
    }
    result = render.render(tree, FakeRuntime({image("label"): label("x", "y")}))
    assert result.ok
    assert result.tree["a.yaml"] == tree["a.yaml"]


def test_resources_cannot_leave_the_package() -> None:
    def escape(resource_list: CommentedMap) -> fnapi.FunctionOutput:
        for item in resource_list["items"]:
            if item["kind"] == "ConfigMap":
                resourcelist.set_location(item, "../../outside.yaml", 0)
        return fnapi.FunctionOutput(resource_list)

    tree = nested_tree()
    tree["sub/Kptfile"] = kptfile_text("sub", [f"image: {image('escape')}"])
    result = render.render(tree, FakeRuntime({image("escape"): escape}))
    assert not result.ok
    assert "outside" in result.error
    assert "'sub'" in result.error
    assert_only_status_recorded(result.tree, tree)


def test_subpackage_cannot_write_into_parent() -> None:
    def move(resource_list: CommentedMap) -> fnapi.FunctionOutput:
        for item in resource_list["items"]:
            if item["kind"] == "ConfigMap":
                resourcelist.set_location(item, "../stolen.yaml", 0)
        return fnapi.FunctionOutput(resource_list)

    tree = nested_tree()
    tree["sub/Kptfile"] = kptfile_text("sub", [f"image: {image('move')}"])
    result = render.render(tree, FakeRuntime({image("move"): move, image("root-label"): noop}))
    assert not result.ok
    assert "outside" in result.error


def test_generated_resources_land_in_the_generating_package() -> None:
    def generate(resource_list: CommentedMap) -> fnapi.FunctionOutput:
        if not any(i["metadata"]["name"] == "made" for i in resource_list["items"]):
            resource_list["items"].append(
                yamlio.load_document(
                    "apiVersion: v1\nkind: Service\nmetadata:\n  name: made\n  namespace: ns\n"
                )
            )
        return fnapi.FunctionOutput(resource_list)

    tree = nested_tree()
    tree["sub/Kptfile"] = kptfile_text("sub", [f"image: {image('generate')}"])
    runtime = FakeRuntime({image("generate"): generate, image("root-label"): noop})
    result = render.render(tree, runtime)
    assert result.ok, result.error
    assert "sub/ns/service_made.yaml" in result.tree
    again = render.render(result.tree, runtime)
    assert again.tree == result.tree


def test_removed_resources_remove_their_files() -> None:
    def drop(resource_list: CommentedMap) -> fnapi.FunctionOutput:
        resource_list["items"] = [i for i in resource_list["items"] if i["kind"] != "ConfigMap"]
        return fnapi.FunctionOutput(resource_list)

    tree = nested_tree()
    tree["Kptfile"] = kptfile_text("root", [f"image: {image('drop')}"])
    runtime = FakeRuntime({image("drop"): drop, image("sub-label"): noop})
    result = render.render(tree, runtime)
    assert result.ok, result.error
    assert "root.yaml" not in result.tree
    assert "sub/sub.yaml" not in result.tree
    assert "README.md" in result.tree


def test_render_twice_gives_identical_bytes() -> None:
    first = render.render(nested_tree(), nested_runtime())
    second = render.render(first.tree, nested_runtime())
    assert second.ok
    assert second.tree == first.tree
    assert second.results == first.results


def test_rendered_condition_on_a_package_without_pipeline() -> None:
    tree = {"Kptfile": kptfile_text("root"), "a.yaml": configmap("a", "keep")}
    first = render.render(tree, FakeRuntime({}))
    assert first.ok
    assert first.tree["a.yaml"] == tree["a.yaml"]
    model = kptfile.parse(first.tree["Kptfile"])
    assert model.status is not None
    assert model.status.conditions is not None
    condition = model.status.conditions[0]
    assert (condition.type, condition.status, condition.reason) == (
        "Rendered",
        "True",
        "RenderSuccess",
    )
    assert model.status.render_status is None
    assert render.render(first.tree, FakeRuntime({})).tree == first.tree


def test_render_status_lists_steps() -> None:
    result = render.render(nested_tree(), nested_runtime())
    model = kptfile.parse(result.tree["Kptfile"])
    assert model.status is not None
    assert model.status.render_status is not None
    steps = model.status.render_status.mutation_steps
    assert steps == [
        {"image": image("sub-label"), "exitCode": 0},
        {"image": image("root-label"), "exitCode": 0},
    ]


def test_unknown_function_and_bad_kptfile_fail_cleanly() -> None:
    result = render.render(nested_tree(), FakeRuntime({}), package_path="catalog/app")
    assert not result.ok
    assert result.error.startswith("error rendering package in kpt function pipeline: catalog/app:")
    assert "not found" in result.error
    tree = nested_tree()
    tree["sub/Kptfile"] = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nbogus: 1\n"
    result = render.render(tree, nested_runtime())
    assert not result.ok
    assert "sub/Kptfile" in result.error
    assert "bogus" in result.error
    assert not render.render({"a.yaml": configmap("a")}, FakeRuntime({})).ok


def test_comments_dropped_by_a_function_are_restored() -> None:
    def plain(resource_list: CommentedMap) -> fnapi.FunctionOutput:
        items = [yamlio.from_plain(yamlio.to_plain(i)) for i in resource_list["items"]]
        for item in items:
            item["metadata"]["labels"] = CommentedMap(x="y")
        resource_list["items"] = items
        return fnapi.FunctionOutput(resource_list)

    tree = {
        "Kptfile": kptfile_text("root", [f"image: {image('plain')}"]),
        "a.yaml": configmap("a", "keep me"),
    }
    result = render.render(tree, FakeRuntime({image("plain"): plain}))
    assert result.ok, result.error
    assert b"# keep me" in result.tree["a.yaml"]
    assert labels_of(result.tree, "a.yaml") == {"x": "y"}


def test_each_file_keeps_its_list_indentation_and_json_stays_json() -> None:
    indented = (
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n"
        b"  template:\n    spec:\n      containers:\n        - name: app\n"
    )
    tree = {
        "Kptfile": kptfile_text("root", [f"image: {image('label')}"]),
        "indented.yaml": indented,
        "indentless.yaml": configmap("c"),
        "data.json": b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}\n',
    }
    result = render.render(tree, FakeRuntime({image("label"): label("x", "y")}))
    assert result.ok, result.error
    assert b"        - name: app\n" in result.tree["indented.yaml"]
    assert b"  items:\n  - one\n" in result.tree["indentless.yaml"]
    assert b'"labels": {' in result.tree["data.json"]
    assert b"internal.config" not in result.tree["data.json"]
    assert render.render(result.tree, FakeRuntime({image("label"): label("x", "y")})).tree == (
        result.tree
    )


def test_runtime_crash_is_a_render_failure() -> None:
    def crash(resource_list: CommentedMap) -> fnapi.FunctionOutput:
        raise RuntimeError("boom")

    tree = {"Kptfile": kptfile_text("root", ["exec: ./crash"])}
    result = render.render(tree, FakeRuntime({"./crash": crash}))
    assert not result.ok
    assert "boom" in result.error
    assert result.results["items"] == [{"exec": "./crash", "stderr": "boom", "exitCode": 1}]


def test_function_moves_a_resource_within_its_package() -> None:
    def move(resource_list: CommentedMap) -> fnapi.FunctionOutput:
        for item in resource_list["items"]:
            if item["kind"] == "ConfigMap":
                resourcelist.set_location(item, "moved/here.yaml", 0)
        return fnapi.FunctionOutput(resource_list)

    tree = nested_tree()
    tree["sub/Kptfile"] = kptfile_text("sub", [f"image: {image('move')}"])
    result = render.render(tree, FakeRuntime({image("move"): move, image("root-label"): noop}))
    assert result.ok, result.error
    assert "sub/moved/here.yaml" in result.tree
    assert "sub/sub.yaml" not in result.tree


def test_a_yaml_bomb_is_a_render_error_not_a_hang() -> None:
    levels = ["  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"  a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 10)]
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n" + "\n".join(levels)
    tree = {
        "Kptfile": kptfile_text("root", [f"image: {image('label')}"]),
        "bomb.yaml": (bomb + "\n").encode(),
    }
    result = render.render(tree, FakeRuntime({image("label"): label("a", "b")}))
    assert not result.ok
    assert "bomb.yaml: YAML aliases expand to more than" in result.error
    assert_only_status_recorded(result.tree, tree)


def test_files_no_function_changed_keep_their_bytes_even_when_not_canonical() -> None:
    odd = b"apiVersion:   v1\nkind: ConfigMap\nmetadata: {name: odd}\ndata:\n    k:   'v'\n"
    tree = {
        "Kptfile": kptfile_text("root", [f"image: {image('label')}"]),
        "odd.yaml": odd,
        "a.yaml": configmap("a"),
    }
    only_a = CommentedMap(kind="ConfigMap", name="a")

    def label_a(resource_list: CommentedMap) -> fnapi.FunctionOutput:
        for item in resource_list["items"]:
            if item["metadata"]["name"] == only_a["name"]:
                item["metadata"]["labels"] = CommentedMap(x="y")
        return fnapi.FunctionOutput(resource_list)

    result = render.render(tree, FakeRuntime({image("label"): label_a}))
    assert result.ok, result.error
    assert result.tree["odd.yaml"] == odd
    assert labels_of(result.tree, "a.yaml") == {"x": "y"}


@pytest.mark.parametrize(
    ("tree", "runs"),
    [
        ({"Kptfile": b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: a\n"}, False),
        (
            {
                "Kptfile": b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: a\n",
                "sub/Kptfile": b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: s\n"
                b"pipeline:\n  validators:\n  - image: kubeval:v0.3\n",
            },
            True,
        ),
        (
            {
                "Kptfile": b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: a\n"
                b"pipeline:\n  mutators: []\n"
            },
            False,
        ),
        ({"Kptfile": b"pipeline:\n  mutators: [unclosed\n"}, True),
        ({"Kptfile": b"kind: [unclosed\n"}, True),
        ({"Kptfile": b'pipeline: {"mu\\x74ators": [{image: a}]}\n'}, True),
        ({"README.md": b"no Kptfile"}, False),
    ],
    ids=[
        "no-pipeline",
        "subpackage-validator",
        "empty-pipeline",
        "unreadable",
        "unreadable-naming-no-function",
        "escaped-key",
        "no-kptfile",
    ],
)
def test_which_trees_run_functions(tree: dict[str, bytes], runs: bool) -> None:
    assert render.runs_functions(tree) is runs


def _condition_message(tree: dict[str, bytes]) -> str:
    status = yamlio.load_document(tree[kptfile.KPTFILE].decode())["status"]
    return str(status["conditions"][-1]["message"])


@pytest.mark.parametrize(
    ("shown_root", "expected"),
    [
        (
            None,
            "pkg.render: pkg .:\n\tpkg.Subpackages: pkg ./db: error reading Kptfile at "
            "\"./db\": yaml: line 1: did not find expected ',' or ']'",
        ),
        (
            "shop",
            "pkg.render: pkg shop:\n\tpkg.Subpackages: pkg shop/db: error reading Kptfile at "
            "\"./db\": yaml: line 1: did not find expected ',' or ']'",
        ),
    ],
)
def test_an_unreadable_subpackage_kptfile_is_reported_by_its_parents_walk(
    shown_root: str | None, expected: str
) -> None:
    # kpt names packages from the directory it runs in when it can, and the Kptfile's
    # own path always from the root ("./db")
    tree = {
        "Kptfile": kptfile_text("root", [f"image: {image('label')}"]),
        "cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        "db/Kptfile": b"pipeline: [oops\n",
    }
    result = render.render(tree, FakeRuntime({image("label"): noop}), shown_root=shown_root)
    assert not result.ok
    assert _condition_message(result.tree) == expected
    assert "can't be read" in str(result.cli_error)
