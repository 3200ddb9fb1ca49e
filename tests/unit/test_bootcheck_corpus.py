"""boot-check's reading of real-world console output, table-driven over tests/data/console/.

60 composed logs (EL5-EL9, Debian, Ubuntu, busybox; sysvinit, upstart, systemd;
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
    assert sum("UEFI" in row[1] for row in ROWS) >= 4
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


def test_a_uefi_boot_proves_the_firmware_and_the_efi_loader_before_grub():
    result = analyse((DATA / "62-el9-uefi-ovmf-healthy.log").read_text(), ended="timeout")
    stages = dict(result.stages)
    assert list(stages)[:3] == ["firmware", "efi-loader", "bootloader"]
    assert stages["firmware"].startswith('BdsDxe: failed to load Boot0001 "UEFI QEMU DVD-ROM')   # not a problem
    assert stages["efi-loader"].startswith('BdsDxe: starting Boot0002 "UEFI QEMU HARDDISK QM00001 "')
    assert stages["bootloader"] == "Welcome to GRUB!"
    assert result.ok and result.problems == ()


def test_the_efi_shell_is_no_loader_and_the_disks_failed_option_is_the_cause():
    result = analyse((DATA / "63-uefi-no-loader-efi-shell.log").read_text(), ended="timeout")
    assert [s for s, _ in result.stages] == ["firmware"]          # the shell is the firmware's own program
    assert result.error == ("EFI_LOAD_FAILED", 'BdsDxe: failed to load Boot0002 "UEFI QEMU HARDDISK QM00001 " from '
                            "PciRoot(0x0)/Pci(0x1,0x1)/Ata(Primary,Master,0x0): Not Found")
    assert [code for code, _ in result.problems] == ["EFI_LOAD_FAILED", "EFI_SHELL"]
