"""The bootable fixture really boots, through its own GRUB Legacy, and breaks
the way the seed did.

Every boot is qemu under TCG from the disk's MBR (never -kernel); the cached
image is booted with -snapshot and every edit goes to an overlay in tmp_path.
Costs under TCG: a boot to the marker about 25 s, an appliance launch about
13 s, the guest's dracut in the appliance about 90 s. The first run builds
the image (about 2 minutes, debootstrap included).
"""
from __future__ import annotations

import os
import re

import pytest

guestfs = pytest.importorskip("guestfs")

import fixtures  # noqa: E402
from fixtures.bootguest import LAYOUT, MARKER, MODULES_SCRIPT  # noqa: E402
from fixtures.breakage import add_entry, drop_entries  # noqa: E402
from fixtures.bootguest import grub_conf  # noqa: E402
from fixtures.foreignkernel import pick_release  # noqa: E402
from fixtures.hostkernel import module_closure, module_name, release_from_depends, split_release  # noqa: E402
from rescue.kernel.modinfo import read_modinfo  # noqa: E402

SCENARIO = "el6-bootable"
BOOT_TIMEOUT = 300
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the bootable fixture is built as root (chroot, mounts)")


@pytest.fixture(scope="session")
def release() -> str:
    return fixtures.bootable_kernel_release()


@pytest.fixture(scope="session")
def healthy():
    return fixtures.image(SCENARIO)


def _mount(g):
    g.mount_ro(f"/dev/{LAYOUT.vg}/{LAYOUT.root_lv}", "/")
    g.mount_ro(g.list_partitions()[0], "/boot")


def _grub_said(output: str) -> str:
    """The serial console up to the kernel's first line: what GRUB printed."""
    return output.split("Linux version", 1)[0]


# --- the healthy guest ----------------------------------------------------------

@pytest.mark.integration
@needs_root
def test_boots_through_its_own_grub_to_the_marker(healthy, release):
    run = fixtures.boot(healthy, timeout=BOOT_TIMEOUT)
    assert run.exited, f"no poweroff within {BOOT_TIMEOUT}s:\n{run.output[-3000:]}"
    grub = _grub_said(run.output)
    assert f"Booting 'CentOS ({release})'" in grub
    assert f"kernel /vmlinuz-{release} ro root={LAYOUT.root_device}" in grub
    assert "[Linux-bzImage" in grub and "[Linux-initrd" in grub
    assert run.marker_release() == release
    assert re.search(r"^\S+ login: ", run.output, re.M)
    # its init ran the modules script: VMware's module, built for this kernel, loaded
    assert f"vmxnet: VMware vmxnet stand-in (vmrescue test fixture), built for {release}" in run.output


@pytest.mark.integration
@needs_root
def test_inspection_sees_centos_6_with_the_kernel_package(healthy, release):
    version, rpm_release = split_release(release)
    g = fixtures.appliance()
    g.add_drive_opts(str(healthy), format="qcow2", readonly=True)
    g.launch()
    try:
        (root,) = g.inspect_os()
        assert (g.inspect_get_distro(root), g.inspect_get_major_version(root),
                g.inspect_get_minor_version(root), g.inspect_get_arch(root)) == ("centos", 6, 10, "x86_64")
        assert g.inspect_get_package_format(root) == "rpm"
        assert g.inspect_get_mountpoints(root) == {"/": f"/dev/{LAYOUT.vg}/{LAYOUT.root_lv}", "/boot": "/dev/sda1"}
        _mount(g)
        apps = {(a["app2_name"], a["app2_version"], a["app2_release"], a["app2_arch"])
                for a in g.inspect_list_applications2(root)}
        assert ("kernel", version, rpm_release, "x86_64") in apps
        assert {f"vmlinuz-{release}", f"initramfs-{release}.img", f"System.map-{release}",
                f"config-{release}"} <= set(g.ls("/boot"))
        assert g.is_file(f"/lib/modules/{release}/modules.dep")
        # a real module built by kbuild for the kernel, where VMware Tools puts what it compiles
        info = read_modinfo(g.read_file(f"/lib/modules/{release}/misc/vmxnet.ko"))
        assert info["name"] == ["vmxnet"] and info["vermagic"][0].split()[0] == release
        assert "misc/vmxnet.ko:" in g.cat(f"/lib/modules/{release}/modules.dep")
        assert f"/sbin/insmod /lib/modules/{release}/misc/vmxnet.ko" in g.cat(MODULES_SCRIPT)
        assert g.readlink("/etc/rc.local") == "rc.d/rc.local" and g.is_file("/etc/rc.d/rc.local")
        assert f"title CentOS ({release})" in g.cat("/boot/grub/grub.conf")
        assert g.readlink("/boot/grub/menu.lst") == "./grub.conf"
        assert f"Installed: kernel-{version}-{rpm_release}.x86_64" in g.cat("/var/log/yum.log")
        assert "omit_dracutmodules" in g.cat("/etc/dracut.conf.d/vmrescue-fixture.conf")
        # The guest's own rpm reads the same database libguestfs did.
        assert g.command(["rpm", "-q", "kernel"]).strip() == f"kernel-{version}-{rpm_release}.x86_64"
        assert g.command(["rpm", "-qf", f"/boot/vmlinuz-{release}"]).strip().startswith("kernel-")
    finally:
        g.close()


