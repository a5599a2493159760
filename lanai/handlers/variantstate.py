"""What the PackageVariant and PackageVariantSet controllers share while running.

kopf gives each object a daemon; what wakes a daemon is some other object changing (a
new upstream revision, a downstream becoming Ready, a Repository's labels), which kopf
cannot route to it. So the daemons register here, the event handlers of those other
kinds set their wake events, and a reconciliation runs at once instead of at the next
period. Also kept here, for all of them: the answers of recent SubjectAccessReviews (one
review serves every variant of a set), the API discovery of kinds selected or injected,
and which downstream contents were already checked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import kopf

from lanai.handlers import kube, runtime
from lanai.trust import onbehalf, secrets
from lanai.variants import templates

logger = logging.getLogger(__name__)

Key = tuple[str, str]
"""(namespace, name) of a PackageVariant or PackageVariantSet."""
PackageRef = tuple[str, str, str]
"""(namespace, repository, package)."""

REVIEW_TTL = 30.0
"""Seconds an answer of a SubjectAccessReview is reused (RBAC changes show after that)."""
DISCOVERY_TTL = 300.0
CONCURRENT = 16
"""Reconciliations of variants and sets running at once (each is a few API requests)."""
LIST_PAGE = 500
LIST_LIMIT = 5000


class NoSuchKind(Exception):
    """apiVersion/kind is not served by the API server (its CRD is not installed)."""


@dataclass
class Checked:
    """A downstream's content that was found to carry the variant's changes."""

    generation: int
    commit: str
    at: float


@dataclass
class State:
    api: Any
    """The operator's API client (:class:`kube.Api`), set on first use."""
    access: secrets.SecretAccess
    recheck: float
    """Seconds between checks of a converged variant (injected objects may change)."""
    retry: float
    """Seconds before looking again at something still in progress or failing."""
    wakes: dict[tuple[str, str, str], asyncio.Event] = field(default_factory=dict)
    variants_by_uid: dict[str, Key] = field(default_factory=dict)
    sets_by_uid: dict[str, Key] = field(default_factory=dict)
    followers: dict[PackageRef, set[Key]] = field(default_factory=dict)
    """Packages whose revisions a variant follows (its upstream and downstream)."""
    set_followers: dict[PackageRef, set[Key]] = field(default_factory=dict)
    followed: dict[tuple[str, Key], tuple[PackageRef, ...]] = field(default_factory=dict)
    checked: dict[tuple[str, str], Checked] = field(default_factory=dict)
    repository_labels: dict[Key, dict[str, str] | None] = field(default_factory=dict)
    variant_generations: dict[Key, int] = field(default_factory=dict)
    _reviews: dict[tuple[Any, ...], tuple[bool, float]] = field(default_factory=dict)
    _asking: dict[tuple[Any, ...], asyncio.Future[bool]] = field(default_factory=dict)
    _discovery: dict[str, tuple[list[dict[str, Any]], float]] = field(default_factory=dict)
    limit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(CONCURRENT))
    evaluator: templates.Evaluator = field(default_factory=templates.Evaluator)
    """CEL programs, compiled once for all sets."""

    # -- wake-ups ----------------------------------------------------------------------

    def event(self, kind: str, key: Key) -> asyncio.Event:
        return self.wakes.setdefault((kind, *key), asyncio.Event())

    def wake(self, kind: str, key: Key) -> None:
        found = self.wakes.get((kind, *key))
        if found is not None:
            found.set()

    def follow(self, kind: str, key: Key, packages: Iterable[PackageRef]) -> None:
        """``key`` (a variant or a set) wants waking when these packages' revisions change."""
        table = self.followers if kind == "variant" else self.set_followers
        wanted = tuple(sorted(set(packages)))
        before = self.followed.get((kind, key), ())
        if before == wanted:
            return
        for package in before:
            table.get(package, set()).discard(key)
        for package in wanted:
            table.setdefault(package, set()).add(key)
        self.followed[(kind, key)] = wanted

    def forget(self, kind: str, key: Key) -> None:
        self.follow(kind, key, ())
        self.followed.pop((kind, key), None)
        self.wakes.pop((kind, *key), None)

    def revision_changed(self, package: PackageRef, owners: Iterable[str]) -> None:
        for uid in owners:
            key = self.variants_by_uid.get(uid)
            if key:
                self.wake("variant", key)
        for key in self.followers.get(package, ()):
            self.wake("variant", key)
        for key in self.set_followers.get(package, ()):
            self.wake("set", key)

    def namespace_changed(self, namespace: str) -> None:
        """A Repository changed: every set in the namespace may select differently."""
        for kind, key_namespace, name in list(self.wakes):
            if kind == "set" and key_namespace == namespace:
                self.wake("set", (key_namespace, name))

    # -- on behalf of the requester ----------------------------------------------------

    async def refusal(
        self,
        requester: secrets.Requester | None,
        namespace: str,
        act: onbehalf.Act,
        kind: str = "PackageVariant",
    ) -> str:
        """'' if the requester may do ``act`` (or checks are off), else why not."""
        if self.access is secrets.SecretAccess.OPERATOR:
            return ""
        if requester is None:
            return onbehalf.refusal(None, namespace, act, kind)
        cache_key = (requester, namespace, act.verb, act.group, act.resource, act.subresource,
                     act.name)  # fmt: skip
        now = time.monotonic()
        found = self._reviews.get(cache_key)
        if found is None or now - found[1] > REVIEW_TTL:
            asking = self._asking.get(cache_key)
            if asking is None:  # one review in flight per question, however many ask
                asking = asyncio.ensure_future(self._review(requester, namespace, act))
                self._asking[cache_key] = asking
                asking.add_done_callback(lambda _done: self._asking.pop(cache_key, None))
            try:
                allowed = await asyncio.shield(asking)
            except kube.ApiError as error:
                return (
                    f"cannot {act.doing}: the SubjectAccessReview for "
                    f'"{requester.user}" failed with HTTP {error.status} {error.reason}'
                )
            if len(self._reviews) > 4096:
                self._reviews.clear()
            found = (allowed, now)
            self._reviews[cache_key] = found
        return "" if found[0] else onbehalf.refusal(requester, namespace, act, kind)

    async def _review(
        self, requester: secrets.Requester, namespace: str, act: onbehalf.Act
    ) -> bool:
        review = onbehalf.access_review(requester, namespace, act)
        answer = await kube.create(
            self.api, "authorization.k8s.io", "v1", "", "subjectaccessreviews", review
        )
        return onbehalf.allowed(answer)

    # -- other kinds -------------------------------------------------------------------

    async def resource_of(self, api_version: str, kind: str) -> tuple[str, str, str, bool]:
        """(group, version, plural, namespaced) of a kind, from the API's discovery."""
        group, slash, version = api_version.rpartition("/")
        if not slash:
            group, version = "", api_version
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        now = time.monotonic()
        cached = self._discovery.get(path)
        if cached is None or now - cached[1] > DISCOVERY_TTL:
            try:
                answer = await self.api.request("GET", path)
            except kube.ApiError as error:
                if error.status == 404:
                    raise NoSuchKind(
                        f"the API server serves no {api_version}: is the CRD of {kind} installed?"
                    ) from None
                raise
            cached = (list(answer.get("resources") or []), now)
            self._discovery[path] = cached
        for resource in cached[0]:
            if resource.get("kind") == kind and "/" not in str(resource.get("name")):
                return group, version, str(resource["name"]), bool(resource.get("namespaced"))
        raise NoSuchKind(f"the API server serves no kind {kind} in {api_version}")

    async def list_selected(
        self, group: str, version: str, plural: str, namespace: str, query: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Objects matching ``query`` (labelSelector, fieldSelector), page by page; more
        than LIST_LIMIT is an error (a selector that reaches too far)."""
        items: list[dict[str, Any]] = []
        base = kube.objects_path(group, version, namespace, plural)
        params = {k: v for k, v in query.items() if v}
        params["limit"] = str(LIST_PAGE)
        while True:
            answer = await self.api.request("GET", f"{base}?{urlencode(params)}")
            items.extend(answer.get("items") or [])
            if len(items) > LIST_LIMIT:
                raise ValueError(f"the selector matches more than {LIST_LIMIT} {plural}; narrow it")
            token = (answer.get("metadata") or {}).get("continue")
            if not token:
                return items
            params["continue"] = token


def install(memo: kopf.Memo) -> None:
    """Put one shared state in the operator's memo (a startup handler: kopf hands each
    object a shallow copy of that memo, so only what is there at startup is shared)."""
    if not isinstance(memo.get("variants"), State):
        memo["variants"] = State(
            api=None, access=secrets.SecretAccess.REQUESTER, recheck=300.0, retry=5.0
        )


def of(memo: kopf.Memo) -> State:
    """The shared state, completed from the operator's runtime on first use."""
    state = memo.get("variants")
    if not isinstance(state, State):
        raise RuntimeError("the variant state is not installed (startup did not run)")
    if state.api is None:
        rt = runtime.of(memo)
        state.api = rt.api
        state.access = rt.secret_access
        state.recheck = max(rt.sync_period, 10.0) * 5
        state.retry = rt.retry_cap
    return state


async def wait(event: asyncio.Event, delay: float, stopped: kopf.DaemonStopped) -> None:
    """Until ``event`` is set, the daemon is stopped, or ``delay`` seconds pass."""
    waiter = asyncio.ensure_future(event.wait())
    stopper = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({waiter, stopper}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        stopper.cancel()


async def run(
    state: State,
    kind: str,
    key: tuple[str, str],
    stopped: kopf.DaemonStopped,
    once: Callable[[], Awaitable[float]],
) -> None:
    """A controller's daemon loop: reconcile (``once`` returns the seconds until the
    next round), then wait for a wake-up, that delay or the stop. A round that fails is
    logged and retried: a daemon must live on."""
    wake = state.event(kind, key)
    while not stopped:
        wake.clear()
        try:
            delay = await once()
        except Exception:
            logger.exception("%s %s/%s: reconciliation failed", kind, *key)
            delay = state.retry
        await wait(wake, delay, stopped)
