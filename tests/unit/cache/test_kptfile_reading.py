"""The cache reads each revision's Kptfile; a broken one marks the revision, never raises."""

from __future__ import annotations

import pytest

from lanai.cache import gitcache


def test_a_kptfile_reads_as_plain_data() -> None:
    text = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  labels:\n    on: off\n"
    assert gitcache._kptfile(text) == {
        "apiVersion": "kpt.dev/v1",
        "kind": "Kptfile",
        "metadata": {"labels": {"on": "off"}},
    }


@pytest.mark.parametrize(
    "content", [b"metadata: [\n", b"a: 1\na: 2\n", b"- a list\n", b"\xff\xfe\x00", b""]
)
def test_unreadable_kptfiles_read_as_empty(content: bytes) -> None:
    assert gitcache._kptfile(content) == {}
