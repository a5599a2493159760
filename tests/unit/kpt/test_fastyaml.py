"""The fast YAML path against ruamel itself: same trees, same bytes, ruamel for the rest.

Each text is read by ruamel and by :mod:`lanai.kpt.fastyaml`; the trees must be
``yamlio.equivalent``, dump to the same text and match in every attribute ruamel keeps
(:func:`yamlcases.picture`). Dumping is compared the same way, including the tree a dump
leaves behind (ruamel's dump changes it) and a second dump by ruamel. Whatever the fast
path does not cover must raise ``Unsupported`` and then reach ruamel unchanged.
"""

from __future__ import annotations

import copy
import io
import random
from collections.abc import Callable
from typing import Any

import pytest
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from bench import render as render_bench
from lanai.functions import builtin, runtimes
from lanai.kpt import fastyaml, render, resourcelist, yamlio
from tests.unit.kpt import yamlcases

LOADED = 2400  # generated texts read both ways
DUMPED = 1200  # ... and dumped both ways
EDITED = 600  # ... and edited before dumping
CHUNK = 150


def ruamel_load(text: str) -> list[Any]:
    return list(yamlio._yaml().load_all(text))


def ruamel_dump(documents: list[Any], style: yamlio.YamlStyle) -> str:
    stream = io.StringIO()
    yamlio._yaml(style).dump_all(documents, stream)
    return stream.getvalue()


def assert_loads_like_ruamel(text: str) -> bool:
    """Fast and ruamel trees agree; False when the fast path (rightly) gave up."""
    try:
        expected: Any = ruamel_load(text)
    except Exception as error:
        expected = error
    try:
        found = fastyaml.load_all(text, yamlio.MAX_NODES)
    except fastyaml.Unsupported:
        return False
    assert not isinstance(expected, Exception), f"ruamel refuses this text: {expected}"
    assert yamlcases.picture(found) == yamlcases.picture(expected)
    assert len(found) == len(expected)
    for number, (mine, theirs) in enumerate(zip(found, expected, strict=True)):
        if not yamlio.equivalent(mine, theirs):
            # only where two ruamel loads differ too: a NaN is never equal, even to itself
            assert not yamlio.equivalent(ruamel_load(text)[number], theirs)
    documents = [document for document in expected if document is not None]
    if documents:
        style = yamlio.detect_style(text)
        mine_documents = [document for document in found if document is not None]
        assert ruamel_dump(mine_documents, style) == ruamel_dump(documents, style)
    return True


def assert_dumps_like_ruamel(text: str, edit: Callable[[list[Any]], None] | None = None) -> bool:
    """Fast and ruamel dumps of the same (optionally edited) documents agree, and so do
    the trees they leave; False when the fast emitter (rightly) gave up."""
    try:
        theirs = [document for document in ruamel_load(text) if document is not None]
        mine = [document for document in ruamel_load(text) if document is not None]
    except Exception:
        return False
    if not theirs:
        return False
    if edit is not None:
        edit(theirs)
        edit(mine)
    style = yamlio.detect_style(text)
    before = yamlcases.picture(mine)
    try:
        expected: Any = ruamel_dump(theirs, style)
    except Exception as error:
        expected = error
    try:
        found = fastyaml.dump_all(mine, style.indentless, style.explicit_start)
    except fastyaml.Unsupported:
        assert yamlcases.picture(mine) == before, "a refused dump changed the tree"
        return False
    assert not isinstance(expected, Exception), f"ruamel cannot dump this: {expected}"
    assert found == expected
    assert yamlcases.picture(mine) == yamlcases.picture(theirs)
    assert ruamel_dump(mine, style) == ruamel_dump(theirs, style)
    assert yamlcases.picture(mine) == yamlcases.picture(theirs)
    return True


