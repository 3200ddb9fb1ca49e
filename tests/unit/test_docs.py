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


def test_diagnose_md_lists_every_finding_code():
    """Every code a diagnosis rule can emit is in docs/diagnose.md (with an example for the boot path)."""
    import ast

    from rescue.diagnose.rules.bootpath import PROGRAM_CODES

    codes = set()
    for module in (REPO / "rescue" / "diagnose" / "rules").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    codes.add(first.value)
                elif isinstance(first, ast.JoinedStr):      # f"INIT_{PROGRAM_CODES[...]}" and the like
                    prefix = first.values[0].value
                    codes |= {prefix + suffix for suffix in PROGRAM_CODES.values()}
    assert len(codes) > 60
    text = (REPO / "docs" / "diagnose.md").read_text()
    assert sorted(c for c in codes if f"`{c}`" not in text) == []
