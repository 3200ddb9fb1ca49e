"""`vmrescue boot-check` on real images: real qemu, real appliance, real boots.

A boot-check costs one appliance launch (configuring the overlay, 20-40 s
under TCG) plus the boot itself, so each CLI test boots once:

* the bootable fixture (GRUB 0.97 in the MBR, Debian kernel, dracut, LVM)
  reaches its login prompt with the expected kernel, its init runs the probe,
  and VMware's module (built for that kernel) is reported loaded;
* the same guest after yum's erase of its kernel stops at GRUB's prompt;
* el5-healthy with its MBR's boot code zeroed is reported as such;
* a hung boot is cut by --timeout and no qemu is left behind.

qemu's own handling (timeout, Ctrl-C, KVM falling back to TCG) is also tested
directly on run_qemu/boot_overlay, without the appliance, in a few seconds.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fixtures
from rescue import bootcheck
from rescue.guest.image import probe

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
QEMU = shutil.which("qemu-system-x86_64")


def run_vmrescue(*args, env=None, timeout=900):
    return subprocess.run([sys.executable, "-m", "rescue", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=timeout)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (e.g. a test's private temp dir)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in argv:
            found.append(f"{pid}: {argv[:200]}")
    return found


@pytest.fixture(scope="module")
def bootable() -> Path:
    return fixtures.image("el6-bootable", "qcow2")


@pytest.fixture(scope="module")
def no_boot_code(tmp_path_factory) -> Path:
    # A copy of el5-healthy with 440 zero bytes where the MBR's boot code
    # belongs; its partition table and boot signature stay.
    image = tmp_path_factory.mktemp("no-boot-code") / "el5-healthy.qcow2"
    shutil.copyfile(fixtures.image("el5-healthy", "qcow2"), image)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -z 0 440", str(image)], check=True, capture_output=True)
    return image


# --- the CLI, end to end ----------------------------------------------------------------

def test_bootable_fixture_reaches_login_with_the_expected_kernel_and_its_drivers(bootable, tmp_path):
    release = fixtures.bootable_kernel_release()
    before = fixtures.file_sha256(bootable)
    log = tmp_path / "console.log"
    started = time.monotonic()
    proc = run_vmrescue("boot-check", "--json", "--expect-kernel", release, "--keep-log", str(log), str(bootable))
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is True and doc["exit_status"] == 0 and doc["error"] is None
    assert doc["stage_reached"] == "login"
    assert doc["kernel"] == {"booted": release, "expected": release}
    stages = {s["stage"]: s["line"] for s in doc["stages"]}
    assert list(stages) == ["firmware", "bootloader", "kernel", "initrd", "root-mounted", "init", "login"]
    assert f"Linux version {release} " in stages["kernel"]
    assert stages["init"] == f"vmrescue-probe: begin {release}"       # init ran the probe from rc.local
    assert stages["login"] == "el6bootable login:"                    # the getty-style prompt, not the marker
    assert doc["overlay"]["bootloader"] == "grub-legacy"
    assert doc["overlay"]["configured"] == ["/boot/grub/grub.conf", "/etc/vmrescue-boot-check-probe.sh",
                                            "/etc/rc.d/rc.local"]
    assert doc["overlay"]["default_release"] == release
    assert doc["overlay"]["probe"] == "rc.local"
    assert doc["overlay"]["kernel_args"]["added"] == ["console=tty0", "console=ttyS0,115200", "loglevel=7"]
    assert doc["overlay"]["kernel_args"]["booted_with"].endswith("console=tty0 console=ttyS0,115200 loglevel=7")
    drivers = {d["module"]: d for d in doc["drivers"]}
    assert list(drivers) == ["vmxnet", "ata_piix", "vmxnet3"]
    assert all(d["loaded"] is True and d["error"] is None for d in drivers.values()), doc["drivers"]
    assert drivers["vmxnet"]["evidence"][0].startswith("vmrescue-probe: module vmxnet Live")
    assert f"/lib/modules/{release}/misc/vmxnet.ko, built for {release}" in drivers["vmxnet"]["expected_by"]
    assert any("module verification failed" in note for note in drivers["vmxnet"]["notes"])
    assert doc["probe"]["complete"] and [link["driver"] for link in doc["probe"]["links"]] == ["vmxnet3"]
    # its dracut initramfs is generic: IDE (ata_piix); the kernel package carries vmxnet3
    assert (doc["boot"]["disk"], doc["boot"]["disk_driver"]) == ("ide", "ata_piix")
    assert (doc["boot"]["nic"], doc["boot"]["nic_driver"]) == ("vmxnet3", "vmxnet3")
    assert doc["console_log"] == str(log)
    text = log.read_text()
    assert "vmrescue-probe: end" in text and "\x1b" not in text
    assert fixtures.file_sha256(bootable) == before, "boot-check changed the image"
    print(f"\nboot-check of el6-bootable: {elapsed:.0f} s in all, overlay {doc['overlay']['seconds']} s, "
          f"boot {doc['boot']['seconds']} s ({doc['boot']['accel']})")


def test_after_yums_erase_the_guest_stops_at_the_grub_prompt(bootable, tmp_path):
    scratch = tmp_path / "broken.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(bootable), str(scratch)],
                   check=True)
    fixtures.break_like_seed(scratch)
    before = fixtures.file_sha256(scratch)
    proc = run_vmrescue("boot-check", "--allow-backing", str(scratch))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "DOES NOT BOOT: stopped at stage bootloader" in proc.stdout
    assert "GRUB_PROMPT: GRUB stopped at its command prompt" in proc.stdout
    assert "console: grub>" in proc.stdout
    assert fixtures.file_sha256(scratch) == before


def test_an_mbr_without_boot_code_is_named(no_boot_code):
    before = fixtures.file_sha256(no_boot_code)
    proc = run_vmrescue("boot-check", "--json", str(no_boot_code))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and doc["stage_reached"] == "firmware"        # SeaBIOS ran, the MBR did nothing
    assert doc["error"]["code"] == "BOOT_CODE_SILENT"
    assert doc["error"]["line"] == "Booting from Hard Disk..."
    assert doc["overlay"]["mbr_boot_code"] is False
    assert doc["boot"]["ended"] == "verdict" and doc["boot"]["seconds"] < 60
    # its EL5 host-only initrd has only mptspi, which qemu cannot emulate: said, not hidden
    assert any("mptspi" in note for note in doc["notes"])
    assert fixtures.file_sha256(no_boot_code) == before


def test_timeout_kills_and_reaps_qemu(no_boot_code, tmp_path):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    started = time.monotonic()
    proc = run_vmrescue("boot-check", "--timeout", "5", str(no_boot_code), env={"TMPDIR": str(private_tmp)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "BOOT_TIMEOUT" in proc.stdout
    assert time.monotonic() - started < 240
    # qemu's command line names the overlay in the private temp dir (and the appliance's sockets live there)
    assert processes_mentioning(str(private_tmp)) == []
    left = list(private_tmp.glob("vmrescue-boot-check-*/*"))
    assert [p.name for p in left] == ["console.log"]     # the overlay is gone, the log is kept


# --- qemu handling, without the appliance ---------------------------------------------------

@pytest.fixture
def hanging_overlay(no_boot_code, tmp_path):
    return bootcheck.create_overlay(probe(str(no_boot_code)), str(tmp_path)).path


def hardware():
    return bootcheck.Hardware("ide", "e1000")


def test_run_qemu_timeout_reaps(hanging_overlay, tmp_path):
    argv = bootcheck.qemu_command(QEMU, hanging_overlay, hardware(), "tcg", 256)
    run = bootcheck.run_qemu(argv, timeout=3, expect_kernel=None, stderr_path=str(tmp_path / "err"),
                             progress=lambda stage, elapsed: None)
    assert run.ended == "timeout" and run.result.error[0] == "BOOT_TIMEOUT"
    assert run.returncode is not None
    assert processes_mentioning(hanging_overlay) == []


def test_ctrl_c_reaps_qemu(hanging_overlay, tmp_path):
    argv = bootcheck.qemu_command(QEMU, hanging_overlay, hardware(), "tcg", 256)
    seen = []

    def interrupt(stage, elapsed):
        seen.append(processes_mentioning(hanging_overlay))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bootcheck.run_qemu(argv, timeout=60, expect_kernel=None, stderr_path=str(tmp_path / "err"), progress=interrupt)
    assert seen and seen[0], "qemu was not running when the interrupt came"
    assert processes_mentioning(hanging_overlay) == []


def test_broken_kvm_falls_back_to_tcg_once(hanging_overlay, tmp_path):
    wrapper = tmp_path / "qemu-wrapper"
    wrapper.write_text(f"""#!/bin/sh
case "$*" in
  *accel=kvm*) echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; exit 1;;
esac
exec {QEMU} "$@"
""")
    wrapper.chmod(0o755)
    messages = []
    run, used = bootcheck.boot_overlay(str(wrapper), hanging_overlay, hardware(), modes=["kvm", "tcg"], timeout=3,
                                       memory_mb=256, expect_kernel=None, workdir=str(tmp_path),
                                       status=messages.append)
    assert used == "tcg" and run.ended == "timeout"
    fallback = [m for m in messages if m.startswith("KVM is not usable")]
    assert len(fallback) == 1 and "failed to set MSR" in fallback[0]


def test_qemu_failing_to_start_is_an_environment_error(hanging_overlay, tmp_path):
    from rescue.errors import Exit, RescueError
    with pytest.raises(RescueError) as caught:
        bootcheck.boot_overlay(QEMU, hanging_overlay, bootcheck.Hardware("ide", "no-such-nic"), modes=["tcg"],
                               timeout=10, memory_mb=256, expect_kernel=None, workdir=str(tmp_path),
                               status=lambda m: None)
    assert caught.value.code == "QEMU_FAILED" and caught.value.exit_status == Exit.ENVIRONMENT
    assert "no-such-nic" in caught.value.message
