"""What handlers share at run time, handed in through kopf's ``memo``.

Built once at startup and torn down at cleanup; no module-level singletons (STYLE §7).
"""

from __future__ import annotations

from dataclasses import dataclass

import kopf
from kubernetes_asyncio import client

from lanai.handlers import events


@dataclass
class Runtime:
    api: client.ApiClient
    events: events.Recorder


def of(memo: kopf.Memo) -> Runtime:
    rt = memo.get("runtime")
    if not isinstance(rt, Runtime):
        raise RuntimeError("the operator runtime is not initialised (startup did not run)")
    return rt
