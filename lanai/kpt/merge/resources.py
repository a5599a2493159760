"""Resource-level three-way merge of one package's KRM files.

Resources are matched across original, new upstream and local by their upstream identity
and, like kpt, the file they live in (a package may hold the same resource twice, e.g.
per environment); one left unmatched then matches the only resource with its identity
in another file, so moving a resource to another file locally does not lose it. Each
matched triple is then kept, added, dropped or merged field by field (kpt's rules):

* added locally → kept; added upstream → added;
* deleted upstream → dropped if the local copy is unchanged, else kept as local changed it;
* deleted locally → stays deleted; otherwise → merged (:mod:`three_way`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.kpt import package, yamlio
from lanai.kpt.merge import identity, schema, three_way
from lanai.kpt.merge.errors import MergeError

SIDES = ("original", "updated", "local")


@dataclass
class Resource:
    path: str
    index: int
    doc: CommentedMap
    id: identity.ResourceId


@dataclass
class Triple:
    sides: dict[str, Resource] = field(default_factory=dict)

    def get(self, side: str) -> Resource | None:
        return self.sides.get(side)


@dataclass(frozen=True)
class LoadedFile:
    docs: list[CommentedMap]
    style: yamlio.YamlStyle


def load_krm(path: str, content: bytes) -> LoadedFile | None:
    """The file's resources, or ``None`` if it is not a file of KRM objects."""
    try:
        docs, style = yamlio.load_file(path, content)
    except yamlio.YamlIOError:
        return None
    if not all(isinstance(d, dict) and d.get("kind") and d.get("apiVersion") for d in docs):
        return None
    return LoadedFile(docs, style)


def resources_of(files: Mapping[str, LoadedFile], side: str) -> list[Resource]:
    found: list[Resource] = []
    places: dict[tuple[identity.ResourceId, str], int] = {}
    for path in sorted(files):
        for index, doc in enumerate(files[path].docs):
            identity.annotate(doc)
            resource = Resource(path, index, doc, identity.identity(doc))
            key = (resource.id, path)
            if key in places:
                raise MergeError(
                    f"{side} package: resource {resource.id} appears more than once in "
                    f"{path} (documents {places[key]} and {index}); "
                    "each resource identity must be unique in a file"
                )
            places[key] = index
            found.append(resource)
    return found


def match(by_side: Mapping[str, Iterable[Resource]]) -> list[Triple]:
    triples: list[Triple] = []
    for side in SIDES:
        pending: list[Resource] = []
        for resource in by_side.get(side, []):
            exact = [
                t
                for t in triples
                if side not in t.sides
                and any(r.id == resource.id and r.path == resource.path for r in t.sides.values())
            ]
            if exact:
                exact[0].sides[side] = resource
            else:
                pending.append(resource)
        for resource in pending:
            candidates = [
                t
                for t in triples
                if side not in t.sides and any(r.id == resource.id for r in t.sides.values())
            ]
            ambiguous = sum(1 for r in pending if r.id == resource.id) > 1
            if len(candidates) == 1 and not ambiguous:
                candidates[0].sides[side] = resource
            else:
                triples.append(Triple({side: resource}))
    return triples


def _plain(doc: CommentedMap) -> Any:
    return yamlio.to_plain(doc)


def merge_triple(triple: Triple, crds: Mapping[str, schema.KeyTable]) -> Resource | None:
    """The resource the merged package holds for ``triple`` (``None``: none)."""
    original, updated, local = (triple.get(side) for side in SIDES)
    if local is None:
        if original is None and updated is not None:
            return updated  # added upstream
        return None  # deleted locally (or on both sides)
    if updated is None:
        if original is not None and _plain(original.doc) == _plain(local.doc):
            return None  # deleted upstream, unchanged locally
        return local  # added locally, or deleted upstream but changed locally
    rules = schema.rules_for(str(local.doc.get("apiVersion")), str(local.doc.get("kind")), crds)
    merged = three_way.merge(
        local.doc,
        original.doc if original is not None else three_way.MISSING,
        updated.doc,
        rules,
    )
    if merged is three_way.MISSING:
        return None
    local.doc = merged
    return local


def merge_files(
    original: Mapping[str, LoadedFile],
    updated: Mapping[str, LoadedFile],
    local: Mapping[str, LoadedFile],
) -> dict[str, list[CommentedMap]]:
    """Path → merged documents for every file that holds resources afterwards."""
    by_side = {
        "original": resources_of(original, "original"),
        "updated": resources_of(updated, "updated"),
        "local": resources_of(local, "local"),
    }
    crds: dict[str, schema.KeyTable] = {}
    for side in ("original", "updated", "local"):
        crds.update(schema.collect_crds(r.doc for r in by_side[side]))
    placed: list[tuple[tuple[str, int, int], CommentedMap]] = []
    for triple in match(by_side):
        result = merge_triple(triple, crds)
        if result is None:
            continue
        source = triple.get("local")
        if source is not None:
            place = (source.path, 0, source.index)
        else:
            place = (result.path, 1, result.index)
        placed.append((place, result.doc))
    files: dict[str, list[CommentedMap]] = {}
    for place, doc in sorted(placed, key=lambda item: item[0]):
        files.setdefault(place[0], []).append(doc)
    return files


def write(
    path: str,
    docs: list[CommentedMap],
    sources: Iterable[tuple[bytes | None, LoadedFile | None]],
) -> bytes:
    """The file's new bytes: the first source's exact bytes if nothing but formatting
    would change, else ``docs`` dumped in that source's style."""
    candidates = [(c, f) for c, f in sources if c is not None and f is not None]
    style = candidates[0][1].style if candidates else package_style(path)
    for content, loaded in candidates:
        if yamlio.unchanged(content, docs, loaded.style, path):
            return content
    return yamlio.dump_documents(docs, style).encode()


def package_style(path: str) -> yamlio.YamlStyle:
    return yamlio.JSON_STYLE if path.endswith(".json") else yamlio.DEFAULT_STYLE


def krm_paths(trees: Iterable[package.PackageTree], candidates: Iterable[str]) -> set[str]:
    """The paths among ``candidates`` that are KRM files wherever they exist."""
    trees = list(trees)
    found = set()
    for path in candidates:
        versions = [tree[path] for tree in trees if path in tree]
        if all(load_krm(path, content) is not None for content in versions):
            found.add(path)
    return found
