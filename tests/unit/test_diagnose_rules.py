"""rescue.rules: findings, verdict and recommended kernel for hand-built guests.

The scenario builders at the top are reused by test_diagnose_report.py.
"""
from __future__ import annotations

import dataclasses

import pytest

from rescue.model import (
    BootEntry, Bootloader, Diagnosis, GuestFacts, InitrdFile, Kernel, ModulesDir, OsInfo, RpmPackage,
    Severity, ThirdPartyModule, VmlinuzFile, YumConfig, YumEvent, YumRepo,
)
from rescue.diagnose.rules import diagnose, needs_repair

IMAGE = "/images/web01.vmdk"
PLUS = "2.6.18-274.3.1.el5.centos.plus"
OLD = "2.6.18-238.el5"
CUR = "2.6.18-274.el5"
ROOT = "/dev/VolGroup00/LogVol00"
PLUS_RPM = "kernel-2.6.18-274.3.1.el5.centos.plus.x86_64.rpm"
E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO


# --- builders ---------------------------------------------------------------------

def el5(arch: str = "x86_64") -> OsInfo:
    return OsInfo(root=ROOT, distro="centos", product="CentOS release 5.7 (Final)", major=5, minor=7,
                  arch=arch, package_format="rpm", mountpoints=(("/", ROOT), ("/boot", "/dev/sda1")))


def pkg(uname_r: str, name: str = "kernel", arch: str = "x86_64") -> RpmPackage:
    """The package behind an EL5 release, flavour suffix stripped from the release."""
    version, _, release = uname_r.partition("-")
    for flavour in ("xen", "PAE"):
        release = release.removesuffix(flavour)
    return RpmPackage(name, 0, version, release, arch)


def kernel(release: str, *, vmlinuz: bool = True, initrd: bool = True, modules: bool = True,
           rpm: RpmPackage | None = None, embedded: str | None = None) -> Kernel:
    emb = embedded or release
    return Kernel(
        uname_r=release,
        vmlinuz=VmlinuzFile(f"/boot/vmlinuz-{release}", release, f"{emb} (mockbuild@builder10) #1 SMP", emb)
        if vmlinuz else None,
        initrd=InitrdFile(f"/boot/initrd-{release}.img", release, 3_100_000) if initrd else None,
        modules=ModulesDir(release, f"/lib/modules/{release}", True, True) if modules else None,
        system_map=vmlinuz, config=vmlinuz, rpm=rpm,
    )


def leftovers(release: str, rpm: RpmPackage | None = None) -> Kernel:
    """What VMware Tools leave after yum erases a kernel: /lib/modules/R/misc only."""
    return Kernel(release, modules=ModulesDir(release, f"/lib/modules/{release}", False, False), rpm=rpm)


def vmware_tools(release: str, sub: str = "misc", under: str | None = None) -> tuple[ThirdPartyModule, ...]:
    under = under or release
    return tuple(
        ThirdPartyModule(f"/lib/modules/{under}/{sub}/{name}.ko", name, release, f"/lib/modules/{under}")
        for name in ("vmxnet", "vmhgfs", "vmmemctl")
    )


def entry(index: int, release: str | None, *, kind: str = "linux", kernel_exists: bool = True,
          initrd: bool = True, initrd_exists: bool = True, root: str | None = ROOT,
          resolved: bool = True, title: str | None = None, flavour_file: str | None = None) -> BootEntry:
    if kind == "chainloader":
        return BootEntry(index, title or "Other", "chainloader", "(hd0,1)", None, "", None)
    name = flavour_file or release
    return BootEntry(
        index=index, title=title or f"CentOS ({release})", kind=kind, grub_root="(hd0,0)",
        kernel=f"/vmlinuz-{name}", kernel_args=f"ro root={root}" if root else "ro",
        initrd=f"/initrd-{name}.img" if initrd else None,
        guest_kernel=f"/boot/vmlinuz-{name}", guest_initrd=f"/boot/initrd-{name}.img" if initrd else None,
        kernel_exists=kernel_exists, initrd_exists=initrd and initrd_exists,
        root_device=root, root_resolved=(ROOT if resolved else None) if root else None,
    )


def grub(*entries: BootEntry, default: int | None = 0, fallback: int | None = None) -> Bootloader:
    return Bootloader("grub-legacy", "/boot/grub/grub.conf", default, fallback, tuple(entries))


def erased(package: str, when: str = "Sep 12 10:01:22") -> YumEvent:
    return YumEvent(when, "Erased", package)