CORPUS = {
    **{f"testdata/{name}": text for name, text in yamlcases.manifests().items()},
    **{f"bench/{path}": content.decode() for path, content in render_bench.package_tree().items()},
    **yamlcases.snippets(),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_loads_like_ruamel(name: str) -> None:
    assert_loads_like_ruamel(CORPUS[name])


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_dumps_like_ruamel(name: str) -> None:
    assert_dumps_like_ruamel(CORPUS[name])


def test_the_manifests_take_the_fast_path() -> None:
    """The realistic files are what the fast path is for: all of them stay on it."""
    for name, text in yamlcases.manifests().items():
        assert assert_loads_like_ruamel(text), name
        assert assert_dumps_like_ruamel(text), name
    for path, content in render_bench.package_tree().items():
        if path.endswith(".md"):
            continue
        assert assert_loads_like_ruamel(content.decode()), path
        assert assert_dumps_like_ruamel(content.decode()), path


@pytest.mark.parametrize("first", range(0, LOADED, CHUNK))
def test_generated_texts_load_like_ruamel(first: int) -> None:
    seeds = range(first, first + CHUNK)
    fast = sum(assert_loads_like_ruamel(yamlcases.generated(seed)) for seed in seeds)
    assert fast > CHUNK // 2  # most of what the generator writes is valid and covered


@pytest.mark.parametrize("first", range(0, DUMPED, CHUNK))
def test_generated_texts_dump_like_ruamel(first: int) -> None:
    seeds = range(first, first + CHUNK)
    fast = sum(assert_dumps_like_ruamel(yamlcases.generated(seed)) for seed in seeds)
    assert fast > CHUNK // 2


def _random_edits(seed: int) -> Callable[[list[Any]], None]:
    def edit(documents: list[Any]) -> None:
        r = random.Random(seed)
        for _ in range(r.choice([1, 2, 4, 8])):
            yamlcases.edit(r, r.choice(documents))

    return edit


@pytest.mark.parametrize("first", range(DUMPED, DUMPED + EDITED, CHUNK))
def test_edited_trees_dump_like_ruamel(first: int) -> None:
    fast = 0
    for seed in range(first, first + CHUNK):
        fast += assert_dumps_like_ruamel(yamlcases.generated(seed), _random_edits(seed))
    assert fast > CHUNK // 2


# -- builtin functions on fast-loaded trees ------------------------------------------------


def _config(**data: str) -> CommentedMap:
    config = CommentedMap()
    config["apiVersion"] = "v1"
    config["kind"] = "ConfigMap"
    config["metadata"] = CommentedMap(name="config")
    config["data"] = CommentedMap(data)
    return config


FUNCTIONS: dict[str, CommentedMap] = {
    "set-namespace": _config(namespace="prod"),
    "set-labels": _config(team="web", tier="backend"),
    "set-annotations": _config(owner="web"),
    "apply-setters": _config(
        namespace="prod", replicas="5", registry="r.example.com", tag="2.0", tier="api"
    ),
    "search-replace": CommentedMap(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": CommentedMap(name="config"),
            "data": CommentedMap({"by-path": "metadata.name", "put-comment": "kpt-set: ${name}"}),
        }
    ),
    "ensure-name-substring": _config(prepend="dev-"),
}


def _run(function: str, documents: list[Any]) -> list[Any]:
    """The items after running a builtin function on ``documents`` (none if it fails)."""
    request = resourcelist.build(documents, copy.deepcopy(FUNCTIONS[function]))
    try:
        builtin.REGISTRY[function](request)
    except Exception:
        return []
    return list(request["items"])


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
@pytest.mark.parametrize("name", [*sorted(yamlcases.manifests()), "bench"])
def test_builtin_functions_edit_fast_trees_as_they_edit_ruamel_trees(
    function: str, name: str
) -> None:
    if name == "bench":
        text = render_bench.package_tree()["apps/svc-00.yaml"].decode()
    else:
        text = yamlcases.manifests()[name]
    assert assert_loads_like_ruamel(text)
    style = yamlio.detect_style(text)
    mine = _run(function, yamlio.load_documents(text))
    theirs = _run(function, [d for d in ruamel_load(text) if d is not None])
    assert yamlcases.picture(mine) == yamlcases.picture(theirs)
    if theirs:
        # the fast loader also records how nulls were spelled (ruamel forgets it)
        yamlcases.forget_null_spellings(mine)
        assert yamlio.dump_documents(mine, style) == ruamel_dump(theirs, style)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: null\nb: ~\nc:\nd: Null\n", "a: null\nb: ~\nc:\nd: Null\nx: 1\n"),
        ("l:\n- null\n- ~\n- 1\n", "l:\n- null\n- ~\n- 1\nx: 1\n"),
    ],
)
def test_a_rewritten_file_keeps_the_spelling_of_its_nulls(text: str, expected: str) -> None:
    # as Go's YAML writes them back (kpt), where ruamel would write every null as nothing
    documents = [yamlio.clone(document) for document in yamlio.load_documents(text)]
    documents[0]["x"] = 1
    assert yamlio.dump_documents(documents) == expected


