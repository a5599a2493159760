"""What the engine asks of the task handler: a create request and a render result.

They live here, below the engine, so ``lanai.tasks`` can build them without importing
the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.git import probe


@dataclass(frozen=True)
class Source:
    """A revision's spec.source, resolved to keys by the handler."""

    kind: str = "init"
    """init | clone | copy | upgrade"""
    init: Mapping[str, Any] = field(default_factory=dict)
    upstream: PackageRevisionKey | None = None
    """clone: the registered upstream; copy: the source revision; upgrade: new upstream."""
    git: Mapping[str, Any] | None = None
    """clone from a plain Git URL/ref/directory."""
    git_auth: probe.RemoteAuth | None = None
    """Credentials for ``git`` (from cloneFrom.git.secretRef), resolved by the handler."""
    old_upstream: PackageRevisionKey | None = None
    current: PackageRevisionKey | None = None
    strategy: str = "resource-merge"


@dataclass(frozen=True)
class CreateRequest:
    key: PackageRevisionKey
    source: Source
    lifecycle: Lifecycle = Lifecycle.DRAFT
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    readiness_gates: tuple[str, ...] = ()
    push_on_render_failure: bool = False


@dataclass(frozen=True)
class Rendered:
    files: dict[str, bytes]
    ok: bool
    message: str = ""
    results: Mapping[str, Any] = field(default_factory=dict)