def installed(package: str, when: str = "Sep 12 10:00:51") -> YumEvent:
    return YumEvent(when, "Installed", package)


CENTOSPLUS_ON = YumConfig(repos=(
    YumRepo("/etc/yum.repos.d/CentOS-Base.repo", "base", True, None),
    YumRepo("/etc/yum.repos.d/CentOS-Base.repo", "updates", True, None),
    YumRepo("/etc/yum.repos.d/CentOS-Base.repo", "centosplus", True, None),
))


def facts(**kw) -> GuestFacts:
    kw.setdefault("os", el5())
    return GuestFacts(image=IMAGE, **kw)


# --- scenarios ----------------------------------------------------------------------

def seed_with_old_kernel() -> GuestFacts:
    """yum erased the centosplus kernel; 238.el5 still boots but VMware Tools are for the plus kernel."""
    return facts(
        bootloader=grub(entry(0, OLD)),
        kernels=(leftovers(PLUS), kernel(OLD, rpm=pkg(OLD))),
        third_party_modules=vmware_tools(PLUS),
        kernel_packages=(pkg(OLD),),
        yum_events=(installed(f"kernel-{PLUS}.x86_64", "Aug 30 09:12:01"),
                    erased(f"kernel-{PLUS}.x86_64")),
        yum=CENTOSPLUS_ON,
    )


def seed_only_plus() -> GuestFacts:
    """The plus kernel was the only one: /boot holds no kernel and grub.conf no entry."""
    return facts(
        bootloader=grub(default=0),
        kernels=(leftovers(PLUS),),
        third_party_modules=vmware_tools(PLUS),
        yum_events=(erased(f"kernel-{PLUS}.x86_64"),),
        yum=CENTOSPLUS_ON,
    )


def copied_kernel(embedded: str | None = None) -> GuestFacts:
    """vmlinuz-238.el5 and its initrd copied from another server, without /lib/modules."""
    return facts(
        bootloader=grub(entry(0, OLD)),
        kernels=(leftovers(PLUS, rpm=pkg(PLUS)), kernel(OLD, modules=False, embedded=embedded)),
        third_party_modules=vmware_tools(PLUS),
        kernel_packages=(pkg(PLUS),),
        yum=CENTOSPLUS_ON,
    )


def healthy() -> GuestFacts:
    return facts(
        bootloader=grub(entry(0, CUR), entry(1, OLD)),
        kernels=(kernel(CUR, rpm=pkg(CUR)), kernel(OLD, rpm=pkg(OLD))),
        third_party_modules=vmware_tools(CUR),
        kernel_packages=(pkg(CUR), pkg(OLD)),
        yum_events=(installed(f"kernel-{CUR}.x86_64"), erased("kernel-2.6.18-194.el5.x86_64")),
    )


def codes(d: Diagnosis) -> list[tuple[str, Severity]]:
    return [(f.code, f.severity) for f in d.findings]


def finding(d: Diagnosis, code: str):
    (f,) = [f for f in d.findings if f.code == code]
    return f


def assert_sentences(d: Diagnosis) -> None:
    for f in d.findings:
        assert f.message[:1].isupper() or f.message.startswith(("/", "yum")), f.message
        assert f.message.endswith("."), f.message
        assert f.action, f.code


# --- the seed -------------------------------------------------------------------------

def test_seed_old_kernel_boots_but_plus_kernel_is_recommended():
    d = diagnose(seed_with_old_kernel())
    assert d.bootable and d.default_kernel == OLD
    assert d.recommended_kernel.uname_r == PLUS
    assert d.recommended_kernel.package == PLUS_RPM
    reason = d.recommended_kernel.reason
    assert "vmxnet, vmhgfs, vmmemctl were built for it" in reason
    assert f"yum.log shows kernel-{PLUS}.x86_64 erased on Sep 12 10:01:22" in reason
    assert codes(d) == [
        ("THIRD_PARTY_MODULES_MISMATCH", W),
        ("KERNEL_ERASED_BY_UPDATE", W),
        ("CENTOSPLUS_WITHOUT_PRIORITIES", W),
    ]
    tp = finding(d, "THIRD_PARTY_MODULES_MISMATCH")
    assert PLUS in tp.message and OLD in tp.message and "vmxnet network interface" in tp.message
    assert tp.action == f"vmrescue reinstall-kernel {IMAGE} --kernel {PLUS} --from DIR-WITH-RPMS"
    assert "Sep 12 10:01:22" in finding(d, "KERNEL_ERASED_BY_UPDATE").message
    assert needs_repair(d)
    assert_sentences(d)


