"""The layering of docs/architecture.md, checked on the source: who may import whom.

Read from the code with `ast` (nothing is imported): every `rescue.*` import of
every module, grouped by package.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

RESCUE = Path(__file__).resolve().parents[2] / "rescue"

# package -> the packages it may import (besides itself). The foundations
# (errors, model, run) import no other package of rescue.
ALLOWED = {
    "rescue": set(),
    "rescue.errors": set(),
    "rescue.model": set(),
    "rescue.run": set(),
    "rescue.distro": {"rescue.model"},
    "rescue.rpm": {"rescue.errors", "rescue.model", "rescue.run", "rescue.distro"},
    "rescue.kernel": {"rescue.model", "rescue.rpm"},
    "rescue.guest": {"rescue.errors", "rescue.model", "rescue.run"},
    "rescue.bootloader": {"rescue.errors", "rescue.model", "rescue.kernel", "rescue.rpm", "rescue.guest"},
    "rescue.diagnose": {"rescue.errors", "rescue.model", "rescue.run", "rescue.distro", "rescue.rpm", "rescue.kernel",
                        "rescue.guest", "rescue.bootloader"},
    "rescue.bootcheck": {"rescue.errors", "rescue.model", "rescue.run", "rescue.kernel", "rescue.guest",
                         "rescue.bootloader"},
    "rescue.repair": {"rescue.errors", "rescue.model", "rescue.distro", "rescue.rpm", "rescue.kernel",
                      "rescue.guest", "rescue.bootloader", "rescue.diagnose"},
    "rescue.operations": {"rescue.errors", "rescue.model", "rescue.guest", "rescue.diagnose", "rescue.repair"},
    "rescue.cli": {"rescue.errors", "rescue.operations", "rescue.diagnose", "rescue.repair", "rescue.bootcheck"},
    "rescue.__main__": {"rescue.cli"},
}

# Modules that decide without reading a guest: they never import the guest session or its files.
PURE = ("rescue.bootloader", "rescue.kernel", "rescue.distro", "rescue.diagnose.rules", "rescue.diagnose.report",
        "rescue.diagnose.fleet", "rescue.bootcheck.console", "rescue.bootcheck.evidence", "rescue.bootcheck.codes",
        "rescue.bootcheck.drivers", "rescue.bootcheck.probe", "rescue.bootcheck.hardware", "rescue.bootcheck.report",
        "rescue.repair.plan", "rescue.rpm.structure", "rescue.rpm.header", "rescue.rpm.openpgp",
        "rescue.rpm.digests", "rescue.rpm.vercmp", "rescue.rpm.payload")
GUEST_IO = ("rescue.guest.session", "rescue.guest.files", "rescue.guest.inspect", "rescue.guest.hypervisor")
MAX_LINES = 430


def _modules():
    for path in sorted(RESCUE.rglob("*.py")):
        parts = path.relative_to(RESCUE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "rescue":
                found.update(f"rescue.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


MODULES = dict(_modules())


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layers(module):
    own = _package(module)
    used = {_package(m) for m in _imports(MODULES[module]) if m.startswith("rescue.") and m != "rescue.__version__"}
    assert used - {own} <= ALLOWED[own], f"{module} imports {sorted(used - {own} - ALLOWED[own])}"


def test_only_the_guest_session_imports_guestfs():
    assert [m for m, path in MODULES.items() if "guestfs" in _imports(path)] == ["rescue.guest.session"]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(PURE)))
def test_pure_modules_do_not_read_guests(module):
    assert not _imports(MODULES[module]) & set(GUEST_IO)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module):
    assert len(MODULES[module].read_text().splitlines()) <= MAX_LINES


def _tests_a_kind(tree: ast.AST) -> bool:
    """Whether the code compares a `.kind` with a boot loader kind's name (kind == "grub2" ...)."""
    kinds = {"grub-legacy", "grub2", "bls"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        names = {n.value for o in operands for n in ast.walk(o) if isinstance(n, ast.Constant)}
        if names & kinds and any(isinstance(o, ast.Attribute) and o.attr == "kind" for o in operands):
            return True
    return False


def test_no_code_outside_the_boot_loader_package_tests_a_kind():
    offenders = [m for m, path in MODULES.items()
                 if not m.startswith("rescue.bootloader") and _tests_a_kind(ast.parse(path.read_text()))]
    assert offenders == []
