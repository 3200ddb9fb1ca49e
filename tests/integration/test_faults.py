"""Faults during a repair: the guest is either exactly as before or fully repaired, and
grub.conf is never truncated or missing.

vmrescue is SIGKILLed (a power cut, an OOM kill) at named points of reinstall-kernel
through its test hook VMRESCUE_TEST_KILL_AT, then a fresh diagnose reads the image.
Ctrl-C is sent during a repair: the appliance shuts down and the message lists what was
done and the backups.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fixtures

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EL5_PLUS = "2.6.18-274.3.1.el5.centos.plus"
REPAIR = ["reinstall-kernel", "--yes", "--nosignature", "--allow-backing"]



def ctrl_c_delivered() -> None:
    """In the child: SIGINT as a terminal delivers it. pytest-xdist's workers ignore SIGINT, and an
    ignored signal stays ignored across exec, so vmrescue would never see the Ctrl-C sent."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def command(*args):
    return [sys.executable, "-m", "rescue", "--accel", "tcg", *args]


def diagnose(image: Path) -> dict:
    proc = subprocess.run(command("diagnose", "--json", "--allow-backing", str(image)), capture_output=True,
                          text=True, cwd=REPO, timeout=900)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["images"][0]


def assert_before_or_repaired(entry: dict) -> str:
    """The two states a killed repair may leave; grub.conf intact in both."""
    codes = {f["code"] for f in entry["findings"]}
    assert "NO_BOOTLOADER_CONFIG" not in codes, codes
    assert entry["bootloader"]["config"] == "/boot/grub/grub.conf"
    if entry["bootable"]:
        assert entry["default_kernel"] == EL5_PLUS
        return "repaired"
    assert "NO_BOOT_ENTRIES" in codes, codes            # exactly the seed's state: grub.conf untouched
    assert entry["bootloader"]["entries"] == []
    return "before"


@pytest.mark.parametrize("point, expected", [
    ("install", "before"),          # killed before the package is unpacked
    ("initrd", "before"),           # files written, grub.conf not yet: still the old grub.conf
    ("grub.conf-rename", "before"),  # new grub.conf in its temporary file, not yet renamed
])
def test_killed_repair_leaves_old_or_new_never_half(tmp_path, point, expected):
    image = fixtures.overlay("el5-seed", tmp_path)
    proc = subprocess.run(command(*REPAIR, "--from", str(fixtures.rpms_dir()), str(image)), capture_output=True,
                          text=True, cwd=REPO, timeout=900, env={**os.environ, "VMRESCUE_TEST_KILL_AT": point})
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    time.sleep(2)   # libguestfs's recovery process reaps the orphaned appliance
    assert assert_before_or_repaired(diagnose(image)) == expected


def test_ctrl_c_during_repair_says_what_was_done(tmp_path):
    image = fixtures.overlay("el5-seed", tmp_path)
    proc = subprocess.Popen(command(*REPAIR, "--from", str(fixtures.rpms_dir()), str(image)), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_delivered)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "Installing" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest_out, rest_err = proc.communicate(timeout=300)
    err = "".join(seen) + rest_err
    assert proc.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    assert "grub.conf" in err
    assert assert_before_or_repaired(diagnose(image)) in ("before", "repaired")
