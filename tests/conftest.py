"""Test ordering for parallel runs (scripts/test runs pytest-xdist with --dist loadfile).

Each integration file keeps its appliance launches and boots together on one
worker (its module fixtures are shared), and the files that boot guests take
many minutes. Handing them out longest first lets the workers finish close
together; the unit tests, seconds each, fill the end. The order below is by the
durations of a full run (`scripts/test --durations=0`); a file not listed runs
after those listed, before the unit tests.
"""
from __future__ import annotations

LONGEST_FIRST = (
    "test_uefi.py",
    "test_el_rescue.py",
    "test_end_to_end.py",
    "test_bootpath.py",
    "test_bootcheck.py",
    "test_reinstall.py",
    "test_hostile.py",
    "test_wheel.py",
    "test_el_fixture.py",
    "test_bootable_fixture.py",
    "test_faults.py",
    "test_fleet_diagnose.py",
)


def _rank(item) -> tuple[int, int]:
    path = item.path
    if "integration" not in path.parts:
        return (2, 0)
    name = path.name
    return (0, LONGEST_FIRST.index(name)) if name in LONGEST_FIRST else (1, 0)


def pytest_collection_modifyitems(items):
    items.sort(key=_rank)          # stable: each file's tests keep their order
