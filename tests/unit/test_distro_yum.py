"""Tests for rescue.yumconf: yum.log, repo files, yum.conf, plugins, sysconfig."""
from __future__ import annotations

import pytest

from rescue.model import YumEvent, YumRepo
from rescue.distro.yum import (
    kernel_events,
    package_from_log,
    package_name_from_log,
    parse_ini,
    parse_plugin_conf,
    parse_repo_file,
    parse_sysconfig_kernel,
    parse_yum_conf,
    parse_yum_log,
    sysconfig_value,
    yum_bool,
)

YUM_LOG_EL5 = """\
Sep 12 10:01:05 Updated: kernel-headers-2.6.18-274.3.1.el5.x86_64
Sep 12 10:01:19 Installed: kernel-2.6.18-274.3.1.el5.centos.plus.x86_64
Sep 12 10:01:22 Erased: kernel
Sep 12 10:01:30 Updated: 1:openssl-0.9.8e-20.el5.x86_64
Sep 12 10:01:31 Installed: kernel-devel-2.6.18-274.3.1.el5.x86_64

garbage line without a timestamp
Sep 12 10:02:00 not an event
Oct  1 09:00:00 Installed: kernel-xen-2.6.18-274.el5.x86_64
"""

YUM_LOG_EL7 = """\
Dec 03 12:00:01 Installed: kernel-3.10.0-1160.el7.x86_64
Dec 03 12:00:02 Updated: kernel-tools-libs-3.10.0-1160.el7.x86_64
Dec 03 12:00:09 Erased: kernel-3.10.0-957.el7.x86_64
Dec 03 12:00:10 Installed: kernel-plus-3.10.0-1160.el7.centos.plus.x86_64
Dec 03 12:00:11 Installed: kernel-firmware-2.6.32-754.el6.noarch
"""

DNF_RPM_LOG = """\
2021-11-10T08:15:02Z SUBDEBUG Installed: kernel-core-4.18.0-348.el8.x86_64
2021-11-10T08:15:03Z SUBDEBUG Upgraded: bash-4.4.20-2.el8.x86_64
2021-11-10T08:15:04Z INFO --- logging initialized ---
2021-11-10T08:15:05Z SUBDEBUG Erase: kernel-core-4.18.0-305.el8.x86_64
"""


def test_parse_yum_log_el5():
    events = parse_yum_log(YUM_LOG_EL5)
    assert events == (
        YumEvent("Sep 12 10:01:05", "Updated", "kernel-headers-2.6.18-274.3.1.el5.x86_64"),
        YumEvent("Sep 12 10:01:19", "Installed", "kernel-2.6.18-274.3.1.el5.centos.plus.x86_64"),
        YumEvent("Sep 12 10:01:22", "Erased", "kernel"),
        YumEvent("Sep 12 10:01:30", "Updated", "1:openssl-0.9.8e-20.el5.x86_64"),
        YumEvent("Sep 12 10:01:31", "Installed", "kernel-devel-2.6.18-274.3.1.el5.x86_64"),
        YumEvent("Oct  1 09:00:00", "Installed", "kernel-xen-2.6.18-274.el5.x86_64"),
    )


def test_parse_yum_log_el7_and_dnf():
    el7 = parse_yum_log(YUM_LOG_EL7)
    assert [e.action for e in el7] == ["Installed", "Updated", "Erased", "Installed", "Installed"]
    assert el7[0].when == "Dec 03 12:00:01"
    dnf = parse_yum_log(DNF_RPM_LOG)
    assert [(e.action, e.package) for e in dnf] == [
        ("Installed", "kernel-core-4.18.0-348.el8.x86_64"),
        ("Upgraded", "bash-4.4.20-2.el8.x86_64"),
        ("Erase", "kernel-core-4.18.0-305.el8.x86_64"),
    ]
    assert dnf[0].when == "2021-11-10T08:15:02Z"


@pytest.mark.parametrize("text", [
    "", "\x00" * 100, "Sep 12 10:01:22 Installed:", "Sep 12 10:01:22 Installed:    ",
    "\ufffd\ufffd Installed: x", "Installed: kernel-1-1.x86_64",
])
def test_parse_yum_log_ignores_what_is_not_an_event(text):
    assert parse_yum_log(text) == ()


def test_parse_yum_log_handles_crlf_and_trailing_space():
    events = parse_yum_log("Sep 12 10:01:19 Installed: kernel-2.6.18-8.el5.i686  \r\n")
    assert events == (YumEvent("Sep 12 10:01:19", "Installed", "kernel-2.6.18-8.el5.i686"),)


