"""Tests for rescue.distro.redhat_naming: Red Hat kernel package names and their uname -r."""
from __future__ import annotations

import pytest

from rescue.model import RpmPackage
from rescue.distro.redhat_naming import (
    el_major_of,
    is_kernel_package,
    kernel_flavour,
    package_file_for,
    package_name_for,
    split_uname_r,
    uname_r_for,
)


@pytest.mark.parametrize("name, expected", [
    ("kernel", True), ("kernel-PAE", True), ("kernel-xen", True), ("kernel-plus", True),
    ("kernel-debug", True), ("kernel-kdump", True), ("kernel-core", True),
    ("kernel-debug-core", True), ("kernel-ml", True), ("kernel-lt", True),
    ("kernel-PAE-debug", True),
    ("kernel-headers", False), ("kernel-devel", False), ("kernel-firmware", False),
    ("kernel-doc", False), ("kernel-PAE-devel", False), ("kernel-xen-devel", False),
    ("kernel-tools", False), ("kernel-tools-libs", False), ("kernel-debuginfo", False),
    ("kernel-debuginfo-common-x86_64", False), ("kernel-modules", False),
    ("kernel-modules-extra", False), ("kernel-abi-whitelists", False),
    ("kernel-ml-headers", False), ("kernel-uki-virt", False),
    ("kernelshark", False), ("kernel-", False), ("kernel--x", False), ("glibc", False),
    ("", False), ("xen-kernel", False),
])
def test_is_kernel_package(name, expected):
    assert is_kernel_package(name) is expected


@pytest.mark.parametrize("name, flavour", [
    ("kernel", ""), ("kernel-PAE", "PAE"), ("kernel-xen", "xen"), ("kernel-plus", ""),
    ("kernel-debug", "debug"), ("kernel-kdump", "kdump"), ("kernel-core", ""),
    ("kernel-debug-core", "debug"), ("kernel-ml", ""), ("kernel-lt", ""),
    ("kernel-PAE-debug", "PAE-debug"),
])
def test_kernel_flavour(name, flavour):
    assert kernel_flavour(name) == flavour


@pytest.mark.parametrize("name", ["kernel-devel", "kernel-headers", "glibc", ""])
def test_kernel_flavour_rejects_non_kernels(name):
    with pytest.raises(ValueError):
        kernel_flavour(name)


@pytest.mark.parametrize("release, major", [
    ("274.el5", 5), ("274.3.1.el5.centos.plus", 5), ("754.el6", 6), ("1160.el7_9", 7),
    ("348.el8", 8), ("70.el9", 9), ("1.fc30", None), ("", None),
])
def test_el_major_of(release, major):
    assert el_major_of(release) == major


def pkg(name, version, release, arch="x86_64"):
    return RpmPackage(name=name, epoch=0, version=version, release=release, arch=arch)


@pytest.mark.parametrize("package, el, uname_r", [
    (pkg("kernel", "2.6.18", "274.el5"), 5, "2.6.18-274.el5"),
    (pkg("kernel-PAE", "2.6.18", "274.el5", "i686"), 5, "2.6.18-274.el5PAE"),
    (pkg("kernel-xen", "2.6.18", "274.el5"), 5, "2.6.18-274.el5xen"),
    (pkg("kernel", "2.6.18", "274.3.1.el5.centos.plus"), 5, "2.6.18-274.3.1.el5.centos.plus"),
    (pkg("kernel-xen", "2.6.18", "274.3.1.el5.centos.plus"), 5,
     "2.6.18-274.3.1.el5.centos.plusxen"),
    (pkg("kernel", "2.6.32", "754.el6"), 6, "2.6.32-754.el6.x86_64"),
    (pkg("kernel", "2.6.32", "754.el6", "i686"), 6, "2.6.32-754.el6.i686"),
    (pkg("kernel-PAE", "2.6.32", "71.el6", "i686"), 6, "2.6.32-71.el6.i686.PAE"),
    (pkg("kernel-debug", "2.6.32", "754.el6"), 6, "2.6.32-754.el6.x86_64.debug"),
    (pkg("kernel", "3.10.0", "1160.el7"), 7, "3.10.0-1160.el7.x86_64"),
    (pkg("kernel-plus", "3.10.0", "1160.el7.centos.plus"), 7,
     "3.10.0-1160.el7.centos.plus.x86_64"),
    (pkg("kernel-core", "4.18.0", "348.el8"), 8, "4.18.0-348.el8.x86_64"),
    (pkg("kernel-debug-core", "4.18.0", "348.el8"), 8, "4.18.0-348.el8.x86_64+debug"),
    (pkg("kernel", "2.6.32", "754.el6", "i386"), 6, "2.6.32-754.el6.i686"),
])
def test_uname_r_for(package, el, uname_r):
    assert uname_r_for(package, el) == uname_r