def test_seed_without_any_kernel_left():
    d = diagnose(seed_only_plus())
    assert not d.bootable and d.default_kernel is None
    assert d.recommended_kernel.uname_r == PLUS
    assert codes(d) == [
        ("NO_BOOT_ENTRIES", E),
        ("KERNEL_ERASED_BY_UPDATE", W),
        ("CENTOSPLUS_WITHOUT_PRIORITIES", W),
    ]
    assert finding(d, "NO_BOOT_ENTRIES").action == (
        f"vmrescue reinstall-kernel {IMAGE} --kernel {PLUS} --from DIR-WITH-RPMS")
    assert_sentences(d)


def test_grub_conf_gone():
    d = diagnose(dataclasses.replace(seed_only_plus(), bootloader=Bootloader(None, None, None)))
    assert not d.bootable
    assert codes(d)[0] == ("NO_BOOTLOADER_CONFIG", E)
    assert "NO_BOOT_ENTRIES" not in dict(codes(d))
    assert d.recommended_kernel.uname_r == PLUS


def test_yum_log_erasure_without_version():
    f = dataclasses.replace(seed_only_plus(), yum_events=(erased("kernel"),))
    d = diagnose(f)
    assert ("KERNEL_ERASED_BY_UPDATE", W) in codes(d)
    assert "without the version" in finding(d, "KERNEL_ERASED_BY_UPDATE").message
    # Only the vmxnet evidence is left, and it still names the plus kernel.
    assert d.recommended_kernel.uname_r == PLUS
    assert "yum.log" not in d.recommended_kernel.reason


# --- a copied kernel ------------------------------------------------------------------

def test_copied_kernel_without_modules():
    # The copied kernel boots (its initrd brings the root drivers), but nothing
    # past the initrd loads: the seed's "network driver refuses to load".
    d = diagnose(copied_kernel())
    assert d.bootable and d.default_kernel == OLD
    assert d.recommended_kernel.uname_r == PLUS
    assert "the RPM database lists kernel-2.6.18-274.3.1.el5.centos.plus.x86_64" in d.recommended_kernel.reason
    assert codes(d) == [
        ("MODULES_MISSING", W),
        ("RPM_KERNEL_FILES_MISSING", W),
        ("KERNEL_FILES_NOT_IN_RPMDB", W),
        ("THIRD_PARTY_MODULES_MISMATCH", W),
        ("CENTOSPLUS_WITHOUT_PRIORITIES", W),
    ]
    assert finding(d, "MODULES_MISSING").action.endswith(f"--kernel {PLUS} --from DIR-WITH-RPMS")
    assert_sentences(d)


def test_copied_kernel_without_modules_or_initrd_cannot_boot():
    f = copied_kernel()
    entries = tuple(dataclasses.replace(e, initrd=None, guest_initrd=None, initrd_exists=False)
                    for e in f.bootloader.entries)
    d = diagnose(dataclasses.replace(f, bootloader=dataclasses.replace(f.bootloader, entries=entries)))
    assert not d.bootable
    assert ("MODULES_MISSING", E) in codes(d)
    assert f"/lib/modules/{OLD} has no kernel modules" in finding(d, "DEFAULT_ENTRY_INVALID").message


def test_renamed_kernel_is_reported_by_its_header():
    d = diagnose(copied_kernel(embedded=PLUS))
    assert ("KERNEL_NAME_MISMATCH", W) in codes(d)
    assert f"really kernel {PLUS}" in finding(d, "KERNEL_NAME_MISMATCH").message
    # It boots as PLUS, whose /lib/modules holds only VMware Tools leftovers.
    assert d.default_kernel == PLUS
    assert "leftovers" in finding(d, "MODULES_MISSING").message
    assert d.bootable   # its initrd still mounts root
    # The tools do match what it boots, so no mismatch is claimed.
    assert "THIRD_PARTY_MODULES_MISMATCH" not in dict(codes(d))


# --- initrds ----------------------------------------------------------------------------

def test_default_entry_initrd_file_missing():
    f = facts(bootloader=grub(entry(0, CUR, initrd_exists=False)),
              kernels=(kernel(CUR, initrd=False, rpm=pkg(CUR)),))
    d = diagnose(f)
    assert not d.bootable
    assert codes(d) == [("DEFAULT_ENTRY_INVALID", E), ("ENTRY_INITRD_MISSING", E)]


