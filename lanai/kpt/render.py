"""``kpt fn render``: run every package's pipeline over the package tree.

All resources of the tree are read once, in pre-order (a package's own files, then each
subpackage's subtree, alphabetically), so a package's resources and its subpackages'
are one contiguous scope selected by path. Pipelines then run bottom-up (post-order,
kpt's default) or top-down (``kpt.dev/bfs-rendering``); each sees only its own scope, so
a parent sees its subpackages' resources and a subpackage never sees its parent's.
As in kpt, a function is shown each resource's path relative to the package it belongs
to; paths are made root-relative again when the function returns.
A render is all or nothing: on failure the caller gets the tree it gave, unless the root
Kptfile asks to save what was rendered so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.kpt import fnapi, kptfile, package, resourcelist, yamlio

ERROR_PREFIX = "error rendering package in kpt function pipeline"
RENDERED = "Rendered"
RENDER_SUCCESS = "RenderSuccess"
RENDER_FAILED = "RenderFailed"
FUNCTION_INPUT = "function-input"
LOCAL_CONFIG = "config.kubernetes.io/local-config"


class RenderError(Exception):
    """The render failed; the message starts with :data:`ERROR_PREFIX`."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{ERROR_PREFIX}: {detail}")


@dataclass(frozen=True)
class RenderResult:
    ok: bool
    tree: package.PackageTree
    results: dict[str, Any] = field(default_factory=dict)
    """A ``kpt.dev/v1`` FunctionResultList: one item per function run, in order."""
    error: str = ""


# -- selection ---------------------------------------------------------------------------


def _subset(wanted: dict[str, str] | None, actual: Any) -> bool:
    if not wanted:
        return True
    if not isinstance(actual, dict):
        return False
    return all(str(actual.get(key)) == value and key in actual for key, value in wanted.items())


def matches(selector: kptfile.Selector, item: CommentedMap) -> bool:
    """All fields set in ``selector`` match ``item`` (labels/annotations as subsets)."""
    metadata = item.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    checks = (
        (selector.api_version, item.get("apiVersion")),
        (selector.kind, item.get("kind")),
        (selector.name, metadata.get("name")),
        (selector.namespace, metadata.get("namespace")),
    )
    if any(want is not None and want != have for want, have in checks):
        return False
    return _subset(selector.labels, metadata.get("labels")) and _subset(
        selector.annotations, metadata.get("annotations")
    )


def is_selected(function: kptfile.Function, item: CommentedMap) -> bool:
    """Selectors are OR-ed (none means all); an item matching any exclude is left out."""
    if function.selectors and not any(matches(s, item) for s in function.selectors):
        return False
    return not (function.exclude and any(matches(s, item) for s in function.exclude))


# -- package order -----------------------------------------------------------------------


def preorder(tree: package.PackageTree, root: str = "") -> list[str]:
    order = [root]
    for sub in package.direct_subpackages(tree, root):
        order.extend(preorder(tree, sub))
    return order


def postorder(tree: package.PackageTree, root: str = "") -> list[str]:
    order: list[str] = []
    for sub in package.direct_subpackages(tree, root):
        order.extend(postorder(tree, sub))
    order.append(root)
    return order


def breadth_first(tree: package.PackageTree, root: str = "") -> list[str]:
    order: list[str] = []
    queue = [root]
    while queue:
        current = queue.pop(0)
        order.append(current)
        queue.extend(package.direct_subpackages(tree, current))
    return order


def where(pkg: str) -> str:
    """How messages name a package of the tree."""
    return f"package {pkg!r}" if pkg else "root package"


# -- the run -----------------------------------------------------------------------------


def _step(function: kptfile.Function, exit_code: int) -> dict[str, Any]:
    step: dict[str, Any] = {}
    if function.name:
        step["name"] = function.name
    if function.image:
        step["image"] = function.resolved_image
    else:
        step["exec"] = function.exec
    step["exitCode"] = exit_code
    return step


