"""Repository reconciliation: is the Git repository reachable, with these credentials?

This is the thin edge between kopf and Git: translate the object into a spec, check the
remote, and write the outcome as the ``Ready`` condition and an Event.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
from pydantic import ValidationError

from lanai.api import conditions, constants, models
from lanai.git import probe
from lanai.handlers import credentials, runtime

logger = logging.getLogger(__name__)

PROBE_TIMEOUT = 30.0


async def _check(
    spec: models.RepositorySpec, namespace: str, rt: runtime.Runtime
) -> tuple[conditions.Condition, str]:
    """The Ready condition for ``spec`` and the branch head commit (or '')."""
    if spec.type is models.RepositoryType.OCI or spec.git is None:
        return (
            conditions.Condition(
                constants.READY,
                "False",
                constants.REASON_ERROR,
                "OCI repositories are not supported by Lanai yet; use type: git",
            ),
            "",
        )
    git = spec.git
    try:
        auth = await credentials.resolve(
            rt.api, namespace, git.secret_ref.name if git.secret_ref else None
        )
        branches = await asyncio.wait_for(
            asyncio.to_thread(probe.list_branches, git.repo, auth), PROBE_TIMEOUT
        )
    except credentials.CredentialsError as error:
        return conditions.Condition(
            constants.READY, "False", constants.REASON_ERROR, str(error)
        ), ""
    except probe.ProbeError as error:
        return conditions.Condition(
            constants.READY, "False", constants.REASON_ERROR, str(error)
        ), ""
    except TimeoutError:
        return (
            conditions.Condition(
                constants.READY,
                "False",
                constants.REASON_ERROR,
                f"the Git server did not answer within {PROBE_TIMEOUT:.0f}s",
            ),
            "",
        )
    head = branches.get(f"refs/heads/{git.branch}")
    if head is None and not git.create_branch:
        return (
            conditions.Condition(
                constants.READY,
                "False",
                constants.REASON_ERROR,
                f'branch "{git.branch}" does not exist in the repository; '
                "create it or set spec.git.createBranch: true",
            ),
            "",
        )
    return conditions.Condition(
        constants.READY, "True", constants.REASON_READY, "Repository is ready"
    ), head or ""


async def reconcile(
    body: kopf.Body,
    spec: kopf.Spec,
    namespace: str | None,
    patch: kopf.Patch,
    memo: Any,
    **_: Any,
) -> None:
    rt = runtime.of(memo)
    namespace = namespace or "default"
    generation = body.metadata.get("generation")
    try:
        parsed = models.RepositorySpec.model_validate(dict(spec))
    except ValidationError as error:
        ready = conditions.Condition(
            constants.READY, "False", constants.REASON_ERROR, f"invalid spec: {error}"
        )
        head = ""
    else:
        ready, head = await _check(parsed, namespace, rt)
    status = body.get("status", {})
    previous = conditions.find(status.get("conditions"), constants.READY)
    patch.status["conditions"] = conditions.upsert(
        status.get("conditions"),
        conditions.Condition(ready.type, ready.status, ready.reason, ready.message, generation),
    )
    patch.status["observedGeneration"] = generation
    if head:
        patch.status["gitCommitHash"] = head
    changed = (
        previous is None
        or previous.get("status") != ready.status
        or previous.get("message") != ready.message
    )
    if changed:
        if ready.status == "True":
            await rt.events.post(body, "Normal", "Ready", ready.message)
        else:
            await rt.events.post(body, "Warning", "SyncFailed", ready.message)
            logger.warning(
                "repository %s/%s is not ready: %s", namespace, body.metadata.name, ready.message
            )


def register(registry: kopf.OperatorRegistry) -> None:
    resource = (constants.CONFIG_GROUP, constants.CONFIG_VERSION, constants.REPOSITORIES)
    for decorator in (kopf.on.resume, kopf.on.create):
        decorator(*resource, registry=registry, id="reconcile")(reconcile)
    kopf.on.update(*resource, registry=registry, id="reconcile", field="spec")(reconcile)
