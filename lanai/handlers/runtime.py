"""What handlers share at run time, handed in through kopf's ``memo``.

Built once at startup and torn down at cleanup; no module-level singletons (STYLE §7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import kopf

from lanai.cache import gitcache
from lanai.engine.engine import Engine
from lanai.git import network
from lanai.handlers import events, identity, kube
from lanai.trust import secrets

if TYPE_CHECKING:
    from lanai.handlers.repository import Schedule


@dataclass
class Runtime:
    api: kube.Api
    events: events.Recorder
    cache: gitcache.Cache
    engine: Engine
    sync_period: float = 60.0
    """Seconds between syncs of a Repository without spec.sync.schedule."""
    retry_cap: float = 60.0
    """Longest wait before re-checking a failing Repository."""
    git_timeout: float = network.DEFAULT_TIMEOUT
    """Seconds a Git server may take to answer (see :mod:`lanai.git.network`)."""
    schedules: dict[tuple[str, str], Schedule] = field(default_factory=dict)
    secret_access: secrets.SecretAccess = secrets.SecretAccess.REQUESTER
    """Whose rights decide which Secrets are read (``--secret-access``)."""
    identity: identity.Identity | None = None
    """Who the operator is to the API server (:mod:`lanai.handlers.identity`); None when
    the API server could not say."""
    followed: FollowedGenerations = field(default_factory=lambda: FollowedGenerations())
    """Generations Lanai made itself (the spec following the Kptfile) and already
    observed: see :class:`FollowedGenerations`."""


class FollowedGenerations:
    """Per object (uid), the generation of the handler's own spec patch whose status it
    has already written, so the watch event of that patch is not acted on again.

    That event carries the status as it was before the handler's status write; acting
    on it would write conditions from that older status back (a ``Rendered`` condition
    lost, say). Bounded: the oldest entries go first, and a forgotten entry only costs one
    more, harmless, reconciliation.
    """

    LIMIT = 4096

    def __init__(self) -> None:
        self._generations: dict[str, int] = {}

    def remember(self, uid: str, generation: int) -> None:
        self._generations.pop(uid, None)
        self._generations[uid] = generation
        while len(self._generations) > self.LIMIT:
            del self._generations[next(iter(self._generations))]

    def already_observed(self, uid: str, generation: object) -> bool:
        return generation is not None and self._generations.get(uid) == generation


def of(memo: kopf.Memo) -> Runtime:
    rt = memo.get("runtime")
    if not isinstance(rt, Runtime):
        raise RuntimeError("the operator runtime is not initialised (startup did not run)")
    return rt