def test_kernel_events_keeps_only_kernel_images():
    kept = kernel_events(parse_yum_log(YUM_LOG_EL5 + YUM_LOG_EL7 + DNF_RPM_LOG))
    assert [e.package for e in kept] == [
        "kernel-2.6.18-274.3.1.el5.centos.plus.x86_64",
        "kernel",
        "kernel-xen-2.6.18-274.el5.x86_64",
        "kernel-3.10.0-1160.el7.x86_64",
        "kernel-3.10.0-957.el7.x86_64",
        "kernel-plus-3.10.0-1160.el7.centos.plus.x86_64",
        "kernel-core-4.18.0-348.el8.x86_64",
        "kernel-core-4.18.0-305.el8.x86_64",
    ]


@pytest.mark.parametrize("package, expected", [
    ("kernel-2.6.18-274.3.1.el5.centos.plus.x86_64",
     ("kernel", 0, "2.6.18", "274.3.1.el5.centos.plus", "x86_64")),
    ("kernel-2.6.18-274.el5.x86_64", ("kernel", 0, "2.6.18", "274.el5", "x86_64")),
    ("kernel-PAE-2.6.18-398.el5.i686", ("kernel-PAE", 0, "2.6.18", "398.el5", "i686")),
    ("kernel-xen-2.6.18-274.el5.x86_64", ("kernel-xen", 0, "2.6.18", "274.el5", "x86_64")),
    ("kernel-firmware-2.6.32-754.el6.noarch",
     ("kernel-firmware", 0, "2.6.32", "754.el6", "noarch")),
    ("1:foo-1.0-1.x86_64", ("foo", 1, "1.0", "1", "x86_64")),
    ("2:kernel-utils-2.4-13.1.99.el5.x86_64", ("kernel-utils", 2, "2.4", "13.1.99.el5", "x86_64")),
    ("foo-1:1.0-1.x86_64", ("foo", 1, "1.0", "1", "x86_64")),                  # dnf style
    ("kernel.x86_64 2.6.18-8.el5", ("kernel", 0, "2.6.18", "8.el5", "x86_64")),  # old yum
    ("openssl.i686 1:0.9.8e-12.el5", ("openssl", 1, "0.9.8e", "12.el5", "i686")),
    ("kernel", None),
    ("kernel-2.6.18-274.el5", None),            # no arch
    ("kernel-2.6.18.x86_64", None),             # no release
    ("x:kernel-1-1.x86_64", None),               # epoch is not a number
    ("kernel-1:-1.x86_64", None),
    ("kernel.sparc 1-1", None),
    ("", None),
    ("-1-1.x86_64", None),
])
def test_package_from_log(package, expected):
    assert package_from_log(package) == expected


@pytest.mark.parametrize("package, name", [
    ("kernel", "kernel"),
    ("kernel-PAE", "kernel-PAE"),
    ("kernel-xen-2.6.18-274.el5.x86_64", "kernel-xen"),
    ("kernel.x86_64 2.6.18-8.el5", "kernel"),
    ("", ""),
])
def test_package_name_from_log(package, name):
    assert package_name_from_log(package) == name


# --- repo files and yum.conf ---------------------------------------------------------

CENTOS_BASE_REPO = """\
# CentOS-Base.repo
[base]
name=CentOS-$releasever - Base
mirrorlist=http://mirrorlist.centos.org/?release=$releasever&arch=$basearch&repo=os
#baseurl=http://mirror.centos.org/centos/$releasever/os/$basearch/
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-5
priority=1

[updates]
name=CentOS-$releasever - Updates
baseurl=http://vault.centos.org/5.11/updates/$basearch/
        http://mirror.example.org/centos/5.11/updates/$basearch/
priority = 1

[centosplus]
name=CentOS-$releasever - Plus
enabled=0
priority=2

[extras]
enabled = yes
priority=high
"""


def test_parse_repo_file_centos_base():
    repos = parse_repo_file("/etc/yum.repos.d/CentOS-Base.repo", CENTOS_BASE_REPO)
    f = "/etc/yum.repos.d/CentOS-Base.repo"
    assert repos == (
        YumRepo(f, "base", True, 1),
        YumRepo(f, "updates", True, 1),
        YumRepo(f, "centosplus", False, 2),
        YumRepo(f, "extras", True, None),        # "high" is not a number
    )


