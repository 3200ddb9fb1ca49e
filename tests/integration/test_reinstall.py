"""`vmrescue reinstall-kernel` end to end on real fixture images and real rpmbuild'd kernel RPMs.

Each repair runs on a copy (raw, vmdk) or a writable overlay (qcow2) of a
cached fixture, through the real CLI and the real appliance. The busybox
guests have no rpm, so these exercise the host-extraction path; the guest-rpm
path runs on the debootstrap guest in the end-to-end test.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fixtures

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EL5_PLUS = "2.6.18-274.3.1.el5.centos.plus"
EL6_PLUS = "2.6.32-431.29.2.el6.centos.plus.x86_64"


def vmrescue(*args, stdin=subprocess.DEVNULL):
    return subprocess.run([sys.executable, "-m", "rescue", "--accel", "tcg", *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "COLUMNS": "200"}, timeout=900, stdin=stdin)


def copy_image(name: str, fmt: str, dest: Path) -> Path:
    src = fixtures.image(name, fmt)
    for f in [src, src.with_name(src.stem + "-flat.vmdk")]:
        if f.exists():
            subprocess.run(["cp", "--sparse=always", str(f), str(dest / f.name)], check=True)
    return dest / src.name


def digest(path: Path) -> str:
    """The image's bytes, with the flat extent of an ESX descriptor."""
    return fixtures.file_sha256(*[f for f in (path, path.with_name(path.stem + "-flat.vmdk")) if f.exists()])


@pytest.fixture(scope="module")
def rpms():
    return str(fixtures.rpms_dir())


def diagnose_json(image: Path, *extra) -> dict:
    proc = vmrescue("diagnose", "--json", *extra, str(image))
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["images"][0]


def test_seed_el5_raw_is_repaired(tmp_path, rpms):
    image = copy_image("el5-seed", "raw", tmp_path)
    proc = vmrescue("reinstall-kernel", "--yes", "--nosignature", "--from", rpms, str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Repaired: {image} → kernel {EL5_PLUS}" in proc.stdout
    assert "vmxnet" in proc.stdout                         # why this kernel: the VMware modules
    assert "mkinitrd -f --with=mptbase --with=mptspi" in proc.stdout
    assert "/boot/grub/grub.conf.vmrescue-" in proc.stdout   # backup listed
    assert "RPM database was NOT updated" in proc.stdout   # host extraction says so
    assert f"Now: {image}: BOOTABLE" in proc.stdout

    # A fresh, separate diagnose agrees.
    after = diagnose_json(image)
    assert after["bootable"] is True
    assert after["default_kernel"] == EL5_PLUS
    assert not [f for f in after["findings"] if f["severity"] == "error"]
    default = after["bootloader"]["entries"][after["bootloader"]["default"]]
    assert default["kernel"] == f"/vmlinuz-{EL5_PLUS}" and default["initrd"] == f"/initrd-{EL5_PLUS}.img"
    kernel = next(k for k in after["kernels"] if k["uname_r"] == EL5_PLUS)
    assert kernel["embedded_version"].startswith(EL5_PLUS + " ")
    # The new grub.conf keeps what the fixture's (anaconda's) had: 0600, root's, its SELinux label.
    assert grub_conf_stat(image, "raw") == (0o600, 0, 0, b"system_u:object_r:boot_t:s0\0")


def grub_conf_stat(image: Path, fmt: str) -> tuple[int, int, int, bytes]:
    g = fixtures.appliance()
    try:
        g.add_drive_opts(str(image), readonly=True, format=fmt)
        g.launch()
        root = g.inspect_os()[0]
        for mountpoint, device in sorted(g.inspect_get_mountpoints(root).items(), key=lambda kv: len(kv[0])):
            g.mount_ro(device, mountpoint)
        st = g.statns("/boot/grub/grub.conf")
        return (st["st_mode"] & 0o7777, st["st_uid"], st["st_gid"],
                g.lgetxattr("/boot/grub/grub.conf", "security.selinux"))
    finally:
        g.close()


def test_copied_kernel_el5_vmdk_gets_the_matching_kernel(tmp_path, rpms):
    image = copy_image("el5-copied-kernel", "vmdk", tmp_path)
    proc = vmrescue("reinstall-kernel", "--yes", "--nosignature", "--from", rpms, str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Now: {image}: BOOTABLE · default kernel: {EL5_PLUS}" in proc.stdout
    # The hand-written entry for the copied kernel still has its files: it is kept, not dropped.
    assert "dropped" not in proc.stdout.split("grub.conf", 1)[1].split("\n", 1)[0]
    assert "copied from web02" in proc.stdout


def test_seed_el6_qcow2_overlay_is_repaired(tmp_path, rpms):
    image = fixtures.overlay("el6-seed", tmp_path)
    proc = vmrescue("reinstall-kernel", "--yes", "--nosignature", "--allow-backing", "--from", rpms, str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"initramfs-{EL6_PLUS}.img" in proc.stdout
    assert f"Now: {image}: BOOTABLE · default kernel: {EL6_PLUS}" in proc.stdout


def test_dry_run_changes_nothing_and_shows_the_diff(tmp_path, rpms):
    image = copy_image("el5-seed", "vmdk-flat", tmp_path)
    before = digest(image)
    proc = vmrescue("reinstall-kernel", "--dry-run", "--nosignature", "--from", rpms, str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DRY RUN (nothing was written to the image)" in proc.stdout
    assert "+++ /boot/grub/grub.conf" in proc.stdout
    assert f"+title CentOS ({EL5_PLUS})" in proc.stdout
    assert f"Would be: {image}: BOOTABLE" in proc.stdout
    assert digest(image) == before


def test_wrong_arch_rpm_is_refused_and_nothing_written(tmp_path, rpms):
    image = copy_image("el5-seed", "qcow2", tmp_path)
    before = digest(image)
    decoy = next(Path(rpms).glob(f"kernel-{EL5_PLUS}.i686.rpm"))
    proc = vmrescue("reinstall-kernel", "--yes", "--nosignature", "--rpm", str(decoy), str(image))
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "i686" in proc.stderr and "x86_64" in proc.stderr
    assert "nothing was written" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert digest(image) == before


def test_unsigned_rpm_needs_nosignature(tmp_path, rpms):
    image = copy_image("el5-seed", "qcow2", tmp_path)
    before = digest(image)
    proc = vmrescue("reinstall-kernel", "--yes", "--from", rpms, str(image))
    assert proc.returncode == 5
    assert "not signed" in proc.stderr and "--nosignature" in proc.stderr
    assert digest(image) == before


def test_no_confirmation_without_a_terminal_refuses_before_launch(tmp_path, rpms):
    image = copy_image("el5-seed", "qcow2", tmp_path)
    proc = vmrescue("reinstall-kernel", "--from", rpms, str(image))
    assert proc.returncode == 5
    assert "--dry-run" in proc.stderr and "--yes" in proc.stderr
    assert "Starting the libguestfs appliance" not in proc.stderr
