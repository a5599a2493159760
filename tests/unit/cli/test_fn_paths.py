"""``lanai fn render`` / ``fn eval`` never read or write outside the package directory.

The attacks of the security review, as a user meets them: a symlink in the package to a
file outside it (render used to write into it), a symlink to ``/etc/passwd`` (it used to
be read), a file name the rules refuse, and a function whose output names a path outside
the package. Also kpt's own symlink cases (e2e/testdata/fn-render/basicpipeline-symlink,
fn-eval/simple-function-symlink): DIR given as a symlink is resolved, with kpt's warning.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.unit.cli.test_fn import DEPLOYMENT, KPTFILE, lanai, package, snapshot

KPT_WARNING = (
    '[WARN] resolved symlink "new-link" to ".", please note that the symlinks within the '
    "package are ignored"
)
OUTSIDE_DEPLOYMENT = DEPLOYMENT.replace("name: web # the front end", "name: outside")

ESCAPE = """\
import sys
import pytest
from ruamel.yaml import YAML
yaml = YAML()
resource_list = yaml.load(sys.stdin)
for item in resource_list["items"]:
    item["metadata"].setdefault("annotations", {})[
        "internal.config.kubernetes.io/path"] = sys.argv[1] if len(sys.argv) > 1 else "{path}"
yaml.dump(resource_list, sys.stdout)
"""


def _in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lanai", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=directory,
    )


def test_render_never_writes_into_a_symlinked_file_outside_the_package(tmp_path: Path) -> None:
    directory = package(tmp_path)
    outside = tmp_path / "outside.yaml"
    outside.write_text(OUTSIDE_DEPLOYMENT)
    (directory / "outside.yaml").symlink_to(outside)
    done = lanai("fn", "render", str(directory))
    assert done.returncode == 0, done.stderr
    assert outside.read_text() == OUTSIDE_DEPLOYMENT  # untouched
    assert (directory / "outside.yaml").is_symlink()
    assert '[WARN] ignoring symlink "outside.yaml"' in done.stderr
    deployment = YAML().load((directory / "deployment.yaml").read_text())
    assert deployment["metadata"]["namespace"] == "prod"  # the package itself rendered


def test_render_never_reads_a_symlink_to_etc_passwd(tmp_path: Path) -> None:
    directory = package(tmp_path)
    (directory / "passwd.yaml").symlink_to("/etc/passwd")
    (directory / "secrets").symlink_to("/etc")
    done = lanai("fn", "render", str(directory), "--results-dir", str(tmp_path / "results"))
    assert done.returncode == 0, done.stderr
    assert "root:" not in done.stdout + done.stderr
    assert "root:" not in (tmp_path / "results" / "results.yaml").read_text()
    assert '[WARN] ignoring symlink "passwd.yaml"' in done.stderr
    assert '[WARN] ignoring symlink "secrets"' in done.stderr


def test_eval_never_reads_or_writes_through_symlinks(tmp_path: Path) -> None:
    directory = package(tmp_path)
    outside = tmp_path / "outside.yaml"
    outside.write_text(OUTSIDE_DEPLOYMENT)
    (directory / "outside.yaml").symlink_to(outside)
    done = lanai(
        "fn", "eval", str(directory), "--image", "set-namespace:v0.4.1", "--", "namespace=x"
    )
    assert done.returncode == 0, done.stderr
    assert outside.read_text() == OUTSIDE_DEPLOYMENT
    assert YAML().load((directory / "deployment.yaml").read_text())["metadata"]["namespace"] == "x"


def test_render_of_a_symlinked_dir_resolves_it_like_kpt(tmp_path: Path) -> None:
    """kpt's fn-render/basicpipeline-symlink: ``ln -s ./ new-link; kpt fn render new-link``."""
    directory = package(tmp_path)
    (directory / "new-link").symlink_to(".")
    done = _in(directory, "fn", "render", "new-link")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == KPT_WARNING
    assert 'Package: "app"' in done.stderr
    assert YAML().load((directory / "deployment.yaml").read_text())["metadata"]["namespace"] == (
        "prod"
    )
    assert (directory / "new-link").is_symlink()  # inside the package: ignored, kept


def test_eval_of_a_symlinked_dir_resolves_it_like_kpt(tmp_path: Path) -> None:
    """kpt's fn-eval/simple-function-symlink."""
    directory = package(tmp_path)
    (directory / "new-link").symlink_to(".")
    done = _in(
        directory, "fn", "eval", "new-link", "--image", "set-namespace:v0.4.1", "--",
        "namespace=staging",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == KPT_WARNING
    deployment = YAML().load((directory / "deployment.yaml").read_text())
    assert deployment["metadata"]["namespace"] == "staging"


def test_a_file_name_the_rules_refuse_leaves_the_package_unchanged(tmp_path: Path) -> None:
    directory = package(tmp_path)
    (directory / "bad\nname.yaml").write_text(DEPLOYMENT)
    before = snapshot(directory)
    done = lanai("fn", "render", str(directory))
    assert done.returncode == 1
    assert 'file name "bad\\nname.yaml" holds a control character' in done.stderr
    assert "the package is unchanged" in done.stderr
    assert snapshot(directory) == before


def _escaping_function(tmp_path: Path, path: str) -> Path:
    fn = tmp_path / "escape"
    fn.write_text(f"#!{sys.executable}\n{ESCAPE.replace('{path}', path)}")
    fn.chmod(0o755)
    return fn


@pytest.mark.parametrize(
    "target", ["../escaped.yaml", "ABSOLUTE", ".git/config", "sub/../../escaped.yaml", "a\nb.yaml"]
)
def test_a_function_cannot_write_outside_the_package_by_its_path_annotation(
    tmp_path: Path, target: str
) -> None:
    absolute = tmp_path / "absolute-escaped.yaml"
    target = target.replace("ABSOLUTE", str(absolute))
    directory = package(tmp_path)
    fn = _escaping_function(tmp_path, target.replace("\n", "\\n"))
    (directory / "Kptfile").write_text(KPTFILE + "    - image: example.com/fns/escape:v1\n")
    before = snapshot(directory)
    done = lanai("fn", "render", str(directory), "--exec", f"example.com/fns/escape={fn}")
    assert done.returncode == 1, done.stdout
    assert "Error: " in done.stderr
    after = snapshot(directory)  # only the Kptfile's status records the failure, as in kpt
    assert {k: v for k, v in after.items() if k != "Kptfile"} == {
        k: v for k, v in before.items() if k != "Kptfile"
    }
    assert not (tmp_path / "escaped.yaml").exists()
    assert not absolute.exists()
    assert not (directory / ".git").exists()