def test_render_gives_the_same_bytes_without_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = runtimes.build(runtimes.Settings()).runtime
    tree = render_bench.package_tree()
    fast = render.render(dict(tree), runtime)
    again = render.render(dict(fast.tree), runtime)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise fastyaml.Unsupported("disabled")

    monkeypatch.setattr(fastyaml, "load_all", refuse)
    monkeypatch.setattr(fastyaml, "dump_all", refuse)
    slow = render.render(dict(tree), runtime)
    slow_again = render.render(dict(slow.tree), runtime)
    assert fast.ok
    assert slow.ok
    assert fast.tree == slow.tree
    assert again.tree == slow_again.tree
    # Idempotent but for the Kptfile's record of what the functions reported (a second
    # run finds nothing to change and says so, as with kpt).
    assert {k: v for k, v in again.tree.items() if k != "Kptfile"} == {
        k: v for k, v in fast.tree.items() if k != "Kptfile"
    }
    assert fast.results == slow.results


# -- what the fast path leaves to ruamel ---------------------------------------------------

UNSUPPORTED = {
    "anchor and alias": "a: &x {b: 1}\nc: *x\n",
    "tag": "a: !!str 1\n",
    "local tag": "a: !thing {}\n",
    "directive": "%YAML 1.2\n---\na: 1\n",
    "document end": "a: 1\n...\n",
    "complex key": "? a\n: 1\n",
    "merge key": "a: &x {b: 1}\nc:\n  <<: *x\n",
    "crlf": "a: 1\r\nb: 2\r\n",
    "byte order mark": "\ufeffa: 1\n",
    "flow over lines": "a: [1,\n  2]\n",
    "nested flow": "a: [[1], {b: 2}]\n",
    "comment in flow": "a: [1, # one\n  2]\n",
    "json": '{"a": 1, "b": [true, null]}\n',
}

NOT_KRM = {
    "root scalar": "just text\n",
    "root sequence": "- a\n- b\n",
}

