"""Tests for rescue.rpm.vercmp: rpmvercmp, EVR comparison, ordering kernel releases."""
from __future__ import annotations

import pytest

from rescue.rpm.vercmp import compare_evr, compare_uname_r, newest, rpmvercmp

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
