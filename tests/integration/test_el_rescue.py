"""The rescue of EL7, EL8 and EL9 guests, proven by booting them through their own GRUB 2.

Each guest (fixtures/elguest.py) boots a real kernel from its MBR: EL7 through a
menuentry grub.cfg, EL8 and EL9 through BLS snippets (read by the blscfg stand-in,
fixtures/grub2_bios.py) with saved_entry in grubenv. An update erases its kernel
packages (kernel-core, kernel-modules[-core], kernel on EL8/EL9) and their boot
entry, leaving saved_entry naming the entry that is gone; vmrescue diagnoses it,
reinstalls the split packages in one transaction with the guest's own rpm, copies
the image to /boot, has the guest's dracut make the initramfs, writes the BLS
snippet, and the guest boots again.

EL8 runs the whole story (healthy boot, broken boot, repair, boot); EL7 skips
the two boots before the repair, which the EL8 story already proves, to keep
CI's appliance launches and boots down. EL9's story (its four split packages
in one transaction, options from /etc/kernel/cmdline) is told on its UEFI
guest, in test_uefi.py; el9-bootable is inspected and diagnosed healthy in
test_el_fixture.py.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fixtures
from fixtures.elguest import GUESTS
from fixtures.hostkernel import split_release

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="the bootable fixtures are built as root")]

REPO = Path(__file__).resolve().parents[2]


def vmrescue(*args):
    return subprocess.run([sys.executable, "-m", "rescue", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "COLUMNS": "200"}, timeout=1800, stdin=subprocess.DEVNULL)


def boot_check(image: Path, *extra) -> tuple[int, dict]:
    proc = vmrescue("boot-check", "--allow-backing", "--json", "--timeout", "400", *extra, str(image))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def diagnose(image: Path) -> tuple[int, dict]:
    proc = vmrescue("diagnose", "--json", "--allow-backing", str(image))
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)["images"][0]


@pytest.fixture(scope="module")
def kernel():
    return fixtures.bootable_kernel_release()


def rpm_dir(tmp_path: Path, el: int) -> Path:
    """The guest's kernel packages among decoys (in a subdirectory, --from reads it too): an i686
    build of the same release, other kernels, and for EL8/EL9 the one-package kernel-V-R.x86_64 of
    the same release, which has the meta package's very name-version-release."""
    d = tmp_path / "rpms"
    (d / "decoys").mkdir(parents=True)
    for rpm in fixtures.bootable_rpms_dir(el=el).glob("*.rpm"):
        shutil.copy(rpm, d / rpm.name)
    decoys = [p for p in fixtures.bootable_rpms_dir().glob("*.rpm") if el >= 8 or "i686" in p.name]
    for rpm in [*decoys, *fixtures.rpms_dir().glob("kernel-2.6.32*.rpm")]:
        shutil.copy(rpm, d / "decoys" / rpm.name)
    return d


def repaired_state(image: Path, scenario: str, release: str) -> dict:
    """What the repair left in the guest, read in one appliance launch."""
    guest, lay = GUESTS[scenario], GUESTS[scenario].layout
    g = fixtures.appliance()
    g.add_drive_opts(str(image), format="qcow2", readonly=True)
    g.launch()
    try:
        (root,) = g.inspect_os()
        g.mount_ro(f"/dev/{lay.vg}/{lay.root_lv}", "/")
        g.mount_ro(g.list_partitions()[lay.boot_partition - 1], "/boot")
        apps = {(a["app2_name"], a["app2_version"], a["app2_release"]) for a in g.inspect_list_applications2(root)}
        entry = f"/boot/loader/entries/{guest.machine_id}-{release}.conf"
        state = {
            "apps": apps,
            "entry": g.cat(entry) if g.is_file(entry) else None,
            "entry_mode": g.statns(entry)["st_mode"] & 0o7777 if g.is_file(entry) else None,
            "grubenv": g.cat("/boot/grub2/grubenv"),
            "grub_cfg": g.cat("/boot/grub2/grub.cfg"),
            "same_image": (g.is_file(f"/lib/modules/{release}/vmlinuz")
                           and g.checksum("sha256", f"/lib/modules/{release}/vmlinuz")
                           == g.checksum("sha256", f"/boot/vmlinuz-{release}")),
            "initrd": g.is_file(f"/boot/initramfs-{release}.img"),
        }
        g.umount_all()
        return state
    finally:
        g.close()