class _Run:
    """One render's mutable state: the resources, and the record of functions run."""

    def __init__(self, tree: package.PackageTree, runtime: fnapi.FunctionRuntime) -> None:
        self.tree = tree
        self.runtime = runtime
        self.items: list[CommentedMap] = []
        self.files: list[str] = []
        self.results: list[dict[str, Any]] = []
        self.mutation_steps: list[dict[str, Any]] = []
        self.validation_steps: list[dict[str, Any]] = []
        self.packages: list[str] = []
        self.read: dict[str, list[CommentedMap]] = {}
        self.as_read: set[int] = set()
        """ids of the items as read (kept alive by ``read``)."""
        self.share_produced = False

    def execute(self, root_kptfile: kptfile.Kptfile) -> None:
        kptfiles = {}
        self.packages = package.packages(self.tree)
        for pkg in self.packages:
            path = package.join(pkg, kptfile.KPTFILE)
            try:
                kptfiles[pkg] = kptfile.parse(self.tree[path], path=path)
            except kptfile.KptfileError as error:
                raise RenderError(str(error)) from error
        for pkg in preorder(self.tree):
            self.files.extend(package.resource_files(self.tree, pkg))
        try:
            self.items = resourcelist.read_resources(self.tree, self.files)
        except resourcelist.ResourceError as error:
            raise RenderError(str(error)) from error
        # Functions get copies (see outgoing), so these stay as read: write() compares
        # against them to keep untouched files' bytes.
        self.read = resourcelist.by_file(self.items)
        self.as_read = {id(item) for item in self.items}
        self.share_produced = root_kptfile.annotation(kptfile.SAVE_ON_RENDER_FAILURE) != "true"
        bfs = root_kptfile.annotation(kptfile.BFS_RENDERING) == "true"
        for pkg in breadth_first(self.tree) if bfs else postorder(self.tree):
            for function in kptfiles[pkg].mutators:
                self.run_function(pkg, function, mutate=True)
            for function in kptfiles[pkg].validators:
                self.run_function(pkg, function, mutate=False)

    def scope(self, pkg: str) -> list[int]:
        """Positions of the items that belong to ``pkg`` or its subpackages."""
        return [
            number
            for number, item in enumerate(self.items)
            if package.is_inside(resourcelist.resource_path(item) or "", pkg)
        ]

    def function_config(
        self, pkg: str, function: kptfile.Function, scope: list[int]
    ) -> CommentedMap | None:
        if function.config_map is not None:
            config = CommentedMap()
            config["apiVersion"] = "v1"
            config["kind"] = "ConfigMap"
            config["metadata"] = CommentedMap(
                name=FUNCTION_INPUT, annotations=CommentedMap({LOCAL_CONFIG: "true"})
            )
            config["data"] = CommentedMap((str(k), str(v)) for k, v in function.config_map.items())
            return config
        if function.config_path is None:
            return None
        path = package.normalize(package.join(pkg, function.config_path))
        if path is None or not package.is_inside(path, pkg):
            raise RenderError(
                f"{where(pkg)}: configPath {function.config_path!r} of function "
                f"{function.display} must be a path inside the package"
            )
        found = [self.items[n] for n in scope if resourcelist.resource_path(self.items[n]) == path]
        if not found and path in self.tree:
            try:
                found, _ = yamlio.load_file(path, self.tree[path])
            except yamlio.YamlIOError as error:
                raise RenderError(f"{where(pkg)}: configPath {error}") from error
        if len(found) != 1:
            problem = "does not exist" if not found else "must hold exactly one KRM object"
            raise RenderError(
                f"{where(pkg)}: configPath {function.config_path!r} of function "
                f"{function.display} {problem}"
            )
        config = yamlio.clone(found[0])
        resourcelist.strip_internal(config)
        return config  # type: ignore[no-any-return]

    def record(
        self,
        function: kptfile.Function,
        mutate: bool,
        exit_code: int,
        stderr: str,
        results: list[dict[str, Any]],
    ) -> None:
        item: dict[str, Any] = {}
        if function.image:
            item["image"] = function.resolved_image
        else:
            item["exec"] = function.exec
        if stderr:
            item["stderr"] = stderr
        item["exitCode"] = exit_code
        if results:
            item["results"] = results
        self.results.append(item)
        (self.mutation_steps if mutate else self.validation_steps).append(
            _step(function, exit_code)
        )

    def owner(self, path: str) -> str:
        """The innermost package whose directory holds ``path``."""
        found = ""
        for candidate in self.packages:
            if candidate and path.startswith(candidate + "/") and len(candidate) > len(found):
                found = candidate
        return found

    def outgoing(self, item: CommentedMap, *, mutate: bool) -> tuple[CommentedMap, str]:
        """The item for a function, its path relative to its own package (as kpt shows it).

        A copy, unless a mutator gets an item an earlier function produced: nothing else
        holds that one, and if the function fails the render fails and writes nothing.
        Items as read stay untouched (write() compares with them), validators only ever
        see copies, and with save-on-render-failure every function gets copies, so the
        partial output is exactly that of the functions that succeeded.
        """
        path = resourcelist.resource_path(item) or ""
        owner = self.owner(path)
        shared = mutate and self.share_produced and id(item) not in self.as_read
        copy = item if shared else yamlio.clone(item)
        relative = path[len(owner) + 1 :] if owner else path
        resourcelist.set_location(copy, relative, resourcelist.resource_index(item))
        return copy, owner

    def run_function(self, pkg: str, function: kptfile.Function, *, mutate: bool) -> None:
        scope = self.scope(pkg)
        config = self.function_config(pkg, function, scope)
        chosen = [n for n in scope if is_selected(function, self.items[n])]
        selected = [self.items[n] for n in chosen]
        sent: list[CommentedMap] = []
        owners: dict[str | None, str] = {}
        before: dict[str | None, tuple[str | None, str | None]] = {}
        for item in selected:
            copy, owner = self.outgoing(item, mutate=mutate)
            sent.append(copy)
            key = resourcelist.resource_id(item)
            owners[key] = owner
            index = resourcelist.resource_index(copy)
            before[key] = (resourcelist.resource_path(copy), None if index is None else str(index))
        request = resourcelist.build(sent, config)
        ref = fnapi.FunctionRef(
            image=function.resolved_image, exec=function.exec, name=function.name, package=pkg
        )
        try:
            output = self.runtime.evaluate(ref, request)
        except fnapi.FunctionLimitExceeded as error:  # its message names the function
            self.record(function, mutate, error.exit_code or 1, error.stderr, error.results)
            raise RenderError(f"{where(pkg)}: {error.message}") from error
        except fnapi.FunctionError as error:
            self.record(function, mutate, error.exit_code or 1, error.stderr, error.results)
            raise RenderError(
                f"{where(pkg)}: function {function.display} failed: {error.message}"
            ) from error
        except Exception as error:  # a runtime bug must not escape as a crash of render
            self.record(function, mutate, 1, str(error), [])
            raise RenderError(
                f"{where(pkg)}: function {function.display} could not run: {error}"
            ) from error
        results = resourcelist.results_of(output.resource_list)
        self.record(function, mutate, output.exit_code, output.stderr, results)
        if output.exit_code != 0:
            detail = output.stderr.strip() or f"exit code {output.exit_code}"
            raise RenderError(f"{where(pkg)}: function {function.display} failed: {detail}")
        if not mutate:
            return
        try:
            produced = resourcelist.items_of(output.resource_list)
            resourcelist.restore_comments(selected, produced)
            for item in produced:
                key = resourcelist.resource_id(item)
                path_before, index_before = before.get(key, (None, None))
                resourcelist.reconcile_location(item, path_before, index_before)
                self.locate(item, owners.get(key, pkg), pkg)
        except resourcelist.ResourceError as error:
            raise RenderError(f"{where(pkg)}: function {function.display}: {error}") from error
        self.replace(scope, chosen, produced)
        self.check_unique(pkg, function)

    def locate(self, item: CommentedMap, owner: str, pkg: str) -> None:
        """Make the item's path root-relative again (generated items default into ``pkg``);
        refuse one that leaves ``pkg``."""
        path = resourcelist.resource_path(item)
        if path is None:
            full = resourcelist.default_path(item, pkg)
        elif path.startswith("/") or "\\" in path:
            raise resourcelist.ResourceError(
                f"resource {resourcelist.describe(item)} has path {path!r} which is outside "
                f"{where(pkg)}"
            )
        else:
            full = package.join(owner, path)
        resourcelist.set_location(item, full, resourcelist.resource_index(item))
        cleaned = resourcelist.place(item, pkg)
        if cleaned != full:
            resourcelist.set_location(item, cleaned, resourcelist.resource_index(item))

    def replace(self, scope: list[int], chosen: list[int], produced: list[CommentedMap]) -> None:
        """Put ``produced`` where the first chosen item was (or after the scope)."""
        anchor = chosen[0] if chosen else (scope[-1] + 1 if scope else len(self.items))
        dropped = set(chosen)
        before = [item for n, item in enumerate(self.items[:anchor]) if n not in dropped]
        after = [item for n, item in enumerate(self.items[anchor:], anchor) if n not in dropped]
        self.items = [*before, *produced, *after]

    def check_unique(self, pkg: str, function: kptfile.Function) -> None:
        seen: set[tuple[str | None, int]] = set()
        for item in self.items:
            index = resourcelist.resource_index(item)
            if index is None:
                continue
            key = (resourcelist.resource_path(item), index)
            if key in seen:
                raise RenderError(
                    f"{where(pkg)}: function {function.display} produced two resources "
                    f"with path {key[0]!r} and index {index}"
                )
            seen.add(key)

    def written(self) -> package.PackageTree:
        if not self.mutation_steps and not self.validation_steps:
            return dict(self.tree)  # nothing ran: every file keeps its bytes
        try:
            return resourcelist.write_resources(
                self.tree, self.items, owned_files=self.files, read=self.read
            )
        except resourcelist.ResourceError as error:
            raise RenderError(str(error)) from error

    def render_status(self, error: str = "") -> dict[str, Any]:
        status: dict[str, Any] = {}
        if self.mutation_steps:
            status["mutationSteps"] = self.mutation_steps
        if self.validation_steps:
            status["validationSteps"] = self.validation_steps
        if error:
            status["errorSummary"] = error
        return status

    def result_list(self, exit_code: int) -> dict[str, Any]:
        return {
            "apiVersion": "kpt.dev/v1",
            "kind": "FunctionResultList",
            "metadata": {"name": "fnresults"},
            "exitCode": exit_code,
            "items": self.results,
        }


