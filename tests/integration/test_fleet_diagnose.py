"""A fleet in one command: a directory of cloned guests, two appliances side by side.

Clones of one template share their VG name, PV/VG UUIDs and /boot label; the
images of each batch are read one disk at a time with LVM limited to that disk,
so every image must come out with its own verdict whichever appliance read it.
"""
import re
import shutil
import signal
import subprocess
import sys

import pytest

import fixtures

pytestmark = pytest.mark.integration

EL5_PLUS = "2.6.18-274.3.1.el5.centos.plus"
# template → (bootable, recommended kernel) as tests/integration/test_diagnose.py expects them
TEMPLATES = {"el5-seed": (False, EL5_PLUS), "el5-healthy": (True, None), "el5-xen": (True, None)}


def run_vmrescue(*args):
    return subprocess.run([sys.executable, "-m", "rescue", *args], capture_output=True, text=True, timeout=1200)


def test_directory_of_clones_with_two_appliances(tmp_path):
    fleet_dir = tmp_path / "fleet"
    fleet_dir.mkdir()
    expected = {}
    for i, name in enumerate(["el5-seed", "el5-healthy", "el5-seed", "el5-xen",
                              "el5-healthy", "el5-seed", "el5-xen", "el5-seed"]):
        path = fleet_dir / f"vm{i}.qcow2"
        shutil.copyfile(fixtures.image(name, "qcow2"), path)
        expected[str(path)] = TEMPLATES[name]
    (fleet_dir / "vm0-notes.txt").write_text("not an image: a directory argument skips it\n")

    proc = run_vmrescue("diagnose", "--jobs", "2", str(fleet_dir))

    assert proc.returncode == 1, proc.stderr          # some clones are not bootable
    assert "Traceback" not in proc.stderr
    launches = proc.stderr.count("Starting the libguestfs appliance (TCG") + \
        proc.stderr.count("Starting the libguestfs appliance (KVM)")
    assert 2 <= launches <= 4, proc.stderr            # two appliances (each may try KVM first)
    # one progress line per image, counted over both appliances
    done = re.findall(r"\[(\d)/8\] (\S+): (bootable|NOT BOOTABLE)", proc.stderr)
    assert sorted(int(n) for n, _, _ in done) == list(range(1, 9))
    # the summary table: one row per image, in the directory's order, with its own verdict
    rows = [line for line in proc.stdout.splitlines() if "vm" in line and ".qcow2" in line and "│" in line]
    assert len(rows) == 8, proc.stdout
    for row, (path, (bootable, recommended)) in zip(rows, expected.items()):
        assert path.rsplit("/", 1)[1] in row
        assert ("bootable" in row and "NOT BOOTABLE" not in row) is bootable, row
        if recommended:
            assert recommended in row and "NO_BOOT_ENTRIES" in row, row
    assert f"8 images in {fleet_dir}: 4 bootable, 4 not" in proc.stdout



def ctrl_c_delivered() -> None:
    """In the child: SIGINT as a terminal delivers it. pytest-xdist's workers ignore SIGINT, and an
    ignored signal stays ignored across exec, so vmrescue would never see the Ctrl-C sent."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def _qemu_children(pid: int) -> list[int]:
    """Processes descended from `pid` whose command line names qemu."""
    import os
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    table[int(entry)] = (parent, b"qemu" in f.read())
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, is_qemu) in table.items():
            if ppid == parent:
                frontier.append(child)
                if is_qemu:
                    found.append(child)
    return found


def test_ctrl_c_stops_every_appliance(tmp_path):
    import signal
    import time
    paths = []
    for i in range(2):
        path = tmp_path / f"vm{i}.qcow2"
        shutil.copyfile(fixtures.image("el5-seed", "qcow2"), path)
        paths.append(str(path))
    proc = subprocess.Popen([sys.executable, "-m", "rescue", "diagnose", "--jobs", "2", *paths],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_delivered)
    try:
        deadline = time.monotonic() + 120
        while len(_qemu_children(proc.pid)) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        appliances = _qemu_children(proc.pid)
        assert len(appliances) >= 2, "two appliances never ran side by side"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    time.sleep(1)
    assert [pid for pid in appliances if _alive(pid)] == []      # none left behind, orphaned


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
