"""The boot path broken the classic ways (fixtures/pathbreaks.py), diagnosed and repaired through the real CLI.

Each breakage is an overlay of a bootable guest (el6/el7/el8/el9-bootable),
broken by the fixtures in one appliance launch. Then:

* ONE `vmrescue diagnose --json` reads every breakage and the healthy control
  in one appliance: each must carry its finding (code, severity, evidence
  path and value) and the right `bootable`, and no image may change;
* boot-check confirms the failing stage of two breakages a boot shows (the
  MBR's boot code zeroed: nothing after the BIOS; an initrd without /init:
  the kernel unpacks it, then nothing runs);
* `vmrescue repair --fix restore-config` puts a renamed grub.cfg back and
  the closing diagnosis finds the guest bootable.

CI budget (<= 8 min on the 2-vCPU TCG machine): a diagnose under TCG costs
15-25 s an image, so CI runs CI_BREAKS, one breakage of each layer.
VMRESCUE_BOOTPATH_ALL=1 diagnoses all of BOOTPATH_BREAKS (about 10 min for
the diagnose alone), rebuilds an initrd with the guest's own dracut (dry run,
then for real), writes a new default entry from the template and sees a fix
that does not apply refused.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fixtures
from fixtures.bootable import image as bootable_image

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ALL = os.environ.get("VMRESCUE_BOOTPATH_ALL") == "1"
INITRD = "/boot/initramfs-6.1.0-57-amd64.img"
GRUB2_CFG = "/boot/grub2/grub.cfg"

# breakage → (bootable, code, severity, evidence path, a part of the evidence value)
EXPECTED = {
    "el6-stage2-damaged": (False, "GRUB_STAGE2_DAMAGED", "error", "/boot/grub/stage2", "version 2.1"),
    "el6-grubconf-renamed": (False, "BOOTLOADER_CONFIG_RENAMED", "error", "/boot/grub/grub.conf.old", "renamed"),
    "el6-vmlinux-typo": (False, "ENTRY_FILE_NEAR_MISS", "error", "/boot/grub/grub.conf", "kernel /vmlinux-"),
    "el6-initrd-args": (False, "INITRD_LINE_ARGUMENTS", "error", "/boot/grub/grub.conf", "rd_LVM_LV=vg_boot/lv_root"),
    "el7-mbr-zeroed": (False, "MBR_BOOT_CODE_MISSING", "error", "MBR (sector 0)", "440 zero bytes"),
    "el7-boot-partition-deleted": (False, "PARTITION_MISSING", "error", "sector 2048", "xfs (UUID"),
    "el7-grubcfg-rpmsave": (False, "BOOTLOADER_CONFIG_RENAMED", "error", GRUB2_CFG + ".rpmsave", "renamed"),
    "el7-lv-typo": (False, "CMDLINE_LV_MISSING", "error", GRUB2_CFG, "rd.lvm.lv=centos/root0"),
    "el7-init-arg": (False, "CMDLINE_INIT_MISSING", "error", GRUB2_CFG, "init=/sbin/nosuch"),
    "el8-core-img-zeroed": (False, "GRUB2_CORE_MISSING", "error", "sector 1", "zeros"),
    "el8-initrd-truncated": (False, "INITRD_DAMAGED", "error", INITRD, "truncated"),
    "el8-initrd-no-init": (False, "INITRD_NO_INIT", "error", INITRD, "/init missing"),
    "el8-init-not-executable": (False, "INIT_NOT_EXECUTABLE", "error", "/sbin/init", "not-executable"),
    "el8-boot-full": (True, "BOOT_FULL", "warning", "/boot", "bytes needed"),
    "el8-boot-partition-shrunk": (False, "PARTITION_TRUNCATED", "error", "partition 1", "204800 sectors"),
    "el9-root-pv-deleted": (False, "PARTITION_MISSING", "error", "sector 657408", "LVM2_member"),
    "el9-resume-missing": (False, "CMDLINE_RESUME_MISSING", "error", "/boot/loader/entries/", "resume=/dev/mapper/almalinux-swap0"),
    "el9-lvm-filter": (False, "LVM_FILTER_REJECTS_ROOT", "error", INITRD + ":etc/lvm/lvm.conf", "nvme0n1p3"),
    "el9-devices-file": (True, "LVM_DEVICES_FILE_STALE", "warning", "/etc/lvm/devices/system.devices", "no PVID="),
    "el9-initrd-no-xfs": (False, "INITRD_DRIVER_MISSING", "error", INITRD, "no xfs.ko"),
    "el9-initrd-no-lvm": (False, "INITRD_TOOL_MISSING", "error", INITRD, "no lvm"),
    "el9-initrd-other-kernel": (False, "INITRD_WRONG_KERNEL", "error", INITRD, "lib/modules/5.14.0-427"),
    "el9-selinux-no-policy": (False, "SELINUX_POLICY_MISSING", "error", "/etc/selinux/config", "SELINUXTYPE=targeted"),
    "el9-selinux-typo": (True, "SELINUX_CONFIG_INVALID", "warning", "/etc/selinux/config", "SELINUX=enforcin"),
    "el9-fstab-missing": (False, "FSTAB_DEVICE_MISSING", "error", "/etc/fstab", "UUID=0badc0de"),
    "el9-vmx-lsilogic": (False, "INITRD_DRIVER_MISSING", "error", INITRD, "no mptspi.ko"),
}
# One of each layer the boot walks through, firmware to fstab (the unit tests cover every rule).
CI_BREAKS = ["el7-mbr-zeroed", "el7-boot-partition-deleted", "el7-grubcfg-rpmsave", "el7-lv-typo",
             "el8-initrd-no-init", "el8-init-not-executable", "el9-initrd-no-xfs", "el9-lvm-filter",
             "el9-selinux-no-policy", "el9-fstab-missing"]
CHOSEN = list(EXPECTED) if ALL else CI_BREAKS
CONTROL = "el9-bootable"
# breakage → the stage boot-check must stop after (None: it never reaches the boot loader)
BOOTS = {"el7-mbr-zeroed": "firmware", "el8-initrd-no-init": "initrd"}     # SeaBIOS ran, then nothing


def vmrescue(*args, timeout=1500):
    return subprocess.run([sys.executable, "-m", "rescue", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "COLUMNS": "200"}, timeout=timeout)


def test_every_breakage_has_its_expectation():
    assert set(EXPECTED) == set(fixtures.BOOTPATH_BREAKS)
    for name, (_, _, _, _, _) in EXPECTED.items():
        want = fixtures.BOOTPATH_BREAKS[name].boot
        assert name not in BOOTS or BOOTS[name] == want, name


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> dict[str, Path]:
    return fixtures.break_boot_paths(tmp_path_factory.mktemp("pathbreaks"), CHOSEN)


@pytest.fixture(scope="module")
def reports(broken) -> dict[str, dict]:
    """breakage (and the control) → its report entry, from ONE diagnose; nothing may change on disk."""
    control = Path(bootable_image(CONTROL))
    paths = [*broken.values(), control]
    before = {p: fixtures.file_sha256(p) for p in broken.values()}
    control_stat = control.stat()
    proc = vmrescue("diagnose", "--json", "--allow-backing", "--jobs", "1", *map(str, paths))
    assert proc.returncode == 1, proc.stderr           # some images are not bootable
    assert "Traceback" not in proc.stderr
    launches = proc.stderr.count("Starting the libguestfs appliance (TCG") + \
        proc.stderr.count("Starting the libguestfs appliance (KVM)")
    assert launches <= 2, proc.stderr                 # one appliance (KVM may be tried first)
    doc = json.loads(proc.stdout)
    assert [img["path"] for img in doc["images"]] == [str(p) for p in paths]
    assert {p: fixtures.file_sha256(p) for p in broken.values()} == before
    assert (control.stat().st_mtime_ns, control.stat().st_size) == (control_stat.st_mtime_ns, control_stat.st_size)
    return {**dict(zip(broken, doc["images"])), CONTROL: doc["images"][-1]}


@pytest.mark.parametrize("name", CHOSEN)
def test_the_breakage_is_found_with_its_evidence(reports, name):
    bootable, code, severity, path, value = EXPECTED[name]
    entry = reports[name]
    assert entry["bootable"] is bootable, entry["findings"]
    found = [f for f in entry["findings"] if f["code"] == code and f["severity"] == severity]
    assert found, [(f["code"], f["severity"]) for f in entry["findings"]]
    f = found[0]
    assert any(e["path"].startswith(path) and value in e["value"] for e in f["evidence"]), f["evidence"]
    assert f["message"] and f["action"]
    if not bootable:
        assert f["severity"] == "error"
    else:
        assert not [g for g in entry["findings"] if g["severity"] == "error"], entry["findings"]


def test_the_healthy_control_has_no_error(reports):
    entry = reports[CONTROL]
    assert entry["bootable"] is True
    assert [f["code"] for f in entry["findings"] if f["severity"] == "error"] == []


def test_the_actions_name_the_exact_command(reports):
    # fixes that need judgement stay findings with the command to run
    actions = {name: next(f["action"] for f in reports[name]["findings"] if f["code"] == EXPECTED[name][1])
               for name in ("el7-mbr-zeroed", "el9-fstab-missing", "el7-grubcfg-rpmsave", "el9-initrd-no-xfs")}
    assert "grub2-install" in actions["el7-mbr-zeroed"]
    assert "nofail" in actions["el9-fstab-missing"] or "/srv/data" in actions["el9-fstab-missing"]
    assert "vmrescue repair" in actions["el7-grubcfg-rpmsave"] and "restore-config" in actions["el7-grubcfg-rpmsave"]
    assert "rebuild-initrd" in actions["el9-initrd-no-xfs"]


@pytest.mark.parametrize("name", list(BOOTS))
def test_a_boot_stops_where_the_diagnosis_says(broken, name):
    proc = vmrescue("boot-check", "--json", "--allow-backing", "--timeout", "300", str(broken[name]))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and doc["stage_reached"] == BOOTS[name], doc


def _overlay(base: Path, dest: Path) -> Path:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(dest)], check=True)
    return dest


def test_repair_restores_the_renamed_grub_cfg(broken, tmp_path):
    image = _overlay(broken["el7-grubcfg-rpmsave"], tmp_path / "rpmsave.qcow2")
    base = fixtures.file_sha256(broken["el7-grubcfg-rpmsave"])
    proc = vmrescue("repair", "--allow-backing", "--yes", "--fix", "restore-config", str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())
    # the plan is printed before anything is written, then what was done, then the new verdict
    plan = out.index("Plan:")
    assert f"rename {GRUB2_CFG}.rpmsave to {GRUB2_CFG}" in out[plan:]
    assert out.index("Repaired:") > plan
    assert "Now: " in out and "NOT BOOTABLE" not in out, out
    assert fixtures.file_sha256(broken["el7-grubcfg-rpmsave"]) == base     # only the overlay was written


def test_repair_refuses_a_fix_that_does_not_apply(broken, tmp_path):
    if not ALL:
        pytest.skip("one more launch: VMRESCUE_BOOTPATH_ALL=1")
    image = _overlay(broken["el9-fstab-missing"], tmp_path / "fstab.qcow2")
    proc = vmrescue("repair", "--allow-backing", "--yes", "--fix", "restore-config", str(image))
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "the guest has a configuration" in proc.stderr and "nothing was written" in proc.stderr
    assert "Plan:" not in proc.stdout
    # Not asserted: that the image's bytes are unchanged. The refusal comes after the launch,
    # with the drive writable and the guest mounted read-only, and XFS still writes its log
    # and superblock (sb_lsn) on such a mount: no file changes, but the bytes do (known, see
    # docs/diagnose.md; reinstall-kernel's refusals after its launch share it).


def test_repair_rebuilds_the_initrd_with_the_missing_driver(broken, tmp_path):
    if not ALL:
        pytest.skip("the guest's dracut under TCG costs minutes: VMRESCUE_BOOTPATH_ALL=1")
    image = _overlay(broken["el9-initrd-no-xfs"], tmp_path / "noxfs.qcow2")
    before = fixtures.file_sha256(image)
    proc = vmrescue("repair", "--allow-backing", "--dry-run", "--fix", "rebuild-initrd", str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())
    assert "DRY RUN" in out and "--add-drivers" in out and "xfs" in out, out
    assert fixtures.file_sha256(image) == before
    proc = vmrescue("repair", "--allow-backing", "--yes", "--fix", "rebuild-initrd", str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())
    assert "Repaired:" in out and "backup:" in out and "NOT BOOTABLE" not in out, out


def test_repair_writes_a_new_default_entry_from_the_template(broken, tmp_path):
    if not ALL:
        pytest.skip("one more launch: VMRESCUE_BOOTPATH_ALL=1")
    image = _overlay(broken["el6-vmlinux-typo"], tmp_path / "typo.qcow2")
    proc = vmrescue("repair", "--allow-backing", "--yes", "--fix", "boot-entry", str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())
    assert "Plan:" in out and "+" in out and "vmlinuz-6.1.0-57-amd64" in out, out   # the grub.conf diff
    assert "backup:" in out and "grub.conf.vmrescue-" in out and "NOT BOOTABLE" not in out, out
