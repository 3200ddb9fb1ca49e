"""The package list in pyproject.toml names every package of rescue/, and the templates ship with it."""
from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_pyproject_lists_every_package_of_rescue():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "rescue").rglob("__init__.py")}
    assert set(config["packages"]) == on_disk | {"rescue.templates"}


def test_templates_are_package_data_from_the_top_level_directory():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"rescue.templates": "templates"}
    patterns = config["package-data"]["rescue.templates"]
    shipped = {p.name for pattern in patterns for p in (REPO / "templates").glob(pattern)}
    assert shipped == {p.name for p in (REPO / "templates").iterdir() if p.is_file()}