def test_default_entry_without_initrd_line():
    f = facts(bootloader=grub(entry(0, CUR, initrd=False)), kernels=(kernel(CUR, initrd=False, rpm=pkg(CUR)),))
    d = diagnose(f)
    assert not d.bootable
    assert codes(d) == [("DEFAULT_ENTRY_INVALID", E), ("INITRD_MISSING", E)]


def test_default_entry_without_initrd_line_though_the_file_exists():
    f = facts(bootloader=grub(entry(0, CUR, initrd=False)), kernels=(kernel(CUR, rpm=pkg(CUR)),))
    d = diagnose(f)
    f_ = finding(d, "INITRD_MISSING")
    assert f_.severity == E and f"/boot/initrd-{CUR}.img exists" in f_.message
    assert f_.action.startswith(f"Add 'initrd /boot/initrd-{CUR}.img'")
    separate = diagnose(dataclasses.replace(f, boot_is_separate=True))
    assert finding(separate, "INITRD_MISSING").action.startswith(f"Add 'initrd /initrd-{CUR}.img'")


def test_other_kernel_without_initrd_is_a_warning():
    f = facts(bootloader=grub(entry(0, CUR)),
              kernels=(kernel(CUR, rpm=pkg(CUR)), kernel(OLD, initrd=False, rpm=pkg(OLD))))
    d = diagnose(f)
    assert d.bootable
    assert codes(d) == [("INITRD_MISSING", W)]
    assert OLD in finding(d, "INITRD_MISSING").message


def test_non_default_entry_files_missing_are_warnings():
    f = facts(bootloader=grub(entry(0, CUR), entry(1, OLD, kernel_exists=False, initrd_exists=False)),
              kernels=(kernel(CUR, rpm=pkg(CUR)),))
    d = diagnose(f)
    assert d.bootable and d.default_kernel == CUR
    assert codes(d) == [("ENTRY_KERNEL_MISSING", W), ("ENTRY_INITRD_MISSING", W)]
    assert finding(d, "ENTRY_KERNEL_MISSING").action.endswith(f"--kernel {OLD} --from DIR-WITH-RPMS")


# --- the default entry ------------------------------------------------------------------

def test_default_past_the_last_entry_mentions_the_fallback():
    f = dataclasses.replace(healthy(), bootloader=grub(entry(0, CUR), entry(1, OLD), default=2, fallback=1),
                            yum_events=())
    d = diagnose(f)
    assert not d.bootable and d.default_kernel is None
    assert codes(d) == [("DEFAULT_ENTRY_INVALID", E)]
    msg = finding(d, "DEFAULT_ENTRY_INVALID").message
    assert "default=2" in msg and "2 entries" in msg and "Error 15" in msg
    assert f"fallback entry 1 ('CentOS ({OLD})') can boot {OLD}" in msg
    # VMware Tools were built for CUR, which entry 0 boots: point default at it.
    assert d.recommended_kernel.uname_r == CUR
    assert finding(d, "DEFAULT_ENTRY_INVALID").action == (
        f"Set default=0 in /boot/grub/grub.conf (entry 0 ('CentOS ({CUR})') boots {CUR}).")


def test_default_kernel_missing():
    f = facts(bootloader=grub(entry(0, CUR, kernel_exists=False), entry(1, OLD)),
              kernels=(kernel(CUR, vmlinuz=False, initrd=False, rpm=pkg(CUR)), kernel(OLD, rpm=pkg(OLD))))
    d = diagnose(f)
    assert not d.bootable and d.default_kernel is None
    assert codes(d) == [
        ("DEFAULT_ENTRY_INVALID", E),
        ("ENTRY_KERNEL_MISSING", E),
        ("RPM_KERNEL_FILES_MISSING", W),
    ]
    assert d.recommended_kernel.uname_r == CUR
    assert finding(d, "ENTRY_KERNEL_MISSING").action.endswith(f"--kernel {CUR} --from DIR-WITH-RPMS")


def test_root_device_unresolved():
    f = facts(bootloader=grub(entry(0, CUR, root="LABEL=/1", resolved=False)),
              kernels=(kernel(CUR, rpm=pkg(CUR)),),
              fstab=(("/dev/VolGroup00/LogVol00", "/", "ext3"),))
    d = diagnose(f)
    assert not d.bootable
    assert codes(d) == [("DEFAULT_ENTRY_INVALID", E), ("ROOT_DEVICE_UNRESOLVED", E)]
    assert "root=/dev/VolGroup00/LogVol00" in finding(d, "ROOT_DEVICE_UNRESOLVED").action


