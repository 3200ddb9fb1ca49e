"""boot-check's reading of real-world console output, table-driven over tests/data/console/.

56 composed logs (EL5-EL9, Debian, Ubuntu, busybox; sysvinit, upstart, systemd;
quiet and verbose; healthy and failing), each line in the wording real software
prints (sources beside each log). index.tsv gives what each log must yield.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from rescue.bootcheck import drivers
from rescue.bootcheck.console import analyse, console_lines

DATA = Path(__file__).resolve().parents[1] / "data" / "console"


def _rows():
    for line in (DATA / "index.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        yield line.split("\t")


ROWS = list(_rows())


def test_the_corpus_covers_the_releases_init_systems_and_outputs():
    assert len(ROWS) >= 30
    releases = " ".join(row[1] for row in ROWS)
    for name in ("CentOS 5", "CentOS 6", "CentOS 7", "RHEL 8", "Rocky Linux 9", "Debian", "Ubuntu"):
        assert name in releases
    assert {"sysvinit", "upstart", "systemd", "busybox"} <= {row[2] for row in ROWS}
    assert {"quiet", "verbose"} <= {row[3] for row in ROWS}
    assert {"boots", "fails"} == {row[6] for row in ROWS}
    for log in (row[0] for row in ROWS):
        assert (DATA / log.replace(".log", ".sources.txt")).is_file(), log


@pytest.mark.parametrize("name, release, init, output, ended, stage, verdict, error, refused", ROWS,
                         ids=[row[0][:-4] for row in ROWS])
def test_stage_and_verdict(name, release, init, output, ended, stage, verdict, error, refused):
    log = (DATA / name).read_bytes().decode("utf-8", "replace")
    result = analyse(log, ended=ended)
    assert (result.stage_reached or "-", "boots" if result.ok else "fails", result.error[0] if result.error else "-") \
        == (stage, verdict, error), result
    kernel_refused, _ = drivers.kernel_lines(console_lines(log))
    assert (",".join(sorted(kernel_refused)) or "-") == refused
