"""The fixture images, opened with the real libguestfs, are what their scenarios declare.

Each group of images is opened in one appliance launch (about 13 s under TCG,
plus about 12 s of inspection per guest). Guests of one layout share a VG
name, so a group holds at most one guest per layout, and each group mixes
image formats so every format is opened once.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

guestfs = pytest.importorskip("guestfs")

import fixtures  # noqa: E402
from fixtures.bzimage import read_version  # noqa: E402
from fixtures.catalogue import KERNELS, kernel  # noqa: E402
from fixtures.layouts import LAYOUTS  # noqa: E402
from fixtures.scenarios import Part  # noqa: E402

pytestmark = pytest.mark.integration

GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "healthy": (("el5-healthy", "qcow2"), ("el6-healthy", "vmdk"), ("el7-healthy", "vmdk-flat")),
    "broken": (("el5-seed", "raw"), ("el6-seed", "qcow2"), ("el7-seed", "qcow2")),
    "i386": (("el5-pae", "qcow2"),),
}
KERNEL_PACKAGES = {"kernel", "kernel-PAE", "kernel-xen", "kernel-plus"}
DRIVE_FORMAT = {"raw": "raw", "qcow2": "qcow2", "vmdk": "vmdk", "vmdk-flat": "vmdk"}


@dataclass(frozen=True)
class Seen:
    """What libguestfs found in one guest."""
    distro: str
    major: int
    minor: int
    arch: str
    mountpoints: dict[str, str]
    kernel_packages: frozenset[tuple[str, str, str, str]]
    boot_files: frozenset[str]
    vmlinuz_versions: dict[str, str | None]    # file name -> version in its header
    modules_dirs: dict[str, frozenset[str]]   # release -> entries of /lib/modules/<release>
    vmxnet_vermagic: str | None
    grub_config: bool
    grub_conf_stat: tuple[int, int, int, bytes] | None     # mode, uid, gid, SELinux label of grub.conf


def _modinfo(data: bytes, key: str) -> str | None:
    needle = key.encode() + b"="
    start = data.find(needle)
    if start < 0:
        return None
    end = data.find(b"\0", start)
    return data[start + len(needle):end].decode()


def _look(g, root: str) -> tuple[str, Seen]:
    mps = g.inspect_get_mountpoints(root)
    for mp in sorted(mps, key=len):
        g.mount_ro(mps[mp], mp)
    try:
        apps = g.inspect_list_applications2(root)
        kernels = frozenset((a["app2_name"], a["app2_version"], a["app2_release"], a["app2_arch"])
                            for a in apps if a["app2_name"] in KERNEL_PACKAGES)
        boot = frozenset(g.ls("/boot"))
        vmlinuz = {f: read_version(g.pread(f"/boot/{f}", 8192, 0)) for f in boot if f.startswith("vmlinuz-")}
        modules = {r: frozenset(g.ls(f"/lib/modules/{r}")) for r in g.ls("/lib/modules")}
        vermagic = None
        for release, entries in modules.items():
            if "misc" in entries and g.is_file(f"/lib/modules/{release}/misc/vmxnet.ko"):
                data = g.read_file(f"/lib/modules/{release}/misc/vmxnet.ko")
                assert data[:4] == b"\x7fELF"
                vermagic = _modinfo(data, "vermagic")
        grub_config = g.is_file("/boot/grub/grub.conf") or g.is_file("/boot/grub2/grub.cfg")
        grub_conf_stat = None
        if g.is_file("/boot/grub/grub.conf"):
            st = g.statns("/boot/grub/grub.conf")
            grub_conf_stat = (st["st_mode"] & 0o7777, st["st_uid"], st["st_gid"],
                              g.lgetxattr("/boot/grub/grub.conf", "security.selinux"))
        hostname = g.inspect_get_hostname(root)
        seen = Seen(
            distro=g.inspect_get_distro(root), major=g.inspect_get_major_version(root),
            minor=g.inspect_get_minor_version(root), arch=g.inspect_get_arch(root),
            mountpoints=mps, kernel_packages=kernels, boot_files=boot, vmlinuz_versions=vmlinuz,
            modules_dirs=modules, vmxnet_vermagic=vermagic, grub_config=grub_config,
            grub_conf_stat=grub_conf_stat)
    finally:
        g.umount_all()
    # Each fixture guest is named after its scenario: el5-seed -> el5seed.example.com
    name = next(s for s in fixtures.SCENARIOS if s.replace("-", "") + ".example.com" == hostname)
    return name, seen


def _open_group(members: tuple[tuple[str, str], ...]) -> dict[str, Seen]:
    paths = [(fixtures.image(name, fmt), fmt) for name, fmt in members]
    g = fixtures.appliance()
    try:
        for path, fmt in paths:
            g.add_drive_opts(str(path), readonly=True, format=DRIVE_FORMAT[fmt])
        g.launch()
        return dict(_look(g, root) for root in g.inspect_os())
    finally:
        g.close()


_opened: dict[str, dict[str, Seen]] = {}


@pytest.fixture(scope="session")
def seen():
    """Inspect a scenario's guest, launching its group's appliance on first use."""
    def get(name: str) -> Seen:
        group = next(g for g, members in GROUPS.items() if name in dict(members))
        if group not in _opened:
            _opened[group] = _open_group(GROUPS[group])
        return _opened[group][name]
    return get


ALL_GROUPED = [name for members in GROUPS.values() for name, _ in members]


@pytest.mark.parametrize("name", ALL_GROUPED)
def test_inspection_finds_centos(seen, name):
    scn = fixtures.get(name)
    lay = LAYOUTS[scn.layout]
    s = seen(name)
    assert (s.distro, s.major, s.minor, s.arch) == ("centos", lay.major, lay.minor, scn.arch)
    assert s.mountpoints["/"] == lay.lv_path
    assert s.mountpoints["/boot"].startswith("/dev/sd") and s.mountpoints["/boot"].endswith("1")


@pytest.mark.parametrize("name", ALL_GROUPED)
def test_rpmdb_lists_exactly_the_declared_kernels(seen, name):
    scn = fixtures.get(name)
    expected = set()
    for kod in scn.kernels:
        if kod.in_rpmdb:
            k = kernel(kod.release, scn.kernel_arch)
            expected.add((k.name, k.version, k.release, k.arch))
    assert seen(name).kernel_packages == expected


@pytest.mark.parametrize("name", ALL_GROUPED)
def test_boot_files_and_modules_match_the_declaration(seen, name):
    scn = fixtures.get(name)
    lay = LAYOUTS[scn.layout]
    s = seen(name)
    expected_vmlinuz = {f"vmlinuz-{k.release}": k.content_release for k in scn.kernels if Part.VMLINUZ in k.parts}
    assert {f: (v or "").split(" ")[0] for f, v in s.vmlinuz_versions.items()} == expected_vmlinuz
    for kod in scn.kernels:
        assert (lay.initrd_name(kod.release) in s.boot_files) == (Part.INITRD in kod.parts)
        entries = s.modules_dirs.get(kod.release, frozenset())
        assert ("kernel" in entries) == (Part.MODULES in kod.parts)
        assert ("modules.dep" in entries) == (Part.MODULES_DEP in kod.parts)
    assert s.grub_config == (scn.grub is not None)


@pytest.mark.parametrize("name", ALL_GROUPED)
def test_grub_conf_is_as_anaconda_leaves_it(seen, name):
    # 0600 (it may hold a password hash), root's, labelled boot_t: what a repair must keep
    s = seen(name)
    if s.grub_conf_stat is not None:
        assert s.grub_conf_stat == (0o600, 0, 0, b"system_u:object_r:boot_t:s0\0")


@pytest.mark.parametrize("name", ALL_GROUPED)
def test_vmxnet_is_built_for_the_declared_release(seen, name):
    scn = fixtures.get(name)
    s = seen(name)
    if scn.vmware_tools is None:
        assert s.vmxnet_vermagic is None
        return
    assert s.vmxnet_vermagic.split(" ")[0] == scn.vmware_tools
    # What yum erased leaves: the tools' misc/ and nothing else.
    if not any(k.release == scn.vmware_tools for k in scn.kernels):
        assert s.modules_dirs[scn.vmware_tools] == frozenset({"misc"})


def test_vmdk_flat_is_a_descriptor_beside_its_extent():
    desc = fixtures.image("el7-healthy", "vmdk-flat")
    extent = desc.with_name(desc.stem + "-flat.vmdk")
    assert extent.is_file()
    text = desc.read_text(errors="replace")
    assert 'createType="monolithicFlat"' in text and extent.name in text


def test_rpms_dir_holds_every_catalogue_kernel_as_a_real_rpm():
    rpms = fixtures.rpms_dir()
    files = {p.name for p in rpms.glob("*.rpm")}
    assert files == {k.rpm_file for k in KERNELS}
    # decoys: the plus kernel for another arch, and a version no scenario installs
    assert "kernel-2.6.18-274.3.1.el5.centos.plus.i686.rpm" in files
    assert "kernel-2.6.18-308.el5.x86_64.rpm" in files

    k = kernel("2.6.18-274.3.1.el5.centos.plus", "x86_64")
    rpm = rpms / k.rpm_file
    provides = subprocess.run(["rpm", "-qp", "--provides", rpm], capture_output=True, text=True, check=True).stdout
    assert f"kernel-uname-r = {k.uname_r}" in provides.splitlines()
    listing = subprocess.run(["rpm", "-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", rpm],
                             capture_output=True, text=True, check=True).stdout
    flags = dict(reversed(line.split(" ", 1)) for line in listing.splitlines())
    assert "g" in flags[f"/boot/initrd-{k.uname_r}.img"]        # %ghost: made in %post
    assert "g" not in flags[f"/boot/vmlinuz-{k.uname_r}"]
    assert f"/lib/modules/{k.uname_r}/kernel/drivers/message/fusion/mptspi.ko" in flags
    assert not any("/misc/" in path for path in flags)         # VMware's modules belong to no rpm


def test_image_is_cached(tmp_path):
    first = fixtures.image("el5-seed", "raw")
    stamp = first.stat().st_mtime_ns
    assert fixtures.image("el5-seed", "raw") == first
    assert first.stat().st_mtime_ns == stamp


def test_overlay_is_writable_and_leaves_the_cache_alone(tmp_path):
    base = fixtures.image("el5-seed", "qcow2")
    before = base.stat().st_mtime_ns
    over = fixtures.overlay("el5-seed", tmp_path)
    info = subprocess.run(["qemu-img", "info", over], capture_output=True, text=True, check=True).stdout
    assert str(base) in info
    assert base.stat().st_mtime_ns == before
