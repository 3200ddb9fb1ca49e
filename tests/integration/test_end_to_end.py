"""The whole rescue, proven by booting: a guest that really boots (GRUB 0.97 in its MBR,
a real kernel packaged as an RPM, the guest's own rpm and dracut) is broken the way the
seed's yum update broke it, diagnosed, repaired, and booted again.

healthy → boot-check passes with kernel K → break it the seed's way → boot-check fails
at the boot loader → diagnose: not bootable, recommends K → reinstall-kernel --from a
directory with K's RPM and decoys → boot-check passes with K, the initrd made by the
guest's own dracut. And the copied-kernel variant.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fixtures

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def vmrescue(*args):
    return subprocess.run([sys.executable, "-m", "rescue", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "COLUMNS": "200"}, timeout=1800, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def kernel():
    return fixtures.bootable_kernel_release()


@pytest.fixture(scope="module")
def rpm_dir(tmp_path_factory):
    """K's RPM among decoys: K for another arch, and other kernels of other versions."""
    d = tmp_path_factory.mktemp("rpms")
    for rpm in list(fixtures.bootable_rpms_dir().glob("*.rpm")) + list(fixtures.rpms_dir().glob("kernel-2.6.32*.rpm")):
        shutil.copy(rpm, d / rpm.name)
    return d


def boot_check(image: Path, *extra) -> tuple[int, dict]:
    proc = vmrescue("boot-check", "--allow-backing", "--json", "--timeout", "400", *extra, str(image))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def driver(report: dict, module: str) -> dict:
    return next(d for d in report["drivers"] if d["module"] == module)


def test_seed_story_is_rescued_and_boots(tmp_path, kernel, rpm_dir):
    image = fixtures.overlay("el6-bootable", tmp_path)

    status, report = boot_check(image, "--expect-kernel", kernel)
    assert status == 0 and report["stage_reached"] == "login", report
    assert report["kernel"]["booted"] == kernel

    fixtures.break_like_seed(image)
    status, report = boot_check(image)
    assert status == 1
    assert report["stage_reached"] == "bootloader", report
    assert report["error"], report

    proc = vmrescue("diagnose", "--json", "--allow-backing", str(image))
    assert proc.returncode == 1, proc.stderr
    entry = json.loads(proc.stdout)["images"][0]
    assert entry["bootable"] is False
    assert entry["recommended_kernel"]["uname_r"] == kernel
    assert any(f["code"] == "KERNEL_ERASED_BY_UPDATE" for f in entry["findings"])

    proc = vmrescue("reinstall-kernel", "--yes", "--nosignature", "--allow-backing", "--from", str(rpm_dir), str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "the guest's own rpm; its RPM database now lists the package" in out
    assert "dracut -f" in out and f"/boot/initramfs-{kernel}.img {kernel}" in out
    assert f"Now: {image}: BOOTABLE · default kernel: {kernel}" in out

    status, report = boot_check(image, "--expect-kernel", kernel)
    assert status == 0 and report["stage_reached"] == "login", report
    assert report["kernel"]["booted"] == kernel

    # The guest's RPM database records the reinstalled kernel (read by libguestfs inspection).
    proc = vmrescue("diagnose", "--json", "--allow-backing", str(image))
    entry = json.loads(proc.stdout)["images"][0]
    row = next(k for k in entry["kernels"] if k["uname_r"] == kernel)
    assert row["rpm"], entry["kernels"]
    assert entry["bootable"] is True


def test_copied_kernel_story(tmp_path, kernel, rpm_dir):
    image = fixtures.overlay("el6-bootable", tmp_path)
    fixtures.break_like_seed(image)
    foreign = fixtures.copy_foreign_kernel(image)

    # The copied kernel boots: that is what fooled the operator. But it refuses VMware's
    # network module, built for the erased kernel, with its own message.
    status, report = boot_check(image)
    assert status == 0 and report["kernel"]["booted"] == foreign, report
    vmxnet = driver(report, "vmxnet")
    assert vmxnet["loaded"] is False and vmxnet["error"]["code"] == "DRIVER_REFUSED", report["drivers"]
    assert any(line.endswith("vmxnet: disagrees about version of symbol module_layout")
               for line in vmxnet["evidence"]), vmxnet
    assert f"built for {kernel}" in vmxnet["error"]["message"] and "vmrescue reinstall-kernel" in vmxnet["error"]["hint"]
    nic = driver(report, report["boot"]["nic_driver"] or "e1000")          # no /lib/modules for the copied kernel
    assert nic["loaded"] is False and f"/lib/modules/{foreign}" in nic["error"]["message"], report["drivers"]

    proc = vmrescue("diagnose", "--json", "--allow-backing", str(image))
    entry = json.loads(proc.stdout)["images"][0]
    codes = {f["code"] for f in entry["findings"]}
    assert {"THIRD_PARTY_MODULES_MISMATCH", "MODULES_MISSING", "KERNEL_FILES_NOT_IN_RPMDB"} <= codes, codes
    assert entry["recommended_kernel"]["uname_r"] == kernel

    proc = vmrescue("reinstall-kernel", "--yes", "--nosignature", "--allow-backing", "--from", str(rpm_dir), str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    status, report = boot_check(image, "--expect-kernel", kernel)
    assert status == 0 and report["kernel"]["booted"] == kernel, report
    vmxnet = driver(report, "vmxnet")
    assert vmxnet["loaded"] is True and vmxnet["error"] is None, report["drivers"]       # vmxnet loaded
    assert vmxnet["evidence"][0].startswith("vmrescue-probe: module vmxnet Live")
    assert all(d["loaded"] for d in report["drivers"]), report["drivers"]
