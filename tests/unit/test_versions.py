"""Tests for rescue.versions: rpmvercmp, EVR comparison and kernel naming."""
from __future__ import annotations

import pytest

from rescue.model import RpmPackage
from rescue.versions import (
    compare_evr,
    compare_uname_r,
    el_major_of,
    is_kernel_package,
    kernel_flavour,
    newest,
    package_file_for,
    package_name_for,
    rpmvercmp,
    split_uname_r,
    uname_r_for,
)

# The vectors of rpm's own test suite (tests/rpmvercmp.at).
RPM_VECTORS = [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0", "1.0", 1),
    ("2.0.1", "2.0.1", 0), ("2.0", "2.0.1", -1), ("2.0.1", "2.0", 1),
    ("2.0.1a", "2.0.1a", 0), ("2.0.1a", "2.0.1", 1), ("2.0.1", "2.0.1a", -1),
    ("5.5p1", "5.5p1", 0), ("5.5p1", "5.5p2", -1), ("5.5p2", "5.5p1", 1),
    ("5.5p10", "5.5p10", 0), ("5.5p1", "5.5p10", -1), ("5.5p10", "5.5p1", 1),
    ("10xyz", "10.1xyz", -1), ("10.1xyz", "10xyz", 1),
    ("xyz10", "xyz10", 0), ("xyz10", "xyz10.1", -1), ("xyz10.1", "xyz10", 1),
    ("xyz.4", "xyz.4", 0), ("xyz.4", "8", -1), ("8", "xyz.4", 1),
    ("xyz.4", "2", -1), ("2", "xyz.4", 1),
    ("5.5p2", "5.6p1", -1), ("5.6p1", "5.5p2", 1),
    ("5.6p1", "6.5p1", -1), ("6.5p1", "5.6p1", 1),
    ("6.0.rc1", "6.0", 1), ("6.0", "6.0.rc1", -1),
    ("10b2", "10a1", 1), ("10a2", "10b2", -1),
    ("1.0aa", "1.0aa", 0), ("1.0a", "1.0aa", -1), ("1.0aa", "1.0a", 1),
    ("10.0001", "10.0001", 0), ("10.0001", "10.1", 0), ("10.1", "10.0001", 0),
    ("10.0001", "10.0039", -1), ("10.0039", "10.0001", 1),
    ("4.999.9", "5.0", -1), ("5.0", "4.999.9", 1),
    ("20101121", "20101121", 0), ("20101121", "20101122", -1), ("20101122", "20101121", 1),
    ("2_0", "2_0", 0), ("2.0", "2_0", 0), ("2_0", "2.0", 0),
    ("a", "a", 0), ("a+", "a+", 0), ("a+", "a_", 0), ("a_", "a+", 0),
    ("+a", "+a", 0), ("+a", "_a", 0), ("_a", "+a", 0),
    ("+_", "+_", 0), ("_+", "+_", 0), ("_+", "_+", 0), ("+", "_", 0), ("_", "+", 0),
    # tilde sorts before everything
    ("1.0~rc1", "1.0~rc1", 0), ("1.0~rc1", "1.0", -1), ("1.0", "1.0~rc1", 1),
    ("1.0~rc1", "1.0~rc2", -1), ("1.0~rc2", "1.0~rc1", 1),
    ("1.0~rc1~git123", "1.0~rc1~git123", 0), ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0~rc1", "1.0~rc1~git123", 1),
    # caret: like tilde, but a base version that ends sorts lower
    ("1.0^", "1.0^", 0), ("1.0^", "1.0", 1), ("1.0", "1.0^", -1),
    ("1.0^git1", "1.0^git1", 0), ("1.0^git1", "1.0", 1), ("1.0", "1.0^git1", -1),
    ("1.0^git1", "1.0^git2", -1), ("1.0^git2", "1.0^git1", 1),
    ("1.0^git1", "1.01", -1), ("1.01", "1.0^git1", 1),
    ("1.0^20160101", "1.0^20160101", 0), ("1.0^20160101", "1.0.1", -1),
    ("1.0.1", "1.0^20160101", 1),
    ("1.0^20160101^git1", "1.0^20160101^git1", 0),
    ("1.0^20160102", "1.0^20160101^git1", 1), ("1.0^20160101^git1", "1.0^20160102", -1),
    ("1.0~rc1^git1", "1.0~rc1^git1", 0), ("1.0~rc1^git1", "1.0~rc1", 1),
    ("1.0~rc1", "1.0~rc1^git1", -1),
    ("1.0^git1~pre", "1.0^git1~pre", 0), ("1.0^git1", "1.0^git1~pre", 1),
    ("1.0^git1~pre", "1.0^git1", -1),
    # rpm's documented oddities (RhBug:811992): kept identical on purpose
    ("1b.fc17", "1b.fc17", 0), ("1b.fc17", "1.fc17", -1), ("1.fc17", "1b.fc17", 1),
    ("1g.fc17", "1g.fc17", 0), ("1g.fc17", "1.fc17", 1), ("1.fc17", "1g.fc17", -1),
    # non-ASCII characters are separators, so all of these are equal
    ("1.1.α", "1.1.α", 0), ("1.1.α", "1.1.β", 0), ("1.1.αα", "1.1.α", 0),
]