@pytest.mark.integration
@needs_root
def test_rpms_dir_holds_the_kernel_and_an_arch_decoy(release):
    version, rpm_release = split_release(release)
    names = sorted(p.name for p in fixtures.bootable_rpms_dir().glob("*.rpm"))
    assert names == [f"kernel-{version}-{rpm_release}.i686.rpm", f"kernel-{version}-{rpm_release}.x86_64.rpm"]


# --- broken like the seed, and the edits vmrescue will make -----------------------

@pytest.mark.integration
@needs_root
def test_break_like_seed_leaves_grub_without_an_entry(tmp_path, release):
    scratch = fixtures.overlay(SCENARIO, tmp_path)
    fixtures.break_like_seed(scratch)

    g = fixtures.appliance()
    g.add_drive_opts(str(scratch), format="qcow2", readonly=True)
    g.launch()
    try:
        (root,) = g.inspect_os()
        _mount(g)
        assert "kernel" not in {a["app2_name"] for a in g.inspect_list_applications2(root)}
        assert sorted(g.ls("/boot")) == ["grub", "lost+found"]
        assert g.ls(f"/lib/modules/{release}") == ["misc"]
        assert "title" not in g.cat("/boot/grub/grub.conf")
        assert g.cat("/var/log/yum.log").splitlines()[-1].endswith(f"Erased: kernel-{'-'.join(split_release(release))}"
                                                                   ".x86_64")
    finally:
        g.close()

    run = fixtures.boot(scratch, timeout=120, until=("grub>", "Error 15"))
    assert "grub>" in run.output or "Error 15" in run.output, run.output[-2000:]
    assert "Booting '" not in run.output
    assert MARKER not in run.output and "Linux version" not in run.output


@pytest.mark.integration
@needs_root
def test_the_guests_own_dracut_in_the_appliance_builds_a_bootable_initramfs(tmp_path, release):
    scratch = fixtures.overlay(SCENARIO, tmp_path)
    fixtures.rebuild_initramfs(scratch)        # rm initramfs, then `dracut -f /boot/initramfs-R.img R` in the guest
    run = fixtures.boot(scratch, snapshot=False, timeout=BOOT_TIMEOUT)
    assert run.marker_release() == release, run.output[-3000:]


@pytest.mark.integration
@needs_root
def test_a_kernel_copied_from_another_server_boots_without_modules(tmp_path, release):
    scratch = fixtures.overlay(SCENARIO, tmp_path)
    fixtures.break_like_seed(scratch)
    copied = fixtures.copy_foreign_kernel(scratch)
    assert copied != release
    run = fixtures.boot(scratch, snapshot=False, timeout=BOOT_TIMEOUT)
    assert f"Booting 'CentOS copied kernel ({copied})'" in _grub_said(run.output)
    assert run.marker_release() == copied, run.output[-3000:]
    # the copied kernel itself refuses VMware's module, built for the erased one
    assert "vmxnet: disagrees about version of symbol module_layout" in run.output, run.output[-3000:]


# --- pure helpers (no appliance) ---------------------------------------------------

def test_grub_entry_removal_and_addition_round_trip():
    two = grub_conf(LAYOUT, ["6.1.0-56-amd64", "6.1.0-54-amd64"], default=1)
    one = drop_entries(two, "6.1.0-56-amd64")
    assert "vmlinuz-6.1.0-56-amd64" not in one and "title CentOS (6.1.0-54-amd64)" in one
    assert re.search(r"^default=0$", one, re.M)        # still the 54 entry
    none = drop_entries(one, "6.1.0-54-amd64")
    assert "title" not in none and "serial --unit=0" in none and "default=0" in none
    back = add_entry(none, "6.1.0-55-cloud-amd64", "copied")
    assert back.index("title copied") > back.index("hiddenmenu")
    assert f"kernel /vmlinuz-6.1.0-55-cloud-amd64 ro root={LAYOUT.root_device} " in back


def test_kernel_naming():
    assert split_release("6.1.0-56-amd64") == ("6.1.0", "56")
    assert release_from_depends("linux-image-6.1.0-56-amd64 (= 6.1.192-2)") == "6.1.0-56-amd64"
    assert module_name("kernel/drivers/md/dm-mod.ko") == "dm_mod"
    dep = {"kernel/a/ata_piix.ko": ("kernel/a/libata.ko", "kernel/s/scsi_mod.ko"),
           "kernel/a/libata.ko": ("kernel/s/scsi_mod.ko",), "kernel/s/scsi_mod.ko": (), "kernel/x/other.ko": ()}
    assert module_closure(dep, ["ata_piix", "not_a_module"]) == [
        "kernel/a/ata_piix.ko", "kernel/a/libata.ko", "kernel/s/scsi_mod.ko"]
    search = "\n".join(f"linux-image-6.1.0-{n}-cloud-amd64 - Linux 6.1 for x86-64 cloud (signed)"
                       for n in (47, 55, 56, 57))
    assert pick_release("6.1.0-56-amd64", search) == "6.1.0-55-cloud-amd64"
