"""A UEFI guest rescued and proven by booting it through OVMF and its own ESP.

`el9-uefi-bootable` (fixtures/elguest.py, fixtures/grub2_efi.py): CentOS Stream 9
on GPT with a BIOS boot partition and an ESP; OVMF with fresh NVRAM starts
EFI/BOOT/BOOTX64.EFI (GRUB-EFI), which reads the EL9 stub EFI/centos/grub.cfg,
which loads /boot/grub2/grub.cfg and its BLS entries. The update erases the
kernel packages; boot-check (UEFI, chosen from the disk) fails in GRUB; diagnose
sees both firmwares and the stub; reinstall-kernel writes the BLS entry on
/boot and leaves the stub a stub, byte for byte; the guest boots again under
OVMF. The same disk boots through SeaBIOS as well (the hybrid).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fixtures
from fixtures.bootable import guest_ids
from fixtures.elguest import GUESTS
from fixtures.grub2_efi import stub_cfg
from fixtures.hostkernel import split_release

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="the bootable fixtures are built as root"),
              pytest.mark.skipif(not Path("/usr/share/OVMF/OVMF_CODE_4M.fd").is_file(), reason="ovmf is needed")]

REPO = Path(__file__).resolve().parents[2]
SCENARIO = "el9-uefi-bootable"


def vmrescue(*args):
    return subprocess.run([sys.executable, "-m", "rescue", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "COLUMNS": "200"}, timeout=1800, stdin=subprocess.DEVNULL)


def boot_check(image: Path, *extra) -> tuple[int, dict]:
    proc = vmrescue("boot-check", "--allow-backing", "--json", "--timeout", "400", *extra, str(image))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def esp_and_entries(image: Path) -> dict:
    """The ESP's stub and the BLS entries, read in one appliance launch."""
    lay = GUESTS[SCENARIO].layout
    g = fixtures.appliance()
    g.add_drive_opts(str(image), format="qcow2", readonly=True)
    g.launch()
    try:
        (root,) = g.inspect_os()
        g.mount_ro(f"/dev/{lay.vg}/{lay.root_lv}", "/")
        g.mount_ro("/dev/sda3", "/boot")
        g.mount_ro("/dev/sda2", "/boot/efi")
        state = {"stub": g.read_file("/boot/efi/EFI/centos/grub.cfg"), "esp": sorted(g.find("/boot/efi")),
                 "entries": g.ls("/boot/loader/entries"),
                 "texts": [g.cat(f"/boot/loader/entries/{e}") for e in g.ls("/boot/loader/entries")],
                 "apps": {(a["app2_name"], a["app2_version"], a["app2_release"])
                          for a in g.inspect_list_applications2(root)}}
        g.umount_all()
        return state
    finally:
        g.close()


def test_the_uefi_guest_is_rescued_and_boots_through_ovmf(tmp_path):
    kernel = fixtures.bootable_kernel_release()
    version, release = split_release(kernel)
    guest = GUESTS[SCENARIO]
    image = fixtures.overlay(SCENARIO, tmp_path)

    status, report = boot_check(image, "--expect-kernel", kernel)
    assert status == 0 and report["stage_reached"] == "login", report
    assert report["boot"]["firmware"] == "uefi" and report["kernel"]["booted"] == kernel
    assert any("--firmware bios" in note for note in report["notes"])     # the hybrid, said
    stages = {s["stage"]: s["line"] for s in report["stages"]}
    assert list(stages)[:3] == ["firmware", "efi-loader", "bootloader"], stages
    assert stages["efi-loader"].startswith("BdsDxe: starting Boot")       # OVMF started the ESP's fallback loader

    fixtures.break_like_update(image, SCENARIO)
    status, report = boot_check(image)
    assert status == 1 and report["stage_reached"] == "bootloader", report

    proc = vmrescue("diagnose", "--json", "--allow-backing", str(image))
    entry = json.loads(proc.stdout)["images"][0]
    assert entry["bootable"] is False and entry["recommended_kernel"]["uname_r"] == kernel
    assert {"NO_BOOT_ENTRIES", "SAVED_ENTRY_UNKNOWN"} <= {f["code"] for f in entry["findings"]}
    assert entry["firmware"]["needs"] == "both" and entry["firmware"]["vendors"][0]["stub"]["exists"]

    rpms = tmp_path / "rpms"
    shutil.copytree(fixtures.bootable_rpms_dir(el=9), rpms)
    proc = vmrescue("reinstall-kernel", "--yes", "--nosignature", "--allow-backing", "--from", str(rpms), str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"/boot/loader/entries/{guest.machine_id}-{kernel}.conf: new entry" in proc.stdout
    assert "/boot/efi" not in proc.stdout              # nothing planned, nothing backed up on the ESP

    status, report = boot_check(image, "--expect-kernel", kernel)
    assert status == 0 and report["boot"]["firmware"] == "uefi", report
    assert report["kernel"]["booted"] == kernel

    state = esp_and_entries(image)
    assert state["stub"] == stub_cfg(guest_ids(SCENARIO).boot).encode()         # still the stub, byte for byte
    assert state["esp"] == ["/EFI", "/EFI/BOOT", "/EFI/BOOT/BOOTX64.EFI", "/EFI/centos", "/EFI/centos/grub.cfg",
                            "/EFI/centos/grubx64.efi"]
    assert state["entries"] == [f"{guest.machine_id}-{kernel}.conf"]
    assert f"options {guest.cmdline}" in state["texts"][0]        # EL9 writes them out, from /etc/kernel/cmdline
    # EL9's split kernel: every package of it back, in one transaction
    assert {(n, version, release) for n in ("kernel-core", "kernel-modules-core", "kernel-modules", "kernel")} \
        <= state["apps"]


def test_the_hybrid_disk_boots_through_seabios_too():
    kernel = fixtures.bootable_kernel_release()
    status, report = boot_check(fixtures.image(SCENARIO), "--firmware", "bios", "--expect-kernel", kernel)
    assert status == 0 and report["stage_reached"] == "login", report
    assert report["boot"]["firmware"] == "bios"
