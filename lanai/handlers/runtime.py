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
from lanai.handlers import events, kube
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


def of(memo: kopf.Memo) -> Runtime:
    rt = memo.get("runtime")
    if not isinstance(rt, Runtime):
        raise RuntimeError("the operator runtime is not initialised (startup did not run)")
    return rt
