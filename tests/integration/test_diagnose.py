"""`vmrescue diagnose` end to end: the real CLI, the real appliance, every fixture scenario.

Images of different layouts (distinct LVM volume group names) share one
appliance launch; el5 scenarios all use VolGroup00, so each needs its own.
Every image is hashed before and after: diagnose must never change a byte.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

import fixtures

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "report-schema.json").read_text())

EL5_PLUS = "2.6.18-274.3.1.el5.centos.plus"
EL6_PLUS = "2.6.32-431.29.2.el6.centos.plus.x86_64"
EL7_NEW = "3.10.0-1160.119.1.el7.x86_64"
EL7_PLUS = "3.10.0-1160.119.1.el7.centos.plus.x86_64"

# scenario → (format, bootable, recommended uname_r, codes that must appear, codes that must not)
EXPECTED = {
    "el5-seed": ("vmdk", False, EL5_PLUS,
                 {"NO_BOOT_ENTRIES", "KERNEL_ERASED_BY_UPDATE", "CENTOSPLUS_WITHOUT_PRIORITIES"}, set()),
    "el6-seed": ("qcow2", False, EL6_PLUS,
                 {"NO_BOOT_ENTRIES", "KERNEL_ERASED_BY_UPDATE", "CENTOSPLUS_WITHOUT_PRIORITIES"}, set()),
    "el7-seed": ("raw", False, EL7_PLUS, {"NO_BOOT_ENTRIES", "KERNEL_ERASED_BY_UPDATE"}, set()),
    "el5-healthy": ("vmdk-flat", True, EL5_PLUS, set(), {"CENTOSPLUS_WITHOUT_PRIORITIES", "THIRD_PARTY_MODULES_MISMATCH"}),
    "el6-healthy": ("raw", True, EL6_PLUS, set(), {"THIRD_PARTY_MODULES_MISMATCH"}),
    "el7-healthy": ("qcow2", True, EL7_NEW, set(), {"THIRD_PARTY_MODULES_MISMATCH"}),
    "el5-copied-kernel": ("qcow2", True, EL5_PLUS,
                          {"MODULES_MISSING", "KERNEL_FILES_NOT_IN_RPMDB", "THIRD_PARTY_MODULES_MISMATCH"}, set()),
    "el5-renamed-kernel": ("qcow2", True, EL5_PLUS, {"KERNEL_NAME_MISMATCH", "KERNEL_FILES_NOT_IN_RPMDB"}, set()),
    "el5-initrd-missing": ("raw", False, EL5_PLUS, {"ENTRY_INITRD_MISSING"}, set()),
    "el5-default-past-end": ("qcow2", False, EL5_PLUS, {"DEFAULT_ENTRY_INVALID"}, set()),
    "el5-no-grubconf": ("qcow2", False, EL5_PLUS, {"NO_BOOTLOADER_CONFIG"}, set()),
    "el5-xen": ("qcow2", True, "2.6.18-274.el5xen", set(), set()),
    "el5-pae": ("qcow2", True, "2.6.18-274.el5PAE", set(), {"THIRD_PARTY_MODULES_MISMATCH"}),
}
# One CLI run (one appliance launch) per batch.
BATCHES = [
    ["el5-seed", "el6-seed", "el7-seed"],
    ["el5-healthy", "el6-healthy", "el7-healthy"],
    ["el5-copied-kernel"], ["el5-renamed-kernel"], ["el5-initrd-missing"], ["el5-default-past-end"],
    ["el5-no-grubconf"], ["el5-xen"], ["el5-pae"],
]


def image_files(path: Path) -> list[Path]:
    """The image and, for an ESX descriptor, its -flat extent."""
    flat = path.with_name(path.stem + "-flat.vmdk")
    return [path, flat] if flat.exists() else [path]


def run_vmrescue(*args):
    return subprocess.run([sys.executable, "-m", "rescue", *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "COLUMNS": "200"}, timeout=900)


@pytest.fixture(scope="session")
def reports():
    """scenario → (its JSON report entry, hashes before, hashes after, exit status of its batch)."""
    out = {}
    for batch in BATCHES:
        paths = [fixtures.image(name, EXPECTED[name][0]) for name in batch]
        before = {p: [fixtures.file_sha256(f) for f in image_files(p)] for p in paths}
        proc = run_vmrescue("diagnose", "--json", *map(str, paths))
        assert proc.returncode in (0, 1), proc.stderr
        doc = json.loads(proc.stdout)
        jsonschema.validate(doc, SCHEMA)
        assert doc["schema"] == "vmrescue.report/1"
        assert [img["path"] for img in doc["images"]] == [str(p) for p in paths]
        for name, path, entry in zip(batch, paths, doc["images"]):
            after = [fixtures.file_sha256(f) for f in image_files(path)]
            out[name] = (entry, before[path], after, proc.returncode, proc.stderr)
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_is_diagnosed_right(reports, name):
    fmt, bootable, recommended, must, must_not = EXPECTED[name]
    entry = reports[name][0]
    codes = {f["code"] for f in entry["findings"]}
    assert entry["bootable"] is bootable, entry["findings"]
    assert (entry["recommended_kernel"] or {}).get("uname_r") == recommended
    assert must <= codes, codes
    assert not (must_not & codes), codes
    if bootable:
        assert not [f for f in entry["findings"] if f["severity"] == "error"]
    else:
        assert [f for f in entry["findings"] if f["severity"] == "error"]
    for finding in entry["findings"]:
        assert finding["message"] and finding["action"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_image_bytes_never_change(reports, name):
    _, before, after, _, _ = reports[name]
    assert before == after


@pytest.mark.parametrize("name, distro, version, arch", [
    ("el5-seed", "centos", "5.11", "x86_64"),
    ("el6-seed", "centos", "6", "x86_64"),
    ("el7-healthy", "centos", "7", "x86_64"),
    ("el5-pae", "centos", "5.11", "i386"),
])
def test_os_is_identified(reports, name, distro, version, arch):
    os_ = reports[name][0]["os"]
    assert os_["distro"] == distro and os_["arch"] == arch
    assert os_["version"].startswith(version)


def test_seed_kernel_table_and_evidence(reports):
    entry = reports["el5-seed"][0]
    assert entry["bootloader"]["kind"] == "grub-legacy"
    assert entry["bootloader"]["config"] == "/boot/grub/grub.conf"
    assert entry["bootloader"]["entries"] == []
    vmware = {m["name"]: m["vermagic_release"] for m in entry["third_party_modules"]}
    assert vmware == {"vmxnet": EL5_PLUS, "vmhgfs": EL5_PLUS, "vmmemctl": EL5_PLUS}
    assert entry["recommended_kernel"]["package"] == f"kernel-{EL5_PLUS}.x86_64.rpm"
    erased = [f for f in entry["findings"] if f["code"] == "KERNEL_ERASED_BY_UPDATE"]
    assert any(EL5_PLUS in f["message"] and "Sep 12 10:03:51" in f["message"] for f in erased)


def test_healthy_entries_resolve_through_separate_boot(reports):
    entry = reports["el5-healthy"][0]
    entries = entry["bootloader"]["entries"]
    assert [e["kernel_exists"] and e["initrd_exists"] for e in entries] == [True, True]
    assert entries[0]["kernel"] == f"/vmlinuz-{EL5_PLUS}"
    kernels = {k["uname_r"]: k for k in entry["kernels"]}
    assert kernels[EL5_PLUS]["embedded_version"].startswith(EL5_PLUS + " ")
    assert kernels[EL5_PLUS]["rpm"]


def test_copied_kernel_is_caught_by_its_modules(reports):
    entry = reports["el5-copied-kernel"][0]
    mismatch = [f for f in entry["findings"] if f["code"] == "THIRD_PARTY_MODULES_MISMATCH"]
    assert any("vmxnet" in f["message"] and EL5_PLUS in f["message"] for f in mismatch)


def test_renamed_kernel_is_caught_by_its_header(reports):
    entry = reports["el5-renamed-kernel"][0]
    kernels = {k["uname_r"]: k for k in entry["kernels"]}
    assert kernels[EL5_PLUS]["embedded_version"].startswith("2.6.18-238.el5 ")


def test_exit_status_says_not_bootable(reports):
    assert reports["el5-seed"][3] == 1
    assert reports["el5-healthy"][3] == 0


def test_human_output_and_progress(tmp_path):
    proc = run_vmrescue("diagnose", str(fixtures.image("el5-seed", "qcow2")))
    assert proc.returncode == 1
    first = proc.stdout.splitlines()[0]
    assert "NOT BOOTABLE" in first and f"recommended: {EL5_PLUS}" in first
    assert "NO_BOOT_ENTRIES" in proc.stdout
    assert "Starting the libguestfs appliance" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_clones_sharing_vg_names_and_uuids_in_one_launch(tmp_path):
    """Fleet clones: same VG name, same PV/VG UUIDs, same /boot label. One run, no mixing."""
    names = ["el5-seed", "el5-healthy", "el5-xen", "el5-seed"]
    paths = []
    for i, name in enumerate(names):
        copy = tmp_path / f"vm{i}.qcow2"
        copy.write_bytes(fixtures.image(name, "qcow2").read_bytes())
        paths.append(copy)
    proc = run_vmrescue("diagnose", "--json", *map(str, paths))
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("Starting the libguestfs appliance") <= 2   # one launch (plus a failed KVM try)
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    for name, entry in zip(names, doc["images"]):
        _, bootable, recommended, must, _ = EXPECTED[name]
        assert entry["bootable"] is bootable, (name, entry["findings"])
        assert entry["recommended_kernel"]["uname_r"] == recommended, name
        assert must <= {f["code"] for f in entry["findings"]}, name
