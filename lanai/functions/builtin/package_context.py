"""generate-kpt-pkg-context: write package-context.yaml for the package being rendered.

Porch runs this generator in process when a package is cloned into a deployment
repository; as a pipeline step it (re)generates the ``kptfile.kpt.dev`` ConfigMap next
to the root Kptfile from the Kptfile's name, replacing a stale one.
"""

from __future__ import annotations

from ruamel.yaml.comments import CommentedMap

from lanai.functions.builtin import krm
from lanai.kpt import context, yamlio

ROOT_KPTFILE = "Kptfile"


def _path(resource: CommentedMap) -> str:
    found = krm.file_of(resource)
    return str(found.get("path", "")) if found else ""


def run(resource_list: CommentedMap) -> None:
    items = resource_list.get("items")
    if not isinstance(items, list):
        raise krm.fail("the ResourceList has no items")
    root = next(
        (r for r in items if krm.kind(r) == "Kptfile" and _path(r) in ("", ROOT_KPTFILE)), None
    )
    if root is None:
        raise krm.fail("no root Kptfile among the items: cannot name the package")
    name = krm.name(root)
    generated = yamlio.load_document(context.package_context(name).decode())
    krm.metadata(generated)["annotations"][krm.PATH_ANNOTATIONS[0]] = context.CONTEXT_FILE
    krm.metadata(generated)["annotations"][krm.INDEX_ANNOTATIONS[0]] = "0"
    kept = [r for r in items if _path(r) != context.CONTEXT_FILE]
    items[:] = [*kept, generated]
    krm.add_result(resource_list, f"generated {context.CONTEXT_FILE} for package {name}")
