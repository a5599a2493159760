"""Who the operator is to the API server, and what the admission policies record for it.

On every PackageRevision it creates, two MutatingAdmissionPolicies write the requesting
user into annotations (config/policy/actor-identity.yaml, requester-identity.yaml). For
the objects a Repository sync creates that user is always the operator, so the operator
writes the same values itself: the policies then find nothing to change and skip their
patch, which was about a tenth of the API server's CPU in a cold sync of 10,000
revisions. The same goes for the actor on each PackageRevisionResources it creates,
where the patch would re-decode every file of the package. The result is the same
object either way; a value that differs from what the policy would write (an identity
that changed since startup) is still overwritten.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp

from lanai.api import constants
from lanai.kubeclient.client import Api, ApiError
from lanai.trust import secrets

logger = logging.getLogger(__name__)

SELF_SUBJECT_REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()


def recorded(who: Identity | None) -> dict[str, str]:
    """The annotations the identity policies write on a PackageRevision that ``who``
    creates; none when the operator does not know who it is."""
    if who is None:
        return {}
    return {
        constants.ACTOR_ANNOTATION: who.user,
        secrets.REQUESTED_BY: who.user,
        secrets.REQUESTED_BY_GROUPS: secrets.groups_text(who.groups),
    }


def actor(who: Identity | None) -> dict[str, str]:
    """The annotation the actor policy writes on a PackageRevisionResources that ``who``
    creates (the requester policy does not cover that kind)."""
    return {constants.ACTOR_ANNOTATION: who.user} if who else {}


async def whoami(api: Api) -> Identity | None:
    """The operator's user and groups (a SelfSubjectReview), or None when the API server
    cannot say: then nothing is pre-filled and the policies write the annotations."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    try:
        answer = await api.request("POST", SELF_SUBJECT_REVIEWS, review)
    except (TimeoutError, ApiError, aiohttp.ClientError) as error:
        logger.info("cannot review the operator's own identity: %s", error)
        return None
    info = ((answer or {}).get("status") or {}).get("userInfo") or {}
    user, groups = info.get("username"), info.get("groups") or []
    if not isinstance(user, str) or not user or not isinstance(groups, list):
        return None
    return Identity(user, tuple(str(g) for g in groups))