# Kernel releases as they appear on EL guests.
KERNEL_VECTORS = [
    ("274.el5", "274.3.1.el5", -1),
    ("274.3.1.el5", "274.3.1.el5.centos.plus", -1),
    ("398.el5", "274.18.1.el5", 1),
    ("754.35.1.el6", "754.el6", 1),
    ("1160.el7", "1160.el7_9", -1),    # "_9" is an extra segment
    ("1160.119.1.el7", "1160.2.2.el7", 1),
    ("957.el7", "1160.el7", -1),
    ("", "1", -1),
    ("", "", 0),
]


@pytest.mark.parametrize("a, b, expected", RPM_VECTORS + KERNEL_VECTORS)
def test_rpmvercmp(a, b, expected):
    assert rpmvercmp(a, b) == expected


@pytest.mark.parametrize("a, b", [(a, b) for a, b, _ in RPM_VECTORS + KERNEL_VECTORS])
def test_rpmvercmp_is_antisymmetric(a, b):
    assert rpmvercmp(a, b) == -rpmvercmp(b, a)


@pytest.mark.parametrize("a, b, expected", [
    ((0, "2.6.18", "274.el5"), (0, "2.6.18", "274.el5"), 0),
    ((1, "1.0", "1"), (0, "9.9", "9"), 1),               # epoch first
    (("1", "1.0", "1"), (None, "9.9", "9"), 1),           # str/None epochs
    ((None, "1.0", "1"), (0, "1.0", "1"), 0),             # missing epoch is 0
    (("", "1.0", "1"), ("x", "1.0", "1"), 0),             # unparsable epoch is 0
    ((0, "2.6.18", "274.el5"), (0, "2.6.32", "71.el6"), -1),
    ((0, "2.6.18", "398.el5"), (0, "2.6.18", "274.el5"), 1),
    ((0, "1.0", None), (0, "1.0", "1"), -1),
])
def test_compare_evr(a, b, expected):
    assert compare_evr(a, b) == expected


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


@pytest.mark.parametrize("releases, expected", [
    (["2.6.18-274.el5", "2.6.18-398.el5", "2.6.18-274.3.1.el5"], "2.6.18-398.el5"),
    (["2.6.32-754.el6.x86_64", "2.6.32-754.35.1.el6.x86_64", "2.6.32-71.el6.x86_64"],
     "2.6.32-754.35.1.el6.x86_64"),
    (["3.10.0-957.el7.x86_64", "3.10.0-1160.el7.x86_64", "3.10.0-1062.el7.x86_64"],
     "3.10.0-1160.el7.x86_64"),
    (["2.6.18-274.el5", "2.6.18-274.3.1.el5.centos.plus"], "2.6.18-274.3.1.el5.centos.plus"),
    (["4.18.0-1.el8.x86_64", "10.0.0-1.x86_64", "5.14.0-1.el9.x86_64"], "10.0.0-1.x86_64"),
    (["2.6.18-274.el5"], "2.6.18-274.el5"),
    ([], None),
    (iter(["2.6.18-8.el5", "2.6.18-92.el5"]), "2.6.18-92.el5"),
])
def test_newest(releases, expected):
    assert newest(releases) == expected


def test_compare_uname_r_is_total_when_rpm_says_equal():
    # "2.0" and "2_0" are equal to rpm; the order must still be decided.
    assert compare_uname_r("1-2.0", "1-2_0") == -compare_uname_r("1-2_0", "1-2.0") != 0
    assert newest(["1-2.0", "1-2_0"]) == newest(["1-2_0", "1-2.0"])
