"""Hostile and broken input (issue 7), through the real CLI on the images of fixtures/hostile.py.

Every case ends in a finding or a one-line error that names the problem and the
next step, a documented exit status, no traceback, and the image's bytes as
they were (each file is hashed before and after).

Appliance launches are what cost (15-20 s each under TCG), so:
- one `diagnose --json` reads the whole corpus and a running VM's disk;
- the other launches (a text-mode diagnose, a sequence of LVM clones around a
  disk only libguestfs's inspection can judge, the reinstall refusals that need
  a look inside the guest, and a killed appliance) run two at a time;
- refusals that come before any launch (a running VM, a read-only file, a full
  host filesystem) are checked one by one: they take a second each.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest

import fixtures
from fixtures.hostile import ANSI_TITLE, SHADOW_SENTINEL, TEMPLATE_TITLE

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "report-schema.json").read_text())
EL6_PLUS = "2.6.32-431.29.2.el6.centos.plus.x86_64"
TIMEOUT = 900

# case → (what diagnose gives: "error" code or findings, fragment of its message, bootable, exit status of a
# run on this image alone: 0 boots with no error finding, 1 not bootable or an error finding, 3 not inspectable)
CORPUS = {
    "blank": ("NO_OS", "blank", False, 1),
    "no-os": ("NO_OS", "ext4 on partition 1, swap on partition 2", False, 1),
    "windows": ("NOT_LINUX", "partition 1 holds Windows", None, 3),
    "luks-root": ("ENCRYPTED", "partition 2 is LUKS-encrypted", None, 3),
    "debian": (None, None, True, 0),
    "boot-not-in-fstab": ("BOOT_NOT_IN_FSTAB", "/etc/fstab has no /boot line", True, 0),
    "boot-unreadable": ("BOOT_UNREADABLE", "partition 1 holds no filesystem vmrescue recognises", False, 1),
    "grub-garbage": ("BOOTLOADER_CONFIG_DAMAGED", "holds binary data, not text", False, 1),
    "grub-empty": ("BOOTLOADER_CONFIG_DAMAGED", "is empty (0 bytes)", False, 1),
    "grub-huge": ("BOOTLOADER_CONFIG_TOO_LARGE", "vmrescue checked the first 100", True, 0),
    "grub-ansi-title": ("BOOT_ENTRY_TITLE_UNSAFE", "control characters", True, 0),
    "grub-template-title": (None, None, True, 0),
    "rpmdb-sqlite-corrupt": ("RPMDB_UNREADABLE", "malformed", True, 0),
    "rpmdb-bdb-corrupt": ("RPMDB_UNREADABLE", "Berkeley DB", True, 0),
    "symlink-grub-conf": ("BOOT_SYMLINK", "/boot/grub/grub.conf is a symlink to /etc/shadow, outside /boot", False, 1),
    "symlink-vmlinuz": ("BOOT_SYMLINK", "is a symlink to /../../../etc/passwd, outside /boot", False, 1),
    "symlink-absolute-initrd": ("BOOT_SYMLINK", "is an absolute symlink", False, 1),
    "yum-cache-traps": ("NO_BOOT_ENTRIES", "has no boot entries left", False, 1),
}
ERRORS = {"NOT_LINUX", "ENCRYPTED"}
# fat-data makes libguestfs's own inspection run over every attached disk: it has a launch of its own.


def vmrescue(*args, env=None, timeout=TIMEOUT):
    return subprocess.run([sys.executable, "-m", "rescue", "--accel", "tcg", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})})


def one_line_error(proc, code_words: str) -> str:
    """The CLI's error: one 'vmrescue: error:' line naming the problem, one hint line, no traceback."""
    err = proc.stderr
    assert "Traceback" not in err + proc.stdout and "internal error" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("vmrescue: error:")]
    assert len(lines) == 1, err
    assert code_words in lines[0], err
    assert "  hint: " in err, err
    return lines[0]


def image_json(doc: dict, path) -> dict:
    (entry,) = [e for e in doc["images"] if e["path"] == str(path)]
    return entry