def _with_status(tree: package.PackageTree, render_status: dict[str, Any], error: str) -> None:
    """Record the outcome on the root Kptfile, in place, keeping its formatting."""
    content = tree.get(kptfile.KPTFILE)
    if content is None:
        return
    documents, style = yamlio.load_file(kptfile.KPTFILE, content)
    if len(documents) != 1:
        return
    document = documents[0]
    if error:
        kptfile.set_condition(document, RENDERED, "False", RENDER_FAILED, error)
    else:
        kptfile.set_condition(document, RENDERED, "True", RENDER_SUCCESS)
    kptfile.set_render_status(document, render_status or None)
    if not yamlio.unchanged(content, documents, style, kptfile.KPTFILE):
        tree[kptfile.KPTFILE] = yamlio.dump_documents(documents, style).encode()


def runs_functions(tree: package.PackageTree) -> bool:
    """Whether rendering ``tree`` would run a function: some Kptfile declares one, or
    cannot be read (then the render that reports it may as well run where functions do).
    A tree without functions renders with our own code alone."""
    for pkg in package.packages(tree):
        path = package.join(pkg, kptfile.KPTFILE)
        try:
            found = kptfile.parse(tree[path], path=path)
        except kptfile.KptfileError:
            return True
        if found.mutators or found.validators:
            return True
    return False