def test_entry_without_root_argument_is_not_unresolved():
    f = facts(bootloader=grub(entry(0, CUR, root=None)), kernels=(kernel(CUR, rpm=pkg(CUR)),))
    assert diagnose(f).bootable


# --- healthy, xen, chainloader, PAE ------------------------------------------------------

def test_healthy_guest_needs_no_repair():
    d = diagnose(healthy())
    assert d.bootable and d.default_kernel == CUR
    assert d.recommended_kernel.uname_r == CUR
    assert d.recommended_kernel.package == "kernel-2.6.18-274.el5.x86_64.rpm"
    assert not needs_repair(d)
    # The routine erasure of an old kernel is only information.
    assert codes(d) == [("KERNEL_ERASED_BY_UPDATE", I)]


def test_healthy_guest_without_any_evidence_recommends_what_boots():
    f = dataclasses.replace(healthy(), third_party_modules=(), yum_events=())
    d = diagnose(f)
    assert d.findings == () and d.bootable
    assert d.recommended_kernel.uname_r == CUR and not needs_repair(d)


def test_tools_built_for_an_older_kernel_say_rebuild_not_downgrade():
    f = dataclasses.replace(healthy(), third_party_modules=vmware_tools(OLD), yum_events=())
    d = diagnose(f)
    assert d.recommended_kernel.uname_r == CUR
    tp = finding(d, "THIRD_PARTY_MODULES_MISMATCH")
    assert tp.severity == W and "vmware-config-tools.pl" in tp.action


def test_weak_updates_links_for_the_booted_kernel_load():
    f = dataclasses.replace(healthy(), third_party_modules=vmware_tools(OLD, "weak-updates", under=CUR),
                            yum_events=())
    assert "THIRD_PARTY_MODULES_MISMATCH" not in dict(codes(diagnose(f)))


def test_xen_entry():
    xen = "2.6.18-274.el5xen"
    f = facts(bootloader=grub(entry(0, xen, kind="xen", title="CentOS (2.6.18-274.el5xen)")),
              kernels=(kernel(xen, rpm=pkg(xen, "kernel-xen")),),
              kernel_packages=(pkg(xen, "kernel-xen"),))
    d = diagnose(f)
    assert d.bootable and d.default_kernel == xen and d.findings == ()
    assert d.recommended_kernel.package == "kernel-xen-2.6.18-274.el5.x86_64.rpm"


def test_xen_entry_without_modules():
    xen = "2.6.18-274.el5xen"
    f = facts(bootloader=grub(entry(0, xen, kind="xen", initrd=False)),
              kernels=(kernel(xen, modules=False, rpm=pkg(xen, "kernel-xen")),))
    d = diagnose(f)
    assert not d.bootable
    assert ("MODULES_MISSING", E) in codes(d)


def test_chainloader_entries_are_not_kernels():
    f = dataclasses.replace(healthy(), bootloader=grub(entry(0, CUR), entry(1, None, kind="chainloader")),
                            yum_events=())
    d = diagnose(f)
    assert d.bootable and d.findings == ()


def test_chainloader_as_default_does_not_boot_linux():
    f = dataclasses.replace(healthy(), bootloader=grub(entry(0, None, kind="chainloader"), entry(1, CUR)),
                            yum_events=())
    d = diagnose(f)
    assert not d.bootable
    assert codes(d) == [("DEFAULT_ENTRY_INVALID", E)]
    assert "chainloader entry" in finding(d, "DEFAULT_ENTRY_INVALID").message
    assert finding(d, "DEFAULT_ENTRY_INVALID").action.startswith("Set default=1 ")


def test_pae_kernel_erased_on_i386():
    pae, old_pae = "2.6.18-274.el5PAE", "2.6.18-238.el5PAE"
    f = facts(
        os=el5("i386"),
        bootloader=grub(entry(0, old_pae)),
        kernels=(leftovers(pae), kernel(old_pae, rpm=pkg(old_pae, "kernel-PAE", "i686"))),
        third_party_modules=vmware_tools(pae),
        yum_events=(erased("kernel-PAE-2.6.18-274.el5.i686"),),
    )
    d = diagnose(f)
    assert d.bootable and d.default_kernel == old_pae
    assert d.recommended_kernel.uname_r == pae
    assert d.recommended_kernel.package == "kernel-PAE-2.6.18-274.el5.i686.rpm"
    assert codes(d) == [("THIRD_PARTY_MODULES_MISMATCH", W), ("KERNEL_ERASED_BY_UPDATE", W)]


