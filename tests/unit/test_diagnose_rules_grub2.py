"""rescue.diagnose.rules.grub2 and the EL8/EL9 recommendation, on hand-built facts of BLS guests."""
from __future__ import annotations

import dataclasses

from rescue.diagnose.rules import diagnose
from rescue.model import (
    BootEntry, Bootloader, GrubEnv, GuestFacts, InitrdFile, Kernel, ModulesDir, OsInfo, RpmPackage, Severity,
    VmlinuzFile,
)

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO
MID = "3f1ed6c9a7b24c8e9d0f5a6b7c8d9e0f"
OLD_MID = "104a2be1c0d94f6e8a7b6c5d4e3f2a1b"
NEW = "5.14.0-427.13.1.el9_4.x86_64"
OLD = "5.14.0-362.8.1.el9_3.x86_64"
ROOT = "/dev/rl/root"


def el9() -> OsInfo:
    return OsInfo(root=ROOT, distro="rocky", product="Rocky Linux 9.4 (Blue Onyx)", major=9, minor=4, arch="x86_64",
                  package_format="rpm", mountpoints=(("/", ROOT), ("/boot", "/dev/sda1")))


def core(release: str, name: str = "kernel-core") -> RpmPackage:
    version, _, rest = release.partition("-")
    return RpmPackage(name, 0, version, rest.rsplit(".", 1)[0], "x86_64")


def kernel(release: str, *, vmlinuz: bool = True, rpm: bool = True, lib_vmlinuz: bool = True) -> Kernel:
    return Kernel(release,
                  vmlinuz=VmlinuzFile(f"/boot/vmlinuz-{release}", release, f"{release} (mockbuild@rocky)", release)
                  if vmlinuz else None,
                  initrd=InitrdFile(f"/boot/initramfs-{release}.img", release, 40_000_000) if vmlinuz else None,
                  modules=ModulesDir(release, f"/lib/modules/{release}", True, True, has_vmlinuz=lib_vmlinuz),
                  system_map=vmlinuz, config=vmlinuz, rpm=core(release) if rpm else None)


def bls(index: int, release: str, mid: str = MID, *, exists: bool = True, unset=(), args=f"root={ROOT} ro") -> BootEntry:
    return BootEntry(index=index, title=f"Rocky Linux ({release}) 9.4 (Blue Onyx)", kind="linux", grub_root=None,
                     kernel=f"/vmlinuz-{release}", kernel_args=args, initrd=f"/initramfs-{release}.img",
                     guest_kernel=f"/boot/vmlinuz-{release}", guest_initrd=f"/boot/initramfs-{release}.img",
                     kernel_exists=exists, initrd_exists=exists, root_device=ROOT if args else None,
                     root_resolved=ROOT if args else None, id=f"{mid}-{release}",
                     source=f"/boot/loader/entries/{mid}-{release}.conf", unset=tuple(unset), machine_id=mid)


def grub2(*entries: BootEntry, request: str | None = None, found: bool = True, env=None) -> Bootloader:
    env = env if env is not None else GrubEnv((("saved_entry", request),) if request else (), 1024, None,
                                              "/boot/grub2/grubenv")
    return Bootloader("grub2", "/boot/grub2/grub.cfg", 0 if entries else None, None, tuple(entries),
                      default_setting="${saved_entry}", default_request=request, default_source="saved_entry",
                      default_found=found, env=env)


def facts(**kw) -> GuestFacts:
    kw.setdefault("os", el9())
    kw.setdefault("machine_id", MID)
    kw.setdefault("fstab", ((ROOT, "/", "xfs"), ("UUID=b007", "/boot", "xfs")))
    kw.setdefault("boot_is_separate", True)
    kw.setdefault("bls_entries", tuple((e.id, e.kernel) for e in kw["bootloader"].entries))
    return GuestFacts(image="/images/web09.qcow2", **kw)


def codes(d) -> dict[str, Severity]:
    return {f.code: f.severity for f in d.findings}


def finding(d, code):
    (f,) = [f for f in d.findings if f.code == code]
    return f


def test_the_update_accident_stale_saved_entry_and_nothing_to_boot():
    # dnf erased the kernel: its entry went, saved_entry still names it; an older kernel's files are gone too
    f = facts(bootloader=grub2(bls(0, OLD, exists=False), request=f"{MID}-{NEW}", found=False),
              kernels=(kernel(OLD, vmlinuz=False, rpm=False, lib_vmlinuz=False), Kernel(NEW, rpm=core(NEW))))
    d = diagnose(f)
    assert not d.bootable
    saved = finding(d, "SAVED_ENTRY_UNKNOWN")
    assert saved.severity == E and f"saved_entry={MID}-{NEW}" in saved.message and "/boot/grub2/grubenv" in saved.message
    assert "cannot boot" in saved.message
    assert d.recommended_kernel.uname_r == NEW
    assert d.recommended_kernel.packages == (f"kernel-core-{NEW}.rpm", f"kernel-modules-core-{NEW}.rpm",
                                             f"kernel-modules-{NEW}.rpm", f"kernel-{NEW}.rpm")
    assert "reinstall-kernel" in saved.action


def test_a_stale_saved_entry_that_still_boots_the_right_kernel_is_info():
    f = facts(bootloader=grub2(bls(0, NEW), request=f"{MID}-4.18.0-1.el8.x86_64", found=False),
              kernels=(kernel(NEW),))
    d = diagnose(f)
    assert d.bootable and codes(d)["SAVED_ENTRY_UNKNOWN"] == I
    assert finding(d, "SAVED_ENTRY_UNKNOWN").action.startswith(f"grub2-set-default {MID}-{NEW}")


