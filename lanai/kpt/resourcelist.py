"""Package files ⇄ ResourceList items.

Functions see resources, not files, so each item carries where it came from in
annotations (path, index in the file, and an id that lets the runner match a function's
output to its input). Writing back groups items by path again, drops those annotations
and keeps each file's own formatting; a file whose resources all disappeared is removed.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, comment_attrib

from lanai.kpt import package, yamlio
from lanai.trust import paths

API_VERSION = "config.kubernetes.io/v1"
KIND = "ResourceList"

PATH = "internal.config.kubernetes.io/path"
INDEX = "internal.config.kubernetes.io/index"
ID = "internal.config.kubernetes.io/id"
LEGACY_PATH = "config.kubernetes.io/path"
LEGACY_INDEX = "config.kubernetes.io/index"
LEGACY_ID = "config.k8s.io/id"
INTERNAL_ANNOTATIONS = (PATH, INDEX, ID, LEGACY_PATH, LEGACY_INDEX, LEGACY_ID)


class ResourceError(ValueError):
    """A resource cannot be placed in the package (bad path, duplicate place, bad list)."""


# -- identity and location ---------------------------------------------------------------


def _annotations(item: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = item.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def _annotation(item: Mapping[str, Any], *keys: str) -> str | None:
    annotations = _annotations(item)
    for key in keys:
        value = annotations.get(key)
        if value is not None:
            return str(value)
    return None


def resource_path(item: Mapping[str, Any]) -> str | None:
    return _annotation(item, PATH, LEGACY_PATH)


def resource_index(item: Mapping[str, Any]) -> int | None:
    value = _annotation(item, INDEX, LEGACY_INDEX)
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def resource_id(item: Mapping[str, Any]) -> str | None:
    return _annotation(item, ID)


def describe(item: Mapping[str, Any]) -> str:
    """``Kind namespace/name`` for messages."""
    metadata = item.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    name = metadata.get("name") or "<no name>"
    namespace = metadata.get("namespace")
    where = f"{namespace}/{name}" if namespace else str(name)
    return f"{item.get('kind') or '<no kind>'} {where}"


def _metadata(item: CommentedMap) -> CommentedMap:
    metadata = item.get("metadata")
    if not isinstance(metadata, CommentedMap):
        metadata = CommentedMap()
        item["metadata"] = metadata
    return metadata


def set_location(item: CommentedMap, path: str, index: int | None = None) -> None:
    """Set the path (and index) annotations, internal and legacy in sync."""
    metadata = _metadata(item)
    annotations = metadata.get("annotations")
    if not isinstance(annotations, CommentedMap):
        annotations = CommentedMap()
        metadata["annotations"] = annotations
    annotations[PATH] = path
    annotations[LEGACY_PATH] = path
    if index is not None:
        annotations[INDEX] = str(index)
        annotations[LEGACY_INDEX] = str(index)


def annotate(item: CommentedMap, path: str, index: int, id_: str) -> None:
    set_location(item, path, index)
    item["metadata"]["annotations"][ID] = id_


def _sync(annotations: Any, internal: str, legacy: str, before: str | None) -> None:
    """Keep one internal/legacy pair equal: a function that changed only one wins."""
    now_internal, now_legacy = annotations.get(internal), annotations.get(legacy)
    if now_internal is None and now_legacy is None:
        return
    if now_internal is None or (
        now_legacy is not None and now_internal != now_legacy and now_internal == before
    ):
        annotations[internal] = now_legacy
    else:
        annotations[legacy] = now_internal


def reconcile_location(
    item: CommentedMap, path_before: str | None, index_before: str | None
) -> None:
    """After a function: make the internal and legacy location annotations agree.

    Older functions know only ``config.kubernetes.io/path``/``index``; when just one of
    a pair changed from what the function was given (``*_before``), it wins; when both
    changed differently, the internal one does.
    """
    metadata = item.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict):
        return
    _sync(annotations, PATH, LEGACY_PATH, path_before)
    _sync(annotations, INDEX, LEGACY_INDEX, index_before)


def strip_internal(item: CommentedMap) -> None:
    """Remove the location annotations (and an annotations map they leave empty)."""
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        return
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict):
        return
    for key in INTERNAL_ANNOTATIONS:
        annotations.pop(key, None)
    if not annotations:
        del metadata["annotations"]
        if not metadata:
            del item["metadata"]


def default_path(item: Mapping[str, Any], directory: str = "") -> str:
    """Where a generated resource without a path goes: ``<namespace>/<kind>_<name>.yaml``."""
    metadata = item.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    kind = str(item.get("kind") or "resource").lower()
    name = str(metadata.get("name") or "unnamed")
    filename = f"{kind}_{name}.yaml"
    namespace = metadata.get("namespace")
    relative = f"{namespace}/{filename}" if namespace else filename
    return package.join(directory, relative)


# -- files → items -----------------------------------------------------------------------


def read_resources(
    tree: package.PackageTree,
    files: Iterable[str],
    *,
    first_id: int = 0,
    load: Callable[[str, bytes], tuple[list[CommentedMap], yamlio.YamlStyle]] = (
        yamlio.load_resources
    ),
) -> list[CommentedMap]:
    """The KRM objects of ``files`` annotated with path, index and consecutive ids.

    ``load`` parses one file (a caller that has parsed some already may reuse them).
    Raises :class:`ResourceError` naming the file when one cannot be parsed.
    """
    items: list[CommentedMap] = []
    next_id = first_id
    for path in files:
        try:
            documents, _ = load(path, tree[path])
        except yamlio.YamlIOError as error:
            raise ResourceError(str(error)) from error
        for index, document in enumerate(documents):
            annotate(document, path, index, str(next_id))
            next_id += 1
            items.append(document)
    return items


def by_file(items: Iterable[CommentedMap]) -> dict[str, list[CommentedMap]]:
    """``items`` grouped by their path annotation, in order (for ``write_resources``)."""
    grouped: dict[str, list[CommentedMap]] = {}
    for item in items:
        grouped.setdefault(resource_path(item) or "", []).append(item)
    return grouped


def build(
    items: Iterable[CommentedMap], function_config: CommentedMap | None = None
) -> CommentedMap:
    """A ResourceList of ``items`` (not copied) and an optional functionConfig."""
    resource_list = CommentedMap()
    resource_list["apiVersion"] = API_VERSION
    resource_list["kind"] = KIND
    resource_list["items"] = CommentedSeq(items)
    if function_config is not None:
        resource_list["functionConfig"] = function_config
    return resource_list


def from_tree(tree: package.PackageTree, root: str = "") -> CommentedMap:
    """A ResourceList of every package's resources at or below ``root``."""
    files = package.all_resource_files(tree, root)
    return build(read_resources(tree, files))


