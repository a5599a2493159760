"""Which executable runs which image, as the command line and config files say it.

``lanai fn render`` and ``lanai function-runner`` both take ``--exec IMAGE=PATH`` and a
config file in the format of Porch's function runner (``functions: [{function: <file
in the functions directory>, images: [...]}]``), so an existing Porch configuration
works unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError


class ConfigError(ValueError):
    """A flag or config file that does not say image → executable clearly."""


def parse_flags(values: Iterable[str]) -> dict[str, str]:
    """``IMAGE=PATH`` pairs; a later flag for the same image wins."""
    found: dict[str, str] = {}
    for value in values:
        image, sep, path = value.partition("=")
        if not sep or not image.strip() or not path.strip():
            raise ConfigError(f"--exec wants IMAGE=PATH, got {value!r}")
        found[image.strip()] = path.strip()
    return found


def load_config(
    path: str | os.PathLike[str], functions_dir: str | os.PathLike[str] | None = None
) -> dict[str, str]:
    """Porch's exec config: function file names resolved in ``functions_dir`` (default:
    the config file's directory). The first mapping of an image wins, as in Porch."""
    config = Path(path)
    try:
        document = YAML(typ="safe").load(config.read_text())
    except (OSError, YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read function config {str(config)!r}: {error}") from error
    base = Path(functions_dir) if functions_dir is not None else config.parent
    entries = (document or {}).get("functions") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"function config {str(config)!r} has no list 'functions'")
    found: dict[str, str] = {}
    for number, entry in enumerate(entries):
        function = entry.get("function") if isinstance(entry, dict) else None
        images = entry.get("images") if isinstance(entry, dict) else None
        if not isinstance(function, str) or not isinstance(images, list):
            raise ConfigError(
                f"function config {str(config)!r}: entry {number} needs 'function' and "
                "a list 'images'"
            )
        for image in images:
            found.setdefault(str(image), str((base / function).resolve()))
    return found