def test_kernelopts_lost_is_an_error_on_the_default_entry():
    f = facts(bootloader=grub2(bls(0, NEW, args="", unset=("kernelopts",)), bls(1, OLD, unset=())),
              kernels=(kernel(NEW), kernel(OLD)), default_grub=(("GRUB_CMDLINE_LINUX", "rhgb quiet"),))
    d = diagnose(f)
    k = finding(d, "KERNELOPTS_MISSING")
    assert k.severity == E and "no root=" in k.message
    assert "grub2-editenv /boot/grub2/grubenv set 'kernelopts=root=/dev/rl/root ro rhgb quiet'" in k.action
    assert d.bootable is False          # the default entry boots a kernel with no root=


def test_a_damaged_grubenv_is_a_warning():
    env = GrubEnv((), 1000, "it is 1000 bytes, not the 1024 that grub-editenv writes", "/boot/grub2/grubenv")
    d = diagnose(facts(bootloader=grub2(bls(0, NEW), env=env), kernels=(kernel(NEW),)))
    assert codes(d)["GRUBENV_DAMAGED"] == W and "1000 bytes" in finding(d, "GRUBENV_DAMAGED").message


def test_an_old_machine_ids_entry_that_sorts_first_and_cannot_boot():
    f = facts(bootloader=grub2(bls(0, OLD, OLD_MID, exists=False), bls(1, NEW), request=None, found=False),
              kernels=(kernel(NEW),))
    f = dataclasses.replace(f, bootloader=dataclasses.replace(f.bootloader, default_request="x"))
    d = diagnose(f)
    m = finding(d, "BLS_FOREIGN_MACHINE_ID")
    assert m.severity == E and OLD_MID in m.message and "sorts first" in m.message
    assert f"/boot/loader/entries/{OLD_MID}-{OLD}.conf" in m.action


def test_grub_default_saved_without_a_saved_entry():
    f = facts(bootloader=grub2(bls(0, NEW), bls(1, OLD)), kernels=(kernel(NEW), kernel(OLD)),
              default_grub=(("GRUB_DEFAULT", "saved"),))
    assert codes(diagnose(f))["GRUB_DEFAULT_MISMATCH"] == I


def test_grub_cfg_without_blscfg_hides_the_bls_entries():
    static = dataclasses.replace(bls(0, OLD), id=None, source=None, machine_id=None)
    f = facts(bootloader=grub2(static), kernels=(kernel(OLD), kernel(NEW)),
              bls_entries=((f"{MID}-{OLD}", f"/vmlinuz-{OLD}"), (f"{MID}-{NEW}", f"/vmlinuz-{NEW}")))
    d = diagnose(f)
    g = finding(d, "GRUB_CFG_BLS_DISAGREE")
    assert f"{MID}-{NEW}" in g.message and "GRUB_ENABLE_BLSCFG" in g.action


def test_a_kernel_package_without_entry_and_one_never_copied_to_boot():
    f = facts(bootloader=grub2(bls(0, OLD)), kernels=(kernel(NEW), kernel(OLD),
                                                      kernel("5.14.0-500.el9.x86_64", vmlinuz=False)))
    d = diagnose(f)
    assert f"kernel-core-{NEW.rsplit('.', 1)[0]}.x86_64" in finding(d, "KERNEL_PACKAGE_WITHOUT_ENTRY").message
    assert "kernel-install" in finding(d, "KERNEL_NOT_IN_BOOT").message


def test_a_healthy_el9_guest_has_no_grub2_finding():
    f = facts(bootloader=grub2(bls(0, NEW), bls(1, OLD), request=f"{MID}-{NEW}"), kernels=(kernel(NEW), kernel(OLD)),
              default_grub=(("GRUB_DEFAULT", "saved"), ("GRUB_ENABLE_BLSCFG", "true")))
    d = diagnose(f)
    assert d.bootable and d.default_kernel == NEW
    assert not [c for c in codes(d) if c in ("SAVED_ENTRY_UNKNOWN", "KERNELOPTS_MISSING", "GRUBENV_DAMAGED",
                                             "BLS_FOREIGN_MACHINE_ID", "GRUB_DEFAULT_MISMATCH", "GRUB_CFG_BLS_DISAGREE",
                                             "KERNEL_PACKAGE_WITHOUT_ENTRY", "KERNEL_NOT_IN_BOOT")], codes(d)


# --- dnf.rpm.log ------------------------------------------------------------------------
# Line shapes as dnf 4 writes them (rpm-software-management/ci-dnf-stack's
# logging feature files show "SUBDEBUG Erase:" / "SUBDEBUG Upgrade:"); composed here.

def test_dnf_erasure_of_the_split_kernel_is_one_kernel_named_by_its_image():
    from rescue.distro.yum import parse_yum_log
    log = (f"2026-03-02T10:03:51+0000 SUBDEBUG Installed: kernel-core-{NEW}\n"
           f"2026-11-03T10:03:51+0000 SUBDEBUG Erase: kernel-{NEW}\n"
           f"2026-11-03T10:03:51+0000 SUBDEBUG Erase: kernel-modules-{NEW}\n"
           f"2026-11-03T10:03:52+0000 SUBDEBUG Erase: kernel-core-{NEW}\n")
    events = parse_yum_log(log, "dnf.rpm.log")
    assert [e.action for e in events] == ["Installed", "Erase", "Erase", "Erase"]
    d = diagnose(facts(kernels=(kernel(OLD),), yum_events=events,
                       bootloader=grub2(bls(0, OLD), request=f"{MID}-{OLD}")))
    erased = [f for f in d.findings if f.code == "KERNEL_ERASED_BY_UPDATE"]
    assert len(erased) == 1, d.findings
    assert erased[0].message.startswith(f"dnf.rpm.log shows kernel-core-{NEW} erased on 2026-11-03T10:03:52+0000")