# --- evidence and yum configuration ------------------------------------------------------

def test_no_os():
    d = diagnose(GuestFacts(image=IMAGE, os=None))
    assert codes(d) == [("NO_OS", E)]
    assert not d.bootable and d.recommended_kernel is None and d.default_kernel is None


def test_no_evidence_no_kernels_no_recommendation():
    d = diagnose(facts(bootloader=grub()))
    assert d.recommended_kernel is None and not d.bootable
    assert "RELEASE" in finding(d, "NO_BOOT_ENTRIES").action


def test_not_bootable_falls_back_to_newest_complete_kernel():
    f = facts(bootloader=grub(entry(0, CUR, kernel_exists=False)),
              kernels=(kernel(OLD, rpm=pkg(OLD)), kernel("2.6.18-194.el5", rpm=pkg("2.6.18-194.el5"))))
    d = diagnose(f)
    assert d.recommended_kernel.uname_r == OLD
    assert "newest kernel" in d.recommended_kernel.reason


def test_third_party_mismatch_is_info_when_nothing_boots():
    f = dataclasses.replace(seed_only_plus(), third_party_modules=vmware_tools(PLUS) + vmware_tools(OLD))
    d = diagnose(f)
    tp = finding(d, "THIRD_PARTY_MODULES_MISMATCH")
    assert tp.severity == I and OLD in tp.message and f"the recommended kernel is {PLUS}" in tp.message


@pytest.mark.parametrize("yum, expected", [
    (CENTOSPLUS_ON, True),
    (dataclasses.replace(CENTOSPLUS_ON, priorities_plugin_enabled=True), True),
    (YumConfig(repos=(YumRepo("/etc/yum.repos.d/CentOS-Base.repo", "centosplus", True, 2),),
               priorities_plugin_enabled=True), False),
    (YumConfig(repos=(YumRepo("/etc/yum.repos.d/CentOS-Base.repo", "centosplus", False, None),)), False),
    (dataclasses.replace(CENTOSPLUS_ON, excludes=("kernel*",)), False),
    (dataclasses.replace(CENTOSPLUS_ON, excludes=("kernel-headers",)), True),
    (YumConfig(), False),
])
def test_centosplus_without_priorities(yum, expected):
    d = diagnose(dataclasses.replace(healthy(), yum=yum, yum_events=()))
    found = [f for f in d.findings if f.code == "CENTOSPLUS_WITHOUT_PRIORITIES"]
    assert bool(found) is expected
    if found:
        assert found[0].severity == W
        assert "yum install yum-priorities" in found[0].action
        assert "exclude=kernel*" in found[0].action


def test_unreadable_rpmdb_does_not_make_every_kernel_copied():
    f = dataclasses.replace(copied_kernel(), kernel_packages=(), rpmdb_read=False,
                            notes=("could not read the RPM database: db4 error",))
    assert "KERNEL_FILES_NOT_IN_RPMDB" not in dict(codes(diagnose(f)))


def test_per_repository_kernel_exclude_silences_centosplus_warning():
    f = seed_only_plus()
    repos = tuple(dataclasses.replace(r, excludes=("kernel*",)) if "centosplus" in r.repo_id else r
                  for r in f.yum.repos)
    f = dataclasses.replace(f, yum=dataclasses.replace(f.yum, repos=repos))
    assert "CENTOSPLUS_WITHOUT_PRIORITIES" not in dict(codes(diagnose(f)))


def test_image_path_is_quoted_in_actions():
    f = dataclasses.replace(seed_only_plus(), image="/vms/my vm.vmdk")
    action = finding(diagnose(f), "NO_BOOT_ENTRIES").action
    assert action.startswith("vmrescue reinstall-kernel '/vms/my vm.vmdk' --kernel ")


ALL_SCENARIOS = {
    "seed_with_old_kernel": seed_with_old_kernel,
    "seed_only_plus": seed_only_plus,
    "copied_kernel": copied_kernel,
    "renamed_kernel": lambda: copied_kernel(embedded=PLUS),
    "healthy": healthy,
    "no_os": lambda: GuestFacts(image=IMAGE, os=None),
    "no_grub_conf": lambda: dataclasses.replace(seed_only_plus(), bootloader=Bootloader(None, None, None)),
}


@pytest.mark.parametrize("name", sorted(ALL_SCENARIOS))
def test_every_finding_is_a_sentence_with_an_action(name):
    assert_sentences(diagnose(ALL_SCENARIOS[name]()))