def repair(image: Path, rpms: Path) -> str:
    proc = vmrescue("reinstall-kernel", "--yes", "--nosignature", "--allow-backing", "--from", str(rpms), str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def assert_broken_by_update(entry: dict, kernel: str, bls: bool) -> None:
    assert entry["bootable"] is False
    assert entry["recommended_kernel"]["uname_r"] == kernel
    codes = {f["code"] for f in entry["findings"]}
    assert "NO_BOOT_ENTRIES" in codes, codes
    if bls:
        assert "SAVED_ENTRY_UNKNOWN" in codes, codes


def test_el8_update_story_is_rescued_and_boots(tmp_path, kernel):
    scenario, guest = "el8-bootable", GUESTS["el8-bootable"]
    version, release = split_release(kernel)
    image = fixtures.overlay(scenario, tmp_path)

    status, report = boot_check(image, "--expect-kernel", kernel)
    assert status == 0 and report["stage_reached"] == "login", report
    assert report["kernel"]["booted"] == kernel

    erased = fixtures.break_like_update(image, scenario)
    assert f"kernel-core-{version}-{release}.x86_64" in erased
    status, report = boot_check(image)
    assert status == 1 and report["stage_reached"] == "bootloader", report

    _, entry = diagnose(image)
    assert_broken_by_update(entry, kernel, bls=True)
    saved = next(f for f in entry["findings"] if f["code"] == "SAVED_ENTRY_UNKNOWN")
    assert f"saved_entry={guest.machine_id}-{kernel}" in saved["message"]
    assert any("dnf.rpm.log shows kernel-core" in f["message"] for f in entry["findings"])
    # The recommendation names every package of the kernel on EL8, the image's first.
    packages = entry["recommended_kernel"]["packages"]
    assert [p.split("-6.")[0] for p in packages] == ["kernel-core", "kernel-modules", "kernel"], packages

    out = repair(image, rpm_dir(tmp_path, 8))
    assert "one transaction" in out
    assert (f"kernel-core-{version}-{release}.x86_64.rpm kernel-modules-{version}-{release}.x86_64.rpm "
            f"kernel-{version}-{release}.x86_64.rpm") in out
    assert f"copy /lib/modules/{kernel}/vmlinuz to /boot/vmlinuz-{kernel}" in out
    assert "options $kernelopts" in out
    assert f"Now: {image}: BOOTABLE · default kernel: {kernel}" in out

    status, report = boot_check(image, "--expect-kernel", kernel)
    assert status == 0 and report["stage_reached"] == "login", report
    assert report["kernel"]["booted"] == kernel

    state = repaired_state(image, scenario, kernel)
    assert {(n, version, release) for n in ("kernel-core", "kernel-modules", "kernel")} <= state["apps"]
    assert state["entry"].splitlines()[:5] == [
        f"title {guest.title(kernel)}", f"version {kernel}", f"linux /vmlinuz-{kernel}",
        f"initrd /initramfs-{kernel}.img", "options $kernelopts"]
    assert f"saved_entry={guest.machine_id}-{kernel}\n" in state["grubenv"]
    assert "kernelopts=root=/dev/mapper/rl-root ro " in state["grubenv"]     # left as it was
    assert state["same_image"] and state["initrd"]


def test_el7_update_story_is_rescued_and_boots(tmp_path, kernel):
    scenario = "el7-bootable"
    guest = GUESTS[scenario]
    version, release = split_release(kernel)
    image = fixtures.overlay(scenario, tmp_path)
    fixtures.break_like_update(image, scenario)

    _, entry = diagnose(image)
    assert_broken_by_update(entry, kernel, bls=guest.bls)

    out = repair(image, rpm_dir(tmp_path, guest.el))
    assert f"Now: {image}: BOOTABLE · default kernel: {kernel}" in out

    status, report = boot_check(image, "--expect-kernel", kernel)
    assert status == 0 and report["stage_reached"] == "login", report
    assert report["kernel"]["booted"] == kernel

    state = repaired_state(image, scenario, kernel)
    assert ("kernel", version, release) in state["apps"]
    assert state["entry"] is None
    assert f"linux16 /vmlinuz-{kernel} root={guest.layout.root_device} ro" in state["grub_cfg"]
    assert f"saved_entry={guest.title(kernel)}\n" in state["grubenv"]
    assert state["initrd"]


def test_el8_clone_entry_and_lost_kernelopts_are_found_and_repaired(tmp_path, kernel):
    """The variants: a clone's snippet whose kernel is gone sorts first, and kernelopts is lost from
    grubenv while grub.cfg has no fallback, so the default entry's `options $kernelopts` gives the
    kernel no root=. The repair writes the options out (root= from fstab, GRUB_CMDLINE_LINUX) and
    puts the clone's snippet aside; the guest boots."""
    scenario, guest = "el8-bootable", GUESTS["el8-bootable"]
    image = fixtures.overlay(scenario, tmp_path)
    stale = fixtures.damage_bls(image, scenario)["stale_entry"]

    status, entry = diagnose(image)
    assert status == 1 and entry["bootable"] is False
    def severities(code):
        return {f["severity"] for f in entry["findings"] if f["code"] == code}
    # an error for the default entry (no root=), a warning for the clone's
    assert severities("KERNELOPTS_MISSING") == {"error", "warning"}, entry["findings"]
    assert severities("BLS_FOREIGN_MACHINE_ID") == {"warning"}
    assert any(stale in f["message"] for f in entry["findings"] if f["code"] == "BLS_FOREIGN_MACHINE_ID")

    out = repair(image, rpm_dir(tmp_path, 8))
    assert f"options root={guest.layout.root_device} ro {guest.layout.kernel_args}" in out
    assert "GRUB_CMDLINE_LINUX from /etc/default/grub" in out
    assert f"put aside {Path(stale).name} (its kernel is gone)" in out

    status, report = boot_check(image, "--expect-kernel", kernel)
    assert status == 0 and report["kernel"]["booted"] == kernel, report