def items_of(resource_list: Mapping[str, Any]) -> list[CommentedMap]:
    """The items of a function's output, checked to be KRM objects."""
    found = resource_list.get("items")
    if found is None:
        return []
    if not isinstance(found, list):
        raise ResourceError("ResourceList items must be a list")
    for number, item in enumerate(found):
        if not isinstance(item, CommentedMap):
            raise ResourceError(f"ResourceList item {number} is not a KRM object")
    return list(found)


def results_of(resource_list: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = resource_list.get("results")
    if not isinstance(found, list):
        return []
    return [yamlio.to_plain(result) for result in found if isinstance(result, dict)]


def encode(resource_list: CommentedMap) -> bytes:
    """YAML bytes for a runtime that speaks over a pipe or the network."""
    return yamlio.dump_document(resource_list).encode()


def decode(content: bytes) -> CommentedMap:
    """A ResourceList from YAML (or JSON) bytes; anything else is a ResourceError."""
    try:
        document = yamlio.load_document(content.decode())
    except (yamlio.YamlIOError, UnicodeDecodeError) as error:
        raise ResourceError(f"not a ResourceList: {error}") from error
    if document.get("kind") != KIND:
        raise ResourceError(f"not a ResourceList: kind is {document.get('kind')!r}")
    return document


# -- items → files -----------------------------------------------------------------------


def place(item: Mapping[str, Any], directory: str = "") -> str:
    """The normalised path ``item`` is written to; it must stay below ``directory``."""
    path = resource_path(item) or default_path(item, directory)
    cleaned = package.normalize(path)
    if cleaned is None or not package.is_inside(cleaned, directory) or cleaned == directory:
        where = f"package {directory!r}" if directory else "the package"
        raise ResourceError(f"resource {describe(item)} has path {path!r} which is outside {where}")
    problem = paths.problem(cleaned)
    if problem is not None:  # e.g. .git/config, a newline: inside, but no file to write
        raise ResourceError(f"resource {describe(item)}: {paths.BadPath(cleaned, problem)}")
    return cleaned


_INTERNAL: dict[tuple[str, ...], frozenset[str]] = {
    ("metadata", "annotations"): frozenset(INTERNAL_ANNOTATIONS)
}


def _compare(entries: list[CommentedMap], read: list[CommentedMap] | None) -> str:
    """How a file's items differ from those read from it, internal annotations aside:
    ``same`` (keep the bytes), ``data`` (rewrite it) or ``style`` (only comments or
    formatting differ, e.g. after a trip through an external function: dump to tell)."""
    if read is None or len(read) != len(entries):
        return "data" if read is not None else "style"
    pairs = list(zip(entries, read, strict=True))
    if all(yamlio.equivalent(a, b, _INTERNAL) for a, b in pairs):
        return "same"
    if all(yamlio.same_data(a, b, _INTERNAL) for a, b in pairs):
        return "style"
    return "data"


def write_resources(
    tree: package.PackageTree,
    items: Iterable[CommentedMap],
    *,
    owned_files: Iterable[str] = (),
    read: Mapping[str, list[CommentedMap]] | None = None,
) -> package.PackageTree:
    """``tree`` with ``items`` written into their files.

    ``owned_files`` are the files the items were read from: one left without resources
    is removed. Files that would only be reformatted keep their bytes. ``read`` (file →
    the items as :func:`read_resources` returned them, untouched since) lets a file
    whose items did not change keep its bytes without being dumped and compared.
    """
    groups: dict[str, list[tuple[int | None, int, CommentedMap]]] = {}
    for order, item in enumerate(items):
        path = place(item)
        groups.setdefault(path, []).append((resource_index(item), order, item))
    result = dict(tree)
    for path in owned_files:
        if path not in groups:
            result.pop(path, None)
    for path, entries in sorted(groups.items()):
        seen: set[int] = set()
        for index, _, item in entries:
            if index is None:
                continue
            if index in seen:
                raise ResourceError(
                    f"resource {describe(item)}: another resource already has path "
                    f"{path!r} and index {index}"
                )
            seen.add(index)
        entries.sort(key=lambda e: (e[0] is None, e[0] or 0, e[1]))
        difference = "style"
        if path in tree and read is not None:
            difference = _compare([e[2] for e in entries], read.get(path))
            if difference == "same":
                continue
        documents = []
        for _, _, item in entries:
            document = yamlio.clone(item)
            strip_internal(document)
            documents.append(document)
        original = tree.get(path)
        style = yamlio.DEFAULT_STYLE
        if path.endswith(".json"):
            style = yamlio.JSON_STYLE
        elif original is not None:
            style = yamlio.detect_style(original.decode(errors="replace"))
        if (
            original is not None
            and difference == "style"
            and yamlio.unchanged(original, documents, style, path)
        ):
            continue
        result[path] = yamlio.dump_documents(documents, style).encode()
    return result


# -- comments ----------------------------------------------------------------------------

SETTLED = "_lanai_settled"
"""On a resource a function pass went over: how many of its head comment's tokens are
the resource's own comment (the rest are its first key's)."""


def settle_head_comment(item: CommentedMap) -> None:
    """What a function pass does to a resource's head comment in kpt.

    Go's YAML keeps the comment block that a blank line separates from a document's
    content as the document's comment; kpt's function filter copies it onto the
    resource itself, which is written without that blank line. So after its first
    function, a resource that starts with a licence header and a blank line loses the
    blank line (the last one before the content; blank lines inside the block stay).
    """
    if getattr(item, SETTLED, None) is not None:
        return
    record = getattr(item, comment_attrib, None)
    own = record.comment if record is not None else None
    if record is None or not own or len(own) < 2 or not own[1]:
        setattr(item, SETTLED, 0)
        return
    found = list(own[1])
    for number in range(len(found) - 1, -1, -1):
        token = found[number]
        value = getattr(token, "value", None)
        if isinstance(value, str) and value.endswith("\n\n") and value.strip():
            settled = copy.copy(token)
            settled.value = value.rstrip("\n") + "\n"
            found[number] = settled
            record.comment = [own[0], found, *own[2:]]
            setattr(item, SETTLED, number + 1)
            return
    setattr(item, SETTLED, 0)


def _has_comments(node: Any) -> bool:
    if isinstance(node, (CommentedMap, CommentedSeq)):
        # not ``node.ca``: reading it gives every collection an empty comment record,
        # which every later copy, comparison and dump then has to carry
        ca = getattr(node, comment_attrib, None)
        if ca is not None and (ca.comment or ca.items or getattr(ca, "end", None)):
            return True
        # the plain dict and list views: CommentedMap's own look up merged keys per value
        if type(node) is CommentedMap:
            values: Any = OrderedDict.values(node)
        elif type(node) is CommentedSeq:
            values = list.__iter__(node)
        else:
            values = node.values() if isinstance(node, CommentedMap) else node
        return any(_has_comments(value) for value in values if type(value) not in _SCALARS)
    return False


_SCALARS = (str, int, float, bool, type(None))


def _copy_comments(source: Any, target: Any) -> None:
    if isinstance(source, CommentedMap) and isinstance(target, CommentedMap):
        if source.ca.comment and not target.ca.comment:
            target.ca.comment = copy.deepcopy(source.ca.comment)
        for key, comment in source.ca.items.items():
            if key in target and key not in target.ca.items:
                target.ca.items[key] = copy.deepcopy(comment)
        for key, value in target.items():
            if key in source:
                _copy_comments(source[key], value)
    elif isinstance(source, CommentedSeq) and isinstance(target, CommentedSeq):
        for number, comment in source.ca.items.items():
            if number < len(target) and number not in target.ca.items:
                target.ca.items[number] = copy.deepcopy(comment)
        for old, new in zip(source, target, strict=False):
            _copy_comments(old, new)


def restore_comments(inputs: Iterable[CommentedMap], outputs: Iterable[CommentedMap]) -> None:
    """Best effort: an output item that lost all its comments gets them back from the
    input with the same id, where the same keys and list positions still exist."""
    by_id = {resource_id(item): item for item in inputs if resource_id(item) is not None}
    for item in outputs:
        source = by_id.get(resource_id(item))
        if source is None or _has_comments(item) or not _has_comments(source):
            continue
        _copy_comments(source, item)