def test_erased_package_of_an_unusually_named_kernel_points_at_its_real_release():
    # kernel-6.1.0-56.x86_64 is erased; its modules' vermagic says 6.1.0-56-amd64.
    f = dataclasses.replace(
        seed_only_plus(),
        third_party_modules=(ThirdPartyModule("/lib/modules/6.1.0-56-amd64/extra/vmxnet.ko", "vmxnet",
                                              "6.1.0-56-amd64", "/lib/modules/6.1.0-56-amd64"),),
        yum_events=(YumEvent("Oct 02 22:15:37", "Erased", "kernel-6.1.0-56.x86_64"),),
        kernels=(), kernel_packages=())
    rec = diagnose(f).recommended_kernel
    assert rec.uname_r == "6.1.0-56-amd64"
    assert "vmxnet were built for it" in rec.reason and "kernel-6.1.0-56.x86_64 erased" in rec.reason


# --- hostile and broken guests (issue 7; the images are fixtures/hostile.py) -----------------

def el6_separate_boot(**kw) -> GuestFacts:
    kw.setdefault("fstab", ((ROOT, "/", "ext4"), ("UUID=b007", "/boot", "ext4")))
    kw.setdefault("boot_is_separate", True)
    return dataclasses.replace(healthy(), **kw)


def test_a_running_vm_is_an_error_whatever_else_is_found():
    d = diagnose(dataclasses.replace(healthy(), in_use="another process holds its write lock"))
    assert codes(d)[0] == ("IMAGE_IN_USE", E) and d.bootable
    assert "running VM" in finding(d, "IMAGE_IN_USE").message
    no_os = diagnose(GuestFacts(image=IMAGE, os=None, in_use="the VMware lock x.lck exists"))
    assert [c for c, _ in codes(no_os)] == ["IMAGE_IN_USE", "NO_OS"]


@pytest.mark.parametrize("volumes, says", [
    ((("the whole disk", ""),), "blank"),
    ((("partition 1", "ext4"), ("partition 2", "swap")), "It holds ext4 on partition 1, swap on partition 2"),
    ((("partition 1", ""),), "Its partitions hold no filesystem vmrescue recognises"),
])
def test_no_os_says_what_the_disk_holds(volumes, says):
    d = diagnose(GuestFacts(image=IMAGE, os=None, volumes=volumes))
    assert codes(d) == [("NO_OS", E)] and says in d.findings[0].message
    assert_sentences(d)


def test_unreadable_boot_is_the_only_finding():
    # fstab names /boot but no filesystem answers to it: every kernel rule would judge an empty /boot.
    f = el6_separate_boot(boot_is_separate=False, volumes=(("partition 1", ""), ("partition 2", "LVM2_member")),
                          kernels=(leftovers(PLUS, rpm=pkg(PLUS)),), bootloader=Bootloader(None, None, None))
    f = dataclasses.replace(f, os=dataclasses.replace(el5(), mountpoints=(("/", ROOT),)))
    d = diagnose(f)
    assert codes(d) == [("BOOT_UNREADABLE", E)] and not d.bootable and d.recommended_kernel is None
    assert "UUID=b007" in d.findings[0].message and "partition 1 holds no filesystem" in d.findings[0].message
    assert_sentences(d)
    mount_failed = diagnose(dataclasses.replace(healthy(), unmounted=("/boot",)))
    assert codes(mount_failed) == [("BOOT_UNREADABLE", E)]


def test_boot_partition_missing_from_fstab_is_a_warning():
    d = diagnose(el6_separate_boot(fstab=((ROOT, "/", "ext4"),)))
    assert ("BOOT_NOT_IN_FSTAB", W) in codes(d) and d.bootable
    assert "BOOT_NOT_IN_FSTAB" not in [c for c, _ in codes(diagnose(el6_separate_boot()))]


def test_grub_conf_symlinked_out_of_boot():
    from rescue.model import BootSymlink
    f = dataclasses.replace(seed_only_plus(), bootloader=Bootloader(None, None, None),
                            boot_symlinks=(BootSymlink("/boot/grub/grub.conf", "/etc/shadow", "outside"),))
    d = diagnose(f)
    got = [c for c, _ in codes(d)]
    assert "BOOT_SYMLINK" in got and "NO_BOOTLOADER_CONFIG" not in got     # one finding says it
    assert finding(d, "BOOT_SYMLINK").severity == E and "/etc/shadow" in finding(d, "BOOT_SYMLINK").message
    from rescue.diagnose.rules import repair_blocker
    assert repair_blocker(d).code == "BOOT_SYMLINK"


