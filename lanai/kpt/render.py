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

import json
import posixpath
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.kpt import (
    errorchain,
    fnapi,
    goyaml,
    kptfile,
    kptoutput,
    package,
    resourcelist,
    yamlio,
)

ERROR_PREFIX = "error rendering package in kpt function pipeline"
RENDERED = "Rendered"
RENDER_SUCCESS = "RenderSuccess"
RENDER_FAILED = "RenderFailed"
FUNCTION_INPUT = "function-input"
LOCAL_CONFIG = "config.kubernetes.io/local-config"


RENDER_ONLY = "pkg.render"
"""The stage of an error kpt's pipeline step returns unwrapped (a Kptfile check, the KRM
check of a package without functions): only the package walk wraps it."""

ALREADY_HANDLED = "already handled error"
"""kpt's stand-in for a function failure whose output was already shown."""


class RenderError(Exception):
    """The render failed; the message starts with :data:`ERROR_PREFIX`.

    ``reason`` is what kpt would report (its innermost error), ``handled`` says kpt
    would print nothing more (a function that exited non-zero: its output is shown),
    ``kind`` how kpt's CLI words it: ``plain`` (``Error: reason``), ``kptfile`` (a
    Kptfile that cannot be read) or ``invalid`` (kpt's "Kptfile is invalid" block).
    ``pkg`` is the package whose pipeline failed, ``stage`` kpt's operation there.
    """

    def __init__(
        self,
        detail: str,
        *,
        reason: str | None = None,
        handled: bool = False,
        kind: str = "plain",
        pkg: str | None = None,
        stage: str = "pipeline.run",
    ) -> None:
        super().__init__(f"{ERROR_PREFIX}: {detail}")
        self.reason = detail if reason is None else reason
        self.handled = handled
        self.kind = kind
        self.pkg = pkg
        self.stage = stage
        self.origin = pkg
        """The package whose walk step met the error (a subpackage's parent, for a
        subpackage Kptfile kpt could not read or found invalid)."""


@dataclass(frozen=True)
class RenderResult:
    ok: bool
    tree: package.PackageTree
    results: dict[str, Any] = field(default_factory=dict)
    """A ``kpt.dev/v1`` FunctionResultList: one item per function run, in order."""
    error: str = ""
    log: str = ""
    """What ``kpt fn render`` prints on stderr while it runs (``[RUNNING]``, ``[PASS]``)."""
    cli_error: str | None = None
    """What kpt prints after the log when the render fails (``None``: nothing more)."""
    summary: str = ""
    """kpt's closing line (``Successfully executed ...``), when it prints one."""
    condition_message: str = ""
    """The ``Rendered`` condition's message kpt writes into the Kptfile on failure."""
    output: str = ""
    """The rendered resources as the ResourceList kpt writes for ``-o`` (when asked)."""


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


def go_duration(seconds: float) -> str:
    """A duration truncated to 100ms as Go's ``%v`` prints it: ``0s``, ``300ms``, ``1.2s``."""
    tenths = int(seconds * 10)
    if tenths == 0:
        return "0s"
    if tenths < 10:
        return f"{tenths * 100}ms"
    minutes, rest = divmod(tenths, 600)
    secs = f"{rest // 10}" + (f".{rest % 10}" if rest % 10 else "") + "s"
    return f"{minutes}m{secs}" if minutes else secs


def one_line(title: str, lines: list[str]) -> str:
    """kpt's single-line list: ``Title: a, b`` with each line's newlines flattened."""
    return f"{title}: " + ", ".join(line.replace("\n", " ").strip() for line in lines)


def result_text(item: dict[str, Any]) -> str:
    """A structured result as kpt prints it: ``[severity] ref field: message``."""
    text = f"[{item.get('severity') or 'info'}]"
    ref = item.get("resourceRef")
    if isinstance(ref, dict):
        parts = [str(ref[k]) for k in ("apiVersion", "kind", "namespace", "name") if ref.get(k)]
        if parts:
            text += " " + "/".join(parts)
    where = item.get("field")
    if isinstance(where, dict):
        text += f" {where.get('path', '')}"
    return f"{text}: {item.get('message', '')}"


