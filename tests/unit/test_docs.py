"""The docs name tests and modules that exist."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_test_docs_safety_names_exists():
    text = (REPO / "docs" / "safety.md").read_text()
    refs = set(re.findall(r"(test_[a-z_0-9]+\.py)::([A-Za-z_0-9]+)", text))
    assert refs
    missing = []
    for name, test in sorted(refs):
        files = list((REPO / "tests").rglob(name))
        if not files or f"def {test}(" not in files[0].read_text():
            missing.append(f"{name}::{test}")
    assert missing == []


def test_every_module_the_docs_name_exists():
    named = set()
    for doc in [REPO / "README.md", *(REPO / "docs").glob("*.md")]:
        named |= set(re.findall(r"`(rescue/[a-z_/]+\.py)`", doc.read_text()))
    assert [path for path in sorted(named) if not (REPO / path).is_file()] == []
