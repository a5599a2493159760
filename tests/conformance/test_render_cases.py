"""``lanai fn render`` against our render cases, checked as kpt's runner checks its own:
the exit code, stderr substrings in order, stdout, the results file, the exact diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import cases, diffs, runner


@pytest.mark.parametrize("case", cases.CASES, ids=[c.name for c in cases.CASES])
def test_render_case(case: runner.Case, tmp_path: Path) -> None:
    outcome = runner.run(case, tmp_path)
    assert outcome.exit_code == case.exit_code, outcome.stderr
    position = 0
    for wanted in case.stderr:
        found = outcome.stderr.find(wanted, position)
        assert found >= 0, f"{wanted!r} not in stderr (after {position}):\n{outcome.stderr}"
        position = found + len(wanted)
    assert diffs.STDOUTS.get(case.name, case.stdout) in outcome.stdout
    assert outcome.results == diffs.RESULTS.get(case.name, case.results)
    assert outcome.diff + ("\n" if outcome.diff else "") == diffs.DIFFS[case.name]


def test_every_case_has_its_diff() -> None:
    assert sorted(diffs.DIFFS) == sorted(c.name for c in cases.CASES)