def kpt_results(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Function results as kpt keeps them: its ResultItem fields only, in its order, with
    the legacy ``resourceRef.metadata`` and ``field.suggestedValue`` forms lifted."""
    converted = []
    for item in raw:
        problems: list[str] = []
        decoded = goyaml.decode(yamlio.from_plain(item), goyaml.RESULT_ITEM, problems) or {}
        ref = item.get("resourceRef")
        if isinstance(ref, dict) and isinstance(ref.get("metadata"), dict):
            meta = ref["metadata"]
            lifted = dict(decoded.get("resourceRef") or {})
            if meta.get("name"):
                lifted["name"] = str(meta["name"]).strip()
            if meta.get("namespace") and str(meta["namespace"]).strip() not in ("", "''"):
                lifted["namespace"] = str(meta["namespace"]).strip()
            decoded["resourceRef"] = lifted
        where = item.get("field")
        if isinstance(where, dict) and where.get("suggestedValue") is not None:
            lifted = dict(decoded.get("field") or {})
            lifted["proposedValue"] = str(where["suggestedValue"]).strip()
            decoded["field"] = lifted
        converted.append(decoded)
    return converted


def _is_kustomization(item: Mapping[str, Any]) -> bool:
    path = resourcelist.resource_path(item) or ""
    if path.rsplit("/", 1)[-1] in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        return True
    api = str(item.get("apiVersion") or "")
    return api.split("/", 1)[0] == "kustomize.config.k8s.io" and item.get("kind") == "Kustomization"


def krm_problem(item: Any) -> str | None:
    """Why kpt would not take ``item`` as a KRM resource, or ``None``."""
    if not isinstance(item, dict):
        return "resource must have `apiVersion`, `kind`, and `name`"
    if _is_kustomization(item):
        return None
    if not item.get("apiVersion"):
        return "resource must have `apiVersion`"
    if not item.get("kind"):
        return "resource must have `kind`"
    metadata = item.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        return "resource must have `metadata.name`"
    return None


def check_krm(items: list[CommentedMap], relative_to: Any) -> str | None:
    """kpt's AreKRM: the first item that is not KRM, as ``path: reason``."""
    for item in items:
        problem = krm_problem(item)
        if problem:
            return f"{relative_to(item)}: {problem}"
    return None


class _Run:
    """One render's mutable state: the resources, and the record of functions run."""

    def __init__(
        self, tree: package.PackageTree, runtime: fnapi.FunctionRuntime, root_name: str
    ) -> None:
        self.tree = tree
        self.runtime = runtime
        self.root_name = root_name
        self.items: list[CommentedMap] = []
        self.files: list[str] = []
        self.results: list[dict[str, Any]] = []
        self.mutation_steps: list[dict[str, Any]] = []
        self.validation_steps: list[dict[str, Any]] = []
        self.packages: list[str] = []
        self.visited: list[str] = []
        self.log: list[str] = []
        self.executed = 0
        self.bfs = False
        self.read: dict[str, list[CommentedMap]] = {}
        self.as_read: set[int] = set()
        """ids of the items as read (kept alive by ``read``)."""
        self.share_produced = False
        self.images: dict[int, str] = {}
        """Each image step's resolved image (kpt records the resolved one)."""
        self.load = yamlio.KptfileLoads()
        self.shown_root: str | None = None

    def display(self, pkg: str) -> str:
        return f"{self.root_name}/{pkg}" if pkg else self.root_name

    def fail(self, pkg: str, detail: str, **kwargs: Any) -> RenderError:
        return RenderError(f"{where(pkg)}: {detail}", pkg=pkg, **kwargs)

    def execute(self, root_kptfile: kptfile.Kptfile) -> None:
        self.packages = package.packages(self.tree)
        kptfiles = {"": root_kptfile}
        problem = validate_pipeline(self.tree, "", root_kptfile, kptfile.KPTFILE)
        if problem:
            raise RenderError(
                f"{kptfile.KPTFILE}: {problem}",
                reason=problem,
                kind="invalid",
                pkg="",
                stage="pkg.read",
            )
        unread: dict[str, RenderError] = {}
        for pkg in self.packages[1:]:
            path = package.join(pkg, kptfile.KPTFILE)
            try:
                kptfiles[pkg] = read_kptfile(self.tree, pkg, self.load)
                problem = validate_pipeline(self.tree, pkg, kptfiles[pkg], path)
            except RenderError as error:
                unread[pkg] = error
                continue
            if problem:
                unread[pkg] = RenderError(
                    f"{path}: {problem}", reason=problem, kind="invalid", pkg=pkg, stage="pkg.read"
                )
        # a package whose Kptfile cannot be read stops the walk before its files are read
        broken = [pkg for pkg, error in unread.items() if error.kind != "invalid"]
        for pkg in preorder(self.tree):
            if not any(package.is_inside(pkg, other) for other in broken):
                self.files.extend(package.resource_files(self.tree, pkg))
        try:
            self.items = resourcelist.read_resources(self.tree, self.files, load=self.load)
        except resourcelist.ResourceError as error:
            raise RenderError(str(error), stage="pkg.readResources", pkg="") from error
        # Functions get copies (see outgoing), so these stay as read: write() compares
        # against them to keep untouched files' bytes.
        self.read = resourcelist.by_file(self.items)
        self.as_read = {id(item) for item in self.items}
        self.share_produced = root_kptfile.annotation(kptfile.SAVE_ON_RENDER_FAILURE) != "true"
        self.bfs = root_kptfile.annotation(kptfile.BFS_RENDERING) == "true"
        if self.bfs:
            # kpt finds every package (reading each Kptfile) before any pipeline runs
            order = breadth_first(self.tree)
            for pkg in order:
                self.visited.append(pkg)
                children = package.direct_subpackages(self.tree, pkg)
                self.refuse_unread(pkg, children, unread)
            for pkg in order:
                self.run_pipeline(pkg, kptfiles[pkg])
        else:
            self.hydrate("", kptfiles, unread)

    def hydrate(
        self, pkg: str, kptfiles: dict[str, kptfile.Kptfile], unread: dict[str, RenderError]
    ) -> None:
        """kpt's depth-first walk: a package's subpackages are found (their Kptfiles
        read), then each is checked and rendered in turn, then its own pipeline runs."""
        self.visited.append(pkg)
        children = package.direct_subpackages(self.tree, pkg)
        self.refuse_unread(pkg, children, unread, validated=False)
        for child in children:
            self.refuse_unread(pkg, [child], unread, read=False)
            self.hydrate(child, kptfiles, unread)
        self.run_pipeline(pkg, kptfiles[pkg])

    @staticmethod
    def refuse_unread(
        pkg: str,
        children: list[str],
        unread: dict[str, RenderError],
        *,
        read: bool = True,
        validated: bool = True,
    ) -> None:
        """Raise the first subpackage Kptfile problem kpt meets at ``pkg``: one it cannot
        read (``read``, met while listing the subpackages) before an invalid one
        (``validated``, met as each subpackage is taken up)."""
        if read:
            for child in children:
                error = unread.get(child)
                if error is not None and error.kind != "invalid":
                    error.stage = "pkg.Subpackages"
                    error.origin = pkg
                    raise error
        if validated:
            for child in children:
                error = unread.get(child)
                if error is not None:
                    error.origin = pkg
                    raise error

    def run_pipeline(self, pkg: str, declared: kptfile.Kptfile) -> None:
        self.log.append(f"Package: {_go_quote(self.display(pkg))}\n")
        if not declared.mutators and not declared.validators:
            problem = check_krm([self.items[n] for n in self.scope(pkg)], self.relative)
            if problem:
                message = f"input resource list must contain only KRM resources: {problem}"
                raise self.fail(pkg, message, reason=message, stage=RENDER_ONLY)
            return
        problem = missing_configs(self.tree, pkg, declared)
        if problem:
            raise self.fail(pkg, problem, reason=problem, kind="invalid", stage=RENDER_ONLY)
        prepared = []
        for function in declared.mutators:
            try:
                prepared.append(self.prepare(pkg, function, _generates_context(declared)))
            except RenderError as error:
                self.mutation_steps.append(
                    _pre_exec_step(function, error.reason, self.image(function))
                )
                raise
        for function, config in zip(declared.mutators, prepared, strict=True):
            self.run_function(pkg, function, config, mutate=True)
        for function in declared.validators:
            try:
                config = self.prepare(pkg, function)
            except RenderError as error:
                self.validation_steps.append(
                    _pre_exec_step(function, error.reason, self.image(function))
                )
                raise
            self.run_function(pkg, function, config, mutate=False)

    def prepare(
        self, pkg: str, function: kptfile.Function, generated: bool = False
    ) -> CommentedMap | None:
        """What kpt checks before any function of a pipeline runs: exec allowed, image
        resolved, functionConfig readable."""
        if function.exec and not getattr(self.runtime, "allow_exec", True):
            raise self.fail(pkg, EXEC_NOT_ALLOWED, reason=EXEC_NOT_ALLOWED)
        if function.image:
            self.images[id(function)] = self.resolve(pkg, function)
        if generated and function.config_path is not None:
            return None  # may be generated by an earlier step; read when the step runs
        return self.function_config(pkg, function, self.scope(pkg))

    def resolve(self, pkg: str, function: kptfile.Function) -> str:
        """The image a step runs: kpt's short-name expansion and tag resolution."""
        resolver = getattr(self.runtime, "resolve_image", None)
        if function.tag and callable(resolver):
            try:
                image = (function.image or "").strip()
                if "/" not in image:
                    image = kptfile.IMAGE_PREFIX + image
                return str(resolver(image, function.tag))
            except ValueError as error:
                raise self.fail(pkg, str(error), reason=str(error)) from error
        return function.resolved_image or ""

    def image(self, function: kptfile.Function) -> str | None:
        if not function.image:
            return None
        return self.images.get(id(function)) or function.resolved_image

    def relative(self, item: CommentedMap) -> str:
        path = resourcelist.resource_path(item) or ""
        owner = self.owner(path)
        return path[len(owner) + 1 :] if owner else path

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
            raise self.fail(
                pkg,
                f"configPath {function.config_path!r} of function {function.display} "
                "must be a path inside the package",
                kind="invalid",
            )
        found = [self.items[n] for n in scope if resourcelist.resource_path(self.items[n]) == path]
        if len(found) != 1:
            problem = "does not exist" if not found else "must hold exactly one KRM object"
            raise self.fail(
                pkg,
                f"configPath {function.config_path!r} of function {function.display} {problem}",
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
        """One function run, in kpt's results list and in the Kptfile's render status."""
        item: dict[str, Any] = {}
        if function.image:
            item["image"] = self.image(function)
        else:
            item["exec"] = function.exec
        if stderr:
            item["stderr"] = stderr
        item["exitCode"] = exit_code
        if results:
            item["results"] = results
        self.results.append(item)
        step = _step_base(function, self.image(function))
        if stderr:
            step["stderr"] = stderr
        step["exitCode"] = exit_code
        if results:
            step["results"] = results
            errors = [r for r in results if r.get("severity") == "error"]
            if errors:
                step["errorResults"] = errors
        (self.mutation_steps if mutate else self.validation_steps).append(step)

    def record_error(self, function: kptfile.Function, mutate: bool, message: str) -> None:
        """A function that failed without a result kpt keeps (bad output, bad paths)."""
        (self.mutation_steps if mutate else self.validation_steps).append(
            _pre_exec_step(function, message, self.image(function))
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

    def run_function(
        self,
        pkg: str,
        function: kptfile.Function,
        config: CommentedMap | None,
        *,
        mutate: bool,
    ) -> None:
        scope = self.scope(pkg)
        if function.config_path is not None:
            config = self.function_config(pkg, function, scope)
        chosen = [n for n in scope if is_selected(function, self.items[n])]
        selected = [self.items[n] for n in chosen]
        name = self.image(function) if function.image else function.exec
        running = f"[RUNNING] {_go_quote(name or '')}"
        if function.selectors or function.exclude:
            running += f" on {len(selected)} resource(s)"
        self.log.append(running + "\n")
        started = time.monotonic()
        problem = check_krm(selected, self.relative)
        if problem:
            message = f"input resource list must contain only KRM resources: {problem}"
            self.log.append(f"[FAIL] {_go_quote(name or '')} in {go_duration(0)}\n")
            self.record_error(function, mutate, message)
            raise self.fail(pkg, message, reason=message)
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
            image=self.image(function), exec=function.exec, name=function.name, package=pkg
        )
        try:
            output = self.runtime.evaluate(ref, request)
        except fnapi.FunctionNotFound as error:
            self.log.append(f"[FAIL] {_go_quote(name or '')} in {go_duration(0)}\n")
            self.record_error(function, mutate, error.message)
            raise self.fail(pkg, error.message, reason=error.message) from error
        except fnapi.FunctionError as error:
            results = kpt_results(error.results)
            self.record(function, mutate, error.exit_code or 1, error.stderr, results)
            if isinstance(error, fnapi.FunctionLimitExceeded):
                # Stopped by us, not an exit of its own: kpt's runtime errors end in "Error:"
                self.log.append(
                    f"[FAIL] {_go_quote(name or '')} in {go_duration(time.monotonic() - started)}\n"
                )
                raise self.fail(pkg, error.message, reason=error.message) from error
            self.failed(name or "", started, results, error.stderr, error.exit_code or 1)
            detail = f"function {function.display} failed: {error}"
            raise self.fail(pkg, detail, reason=ALREADY_HANDLED, handled=True) from error
        except Exception as error:  # a runtime bug must not escape as a crash of render
            self.record(function, mutate, 1, str(error), [])
            self.failed(name or "", started, [], str(error), 1)
            raise self.fail(
                pkg,
                f"function {function.display} could not run: {error}",
                reason=ALREADY_HANDLED,
                handled=True,
            ) from error
        results = kpt_results(resourcelist.results_of(output.resource_list))
        if output.exit_code != 0:
            self.record(function, mutate, output.exit_code, output.stderr, results)
            self.failed(name or "", started, results, output.stderr, output.exit_code)
            detail = output.stderr.strip() or f"exit code {output.exit_code}"
            raise self.fail(
                pkg,
                f"function {function.display} failed: {detail}",
                reason=ALREADY_HANDLED,
                handled=True,
            )
        try:
            produced = resourcelist.items_of(output.resource_list)
            if mutate:
                resourcelist.restore_comments(selected, produced)
            self.check_paths(produced, owners, before, pkg)
            if mutate:
                for item in produced:
                    key = resourcelist.resource_id(item)
                    if key in before:
                        resourcelist.settle_head_comment(item)
                    path_before, index_before = before.get(key, (None, None))
                    resourcelist.reconcile_location(item, path_before, index_before)
                    self.locate(item, owners.get(key, pkg), pkg)
        except resourcelist.ResourceError as error:
            self.log.append(
                f"[FAIL] {_go_quote(name or '')} in {go_duration(time.monotonic() - started)}\n"
            )
            self.record_error(function, mutate, str(error))
            raise self.fail(pkg, str(error), reason=str(error)) from error
        self.record(function, mutate, output.exit_code, output.stderr, results)
        self.executed += 1
        self.log.append(
            f"[PASS] {_go_quote(name or '')} in {go_duration(time.monotonic() - started)}\n"
        )
        if results:
            self.log.append(one_line("[Results]", [result_text(r) for r in results]) + "\n")
        if output.stderr:
            self.log.append(" " + one_line("Stderr", output.stderr.split("\n")))
        if not mutate:
            return
        self.replace(scope, chosen, produced)

    def failed(
        self, name: str, started: float, results: list[dict[str, Any]], stderr: str, code: int
    ) -> None:
        """kpt's lines for a function that exited non-zero."""
        self.log.append(f"[FAIL] {_go_quote(name)} in {go_duration(time.monotonic() - started)}\n")
        if results:
            self.log.append(one_line("[Results]", [result_text(r) for r in results]) + "\n")
        if stderr:
            self.log.append(" " + one_line("Stderr", stderr.split("\n")))
        self.log.append(f"  Exit code: {code}\n\n")

    def check_paths(
        self,
        produced: list[CommentedMap],
        owners: dict[str | None, str],
        before: dict[str | None, tuple[str | None, str | None]],
        pkg: str,
    ) -> None:
        """kpt's path invariants on a function's output: no path outside the package, no
        two resources of a package at the same path and index."""
        seen: set[tuple[str, str, str]] = set()
        for item in produced:
            key = resourcelist.resource_id(item)
            owner = owners.get(key, pkg)
            path = resourcelist.resource_path(item)
            if path is None:
                path = before.get(key, (None, None))[0]
            index = resourcelist.resource_index(item)
            if index is None:
                raw = before.get(key, (None, None))[1]
                index_text = raw if raw is not None else "0"
            else:
                index_text = str(index)
            if path is None:
                continue
            cleaned = posixpath.normpath(path)
            if cleaned.startswith("../") or cleaned == "..":
                raise resourcelist.ResourceError(
                    "function must not modify resources outside of package: "
                    f"resource has path {path}"
                )
            entry = (owner, cleaned, index_text)
            if entry in seen:
                raise resourcelist.ResourceError(
                    f'resource at path "{cleaned}" and index "{index_text}" already exists'
                )
            seen.add(entry)

    def locate(self, item: CommentedMap, owner: str, pkg: str) -> None:
        """Make the item's path root-relative again (generated items default into ``pkg``)."""
        path = resourcelist.resource_path(item)
        if path is None:
            full = resourcelist.default_path(item, pkg)
        else:
            if "\\" in path:
                raise resourcelist.ResourceError(
                    f"resource {resourcelist.describe(item)} has path {path!r} which is outside "
                    f"{where(pkg)}"
                )
            full = package.join(owner, path.lstrip("/"))
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

    def written(self) -> package.PackageTree:
        if not self.mutation_steps and not self.validation_steps:
            return dict(self.tree)  # nothing ran: every file keeps its bytes
        try:
            return resourcelist.write_resources(
                self.tree, self.items, owned_files=self.files, read=self.read
            )
        except resourcelist.ResourceError as error:
            raise RenderError(str(error)) from error

    def written_with_status(self) -> package.PackageTree:
        """The rendered tree with the root Kptfile's status recorded on success.

        kpt writes the Kptfile resource and then reads it back into its Go struct to
        record the status; when the rendered Kptfile resource decodes, that struct is
        taken from it directly (the Go text is written once, not written, read and
        written again)."""
        status = self.render_status(False)
        found = [
            n for n, item in enumerate(self.items) if resourcelist.resource_path(item) == "Kptfile"
        ]
        read = self.read.get(kptfile.KPTFILE) or []
        if (self.mutation_steps or self.validation_steps) and len(found) == 1 and len(read) == 1:
            text = _status_text(self.items[found[0]], status)
            if text is not None:
                others = [item for n, item in enumerate(self.items) if n != found[0]]
                owned = [f for f in self.files if f != kptfile.KPTFILE]
                try:
                    tree = resourcelist.write_resources(
                        self.tree, others, owned_files=owned, read=self.read
                    )
                except resourcelist.ResourceError as error:
                    raise RenderError(str(error)) from error
                tree[kptfile.KPTFILE] = text.encode()
                return tree
        rendered = self.written()
        _with_status(rendered, status, None, self.load)
        return rendered

    def output(self) -> str:
        """The rendered resources as kpt's ``-o`` writes them: one ResourceList, each
        resource with kpt's reader annotations (its source document's list indentation
        recorded as kpt's reader recorded it)."""
        origins: dict[str | None, tuple[str, int]] = {}
        for path, items in self.read.items():
            for item in items:
                index = resourcelist.resource_index(item)
                origins[resourcelist.resource_id(item)] = (path, index or 0)
        indents = kptoutput.seqindents(self.tree, self.read.keys())
        formed = []
        for item in self.items:
            origin = origins.get(resourcelist.resource_id(item))
            indent = indents.get(origin) if origin is not None else None
            formed.append(kptoutput.kpt_form(item, indent))
        return kptoutput.wrap(formed)

    def render_status(self, failed: bool) -> dict[str, Any] | None:
        if not self.mutation_steps and not self.validation_steps:
            return None
        status: dict[str, Any] = {}
        if self.mutation_steps:
            status["mutationSteps"] = self.mutation_steps
        if self.validation_steps:
            status["validationSteps"] = self.validation_steps
        if failed:
            lines = []
            for step in [*self.mutation_steps, *self.validation_steps]:
                label = step.get("name") or step.get("image") or step.get("exec") or ""
                if step.get("executionError"):
                    lines.append(f"{label}: {step['executionError']}")
                elif step.get("exitCode"):
                    lines.append(f"{label}: exit code {step['exitCode']}")
            if lines:
                status["errorSummary"] = "\n".join(lines)
        return status

    def condition_message(self, error: RenderError) -> str:
        """The message kpt's error chain makes for the Rendered condition."""
        return self._chain(error).replace("{root}", ".")

    def _chain(self, error: RenderError) -> str:
        pkg = error.pkg if error.pkg is not None else ""
        if error.stage == "pkg.read" and not pkg:
            return f"pkg.render: pkg {self.ref(pkg)}: pkg.read: {error.reason}"
        base: errorchain.Link | str
        if error.stage == RENDER_ONLY:
            base = error.reason
        elif error.stage == "pkg.Subpackages":
            detail = _version_text(error.reason) if error.kind == "old" else error.reason
            base = errorchain.Link(
                error.stage,
                self.ref(pkg),
                f"error reading Kptfile at {_go_quote(_ref(pkg))}: {detail}",
            )
        else:
            base = errorchain.Link(error.stage, self.ref(pkg), error.reason)
        if self.bfs:
            return errorchain.text(errorchain.wrap(errorchain.RENDER, self.ref(""), base))
        origin = error.origin if error.origin is not None else pkg
        met = pkg if error.stage == "pkg.read" else origin
        chain = errorchain.wrap(errorchain.RENDER, self.ref(met), base)
        # each package on the way up wraps what its subpackage's walk returned
        level = origin
        while level:
            chain = errorchain.wrap(errorchain.RENDER, self.ref(level), chain)
            level = self.parent(level)
        return errorchain.text(chain)

    def ref(self, pkg: str) -> str:
        """How kpt's messages name package ``pkg``: by its path from the directory kpt
        runs in, or (outside it, where kpt writes an absolute path and then shortens
        the root's to ``.``) relative to ``.``."""
        if self.shown_root is None:
            return _ref(pkg)
        return posixpath.normpath(posixpath.join(self.shown_root, pkg)) if pkg else self.shown_root

    def parent(self, pkg: str) -> str:
        """The package directly above ``pkg``."""
        return self.owner(pkg)

    def result_list(self, exit_code: int) -> dict[str, Any]:
        return {
            "apiVersion": "kpt.dev/v1",
            "kind": "FunctionResultList",
            "metadata": {"name": "fnresults"},
            "exitCode": exit_code,
            "items": self.results,
        }


EXEC_NOT_ALLOWED = "must run with `--allow-exec` option to allow running function binaries"


def _version_text(version: str) -> str:
    """kpt's words for a Kptfile of an old schema version, read as a subpackage."""
    return f"old resource version {_go_quote(version)} found in Kptfile"


def _ref(pkg: str) -> str:
    return f"./{pkg}" if pkg else "."


def quoted(text: str) -> str:
    """A name as kpt's log quotes it (Go's ``%q``)."""
    return _go_quote(text)


def _go_quote(text: str) -> str:
    """Go's ``%q`` for the names kpt prints (printable text, so JSON's escaping agrees)."""
    return json.dumps(text, ensure_ascii=False)


def _step_base(function: kptfile.Function, image: str | None) -> dict[str, Any]:
    step: dict[str, Any] = {}
    if function.name:
        step["name"] = function.name
    if function.image:
        step["image"] = image or function.resolved_image
    else:
        step["exec"] = function.exec
    return step


def _pre_exec_step(function: kptfile.Function, message: str, image: str | None) -> dict[str, Any]:
    step = _step_base(function, image)
    step["executionError"] = message
    step["exitCode"] = 1
    return step


def read_kptfile(
    tree: package.PackageTree, pkg: str, load: yamlio.KptfileLoads | None = None
) -> kptfile.Kptfile:
    """The package's Kptfile, refused as kpt refuses it (old versions, unknown fields)."""
    path = package.join(pkg, kptfile.KPTFILE)
    content = tree[path]
    try:
        documents, _ = load.shared(path, content) if load else yamlio.load_file(path, content)
    except yamlio.YamlIOError as error:
        cause: BaseException | None = error
        while isinstance(cause, yamlio.YamlIOError):
            cause = cause.__cause__
        reason = goyaml.parse_error(cause) if cause is not None else str(error)
        raise RenderError(
            f"{path}: {reason}", reason=reason, kind="kptfile", pkg=pkg, stage="pkg.read"
        ) from error
    if len(documents) == 1 and isinstance(documents[0], dict):
        api_version = str(documents[0].get("apiVersion") or "")
        if api_version in kptfile.DEPRECATED_API_VERSIONS:
            version = api_version.split("/", 1)[1]
            raise RenderError(
                f"{path}: Kptfile has an old version ({version!r}) of the Kptfile schema",
                reason=version,
                kind="old",
                pkg=pkg,
                stage="pkg.read",
            )
        problems: list[str] = []
        decoded = goyaml.decode(documents[0], goyaml.KPTFILE, problems)
        if problems:
            detail = str(goyaml.DecodeError(problems))
            raise RenderError(
                f"{path}: {detail}", reason=detail, kind="kptfile", pkg=pkg, stage="pkg.read"
            )
        invalid = _invalid_functions(decoded or {})
        if invalid:
            raise RenderError(
                f"{path}: {invalid}", reason=invalid, kind="invalid", pkg=pkg, stage="pkg.read"
            )
    try:
        if len(documents) == 1:
            return kptfile.from_mapping(documents[0], path=path)
        return kptfile.parse(content, path=path)
    except kptfile.KptfileError as error:
        raise RenderError(str(error), kind="kptfile", pkg=pkg, stage="pkg.read") from error


def _invalid_functions(decoded: dict[str, Any]) -> str | None:
    """kpt's checks of each pipeline step's shape, in its words."""
    pipeline = decoded.get("pipeline") or {}
    for kind in ("mutators", "validators"):
        for number, function in enumerate(pipeline.get(kind) or []):
            field_name = f"pipeline.{kind}[{number}]"
            if not function.get("image") and not function.get("exec"):
                reason = "must specify a functon (`image` or `exec`) to execute"
                return _invalid(field_name, "", reason)
            if function.get("image") and function.get("exec"):
                reason = "must not specify both `image` and `exec` at the same time"
                return _invalid(field_name, "", reason)
            if function.get("configMap") and function.get("configPath"):
                reason = (
                    "functionConfig must not specify both `configMap` and `configPath` at "
                    "the same time"
                )
                return _invalid(field_name, "", reason)
    return None


def _generates_context(declared: kptfile.Kptfile) -> bool:
    """Whether the pipeline runs the package-context generator, whose output a later
    step may name as its configPath (a Porch convention kpt's file check predates)."""
    return any(
        _image_base_name(f.image or "") in ("generate-kpt-pkg-context", "gen-pkg-context")
        for f in declared.mutators
    )


def _image_base_name(image: str) -> str:
    """kpt's ImageBaseName: the last path element of the repository."""
    repository = image.split("@", 1)[0]
    slash = repository.rfind("/")
    colon = repository.rfind(":")
    if colon > slash:
        repository = repository[:colon]
    return repository.rsplit("/", 1)[-1]


def _invalid(field_name: str, value: str, reason: str) -> str:
    text = f"Kptfile is invalid:\nField: `{field_name}`\n"
    if value:
        text += f"Value: {_go_quote(value)}\n"
    return text + f"Reason: {reason}\n"


def validate_pipeline(
    tree: package.PackageTree, pkg: str, declared: kptfile.Kptfile, path: str
) -> str | None:
    """kpt's Kptfile validation of function config paths, in its words."""
    for kind, functions in (("mutators", declared.mutators), ("validators", declared.validators)):
        for number, function in enumerate(functions):
            config_path = function.config_path
            if config_path is None:
                continue
            field_name = f"pipeline.{kind}[{number}].configPath"
            if not config_path.strip():
                return _invalid(field_name, config_path, "path must not be empty")
            if config_path.startswith("/"):
                return _invalid(field_name, config_path, "path must be relative")
            if ".." in posixpath.normpath(config_path):
                return _invalid(field_name, config_path, "path must not be outside the package")
            full = package.join(pkg, posixpath.normpath(config_path))
            if full not in tree and _generates_context(declared):
                continue  # written by the context generator earlier in the pipeline
            if full not in tree:
                missing = (
                    f"failed to open functionConfig from path {_go_quote(config_path)}: open "
                    f"{posixpath.join('{root}', pkg, config_path)}: no such file or directory"
                )
                return _invalid(field_name, config_path, missing)
            try:
                documents, _ = yamlio.load_file(full, tree[full])
            except yamlio.YamlIOError as error:
                reason = f"failed to read functionConfig {_go_quote(config_path)}: {error}"
                return _invalid(field_name, config_path, reason)
            if len(documents) > 1:
                reason = (
                    f"functionConfig {_go_quote(config_path)} must not contain more than one "
                    f"config, got {len(documents)}"
                )
                return _invalid(field_name, config_path, reason)
            problem = krm_problem(documents[0]) if documents else None
            if problem:
                return _invalid(
                    field_name, config_path, f"functionConfig {_go_quote(config_path)}: {problem}"
                )
    return None


def missing_configs(tree: package.PackageTree, pkg: str, declared: kptfile.Kptfile) -> str | None:
    """kpt's check that each configPath names a resource of the package itself (not of a
    subpackage)."""
    own = set(package.resource_files(tree, pkg))
    problems = []
    for kind, functions in (("mutator", declared.mutators), ("validator", declared.validators)):
        for number, function in enumerate(functions):
            if function.config_path is None:
                continue
            full = package.join(pkg, posixpath.normpath(function.config_path))
            if full in own or (full not in tree and _generates_context(declared)):
                continue
            label = function.name or _image_base_name(function.image or "")
            problems.append(
                _invalid(
                    f"pipeline.{kind}s[{number}].configPath",
                    function.config_path,
                    f"functionConfig resource for {kind} {_go_quote(label)} is missing from path "
                    f"{_go_quote(function.config_path)}, this also occurs if "
                    f"{_go_quote(function.config_path)} is part of a subpackage",
                )
            )
    return "\n".join(problems) or None


def _with_status(
    tree: package.PackageTree,
    render_status: dict[str, Any] | None,
    message: str | None,
    load: yamlio.KptfileLoads,
) -> None:
    """Record the outcome on the root Kptfile as kpt does: the file decoded into kpt's
    Kptfile struct and written again from it (kpt's field order and style, no comments);
    left alone when kpt could not decode it."""
    content = tree.get(kptfile.KPTFILE)
    if content is None:
        return
    try:
        documents, _ = load.shared(kptfile.KPTFILE, content)
    except yamlio.YamlIOError:
        return
    if len(documents) != 1:
        return
    problems: list[str] = []
    decoded = goyaml.decode(documents[0], goyaml.KPTFILE, problems)
    if problems or not isinstance(decoded, dict):
        return
    _set_status(decoded, render_status, message)
    text = goyaml.emit(decoded, goyaml.KPTFILE)
    if text is None:
        text = yamlio.dump_documents([goyaml.encode(decoded, goyaml.KPTFILE)], KPT_STYLE)
    tree[kptfile.KPTFILE] = text.encode()


def _status_text(item: CommentedMap, render_status: dict[str, Any] | None) -> str | None:
    """The root Kptfile's text as kpt writes it after a successful render, from its
    rendered resource: ``None`` when kpt's struct would not take it (then the file is
    written and read as kpt does, and the reasons found there)."""
    view = CommentedMap(item)
    metadata = item.get("metadata")
    if isinstance(metadata, dict):
        shown = CommentedMap(metadata)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            kept = {
                key: value
                for key, value in annotations.items()
                if key not in resourcelist.INTERNAL_ANNOTATIONS
            }
            if kept:
                shown["annotations"] = kept
            else:
                del shown["annotations"]
        view["metadata"] = shown
    problems: list[str] = []
    decoded = goyaml.decode(view, goyaml.KPTFILE, problems)
    if problems or not isinstance(decoded, dict):
        return None
    _set_status(decoded, render_status, None)
    text = goyaml.emit(decoded, goyaml.KPTFILE)
    if text is None:
        text = yamlio.dump_documents([goyaml.encode(decoded, goyaml.KPTFILE)], KPT_STYLE)
    return text


def _set_status(
    decoded: dict[str, Any], render_status: dict[str, Any] | None, message: str | None
) -> None:
    """kpt's status update: its ``Rendered`` condition replaced, ``renderStatus`` set."""
    status = dict(decoded.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != RENDERED]
    condition: dict[str, Any] = {"type": RENDERED}
    if message is None:
        condition.update(status="True", reason=RENDER_SUCCESS)
    else:
        condition.update(status="False", reason=RENDER_FAILED, message=message)
    status["conditions"] = [*conditions, condition]
    if render_status:
        status["renderStatus"] = render_status
    else:
        status.pop("renderStatus", None)
    decoded["status"] = status


KPT_STYLE = yamlio.YamlStyle(indentless=False)
"""How kpt's Go encoder writes: lists indented under their key."""


def results_yaml(results: dict[str, Any]) -> str:
    """A FunctionResultList as kpt writes ``results.yaml``."""
    text = goyaml.emit(results, goyaml.RESULT_LIST)
    if text is None:
        text = yamlio.dump_documents([goyaml.encode(results, goyaml.RESULT_LIST)], KPT_STYLE)
    return text


def runs_functions(tree: package.PackageTree) -> bool:
    """Whether rendering ``tree`` would run a function: some Kptfile declares one, or
    cannot be read (then the render that reports it may as well run where functions do).
    A tree without functions renders with our own code alone.

    Asked before every render: each Kptfile text is parsed once per process (the next
    render of the package reads the same text again), and only its pipeline looked at."""
    loads = yamlio.KptfileLoads()
    for pkg in package.packages(tree):
        path = package.join(pkg, kptfile.KPTFILE)
        content = tree[path]
        try:
            documents, _ = loads.shared(path, content)
        except yamlio.YamlIOError:
            return True
        if len(documents) != 1:
            return True
        pipeline = documents[0].get("pipeline")
        if pipeline is None:
            continue
        if not isinstance(pipeline, dict) or pipeline.get("mutators") or pipeline.get("validators"):
            return True
    return False


def render(
    tree: package.PackageTree,
    runtime: fnapi.FunctionRuntime,
    *,
    package_path: str = "",
    root_name: str = "",
    keep_resources: bool = False,
    shown_root: str | None = None,
) -> RenderResult:
    """Render the package whose root Kptfile is at the root of ``tree``.

    ``package_path`` (the package's place in its repository) only names it in messages;
    ``root_name`` is how kpt's log names the root package (its directory's name).
    ``shown_root`` is the root's path from the directory ``kpt`` would run in, when it
    is below that directory (kpt's messages name packages by such paths; otherwise, as
    for the operator, they are shown relative to ``.``).
    ``keep_resources`` asks for the rendered resources too, as kpt's ResourceList
    (``-o``); the files are then not rendered into (nor is the Kptfile's status set).
    Never raises for a bad package or a failing function: see ``RenderResult.ok``.
    """
    original = dict(tree)
    name = root_name or (package_path.rstrip("/").rsplit("/", 1)[-1] if package_path else "")
    run = _Run(original, runtime, name or ".")
    run.shown_root = shown_root
    root_kptfile: kptfile.Kptfile | None = None
    try:
        if kptfile.KPTFILE not in original:
            raise RenderError(
                f"no Kptfile at the root of {package_path or 'the package'}",
                kind="missing",
                stage="pkg.read",
            )
        root_kptfile = read_kptfile(original, "", run.load)
        run.execute(root_kptfile)
        rendered = run.written_with_status()
        output = run.output() if keep_resources else ""
        count = len(run.visited)
        return RenderResult(
            ok=True,
            tree=rendered,
            results=run.result_list(0),
            log="".join(run.log),
            summary=f"Successfully executed {run.executed} function(s) in {count} package(s).\n",
            output=output,
        )
    except RenderError as failure:
        message = str(failure)
        if package_path:
            message = message.replace(f"{ERROR_PREFIX}: ", f"{ERROR_PREFIX}: {package_path}: ", 1)
        saved = original
        summary = ""
        condition = run.condition_message(failure)
        root_unread = failure.stage == "pkg.read" and not failure.pkg
        if root_kptfile is not None and not root_unread:
            saved = dict(original)
            if root_kptfile.annotation(kptfile.SAVE_ON_RENDER_FAILURE) == "true":
                try:
                    saved = run.written()
                except (RenderError, yamlio.YamlIOError):
                    saved = dict(original)
                count = len(run.visited)
                summary = (
                    f"Partially executed {run.executed} function(s) in {count} package(s).\n"
                    if run.executed
                    else f"Failed to execute any functions in {count} package(s).\n"
                )
            _with_status(saved, run.render_status(True), condition, run.load)
        return RenderResult(
            ok=False,
            tree=saved,
            results=run.result_list(1),
            error=message,
            log="".join(run.log),
            cli_error=None if failure.handled else _cli_error(failure),
            summary=summary,
            condition_message=condition,
        )


def _cli_error(failure: RenderError) -> str:
    """kpt's closing error text; ``{root}`` stands for the package's directory."""
    if failure.kind == "invalid":
        return failure.reason
    if failure.kind == "missing":
        return 'Error: No Kptfile found at "{root}".'
    if failure.kind == "old":
        path = "{root}" + (f"/{failure.pkg}" if failure.pkg else "")
        return (
            f'Error: Kptfile at "{path}" has an old version ("{failure.reason}") of the '
            "Kptfile schema."
        )
    if failure.kind == "kptfile":
        path = "{root}" + (f"/{failure.pkg}" if failure.pkg else "")
        return f'Error: Kptfile at "{path}" can\'t be read.\n\nDetails:\n{failure.reason}'
    return f"Error: {failure.reason}"
