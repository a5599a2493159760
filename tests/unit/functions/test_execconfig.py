from __future__ import annotations

from pathlib import Path

import pytest

from lanai.functions import execconfig

PORCH_CONFIG = """\
functions:
  - function: set-namespace
    images:
      - gcr.io/kpt-fn/set-namespace:v0.4.1
      - ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1
  - function: other
    images:
      - gcr.io/kpt-fn/set-namespace:v0.4.1
"""


def test_porch_config_maps_images_to_files(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(PORCH_CONFIG)
    found = execconfig.load_config(config)
    assert found == {
        "gcr.io/kpt-fn/set-namespace:v0.4.1": str(tmp_path / "set-namespace"),
        "ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1": str(
            tmp_path / "set-namespace"
        ),
    }
    elsewhere = execconfig.load_config(config, tmp_path / "bin")
    assert set(elsewhere.values()) == {str(tmp_path / "bin" / "set-namespace")}


@pytest.mark.parametrize("text", ["functions: 3", "functions:\n  - images: [a]", "[1, 2"])
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    with pytest.raises(execconfig.ConfigError, match=r"config\.yaml"):
        execconfig.load_config(config)


def test_exec_flags() -> None:
    assert execconfig.parse_flags(["a/b:v1=/bin/x", "c = ./y"]) == {"a/b:v1": "/bin/x", "c": "./y"}
    for bad in ("a/b", "=x", "a="):
        with pytest.raises(execconfig.ConfigError, match="IMAGE=PATH"):
            execconfig.parse_flags([bad])
