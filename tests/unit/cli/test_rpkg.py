from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from lanai import cli
from lanai.cli import rpkg


def test_filters_become_one_field_selector() -> None:
    assert rpkg.selector(None, None, None) == ""
    assert rpkg.selector("basens", 0, "v1") == (
        "spec.packageName=basens,status.revision=0,spec.workspaceName=v1"
    )


def test_init_defaults_wait_and_workspace() -> None:
    args = cli.parser().parse_args(["rpkg", "init", "basens", "--repository", "bp", "-n", "t"])
    assert (args.package, args.repository, args.workspace) == ("basens", "bp", "v1")
    assert args.wait is True
    assert args.timeout == 60
    assert args.namespace == "t"


def test_connection_flags_come_after_the_verb_as_with_kubectl() -> None:
    args = cli.parser().parse_args(
        ["rpkg", "approve", "a", "b", "--as", "bob", "--no-wait", "--kubeconfig", "k"]
    )
    assert args.names == ["a", "b"]
    assert (args.as_user, args.wait, args.kubeconfig, args.verb) == ("bob", False, "k", "approve")


@pytest.mark.parametrize(
    "argv",
    [
        ["rpkg", "init", "basens"],  # --repository is required
        ["rpkg", "copy", "a.b.v1"],  # --workspace is required
        ["rpkg", "get", "-o", "wide"],
        ["repo", "reg"],
        ["rpkg", "approve"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_the_program_is_named_after_how_it_was_run() -> None:
    assert cli.program("/venv/bin/kubectl-lanai") == "kubectl lanai"
    assert cli.program("/venv/bin/lanai") == "lanai"


def _verbs(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_docs_cli_describes_every_verb_and_flag() -> None:
    page = (Path(__file__).resolve().parents[3] / "docs" / "cli.md").read_text()
    commands = _verbs(cli.parser())
    for group in ("rpkg", "repo"):
        for verb, sub in _verbs(commands[group]).items():
            shown = f"`{group} {verb}" in page or f"`{verb}`" in page
            assert shown, f"{group} {verb} is not documented"
            for action in sub._actions:
                flags = [f for f in action.option_strings if f not in ("-h", "--help")]
                if flags:
                    documented = any(f"`{flag}" in page for flag in flags)
                    assert documented, f"{group} {verb} {flags} is not documented"