@pytest.mark.parametrize("text, expected", [
    ("[a]\nenabled=1\n", [("a", True, None)]),
    ("[a]\nenabled=0\n", [("a", False, None)]),
    ("[a]\nenabled = False\n", [("a", False, None)]),
    ("[a]\nenabled=off\n", [("a", False, None)]),
    ("[a]\nenabled=maybe\n", [("a", True, None)]),          # invalid keeps the default
    ("[a]\n", [("a", True, None)]),                          # default is enabled
    ("[a]\nENABLED=0\nPriority=5\n", [("a", False, 5)]),     # keys are case-insensitive
    ("[a]\nenabled: 0\npriority: 7\n", [("a", False, 7)]),   # iniparse also takes ":"
    ("[a]\nenabled=0\n[a]\nenabled=1\n", [("a", True, None)]),   # merged, last wins
    ("[main]\nplugins=1\n[a]\n", [("a", True, None)]),       # [main] is not a repo
    ("enabled=0\n[a]\n", [("a", True, None)]),               # key before any section
    ("[a]\n; comment\n# comment\nenabled=0 \n", [("a", False, None)]),
    ("[a\nenabled=0\n", []),                                 # broken header
    ("[]\nenabled=0\n", []),
    ("", []),
    ("\x00\x01\x02[\xff]\n=\n==\n", []),
])
def test_parse_repo_file_table(text, expected):
    got = [(r.repo_id, r.enabled, r.priority) for r in parse_repo_file("x.repo", text)]
    assert got == expected


def test_continuation_lines_join_the_previous_value():
    ini = parse_ini("[updates]\nbaseurl=http://a/\n  http://b/\n\thttp://c/\n")
    assert ini == {"updates": {"baseurl": "http://a/ http://b/ http://c/"}}


@pytest.mark.parametrize("text, expected", [
    ("[main]\nplugins=1\nexclude=kernel* xen*\n", (True, ("kernel*", "xen*"))),
    ("[main]\nplugins=0\n", (False, ())),
    ("[main]\ncachedir=/var/cache/yum\n", (False, ())),          # yum's default is off
    ("[main]\nplugins=1\nexclude=kernel*,redhat-release*, php*\n",
     (True, ("kernel*", "redhat-release*", "php*"))),
    ("[main]\nexcludes=kernel*\n", (False, ("kernel*",))),
    ("[main]\nexclude=\n", (False, ())),
    ("[base]\nexclude=kernel*\n", (False, ())),                  # a repo's exclude is not global
    ("", (False, ())),
    ("garbage\x00", (False, ())),
])
def test_parse_yum_conf(text, expected):
    assert parse_yum_conf(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("[main]\nenabled = 1\ncheck_obsoletes = 1\n", True),
    ("[main]\nenabled=0\n", False),
    ("[main]\n", False),
    ("", False),
    ("enabled=1\n", False),                  # outside [main]
])
def test_parse_plugin_conf(text, expected):
    assert parse_plugin_conf(text) is expected


@pytest.mark.parametrize("value, default, expected", [
    ("1", False, True), ("YES", False, True), (" on ", False, True), ("true", False, True),
    ("0", True, False), ("no", True, False), ("off", True, False), ("False", True, False),
    ("2", True, True), ("", False, False), (None, True, True),
])
def test_yum_bool(value, default, expected):
    assert yum_bool(value, default) is expected


# --- /etc/sysconfig/kernel ------------------------------------------------------------

SYSCONFIG_KERNEL_EL6 = """\
# UPDATEDEFAULT specifies if new-kernel-pkg should make
# new kernels the default
UPDATEDEFAULT=yes

# DEFAULTKERNEL specifies the default kernel package type
DEFAULTKERNEL=kernel
"""


@pytest.mark.parametrize("text, expected", [
    (SYSCONFIG_KERNEL_EL6, "kernel"),
    ("DEFAULTKERNEL=kernel-PAE\n", "kernel-PAE"),
    ('DEFAULTKERNEL="kernel-xen"\n', "kernel-xen"),
    ("DEFAULTKERNEL='kernel-plus'  # centosplus\n", "kernel-plus"),
    ("DEFAULTKERNEL=kernel # comment\n", "kernel"),
    ("DEFAULTKERNEL=kernel\nDEFAULTKERNEL=kernel-PAE\n", "kernel-PAE"),
    ("export DEFAULTKERNEL=kernel-core\n", "kernel-core"),
    ("# DEFAULTKERNEL=kernel-PAE\n", None),
    ("DEFAULTKERNEL=\n", None),
    ('DEFAULTKERNEL=""\n', None),
    ("XDEFAULTKERNEL=kernel\n", None),
    ("", None),
    ("\x00\x00", None),
])
def test_parse_sysconfig_kernel(text, expected):
    assert parse_sysconfig_kernel(text) == expected


def test_sysconfig_value_reads_any_key():
    assert sysconfig_value(SYSCONFIG_KERNEL_EL6, "UPDATEDEFAULT") == "yes"
    assert sysconfig_value(SYSCONFIG_KERNEL_EL6, "MISSING") is None
    assert sysconfig_value('A="unterminated\n', "A") == "unterminated"