@pytest.mark.parametrize("package, uname_r", [
    (pkg("kernel-PAE", "2.6.18", "398.el5", "i686"), "2.6.18-398.el5PAE"),
    (pkg("kernel", "3.10.0", "1160.el7"), "3.10.0-1160.el7.x86_64"),
    (pkg("kernel-ml", "5.4.1", "1.el7.elrepo"), "5.4.1-1.el7.elrepo.x86_64"),
])
def test_uname_r_for_infers_el_major_from_release(package, uname_r):
    assert uname_r_for(package) == uname_r


@pytest.mark.parametrize("uname_r, expected", [
    ("2.6.18-274.el5", ("2.6.18", "274.el5", "", None)),
    ("2.6.18-274.el5xen", ("2.6.18", "274.el5", "xen", None)),
    ("2.6.18-274.el5PAE", ("2.6.18", "274.el5", "PAE", None)),
    ("2.6.18-274.el5debug", ("2.6.18", "274.el5", "debug", None)),
    ("2.6.18-274.3.1.el5.centos.plus", ("2.6.18", "274.3.1.el5.centos.plus", "", None)),
    ("2.6.18-274.3.1.el5.centos.plusxen", ("2.6.18", "274.3.1.el5.centos.plus", "xen", None)),
    ("2.6.32-754.el6.x86_64", ("2.6.32", "754.el6", "", "x86_64")),
    ("2.6.32-71.el6.i686.PAE", ("2.6.32", "71.el6", "PAE", "i686")),
    ("3.10.0-1160.el7.x86_64", ("3.10.0", "1160.el7", "", "x86_64")),
    ("3.10.0-1160.el7.x86_64.debug", ("3.10.0", "1160.el7", "debug", "x86_64")),
    ("3.10.0-1160.el7.centos.plus.x86_64", ("3.10.0", "1160.el7.centos.plus", "", "x86_64")),
    ("4.18.0-348.el8.x86_64+debug", ("4.18.0", "348.el8", "debug", "x86_64")),
    ("5.14.0-70.el9.aarch64+64k", ("5.14.0", "70.el9", "64k", "aarch64")),
    ("2.6.18", ("2.6.18", "", "", None)),
    ("", ("", "", "", None)),
])
def test_split_uname_r(uname_r, expected):
    assert split_uname_r(uname_r) == expected


@pytest.mark.parametrize("uname_r, arch, expected", [
    ("2.6.18-274.3.1.el5.centos.plus", "x86_64",
     "kernel-2.6.18-274.3.1.el5.centos.plus.x86_64.rpm"),
    ("2.6.18-274.el5xen", "x86_64", "kernel-xen-2.6.18-274.el5.x86_64.rpm"),
    ("2.6.18-274.el5PAE", "i686", "kernel-PAE-2.6.18-274.el5.i686.rpm"),
    ("2.6.18-274.el5", "i386", "kernel-2.6.18-274.el5.i686.rpm"),   # i386 guests run i686 kernels
    ("2.6.32-754.el6.x86_64", "x86_64", "kernel-2.6.32-754.el6.x86_64.rpm"),
    ("2.6.32-754.el6.x86_64", "i386", "kernel-2.6.32-754.el6.x86_64.rpm"),  # uname's arch wins
    ("3.10.0-1160.el7.x86_64", "x86_64", "kernel-3.10.0-1160.el7.x86_64.rpm"),
    ("3.10.0-1160.el7.x86_64.debug", "x86_64", "kernel-debug-3.10.0-1160.el7.x86_64.rpm"),
    ("3.10.0-1160.el7.centos.plus.x86_64", "x86_64",
     "kernel-plus-3.10.0-1160.el7.centos.plus.x86_64.rpm"),
    ("2.6.32-754.el6.centos.plus.x86_64", "x86_64",
     "kernel-2.6.32-754.el6.centos.plus.x86_64.rpm"),
    ("4.18.0-348.el8.x86_64", "x86_64", "kernel-core-4.18.0-348.el8.x86_64.rpm"),
    ("4.18.0-348.el8.x86_64+debug", "x86_64", "kernel-debug-core-4.18.0-348.el8.x86_64.rpm"),
])
def test_package_file_for(uname_r, arch, expected):
    assert package_file_for(uname_r, arch) == expected


def test_package_file_for_uses_a_known_package_name():
    assert package_file_for("5.4.1-1.el7.elrepo.x86_64", "x86_64", name="kernel-lt") == \
        "kernel-lt-5.4.1-1.el7.elrepo.x86_64.rpm"
    assert package_name_for("5.4.1-1.el7.elrepo.x86_64") == "kernel-ml"


@pytest.mark.parametrize("package", [
    pkg("kernel", "2.6.18", "274.3.1.el5.centos.plus"),
    pkg("kernel-xen", "2.6.18", "274.el5"),
    pkg("kernel-PAE", "2.6.18", "274.el5", "i686"),
    pkg("kernel", "2.6.32", "754.35.1.el6"),
    pkg("kernel-debug", "3.10.0", "1160.el7"),
    pkg("kernel-plus", "3.10.0", "1160.el7.centos.plus"),
])
def test_package_file_round_trips_uname_r(package):
    uname_r = uname_r_for(package)
    assert package_file_for(uname_r, package.arch) == package.nvra + ".rpm"
