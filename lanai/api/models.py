"""Pydantic models of the specs the operator reads (Porch's field names).

Handlers turn raw Kubernetes bodies into these at the edge; nothing deeper sees a dict.
The API server has already validated shape and CEL rules, so models are lenient about
unknown fields (a newer CRD must not crash an older operator).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class SecretRef(_Model):
    name: str


class GitSpec(_Model):
    repo: str
    branch: str = "main"
    create_branch: bool = Field(default=False, alias="createBranch")
    directory: str = ""
    secret_ref: SecretRef | None = Field(default=None, alias="secretRef")
    author: str = ""
    email: str = ""

    @property
    def package_root(self) -> str:
        """The directory packages live under, without leading/trailing '/' ('' = root)."""
        return self.directory.strip("/")


class SyncSpec(_Model):
    schedule: str = ""
    run_once_at: str | None = Field(default=None, alias="runOnceAt")


class RepositoryType(StrEnum):
    GIT = "git"
    OCI = "oci"


class RepositorySpec(_Model):
    description: str = ""
    deployment: bool = False
    type: RepositoryType = RepositoryType.GIT
    content: str = "Package"
    sync: SyncSpec = SyncSpec()
    git: GitSpec | None = None
    oci: dict[str, Any] | None = None


class Lifecycle(StrEnum):
    DRAFT = "Draft"
    PROPOSED = "Proposed"
    PUBLISHED = "Published"
    DELETION_PROPOSED = "DeletionProposed"
