"""rescue.kernel.inventory and .bootfiles: boot file names, kernel package names, joining sources per release."""
from __future__ import annotations

import pytest

from rescue.distro.redhat import RedHat
from rescue.distro.redhat_naming import is_kernel_package
from rescue.kernel.bootfiles import is_kdump_initrd, parse_boot_name, release_from_boot_name
from rescue.kernel.inventory import booted_release, join_kernels, newest_first
from rescue.model import InitrdFile, Kernel, ModulesDir, RpmPackage, VmlinuzFile

PLUS = "2.6.18-274.3.1.el5.centos.plus"
OLD = "2.6.18-238.el5"


@pytest.mark.parametrize("name", [
    "kernel", "kernel-PAE", "kernel-xen", "kernel-plus", "kernel-smp", "kernel-largesmp",
    "kernel-hugemem", "kernel-debug", "kernel-PAE-debug", "kernel-core", "kernel-uek",
])
def test_kernel_packages(name):
    assert is_kernel_package(name)


@pytest.mark.parametrize("name", [
    "kernel-headers", "kernel-devel", "kernel-firmware", "kernel-doc", "kernel-tools",
    "kernel-tools-libs", "kernel-abi-whitelists", "kernel-PAE-devel", "kernel-xen-devel",
    "kernel-debuginfo", "kernel-debuginfo-common-x86_64", "kernel-module-vmxnet", "kernelfoo",
    "kmod-vmxnet", "kernel-",
])
def test_not_kernel_packages(name):
    assert not is_kernel_package(name)


@pytest.mark.parametrize("filename, release", [
    ("vmlinuz-2.6.18-274.el5", "2.6.18-274.el5"),
    ("/boot/vmlinuz-2.6.18-274.3.1.el5.centos.plus", PLUS),
    ("vmlinuz-2.6.18-274.el5xen", "2.6.18-274.el5xen"),
    ("initrd-2.6.18-274.el5PAE.img", "2.6.18-274.el5PAE"),
    ("initramfs-2.6.32-754.el6.x86_64.img", "2.6.32-754.el6.x86_64"),
    ("System.map-2.6.18-238.el5", OLD),
    ("config-2.6.18-238.el5", OLD),
    ("initrd.img-4.19.0-6-amd64", "4.19.0-6-amd64"),
])
def test_release_from_boot_name(filename, release):
    assert release_from_boot_name(filename) == release


@pytest.mark.parametrize("filename", [
    "initrd-2.6.18-274.el5kdump.img",           # EL5 kdump service
    "initramfs-2.6.32-754.el6.x86_64kdump.img",  # EL6
    "initramfs-3.10.0-1160.el7.x86_64kdump.img",
    "vmlinuz-0-rescue-0123456789abcdef",         # EL7 rescue image: no uname -r
    "xen.gz-2.6.18-274.el5",
    ".vmlinuz-2.6.32-754.el6.x86_64.hmac",
    "grub",
    "vmlinuz",
    "initrd-2.6.18-274.el5.img.bak",
])
def test_not_boot_names(filename):
    assert release_from_boot_name(filename) is None


def test_kdump_initrds_are_flagged():
    assert is_kdump_initrd("initrd-2.6.18-274.el5kdump.img")
    assert parse_boot_name("initrd-2.6.18-274.el5kdump.img").release == "2.6.18-274.el5"
    assert not is_kdump_initrd("initrd-2.6.18-274.el5.img")


def test_newest_first_orders_by_rpm_version():
    releases = [OLD, PLUS, "2.6.18-274.el5", "2.6.18-8.el5", "2.6.18-274.12.1.el5"]
    assert newest_first(releases) == [
        "2.6.18-274.12.1.el5", PLUS, "2.6.18-274.el5", OLD, "2.6.18-8.el5"]


def _vmlinuz(release: str, embedded: str | None = None) -> VmlinuzFile:
    emb = embedded or release
    return VmlinuzFile(f"/boot/vmlinuz-{release}", release, f"{emb} (mockbuild@builder) #1 SMP", emb)


def _initrd(release: str, name: str | None = None) -> InitrdFile:
    return InitrdFile(f"/boot/{name or f'initrd-{release}.img'}", release, 3_000_000)


def _modules(release: str, tree: bool = True) -> ModulesDir:
    return ModulesDir(release, f"/lib/modules/{release}", has_modules_dep=tree, has_kernel_tree=tree)


def _kernel_pkg(release: str, name: str = "kernel", arch: str = "x86_64") -> RpmPackage:
    return RpmPackage(name, 0, "2.6.18", release, arch)