def render(
    tree: package.PackageTree, runtime: fnapi.FunctionRuntime, *, package_path: str = ""
) -> RenderResult:
    """Render the package whose root Kptfile is at the root of ``tree``.

    ``package_path`` (the package's place in its repository) only names it in messages.
    Never raises for a bad package or a failing function: see ``RenderResult.ok``.
    """
    original = dict(tree)
    run = _Run(original, runtime)
    root_kptfile: kptfile.Kptfile | None = None
    try:
        if kptfile.KPTFILE not in original:
            raise RenderError(f"no Kptfile at the root of {package_path or 'the package'}")
        try:
            root_kptfile = kptfile.parse(original[kptfile.KPTFILE])
        except kptfile.KptfileError as error:
            raise RenderError(str(error)) from error
        run.execute(root_kptfile)
        rendered = run.written()
        _with_status(rendered, run.render_status(), "")
        return RenderResult(ok=True, tree=rendered, results=run.result_list(0))
    except RenderError as failure:
        message = str(failure)
        if package_path:
            message = message.replace(f"{ERROR_PREFIX}: ", f"{ERROR_PREFIX}: {package_path}: ", 1)
        saved = original
        save = root_kptfile is not None and (
            root_kptfile.annotation(kptfile.SAVE_ON_RENDER_FAILURE) == "true"
        )
        if save:
            try:
                saved = run.written()
                _with_status(saved, run.render_status(message), message)
            except (RenderError, yamlio.YamlIOError):
                saved = original
        return RenderResult(ok=False, tree=saved, results=run.result_list(1), error=message)
