"""The cache's fast Kptfile reader resolves scalars exactly as ruamel.yaml's safe loader."""

from __future__ import annotations

import math

import pytest
from ruamel.yaml import YAML

from lanai.kpt import plainyaml

SAME = [
    "a: yes\nb: no\nc: on\nd: off\ne: true\nf: False\ng: TRUE\nh: y\n",
    "a: 017\nb: 0o17\nc: 0x1F\nd: 0b101\ne: 1_000\nf: -12\ng: +3\nh: 1:20\ni: 0\nj: 09\n",
    "a: 1.5\nb: .inf\nc: -.Inf\nd: 1e3\ne: 1.0e+3\nf: .5\ng: 1_0.5\n",
    "a: ~\nb: null\nc:\nd: Null\ne: ''\n",
    "a: 2024-01-01\nb: 2024-01-01T10:00:00Z\n",
    "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n",
    "list:\n- a\n- {b: c}\n- [1, 2]\n",
    "a: 'multi\n  line'\nb: |\n  lit\n  eral\n",
    "a: !!str 12\nb: !!int '7'\nc: 12:30:00\n",
    "",
    "# only a comment\n",
    "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: x\n  labels:\n    tier: 'yes'\n"
    "    n: 1\ninfo:\n  readinessGates:\n  - conditionType: Ready\nstatus:\n  conditions:\n"
    '  - type: Rendered\n    status: "True"\n',
]
INVALID = ["a: 1\na: 2\n", "a: [\n", "a: b\n---\nc: d\n", "a: b\n  c: d\n"]


@pytest.mark.parametrize("text", SAME)
def test_reads_what_ruamel_reads(text: str) -> None:
    expected = YAML(typ="safe").load(text)
    assert plainyaml.load(text) == expected
    assert plainyaml.load(text.encode()) == expected


@pytest.mark.parametrize("text", INVALID)
def test_refuses_what_ruamel_refuses(text: str) -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011 (ruamel's own error types differ)
        YAML(typ="safe").load(text)
    with pytest.raises(plainyaml.Error):
        plainyaml.load(text)


def test_not_a_number_is_a_float() -> None:
    assert math.isnan(plainyaml.load("a: .NaN\n")["a"])
