"""The command line on bad input: one line naming the problem, a hint, a documented exit code,
never a traceback. None of these reach the appliance (qemu-img refuses them first)."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def vmrescue(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rescue", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=120, stdin=subprocess.DEVNULL)


def test_version_and_help():
    assert vmrescue("--version").stdout.startswith("vmrescue ")
    help_text = vmrescue("--help").stdout
    for command in ("diagnose", "reinstall-kernel"):
        assert command in help_text
    assert "Exit status" in help_text


def make(tmp_path, kind):
    path = tmp_path / "disk.img"
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a disk\n" * 3)
    elif kind == "missing":
        pass
    elif kind == "truncated-qcow2":
        raw = tmp_path / "src.img"
        raw.write_bytes(b"\0" * (1 << 20))
        subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(tmp_path / "full.qcow2")], check=True)
        path.write_bytes((tmp_path / "full.qcow2").read_bytes()[:300])
    elif kind == "backing-file":
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", str(path)],
                       check=True)
    return path


@pytest.mark.parametrize("kind, code_text", [
    ("directory", "is a directory"),
    ("empty", "empty file"),
    ("text", "not a disk image"),
    ("missing", "no such file"),
    ("truncated-qcow2", "truncated"),
    ("backing-file", "backing file"),
])
@pytest.mark.parametrize("command", [["diagnose"], ["reinstall-kernel", "--yes"]])
def test_bad_images_get_one_clear_line(tmp_path, kind, code_text, command):
    path = make(tmp_path, kind)
    before = path.read_bytes() if path.is_file() else None
    proc = vmrescue(*command, str(path))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert code_text in proc.stderr
    assert "hint:" in proc.stderr
    assert "Starting the libguestfs appliance" not in proc.stderr
    if before is not None:
        assert path.read_bytes() == before


def test_json_report_carries_the_error(tmp_path):
    import json
    path = make(tmp_path, "text")
    proc = vmrescue("diagnose", "--json", str(path))
    assert proc.returncode == 3
    (entry,) = json.loads(proc.stdout)["images"]
    assert entry["error"]["code"] == "NOT_A_DISK_IMAGE"


@pytest.mark.parametrize("args", [["diagnose"], ["diagnose", "--format", "floppy", "x.img"], ["frobnicate"],
                                  ["--accel", "warp", "diagnose", "x.img"], ["repair", "x.img"],
                                  ["repair", "--fix", "fstab", "x.img"],
                                  ["repair", "--fix", "restore-config", "--fix", "boot-entry", "x.img"]])
def test_usage_errors_exit_2(tmp_path, args):
    (tmp_path / "x.img").write_bytes(b"\0" * (1 << 20))
    proc = vmrescue(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_libguestfs_binding_names_the_package(tmp_path):
    # Shadow the distribution's binding with one that fails to import, as on a host without it.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "guestfs.py").write_text("raise ImportError('No module named guestfs')\n")
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * (1 << 20))
    import os
    proc = subprocess.run([sys.executable, "-m", "rescue", "diagnose", str(image)], capture_output=True, text=True,
                          cwd=REPO, timeout=120, env={**os.environ, "PYTHONPATH": f"{shadow}:{REPO}"})
    assert proc.returncode == 4, proc.stderr
    assert "python3-guestfs" in proc.stderr and "Traceback" not in proc.stderr


def test_error_lines_make_guest_control_characters_inert(capsys):
    from rescue import cli
    from rescue.errors import RescueError
    cli._fail(RescueError("INITRD_FAILED", "dracut said: \x1b[2J\x1b]0;owned\x07 done\nnext", "see \u202egnp.exe"))
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err
    assert "\\x1b[2J" in err and "\\u202e" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 2      # the message and the hint
