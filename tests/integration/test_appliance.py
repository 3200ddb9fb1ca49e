"""The Guest object on the real libguestfs appliance: accelerator fallback and bounded launch.

Broken KVM is reproduced deterministically with a qemu wrapper (LIBGUESTFS_HV)
that fails the way qemu fails on nested clouds whenever it is asked for KVM,
and runs the real qemu otherwise.
"""
import hashlib
import shutil
import subprocess

import pytest

from rescue.guest.session import Guest
from rescue.errors import Exit, RescueError
from rescue.guest.image import probe

pytestmark = pytest.mark.integration

QEMU = shutil.which("qemu-system-x86_64")


@pytest.fixture
def blank_disk(tmp_path):
    path = tmp_path / "blank.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    return probe(str(path))


def qemu_wrapper(tmp_path, body):
    wrapper = tmp_path / "qemu-wrapper"
    wrapper.write_text("#!/bin/sh\n" + body)
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.fixture
def kvm_breaks(tmp_path, monkeypatch):
    # libguestfs asks for accel=kvm:tcg unless force_tcg is set. Only the real
    # boot (-kernel) fails, as on a nested cloud; capability probes pass through.
    body = f"""case "$*" in
  *accel=kvm*-kernel*) echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; exit 1;;
esac
exec {QEMU} "$@"
"""
    monkeypatch.setenv("LIBGUESTFS_HV", qemu_wrapper(tmp_path, body))
    monkeypatch.delenv("LIBGUESTFS_BACKEND_SETTINGS", raising=False)
    monkeypatch.delenv("VMRESCUE_ACCEL", raising=False)


def test_auto_falls_back_to_tcg_when_kvm_is_broken(blank_disk, kvm_breaks):
    messages = []
    with Guest([blank_disk], accel="auto", status=messages.append) as guest:
        assert guest.used_accel == "tcg"
        assert guest.devices() == ["/dev/sda"]
    assert guest.launches == 2
    fallback = [m for m in messages if m.startswith("KVM is not usable")]
    assert len(fallback) == 1, messages
    assert "failed to set MSR" in fallback[0] and "TCG" in fallback[0]


def test_kvm_only_fails_with_a_clear_error(blank_disk, kvm_breaks):
    with pytest.raises(RescueError) as caught:
        Guest([blank_disk], accel="kvm").launch()
    assert caught.value.code == "APPLIANCE_FAILED"
    assert caught.value.exit_status == Exit.ENVIRONMENT
    assert "failed to set MSR" in caught.value.message


def test_a_hung_launch_is_bounded(blank_disk, tmp_path, monkeypatch):
    body = f"""case "$*" in
  *-kernel*) sleep 600;;
esac
exec {QEMU} "$@"
"""
    monkeypatch.setenv("LIBGUESTFS_HV", qemu_wrapper(tmp_path, body))
    with pytest.raises(RescueError) as caught:
        Guest([blank_disk], accel="tcg", launch_timeout=5).launch()
    assert caught.value.code in ("APPLIANCE_TIMEOUT", "APPLIANCE_FAILED")


def test_drives_are_read_only_unless_asked(blank_disk):
    # libguestfs puts a throw-away overlay over a read-only drive: even a
    # write that "succeeds" inside the appliance never reaches the image.
    before = hashlib.sha256(open(blank_disk.path, "rb").read()).hexdigest()
    with Guest([blank_disk], accel="tcg") as guest:
        guest.g.part_disk("/dev/sda", "mbr")
        assert guest.partitions() == ["/dev/sda1"]
    assert hashlib.sha256(open(blank_disk.path, "rb").read()).hexdigest() == before