INVALID = {
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "tab indentation": "a:\n\tb: 1\n",
    "unclosed quote": 'a: "b\n',
    "missing colon": "a: 1\nb\n",
    "mapping in a value": "a: b: c\n",
    "sequence after a value": "a: b\n- c\n",
    "bad escape": 'a: "\\q"\n',
    "duplicate key": "a: 1\na: 2\n",
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_text_is_read_by_ruamel(name: str) -> None:
    text = UNSUPPORTED[name]
    with pytest.raises(fastyaml.Unsupported):
        fastyaml.load_all(text, yamlio.MAX_NODES)
    expected = [document for document in ruamel_load(text) if document is not None]
    assert yamlcases.picture(yamlio.load_documents(text)) == yamlcases.picture(expected)


@pytest.mark.parametrize("name", sorted(NOT_KRM))
def test_documents_that_are_not_mappings_are_refused_as_before(name: str) -> None:
    assert_loads_like_ruamel(NOT_KRM[name])
    with pytest.raises(yamlio.YamlIOError, match="not a mapping"):
        yamlio.load_documents(NOT_KRM[name])


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_yaml_reports_ruamels_error(name: str) -> None:
    text = INVALID[name]
    with pytest.raises(fastyaml.Unsupported):
        fastyaml.load_all(text, yamlio.MAX_NODES)
    with pytest.raises(YAMLError) as ruamel_error:
        ruamel_load(text)
    with pytest.raises(yamlio.YamlIOError) as raised:
        yamlio.load_documents(text)
    assert str(raised.value) == f"invalid YAML: {ruamel_error.value}"


def _tree(text: str, **more: Any) -> Any:
    tree = yamlio.load_document(text)
    for key, value in more.items():
        tree[key] = value
    return tree


UNSUPPORTED_DUMPS: dict[str, Callable[[], Any]] = {
    "shared collection": lambda: _shared(),
    "anchored collection": lambda: _anchored(),
    "plain dict": lambda: CommentedMap(a={"b": 1}),
    "mapping in a flow sequence": lambda: _tree("a: [1, 2]\n", b=_flow_with_map()),
    "very long line": lambda: _tree("a: b\n", c="x" * 5000),
    "long key": lambda: _tree("a: b\n", **{"k" * 200: 1}),
    "a block scalar in a list with a header comment": lambda: _tree("a:\n- |  # c\n  x\n"),
}


def _shared() -> Any:
    tree = _tree("a: {x: 1}\nb: 2\n")
    tree["b"] = tree["a"]
    return tree


def _anchored() -> Any:
    tree = _tree("a:\n  x: 1\n")
    tree["a"].yaml_set_anchor("here", always_dump=True)
    return tree


def _flow_with_map() -> Any:
    sequence = CommentedSeq([1, CommentedMap(k="v")])
    sequence.fa.set_flow_style()
    return sequence


@pytest.mark.parametrize("name", sorted(UNSUPPORTED_DUMPS))
def test_unsupported_trees_are_dumped_by_ruamel(name: str) -> None:
    mine, theirs = UNSUPPORTED_DUMPS[name](), UNSUPPORTED_DUMPS[name]()
    before = yamlcases.picture(mine)
    with pytest.raises(fastyaml.Unsupported):
        fastyaml.dump_all([mine], True, False)
    assert yamlcases.picture(mine) == before, "a refused dump must not change the tree"
    assert yamlio.dump_documents([mine]) == ruamel_dump([theirs], yamlio.DEFAULT_STYLE)
    assert yamlcases.picture(mine) == yamlcases.picture(theirs)


def test_too_many_nodes_are_left_to_ruamel() -> None:
    text = "a:\n" + "".join(f"- {number}\n" for number in range(50))
    assert fastyaml.load_all(text, 52)  # as yamlio._bounded counts: 2 collections, 50 values
    with pytest.raises(fastyaml.Unsupported):
        fastyaml.load_all(text, 51)


@pytest.mark.parametrize("first_fast", [True, False])
def test_either_emitter_can_dump_after_the_other(first_fast: bool) -> None:
    text = yamlcases.manifests()["deployment.yaml"]
    style = yamlio.detect_style(text)
    mine, theirs = yamlio.load_documents(text), ruamel_load(text)
    if first_fast:
        first = fastyaml.dump_all(mine, style.indentless, style.explicit_start)
    else:
        first = ruamel_dump(mine, style)
    assert first == ruamel_dump(theirs, style)
    second = fastyaml.dump_all(mine, style.indentless, style.explicit_start)
    assert second == ruamel_dump(theirs, style) == first
    assert yamlcases.picture(mine) == yamlcases.picture(theirs)


def test_a_failing_fast_path_leaves_the_work_to_ruamel(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the fast path may cost time, never a wrong tree or file."""
    text = yamlcases.manifests()["deployment.yaml"]
    expected = yamlio.dump_documents(yamlio.load_documents(text))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise IndexError("a bug")

    monkeypatch.setattr(fastyaml, "load_all", broken)
    monkeypatch.setattr(fastyaml, "dump_all", broken)
    documents = yamlio.load_documents(text)
    assert yamlcases.picture(documents) == yamlcases.picture(ruamel_load(text))
    assert yamlio.dump_documents(documents) == expected
