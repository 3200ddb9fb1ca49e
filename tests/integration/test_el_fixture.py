"""The EL7/EL8/EL9 bootable guests are what their releases leave on disk, and healthy.

Two appliance launches for the four guests (the fourth, EL9 for BIOS and UEFI): libguestfs inspection of all three,
and one `vmrescue diagnose` run over all three. Their boots are proven by
test_el_rescue.py (boot-check before and after the repair).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fixtures
from fixtures.elguest import GUESTS
from fixtures.grub2_bios import trimmed_command_list
from fixtures.hostkernel import split_release

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="the bootable fixtures are built as root")]

REPO = Path(__file__).resolve().parents[2]
NAMES = ("el7-bootable", "el8-bootable", "el9-bootable", "el9-uefi-bootable")
# libguestfs before 1.50 has no "almalinux" and calls AlmaLinux "redhat-based"; vmrescue reads os-release itself.
EXPECTED = {"el7-bootable": {("centos", 7, 9)}, "el8-bootable": {("rocky", 8, 10)},
            "el9-bootable": {("almalinux", 9, 4), ("redhat-based", 9, 4)}, "el9-uefi-bootable": {("centos", 9, 0)}}


@pytest.fixture(scope="module")
def images():
    return dict(zip(NAMES, fixtures.build(list(NAMES))))


@pytest.fixture(scope="module")
def inspected(images):
    """Per guest: distro, version, kernel packages in the rpmdb, and the /boot files that matter."""
    g = fixtures.appliance()
    for path in images.values():
        g.add_drive_opts(str(path), format="qcow2", readonly=True)
    g.launch()
    out = {}
    try:
        roots = {g.inspect_get_mountpoints(r)["/"]: r for r in g.inspect_os()}
        for name in NAMES:
            guest, lay = GUESTS[name], GUESTS[name].layout
            root = roots[f"/dev/{lay.vg}/{lay.root_lv}"]
            g.mount_ro(root, "/")
            g.mount_ro(g.inspect_get_mountpoints(root)["/boot"], "/boot")
            entries = g.ls("/boot/loader/entries") if g.is_dir("/boot/loader/entries") else []
            out[name] = {
                "os": (g.inspect_get_distro(root), g.inspect_get_major_version(root),
                       g.inspect_get_minor_version(root)),
                "kernels": {(a["app2_name"], a["app2_version"], a["app2_release"])
                            for a in g.inspect_list_applications2(root) if a["app2_name"].startswith("kernel")},
                "boot_fs": g.vfs_type(g.inspect_get_mountpoints(root)["/boot"]),
                "entries": entries,
                "entries_mode": g.statns("/boot/loader/entries")["st_mode"] & 0o777 if entries else None,
                "grubenv_size": g.filesize("/boot/grub2/grubenv"),
                "grub_cfg": g.cat("/boot/grub2/grub.cfg"),
                "command_lst": g.cat("/boot/grub2/i386-pc/command.lst"),
                "lib_vmlinuz": bool(g.is_file(f"/lib/modules/{fixtures.bootable_kernel_release()}/vmlinuz")),
            }
            g.umount_all()
    finally:
        g.close()
    return out


@pytest.mark.parametrize("name", NAMES)
def test_inspection_sees_the_release_and_its_kernel_packages(inspected, name):
    version, release = split_release(fixtures.bootable_kernel_release())
    guest, seen = GUESTS[name], inspected[name]
    assert seen["os"] in EXPECTED[name]
    assert seen["boot_fs"] == "xfs"                       # as anaconda makes /boot from EL7 on
    assert seen["grubenv_size"] == 1024
    wanted = {7: ("kernel",), 8: ("kernel-core", "kernel-modules", "kernel"),
              9: ("kernel-core", "kernel-modules-core", "kernel-modules", "kernel")}[guest.el]
    assert seen["kernels"] == {(n, version, release) for n in wanted}
    assert seen["lib_vmlinuz"] is (guest.el >= 8)         # kernel-core keeps its image in /lib/modules/R


@pytest.mark.parametrize("name", NAMES)
def test_grub_cfg_is_the_releases_shape(inspected, name):
    guest, seen = GUESTS[name], inspected[name]
    cfg = seen["grub_cfg"]
    if guest.bls:
        assert cfg.rstrip().endswith("### END /etc/grub.d/40_custom ###")
        assert "insmod blscfg\nblscfg\n" in cfg and "menuentry " not in cfg
        assert seen["entries"] == [f"{guest.machine_id}-{fixtures.bootable_kernel_release()}.conf"]
        assert seen["entries_mode"] == 0o700
        # The stand-in's functions are not shadowed by the commands they emulate.
        assert seen["command_lst"] == trimmed_command_list(seen["command_lst"])
        assert not any(line.startswith(("linux:", "initrd:")) for line in seen["command_lst"].splitlines())
        assert ("set kernelopts=" in cfg) is (guest.el == 8) and ("default_kernelopts" in cfg) is (guest.el == 9)
    else:
        assert cfg.count("menuentry '") == 1 and "linux16 /vmlinuz-" in cfg and not seen["entries"]
        assert "linux: linux" in seen["command_lst"]


def test_vmrescue_finds_the_healthy_guests_healthy(images):
    proc = subprocess.run([sys.executable, "-m", "rescue", "diagnose", "--json", *map(str, images.values())],
                          capture_output=True, text=True, cwd=REPO, stdin=subprocess.DEVNULL, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kernel = fixtures.bootable_kernel_release()
    for entry in json.loads(proc.stdout)["images"]:
        assert entry["bootable"] is True and entry["default_kernel"] == kernel, entry
        assert [f for f in entry["findings"] if f["severity"] != "info"] == [], entry["findings"]
    by_name = {Path(e["path"]).name.split(".")[0]: e for e in json.loads(proc.stdout)["images"]}
    assert by_name["el8-bootable"]["firmware"]["needs"] == "bios" and by_name["el8-bootable"]["firmware"]["esp"] is None
    # the hybrid: BIOS code and a BIOS boot partition, and an ESP with the fallback loader and the EL9 stub
    fw = by_name["el9-uefi-bootable"]["firmware"]
    # (device names are the appliance's, where this guest is the fourth disk)
    assert fw["needs"] == "both" and fw["partition_table"] == "gpt" and fw["bios_boot_partition"].endswith("1")
    assert fw["esp"].endswith("2") and fw["esp_fstype"] == "vfat" and fw["fallback"] == "/boot/efi/EFI/BOOT/BOOTX64.EFI"
    assert fw["vendor"] == "/boot/efi/EFI/centos"
    (vendor,) = fw["vendors"]
    assert vendor["loaders"] == ["grubx64.efi"]
    assert vendor["stub"] == {"uuid": fixtures.bootable.guest_ids("el9-uefi-bootable").boot, "target": "/grub2/grub.cfg",
                              "loads": "/boot/grub2/grub.cfg", "exists": True}
    assert by_name["el9-uefi-bootable"]["bootloader"]["config"] == "/boot/grub2/grub.cfg"
