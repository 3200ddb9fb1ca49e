"""rescue.repair.fixes: which fix applies, what it would do, and when it refuses; on hand-built diagnoses."""
from __future__ import annotations

import dataclasses

import pytest

from rescue.diagnose.rules import diagnose
from rescue.errors import Exit, RescueError
from rescue.model import Bootloader
from rescue.repair import fixes

from test_diagnose_rules_bootpath import BP, FACTS, INITRD, R

PATHS = ("/boot/grub/grub.conf", "/boot/grub/menu.lst", "/etc/grub.conf", "/boot/grub2/grub.cfg", "/boot/grub/grub.cfg")


def renamed(*leftovers: str):
    facts = dataclasses.replace(FACTS, bootloader=Bootloader(None, None, None),
                                bootpath=dataclasses.replace(BP, leftovers=leftovers))
    return diagnose(facts)


def test_fix_names():
    assert fixes.choose_fixes(("rebuild-initrd", "restore-config", "rebuild-initrd")) == ("rebuild-initrd", "restore-config")
    for bad in (("fstab",), ()):
        with pytest.raises(RescueError) as exc:
            fixes.choose_fixes(bad)
        assert exc.value.exit_status == Exit.USAGE


def test_the_renamed_config_goes_back_where_grub_reads_it():
    move = fixes.config_move(renamed("/boot/grub2/grub.cfg.rpmsave"), PATHS)
    assert move == fixes.Move("/boot/grub2/grub.cfg.rpmsave", "/boot/grub2/grub.cfg")
    # .rpmsave/.old first, then vmrescue's own backups newest first
    move = fixes.config_move(renamed("/boot/grub/grub.conf.vmrescue-20250101-000000", "/boot/grub/grub.conf.old"), PATHS)
    assert move.source == "/boot/grub/grub.conf.old" and move.target == "/boot/grub/grub.conf"
    move = fixes.config_move(renamed("/boot/grub/grub.conf.vmrescue-20250101-000000",
                                     "/boot/grub/grub.conf.vmrescue-20260101-000000"), PATHS)
    assert move.source.endswith("20260101-000000")


def test_restore_config_refuses_when_there_is_nothing_to_restore():
    with pytest.raises(RescueError) as exc:
        fixes.config_move(diagnose(FACTS), PATHS)              # the guest has its configuration
    assert exc.value.code == "FIX_NOT_APPLICABLE" and exc.value.exit_status == Exit.REFUSED
    assert "nothing was written" in exc.value.message
    with pytest.raises(RescueError):
        fixes.config_move(renamed(), PATHS)


def test_the_initrd_to_rebuild_and_its_drivers():
    broken = dataclasses.replace(FACTS, bootpath=dataclasses.replace(
        BP, initrd=dataclasses.replace(INITRD, missing=(("xfs", "the root filesystem is xfs"),))))
    d = diagnose(broken)
    assert fixes.initrd_target(d) == (f"/boot/initramfs-{R}.img", R)
    assert fixes.initrd_drivers_needed(d) == ("xfs",)
    with pytest.raises(RescueError):
        fixes.initrd_target(diagnose(dataclasses.replace(FACTS, bootloader=Bootloader("bls", "/boot/grub2/grub.cfg", 0))))


def test_the_plan_prints_each_step_and_compares_without_time_stamps():
    plan = fixes.FixPlan(
        "/vms/db01.qcow2", ("restore-config", "rebuild-initrd"),
        backups=((f"/boot/initramfs-{R}.img", f"/boot/initramfs-{R}.img.vmrescue-20260102-030405"),),
        moves=(fixes.Move("/boot/grub2/grub.cfg.rpmsave", "/boot/grub2/grub.cfg"),),
        initrd=fixes.InitrdRebuild(("/usr/bin/dracut", "-f", "--add-drivers", "xfs", f"/boot/initramfs-{R}.img.vmrescue-new", R),
                                   f"/boot/initramfs-{R}.img.vmrescue-new", f"/boot/initramfs-{R}.img", R, ("xfs",)),
        relabel="enforcing")
    names = [name for name, _ in plan.steps()]
    assert names == ["backup", "restore", "initrd", "selinux"]
    assert "rename /boot/grub2/grub.cfg.rpmsave to /boot/grub2/grub.cfg" in plan.steps()[1][1]
    assert "--add-drivers xfs" in plan.steps()[2][1] and "with xfs" in plan.steps()[2][1]
    later = dataclasses.replace(plan, backups=((plan.backups[0][0], plan.backups[0][0] + ".vmrescue-20260102-030500"),))
    assert plan.key() == later.key()


def test_boot_entry_boots_the_recommended_kernel_when_its_files_are_in_boot():
    no_entries = diagnose(dataclasses.replace(FACTS, bootloader=Bootloader("bls", "/boot/grub2/grub.cfg", 0)))
    assert no_entries.bootable is False
    assert fixes.entry_kernel(no_entries) == R
    # refused: the default entry boots it already; the kernel's files are gone
    with pytest.raises(RescueError) as exc:
        fixes.entry_kernel(diagnose(FACTS))
    assert exc.value.code == "FIX_NOT_APPLICABLE" and "already boots" in exc.value.message
    gone = dataclasses.replace(FACTS, bootloader=Bootloader("bls", "/boot/grub2/grub.cfg", 0),
                               kernels=tuple(dataclasses.replace(k, vmlinuz=None) for k in FACTS.kernels))
    with pytest.raises(RescueError) as exc:
        fixes.entry_kernel(diagnose(gone))
    assert "reinstall-kernel" in exc.value.hint


def test_restore_config_and_boot_entry_are_not_planned_together():
    with pytest.raises(RescueError) as exc:
        fixes.choose_fixes(("restore-config", "boot-entry"))
    assert exc.value.exit_status == Exit.USAGE


def test_the_plan_key_ignores_the_written_by_date():
    from rescue.bootloader.base import BootLoaderPlan
    def plan(date):
        return fixes.FixPlan("/vms/db01.qcow2", ("boot-entry",), entry=BootLoaderPlan(
            "grub.conf", "add an entry for 6.1.0, make it the default",
            diff=f"+# written by vmrescue 0.1.0 repair, {date}\n+title CentOS (6.1.0)\n"))
    assert plan("2026-12-02 02:40:00 UTC").key() == plan("2026-12-02 02:41:07 UTC").key()
    assert plan("2026-12-02 02:40:00 UTC").steps()[-1][0] == "grub.conf"
