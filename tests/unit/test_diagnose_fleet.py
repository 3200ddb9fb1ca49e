"""Planning many images: which files, how many appliances, which image in which batch."""
import os

import pytest

from rescue.diagnose import fleet
from rescue.errors import Exit, RescueError
from rescue.model import Diagnosis, Finding, GuestFacts, OsInfo, RecommendedKernel, Severity
from rescue.operations import ImageResult

GiB = 1024 ** 3


@pytest.mark.parametrize("count, jobs, max_disks, sizes", [
    (1, 1, 255, [1]),
    (8, 1, 255, [8]),
    (8, 2, 255, [4, 4]),
    (9, 2, 255, [5, 4]),
    (3, 8, 255, [1, 1, 1]),            # never an empty batch
    (10, 1, 4, [4, 3, 3]),             # the drive limit splits one job's images
    (600, 2, 255, [200, 200, 200]),
    (0, 4, 255, []),
])
def test_batches_are_contiguous_even_and_within_the_drive_limit(count, jobs, max_disks, sizes):
    plan = fleet.plan_batches(count, jobs, max_disks)
    assert [len(batch) for batch in plan] == sizes
    assert [i for batch in plan for i in batch] == list(range(count))
    assert all(len(batch) <= max_disks for batch in plan)


def test_batches_refuse_nonsense_limits():
    with pytest.raises(ValueError):
        fleet.plan_batches(3, 0, 255)
    with pytest.raises(ValueError):
        fleet.plan_batches(3, 1, 0)


@pytest.mark.parametrize("images, cpus, memory, jobs", [
    (1, 2, 24 * GiB, 1),          # one image: one launch
    (7, 2, 24 * GiB, 1),          # a second launch would cost more than it saves
    (8, 2, 24 * GiB, 2),
    (100, 2, 24 * GiB, 2),        # cores bound it
    (100, 64, 24 * GiB, 16),      # memory bounds it (1.5 GiB an appliance)
    (100, 8, 2 * GiB, 1),         # short of memory: one at a time
    (100, None, None, 1),         # nothing known: the safe answer
])
def test_default_jobs(images, cpus, memory, jobs):
    assert fleet.default_jobs(images, cpus, memory) == jobs


def touch(path, data=b"x"):
    path.write_bytes(data)
    return str(path)


def test_directory_gives_its_images_sorted_without_vmware_extents(tmp_path):
    for name in ["web2.qcow2", "web1.vmdk", "web1-flat.vmdk", "db-s001.vmdk", "db.vmdk", "notes.txt",
                 "db-ctk.vmdk", "old.IMG"]:
        touch(tmp_path / name)
    (tmp_path / "sub.qcow2").mkdir()       # a directory with an image's name is not an image
    assert [os.path.basename(p) for p in fleet.expand_images([str(tmp_path)])] == \
        ["db.vmdk", "old.IMG", "web1.vmdk", "web2.qcow2"]


def test_empty_directory_is_one_clear_error(tmp_path):
    touch(tmp_path / "readme.txt")
    with pytest.raises(RescueError) as raised:
        fleet.expand_images([str(tmp_path)])
    assert raised.value.exit_status == Exit.IMAGE
    assert "is a directory with no disk images" in raised.value.message


def test_quoted_glob_is_expanded_and_unmatched_glob_is_a_usage_error(tmp_path):
    a, b = touch(tmp_path / "a.qcow2"), touch(tmp_path / "b.qcow2")
    touch(tmp_path / "b-flat.vmdk")
    assert fleet.expand_images([str(tmp_path / "*.qcow2")]) == [a, b]
    assert fleet.expand_images([str(tmp_path / "*")]) == [a, b]
    with pytest.raises(RescueError) as raised:
        fleet.expand_images([str(tmp_path / "*.vdi")])
    assert raised.value.exit_status == Exit.USAGE


def test_a_file_whose_name_looks_like_a_glob_is_taken_literally(tmp_path):
    odd = touch(tmp_path / "disk[1].img")
    assert fleet.expand_images([odd]) == [odd]


def test_order_is_kept_and_the_same_file_counted_once(tmp_path):
    a, b = touch(tmp_path / "a.img"), touch(tmp_path / "b.img")
    os.symlink(a, tmp_path / "alias.img")
    assert fleet.expand_images([b, a, str(tmp_path / "alias.img"), b]) == [b, a]


def test_missing_paths_pass_through_for_the_probe_to_report(tmp_path):
    missing = str(tmp_path / "gone.qcow2")
    assert fleet.expand_images([missing]) == [missing]


def diagnosis(bootable, findings=(), kernel=None, os_found=True):
    os_info = OsInfo(root="/dev/sda2", distro="centos", major=5, minor=6, arch="x86_64", product="CentOS 5.6",
                     package_format="rpm", mountpoints=(("/", "/dev/sda2"),)) if os_found else None
    rec = RecommendedKernel(kernel, f"kernel-{kernel}.rpm", "vermagic") if kernel else None
    return Diagnosis(GuestFacts(image="x", os=os_info), tuple(findings), bootable, rec)


def test_summary_rows():
    broken = ImageResult("a.qcow2", "qcow2", diagnosis=diagnosis(
        False, [Finding("NO_KERNEL", Severity.ERROR, "m", "a"), Finding("YUM_REMOVED_KERNEL", Severity.WARNING, "m", "a")],
        kernel="2.6.18-274.el5"))
    row = fleet.summary_row(broken)
    assert (row.verdict, row.kernel, row.problems) == ("NOT BOOTABLE", "2.6.18-274.el5", "NO_KERNEL")

    healthy = fleet.summary_row(ImageResult("b.qcow2", "qcow2", diagnosis=diagnosis(
        True, [Finding("THIRD_PARTY_MODULES", Severity.WARNING, "m", "a")])))
    assert (healthy.verdict, healthy.kernel, healthy.problems) == ("bootable", "-", "warnings: THIRD_PARTY_MODULES")

    no_os = fleet.summary_row(ImageResult("c.img", "raw", diagnosis=diagnosis(False, os_found=False)))
    assert (no_os.verdict, no_os.kernel) == ("NOT BOOTABLE", "no OS")

    failed = fleet.summary_row(ImageResult("d.img", None, error=RescueError("TRUNCATED", "d.img: truncated", "h")))
    assert (failed.verdict, failed.problems) == ("error", "TRUNCATED: d.img: truncated")


def test_short_names_drop_a_shared_directory():
    assert fleet.short_names(["/srv/vms/a.qcow2", "/srv/vms/b.vmdk"]) == ("/srv/vms", ["a.qcow2", "b.vmdk"])
    assert fleet.short_names(["/srv/a.qcow2", "/tmp/b.vmdk"]) == ("", ["/srv/a.qcow2", "/tmp/b.vmdk"])
    assert fleet.short_names(["/srv/a.qcow2"]) == ("", ["/srv/a.qcow2"])


def test_foreign_devices_are_those_on_another_disk():
    disks = {"/dev/sda1": "/dev/sda", "/dev/sdb1": "/dev/sdb", "/dev/VolGroup00/LogVol00": "/dev/sda"}
    assert fleet.foreign_devices(["/dev/VolGroup00/LogVol00", "/dev/sdb1"], "/dev/sda", disks.get) == ["/dev/sdb1"]
    assert fleet.foreign_devices(["/dev/VolGroup00/LogVol00", "/dev/sda1"], "/dev/sda", disks.get) == []
    assert fleet.foreign_devices(["/dev/md0"], "/dev/sda", disks.get) == []      # unknown: not counted