def test_join_every_source_per_release_newest_first():
    kernels = join_kernels(
        vmlinuz=[_vmlinuz(OLD)],
        initrds=[_initrd(OLD)],
        modules=[_modules(OLD), _modules(PLUS, tree=False)],
        system_maps=[OLD],
        configs=[OLD],
        packages=[_kernel_pkg("238.el5"), RpmPackage("kernel-headers", 0, "2.6.18", "238.el5", "x86_64")],
        naming=RedHat.of_release(5),
    )
    assert [k.uname_r for k in kernels] == [PLUS, OLD]
    plus, old = kernels
    assert plus == Kernel(PLUS, modules=_modules(PLUS, tree=False))
    assert old.vmlinuz.path == f"/boot/vmlinuz-{OLD}"
    assert old.initrd.path == f"/boot/initrd-{OLD}.img"
    assert old.modules.has_kernel_tree and old.system_map and old.config
    assert old.rpm.nvra == "kernel-2.6.18-238.el5.x86_64"


def test_join_keys_packages_by_uname_r_with_flavour():
    kernels = join_kernels(
        vmlinuz=[_vmlinuz("2.6.18-274.el5xen"), _vmlinuz("2.6.18-274.el5PAE")],
        initrds=[], modules=[], system_maps=[], configs=[],
        packages=[_kernel_pkg("274.el5", "kernel-xen"), _kernel_pkg("274.el5", "kernel-PAE", "i686")],
        naming=RedHat.of_release(5),
    )
    by_release = {k.uname_r: k for k in kernels}
    assert by_release["2.6.18-274.el5xen"].rpm.name == "kernel-xen"
    assert by_release["2.6.18-274.el5PAE"].rpm.name == "kernel-PAE"
    assert len(kernels) == 2


def test_join_el6_package_release_carries_arch():
    pkg = RpmPackage("kernel", 0, "2.6.32", "754.el6", "x86_64")
    (k,) = join_kernels([_vmlinuz("2.6.32-754.el6.x86_64")], [], [], [], [], [pkg], naming=RedHat.of_release(6))
    assert k.uname_r == "2.6.32-754.el6.x86_64" and k.rpm == pkg


def test_join_keys_renamed_vmlinuz_by_file_name():
    (k,) = join_kernels([_vmlinuz(OLD, embedded=PLUS)], [], [], [], [], [], naming=RedHat.of_release(5))
    assert k.uname_r == OLD
    assert booted_release(k) == PLUS


def test_join_drops_kdump_initrds():
    kernels = join_kernels(
        vmlinuz=[_vmlinuz(OLD)],
        initrds=[_initrd(OLD, f"initrd-{OLD}kdump.img")],
        modules=[], system_maps=[], configs=[], packages=[], naming=RedHat.of_release(5),
    )
    assert [k.uname_r for k in kernels] == [OLD]
    assert kernels[0].initrd is None


def test_join_keeps_the_boot_initrd_of_a_kdump_flavour_kernel():
    kdump = f"{OLD}kdump"
    kernels = join_kernels([_vmlinuz(kdump)], [_initrd(OLD, f"initrd-{kdump}.img")], [], [], [], [], naming=RedHat.of_release(5))
    (k,) = kernels
    assert k.uname_r == kdump and k.initrd is not None


def test_join_of_nothing_is_empty():
    assert join_kernels([], [], [], [], [], [], naming=RedHat.of_release(5)) == ()


def test_booted_release_without_vmlinuz_is_none():
    assert booted_release(Kernel(PLUS)) is None
    assert booted_release(Kernel(OLD, vmlinuz=VmlinuzFile(f"/boot/vmlinuz-{OLD}", OLD, None, None))) == OLD


def test_package_of_an_unusually_named_kernel_joins_its_files():
    # A Debian-built kernel packaged as kernel-6.1.0-56: uname -r is 6.1.0-56-amd64.
    from rescue.model import RpmPackage, VmlinuzFile
    pkg = RpmPackage("kernel", 0, "6.1.0", "56", "x86_64")
    v = VmlinuzFile("/boot/vmlinuz-6.1.0-56-amd64", "6.1.0-56-amd64", "6.1.0-56-amd64 (debian-kernel@lists.debian.org)",
                    "6.1.0-56-amd64")
    (k,) = join_kernels([v], [], [], [], [], [pkg], naming=RedHat.of_release(6))
    assert k.uname_r == "6.1.0-56-amd64" and k.rpm == pkg and k.vmlinuz == v


def test_unusual_matching_needs_a_single_candidate():
    from rescue.model import RpmPackage, VmlinuzFile
    pkg = RpmPackage("kernel", 0, "6.1.0", "56", "x86_64")
    files = [VmlinuzFile(f"/boot/vmlinuz-6.1.0-56-{f}", f"6.1.0-56-{f}", None, None) for f in ("amd64", "rt-amd64")]
    kernels = join_kernels(files, [], [], [], [], [pkg], naming=RedHat.of_release(6))
    assert {k.uname_r for k in kernels if k.rpm} == {"6.1.0-56.x86_64"}
