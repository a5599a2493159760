"""The Kptfile metadata edits the tasks make for spec.packageMetadata."""

from __future__ import annotations

from lanai.kpt import kptfile
from lanai.tasks import kptfiles

KPTFILE = b"""\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: app # the name
  labels:
    tier: web
  annotations:
    config.kubernetes.io/local-config: "true"
    owner: net
"""


def test_set_metadata_adds_and_changes_and_keeps_the_rest() -> None:
    doc = kptfiles.load(KPTFILE)
    kptfiles.set_metadata(doc, {"team": "edge"}, {"owner": "apps"})
    assert kptfile.labels(doc) == {"tier": "web", "team": "edge"}
    assert kptfile.user_annotations(doc) == {"owner": "apps"}


def test_exact_metadata_removes_the_rest_but_never_kpts_own_annotations() -> None:
    doc = kptfiles.load(KPTFILE)
    kptfiles.set_metadata(doc, {"team": "edge"}, {}, exact=True)
    assert kptfile.labels(doc) == {"team": "edge"}
    assert kptfile.user_annotations(doc) == {}
    assert kptfile.annotation(doc, "config.kubernetes.io/local-config") == "true"
    assert "# the name" in kptfiles.dump(doc).decode()