def exit_alone(entry: dict) -> int:
    """The exit status diagnose gives for this image alone (operations.exit_status, per image)."""
    if "error" in entry:
        return 3
    errors = [f for f in entry["findings"] if f["severity"] == "error"]
    return 0 if entry["bootable"] and not errors else 1


# --- a running VM's disk ---------------------------------------------------------------

@pytest.fixture(scope="module")
def running_vm(tmp_path_factory):
    """A copy of el6-healthy held by a real qemu, paused (-S) so that it costs nothing."""
    image = tmp_path_factory.mktemp("running") / "running-vm.qcow2"
    shutil.copyfile(fixtures.image("el6-healthy"), image)
    qemu = subprocess.Popen(["qemu-system-x86_64", "-machine", "accel=tcg", "-S", "-display", "none", "-nodefaults",
                             "-monitor", "none", "-serial", "none",
                             "-drive", f"file={image},format=qcow2,if=ide"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while "lock" not in subprocess.run(["qemu-img", "info", str(image)], capture_output=True, text=True).stderr:
        assert qemu.poll() is None, qemu.stderr.read().decode()
        assert time.monotonic() < deadline, "qemu did not lock the image"
        time.sleep(0.2)
    yield image
    qemu.send_signal(signal.SIGTERM)
    qemu.wait(timeout=30)


# --- one diagnose over the whole corpus ---------------------------------------------------

@pytest.fixture(scope="module")
def corpus():
    return fixtures.hostile_corpus()


@pytest.fixture(scope="module")
def diagnosed(corpus, running_vm):
    paths = [corpus[name] for name in CORPUS] + [running_vm]
    before = {p: fixtures.file_sha256(p) for p in paths}
    t0 = time.monotonic()
    proc = vmrescue("diagnose", "--json", *paths)
    seconds = time.monotonic() - t0
    after = {p: fixtures.file_sha256(p) for p in paths}
    doc = json.loads(proc.stdout)
    return {"proc": proc, "doc": doc, "before": before, "after": after, "seconds": seconds}


def test_the_corpus_run_says_some_images_could_not_be_inspected(diagnosed):
    proc, doc = diagnosed["proc"], diagnosed["doc"]
    assert proc.returncode == 3, proc.stderr          # Windows and LUKS are errors; the rest are reports
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    jsonschema.validate(doc, SCHEMA)
    assert len(doc["images"]) == len(CORPUS) + 1
    # two appliances at most (--jobs), never one per image
    assert proc.stderr.count("Starting the libguestfs appliance") <= 2, proc.stderr


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_hostile_image_is_diagnosed_without_harm(diagnosed, corpus, case):
    code, says, bootable, status = CORPUS[case]
    path = corpus[case]
    entry = image_json(diagnosed["doc"], path)
    assert diagnosed["before"][path] == diagnosed["after"][path], "diagnose changed the image"
    assert exit_alone(entry) == status, entry
    if code in ERRORS:
        assert entry["error"]["code"] == code and says in entry["error"]["message"]
        assert entry["error"]["hint"]
        return
    assert entry["bootable"] is bootable, entry["findings"]
    for finding in entry["findings"]:
        assert finding["message"].endswith(".") and finding["action"], finding
    if code is not None:
        matching = [f for f in entry["findings"] if f["code"] == code]
        assert matching and any(says in f["message"] for f in matching), entry["findings"]


def test_nothing_behind_a_symlink_out_of_boot_is_read(diagnosed, corpus):
    text = json.dumps(diagnosed["doc"])
    assert SHADOW_SENTINEL.split(":")[1] not in text          # the guest's password hash
    entry = image_json(diagnosed["doc"], corpus["symlink-grub-conf"])
    assert entry["bootloader"]["config"] is None and entry["bootloader"]["parse_errors"] == []
    assert entry["boot_symlinks"] == [{"path": "/boot/grub/grub.conf", "target": "/etc/shadow", "problem": "outside"}]
    # the kernel that is a link to /etc/passwd is not read as a kernel
    vmlinuz = image_json(diagnosed["doc"], corpus["symlink-vmlinuz"])
    assert all(k["vmlinuz"] != f"/boot/vmlinuz-{EL6_PLUS}" for k in vmlinuz["kernels"])


def test_hostile_titles_are_kept_verbatim_and_do_not_merge_entries(diagnosed, corpus):
    ansi = image_json(diagnosed["doc"], corpus["grub-ansi-title"])["bootloader"]["entries"]
    assert [e["title"] for e in ansi] == [f"CentOS ({EL6_PLUS})", ANSI_TITLE.replace("\r", "")]   # GRUB drops CRs
    assert ansi[0]["kernel"] == f"/vmlinuz-{EL6_PLUS}"          # its own kernel, not entry 1's
    template = image_json(diagnosed["doc"], corpus["grub-template-title"])["bootloader"]["entries"]
    assert template[1]["title"] == TEMPLATE_TITLE


def test_debian_guest_is_read_as_debian(diagnosed, corpus):
    entry = image_json(diagnosed["doc"], corpus["debian"])
    assert entry["os"]["distro"] == "debian" and entry["os"]["package_format"] == "deb"
    assert entry["bootloader"]["kind"] == "grub2" and entry["default_kernel"] == EL6_PLUS
    # Debian names its initrd initrd.img-R: read, not dropped (its entry's initrd is found, and so is its kernel's)
    debian = next(k for k in entry["kernels"] if k["uname_r"] == fixtures.hostile.DEBIAN_KERNEL)
    assert debian["initrd"] == f"/boot/initrd.img-{fixtures.hostile.DEBIAN_KERNEL}"
    assert not [f for f in entry["findings"] if f["code"] == "INITRD_MISSING"]


def test_huge_grub_conf_is_read_in_bounded_time_and_findings(diagnosed, corpus):
    entry = image_json(diagnosed["doc"], corpus["grub-huge"])
    assert len(entry["bootloader"]["entries"]) == 100
    assert len(entry["findings"]) <= 30
    assert any("only its first 1024 KiB" in note for note in entry["notes"])


def test_boot_partition_missing_from_fstab_is_still_read(diagnosed, corpus):
    entry = image_json(diagnosed["doc"], corpus["boot-not-in-fstab"])
    assert entry["default_kernel"] == EL6_PLUS and len(entry["bootloader"]["entries"]) == 2


def test_a_running_vms_disk_is_read_but_flagged(diagnosed, running_vm):
    entry = image_json(diagnosed["doc"], running_vm)
    assert diagnosed["before"][running_vm] == diagnosed["after"][running_vm]
    assert entry["findings"][0]["code"] == "IMAGE_IN_USE" and entry["findings"][0]["severity"] == "error"
    assert "write lock" in entry["findings"][0]["message"] and "Shut the VM down" in entry["findings"][0]["action"]
    assert exit_alone(entry) == 1


# --- the other launches, two at a time ---------------------------------------------------------

def _copy(src: Path, dest_dir: Path, name: str) -> Path:
    dest = dest_dir / f"{name}.qcow2"
    shutil.copyfile(src, dest)
    return dest


@pytest.fixture(scope="module")
def side_runs(corpus, diagnosed, tmp_path_factory):
    """name → (process, image hash before, after): every launch but the corpus run's."""
    work = tmp_path_factory.mktemp("side")
    rpms = fixtures.rpms_dir()
    repair = ("reinstall-kernel", "--yes", "--nosignature", "--from", rpms)
    images = {name: _copy(corpus[name], work, name) for name in
              ("debian", "luks-root", "blank", "symlink-grub-conf", "grub-ansi-title", "boot-unreadable",
               "grub-huge", "yum-cache-traps")}
    images["killed-diagnose"] = _copy(corpus["grub-template-title"], work, "killed-diagnose")
    images["killed-repair"] = _copy(fixtures.image("el6-seed"), work, "killed-repair")
    kill = {"VMRESCUE_TEST_KILL_APPLIANCE_AT": "mounted"}
    runs = {
        "text": (("diagnose", *(corpus[n] for n in ("grub-ansi-title", "symlink-grub-conf", "windows",
                                                      "luks-root", "blank"))), None, None),
        "clones": (("diagnose", "--jobs", "1", "--json", corpus["grub-template-title"], corpus["fat-data"],
                    corpus["rpmdb-bdb-corrupt"]), None, None),
        "debian": ((*repair, images["debian"]), None, "debian"),
        "luks-root": ((*repair, images["luks-root"]), None, "luks-root"),
        "blank": ((*repair, images["blank"]), None, "blank"),
        "symlink-grub-conf": ((*repair, images["symlink-grub-conf"]), None, "symlink-grub-conf"),
        "grub-ansi-title": ((*repair, "--kernel", EL6_PLUS, images["grub-ansi-title"]), None, "grub-ansi-title"),
        "boot-unreadable": ((*repair, "--kernel", EL6_PLUS, images["boot-unreadable"]), None, "boot-unreadable"),
        "grub-huge": ((*repair, "--kernel", EL6_PLUS, images["grub-huge"]), None, "grub-huge"),
        # no --from: the guest's yum cache is searched, and holds a FIFO and a link to /dev/zero
        "yum-cache-traps": (("reinstall-kernel", "--yes", "--nosignature", images["yum-cache-traps"]), None,
                            "yum-cache-traps"),
        "killed-diagnose": (("diagnose", images["killed-diagnose"]), kill, "killed-diagnose"),
        "killed-repair": ((*repair, images["killed-repair"]), kill, "killed-repair"),
    }

    def one(name):
        args, env, image = runs[name]
        before = fixtures.file_sha256(images[image]) if image else None
        t0 = time.monotonic()
        proc = vmrescue(*args, env=env)
        return name, proc, before, fixtures.file_sha256(images[image]) if image else None, time.monotonic() - t0

    with ThreadPoolExecutor(max_workers=2) as pool:        # two cores: two TCG appliances at a time
        return {name: rest for name, *rest in pool.map(one, runs)}


def test_text_output_of_hostile_text_is_inert(side_runs):
    proc = side_runs["text"][0]
    assert proc.returncode == 3, proc.stderr
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "internal error" not in out
    for raw in ("\x1b", "\x07", "\u202e", "\r"):
        assert raw not in out, repr(raw)
    assert SHADOW_SENTINEL.split(":")[1] not in out
    assert "BOOT_ENTRY_TITLE_UNSAFE" in out and "BOOT_SYMLINK" in out and "NO_OS" in out
    errors = [line for line in proc.stderr.splitlines() if line.startswith("vmrescue: error:")]
    assert len(errors) == 2 and any("Windows" in e for e in errors) and any("LUKS" in e for e in errors)


def test_clones_around_a_disk_only_libguestfs_judges_keep_their_own_volumes(side_runs, corpus):
    # libguestfs's inspection (run for the FAT disk) maps the LVs of every clone; the next clone
    # must still be read from its own disk: its rpmdb is the corrupt Berkeley DB, not the other's sqlite.
    proc = side_runs["clones"][0]
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    fat = image_json(doc, corpus["fat-data"])
    assert [f["code"] for f in fat["findings"]] == ["NO_OS"] and "vfat on partition 1" in fat["findings"][0]["message"]
    after = image_json(doc, corpus["rpmdb-bdb-corrupt"])
    # (beside the boot path's note of which loader its MBR holds, MBR_BOOT_CODE, an info)
    assert [f["code"] for f in after["findings"] if f["code"] != "MBR_BOOT_CODE"] == ["RPMDB_UNREADABLE"], \
        after["findings"]
    assert "Berkeley DB" in after["findings"][0]["message"] and after["bootable"]


@pytest.mark.parametrize("case, status, code, says", [
    ("debian", 5, "NOT_AN_RPM_GUEST", "is not an RPM-based guest"),
    ("luks-root", 3, "ENCRYPTED", "LUKS-encrypted"),
    ("blank", 3, "NO_OS", "no operating system"),
    ("symlink-grub-conf", 5, "REPAIR_REFUSED", "/boot/grub/grub.conf is a symlink to /etc/shadow"),
    ("grub-ansi-title", 5, "UNSAFE_GRUB_VALUE", "contains an escape character (ESC)"),
    ("boot-unreadable", 5, "REPAIR_REFUSED", "names no readable filesystem"),
    ("grub-huge", 5, "GRUB_CONF_TOO_LARGE", "vmrescue rewrites only a grub.conf it reads whole"),
    ("yum-cache-traps", 5, "RPM_NOT_FOUND", f"No RPM of kernel {EL6_PLUS} for x86_64 was found"),
])
def test_reinstall_refuses_before_writing(side_runs, case, status, code, says):
    proc, before, after, _ = side_runs[case]
    assert proc.returncode == status, proc.stderr
    one_line_error(proc, says)
    if status == 5:
        assert "nothing was written" in proc.stderr.lower(), proc.stderr
    assert before == after, "a refused repair changed the image"
    for raw in (SHADOW_SENTINEL.split(":")[1], "\x1b", "\x07", "\u202e"):     # guest text stays inert
        assert raw not in proc.stdout + proc.stderr, repr(raw)


@pytest.mark.parametrize("case", ["killed-diagnose", "killed-repair"])
def test_appliance_killed_mid_command(side_runs, case):
    proc, before, after, seconds = side_runs[case]
    assert proc.returncode == 4, proc.stderr
    one_line_error(proc, "The libguestfs appliance (its qemu) stopped")
    assert "diagnose" in proc.stderr                        # the hint says how to see the image's state
    assert before == after                                  # killed before anything was written
    assert seconds < 300                                    # no hang: it fails fast


# --- refusals before any launch ---------------------------------------------------------------

def test_reinstall_refuses_a_running_vms_disk(running_vm):
    before = fixtures.file_sha256(running_vm)
    t0 = time.monotonic()
    proc = vmrescue("reinstall-kernel", "--yes", "--nosignature", "--from", fixtures.rpms_dir(), running_vm)
    assert proc.returncode == 5, proc.stderr
    line = one_line_error(proc, "a VM is using it")
    assert "write lock" in line
    assert "Starting the libguestfs appliance" not in proc.stderr and time.monotonic() - t0 < 60
    assert fixtures.file_sha256(running_vm) == before


def test_boot_check_refuses_a_running_vms_disk(running_vm):
    before = fixtures.file_sha256(running_vm)
    proc = vmrescue("boot-check", running_vm)
    assert proc.returncode == 3, proc.stderr
    line = one_line_error(proc, "does not boot a running VM's disk")
    assert "write lock" in line
    assert "Starting the libguestfs appliance" not in proc.stderr
    assert fixtures.file_sha256(running_vm) == before


def test_reinstall_refuses_a_read_only_image(corpus, tmp_path):
    image = _copy(fixtures.image("el6-seed"), tmp_path, "read-only")
    image.chmod(0o444)
    before = fixtures.file_sha256(image)
    proc = vmrescue("reinstall-kernel", "--yes", "--nosignature", "--from", fixtures.rpms_dir(), image)
    assert proc.returncode == 5, proc.stderr
    one_line_error(proc, "the file is read-only (mode 0444); nothing was written")
    assert "Starting the libguestfs appliance" not in proc.stderr
    assert fixtures.file_sha256(image) == before and (image.stat().st_mode & 0o777) == 0o444


@pytest.fixture
def full_tmpfs(tmp_path):
    mnt = tmp_path / "full"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "vmrescue-test", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_reinstall_refuses_when_the_host_filesystem_is_full(full_tmpfs):
    # A qcow2 on a filesystem with no room grows as the repair writes: refused before the launch.
    image = _copy(fixtures.image("el6-seed"), full_tmpfs, "el6-seed")
    with open(full_tmpfs / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass
    before = fixtures.file_sha256(image)
    proc = vmrescue("reinstall-kernel", "--yes", "--nosignature", "--from", fixtures.rpms_dir(), image)
    assert proc.returncode == 5, proc.stderr
    one_line_error(proc, "MiB free, and a kernel reinstall may add up to 512 MiB to the image; nothing was written")
    assert "Starting the libguestfs appliance" not in proc.stderr
    assert fixtures.file_sha256(image) == before