def test_default_kernel_behind_a_symlink():
    from rescue.model import BootSymlink
    f = dataclasses.replace(healthy(), bootloader=grub(entry(0, CUR, kernel_exists=False), entry(1, OLD)),
                            kernels=(kernel(CUR, vmlinuz=False, rpm=pkg(CUR)), kernel(OLD, rpm=pkg(OLD))),
                            boot_symlinks=(BootSymlink(f"/boot/vmlinuz-{CUR}", "/../../../etc/passwd", "outside"),
                                           BootSymlink("/boot/unused", "/boot/x", "absolute")))
    d = diagnose(f)
    assert not d.bootable
    assert ("BOOT_SYMLINK", E) in codes(d) and ("BOOT_SYMLINK", W) in codes(d)
    assert "a symlink GRUB cannot follow" in finding(d, "DEFAULT_ENTRY_INVALID").message
    # the symlink is named once, not also as a missing file
    assert not {"ENTRY_KERNEL_MISSING", "RPM_KERNEL_FILES_MISSING"} & {c for c, _ in codes(d)}


@pytest.mark.parametrize("damaged", ["is empty (0 bytes)", "holds binary data, not text (3 NUL bytes in its first 9 bytes)"])
def test_damaged_grub_conf_is_not_blamed_on_yum(damaged):
    f = dataclasses.replace(healthy(), bootloader=Bootloader("grub-legacy", "/boot/grub/grub.conf", None,
                                                             size=9 if "NUL" in damaged else 0, damaged=damaged))
    d = diagnose(f)
    got = [c for c, _ in codes(d)]
    assert "BOOTLOADER_CONFIG_DAMAGED" in got and "NO_BOOT_ENTRIES" not in got
    f_ = finding(d, "BOOTLOADER_CONFIG_DAMAGED")
    assert damaged in f_.message and "reinstall-kernel" in f_.action
    assert ("mv /boot/grub/grub.conf" in f_.action) == ("NUL" in damaged)


def test_huge_menu_gives_one_warning_and_capped_findings():
    junk = tuple(entry(i, f"junk-{i}", kernel_exists=False, initrd=False) for i in range(2, 100))
    f = dataclasses.replace(healthy(), bootloader=Bootloader(
        "grub-legacy", "/boot/grub/grub.conf", 0, None, (entry(0, CUR), entry(1, OLD), *junk),
        size=13_000_000, entries_total=13893))
    d = diagnose(f)
    assert d.bootable and ("BOOTLOADER_CONFIG_TOO_LARGE", W) in codes(d)
    missing = [x for x in d.findings if x.code == "ENTRY_KERNEL_MISSING"]
    assert len(missing) == 11 and missing[-1].severity == I and "88 more" in missing[-1].message
    assert_sentences(d)


def test_title_with_terminal_escapes_is_a_warning():
    f = dataclasses.replace(healthy(), bootloader=grub(entry(0, CUR), entry(1, OLD, title="\x1b[2JCentOS\x07")))
    d = diagnose(f)
    assert ("BOOT_ENTRY_TITLE_UNSAFE", W) in codes(d) and d.bootable


def test_unreadable_rpm_database_is_a_warning():
    f = dataclasses.replace(healthy(), rpmdb_read=False, rpmdb_error="database disk image is malformed")
    d = diagnose(f)
    assert ("RPMDB_UNREADABLE", W) in codes(d) and "malformed" in finding(d, "RPMDB_UNREADABLE").message


def test_a_non_rpm_guest_is_not_sent_to_reinstall_kernel():
    f = dataclasses.replace(seed_only_plus(), os=dataclasses.replace(el5(), distro="debian", package_format="deb"))
    d = diagnose(f)
    assert not any(x.action.startswith("vmrescue reinstall-kernel") for x in d.findings)
    assert any("package manager" in x.action and "RPM-based guests only" in x.action for x in d.findings)


def test_repair_blockers():
    from rescue.diagnose.rules import repair_blocker
    assert repair_blocker(diagnose(healthy())) is None
    assert repair_blocker(diagnose(dataclasses.replace(healthy(), in_use="x"))).code == "IMAGE_IN_USE"
    assert repair_blocker(diagnose(dataclasses.replace(healthy(), unmounted=("/boot",)))).code == "BOOT_UNREADABLE"
