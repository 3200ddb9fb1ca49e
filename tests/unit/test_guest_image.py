"""Format detection uses the real qemu-img on small images made here (no appliance)."""
import subprocess

import pytest

from rescue.errors import Exit, RescueError
from rescue.guest.image import probe


def qemu_img(*args):
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


@pytest.fixture
def images(tmp_path):
    raw = tmp_path / "disk.img"
    raw.write_bytes(b"\0" * (1024 * 1024))
    qemu_img("convert", "-O", "qcow2", str(raw), str(tmp_path / "disk.qcow2"))
    qemu_img("convert", "-O", "vmdk", "-o", "subformat=monolithicSparse", str(raw), str(tmp_path / "disk.vmdk"))
    qemu_img("convert", "-O", "vmdk", "-o", "subformat=monolithicFlat", str(raw), str(tmp_path / "esx.vmdk"))
    return tmp_path


@pytest.mark.parametrize("name, fmt", [
    ("disk.img", "raw"), ("disk.qcow2", "qcow2"), ("disk.vmdk", "vmdk"), ("esx.vmdk", "vmdk"),
])
def test_detects_format(images, name, fmt):
    info = probe(str(images / name))
    assert info.format == fmt
    assert info.virtual_size == 1024 * 1024


def test_esx_descriptor_lists_its_flat_extent(images):
    extents = probe(str(images / "esx.vmdk")).extents
    assert [e.rsplit("/", 1)[-1] for e in extents] == ["esx-flat.vmdk"]


def expect_refusal(path, code, **kwargs):
    with pytest.raises(RescueError) as caught:
        probe(str(path), **kwargs)
    assert caught.value.code == code, caught.value.message
    assert caught.value.exit_status in (Exit.IMAGE, Exit.USAGE)
    return caught.value


def test_backing_file_is_refused(images, tmp_path):
    qemu_img("create", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", str(tmp_path / "evil.qcow2"))
    err = expect_refusal(tmp_path / "evil.qcow2", "BACKING_FILE_REFUSED")
    assert "/etc/passwd" in err.message
    assert "--allow-backing" in err.hint


def test_backing_file_allowed_on_request(images, tmp_path):
    qemu_img("create", "-f", "qcow2", "-b", str(images / "disk.img"), "-F", "raw", str(tmp_path / "child.qcow2"))
    assert probe(str(tmp_path / "child.qcow2"), allow_backing=True).backing_file == str(images / "disk.img")


def test_raw_disk_with_qcow2_header_is_refused_when_it_names_a_host_file(tmp_path):
    # The format-probing attack: a guest writes a qcow2 header (with a backing
    # file of its choosing) at the start of its raw disk.
    qemu_img("create", "-f", "qcow2", "-b", "/etc/shadow", "-F", "raw", str(tmp_path / "hdr.qcow2"))
    disk = tmp_path / "guest.img"
    disk.write_bytes((tmp_path / "hdr.qcow2").read_bytes().ljust(1024 * 1024, b"\0"))
    expect_refusal(disk, "BACKING_FILE_REFUSED")
    # ...and an operator who knows it is raw says so, and it is read as raw.
    assert probe(str(disk), fmt="raw").format == "raw"


def test_descriptor_with_extent_outside_its_directory_is_refused(images, tmp_path):
    text = (images / "esx.vmdk").read_text().replace('"esx-flat.vmdk"', f'"{images}/disk.img"')
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "evil.vmdk").write_text(text)
    expect_refusal(sub / "evil.vmdk", "BACKING_FILE_REFUSED")


def test_missing_flat_extent(images):
    (images / "esx-flat.vmdk").unlink()
    err = expect_refusal(images / "esx.vmdk", "IMAGE_UNREADABLE")
    assert "esx-flat.vmdk" in err.message


def test_truncated_qcow2(images):
    data = (images / "disk.qcow2").read_bytes()
    (images / "cut.qcow2").write_bytes(data[:300])
    expect_refusal(images / "cut.qcow2", "IMAGE_TRUNCATED")


def test_truncated_sparse_vmdk(images):
    data = (images / "disk.vmdk").read_bytes()
    (images / "cut.vmdk").write_bytes(data[:4096])
    expect_refusal(images / "cut.vmdk", "IMAGE_TRUNCATED")


@pytest.mark.parametrize("content, code", [
    (None, "IMAGE_IS_DIRECTORY"),
    (b"", "IMAGE_EMPTY"),
    (b"this is a shopping list, not a disk\n", "NOT_A_DISK_IMAGE"),
])
def test_not_a_disk_image(tmp_path, content, code):
    path = tmp_path / "thing"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    expect_refusal(path, code)


def test_missing_file(tmp_path):
    expect_refusal(tmp_path / "nope.vmdk", "IMAGE_NOT_FOUND")


def test_unknown_format_is_a_usage_error(images):
    err = expect_refusal(images / "disk.img", "BAD_FORMAT", fmt="floppy")
    assert err.exit_status == Exit.USAGE


# --- before a repair writes: in use, read-only, room to grow (no appliance) ----------------

def test_probe_records_no_lock_on_an_idle_image(images):
    assert probe(str(images / "disk.qcow2")).in_use is None


def test_vmware_lock_directory_means_in_use(images):
    from rescue.guest.image import check_not_in_use
    (images / "disk.vmdk.lck").mkdir()
    info = probe(str(images / "disk.vmdk"))
    assert "VMware lock" in info.in_use
    with pytest.raises(RescueError) as caught:
        check_not_in_use(info)
    assert caught.value.code == "IMAGE_IN_USE" and caught.value.exit_status == Exit.REFUSED


def test_read_only_image_is_refused_even_for_root(images):
    from rescue.guest.image import check_writable, write_problem
    path = images / "disk.qcow2"
    path.chmod(0o444)       # root may still open it for writing: the mode bits are what the owner said
    assert "read-only (mode 0444)" in write_problem(str(path))
    with pytest.raises(RescueError) as caught:
        check_writable(probe(str(path)))
    assert caught.value.code == "IMAGE_READ_ONLY" and caught.value.exit_status == Exit.REFUSED
    assert "nothing was written" in caught.value.message and "chmod u+w" in caught.value.hint


def test_space_needed_by_format_and_allocation(images):
    from rescue.guest.image import REPAIR_HEADROOM, space_needed
    raw = probe(str(images / "disk.img"))                      # 1 MiB, fully written
    assert space_needed(raw, allocated=raw.virtual_size) == 0  # written in place
    assert space_needed(raw, allocated=0) == raw.virtual_size  # sparse: every block may be allocated
    assert space_needed(probe(str(images / "disk.qcow2")), allocated=0) == REPAIR_HEADROOM


def test_too_little_free_space_is_refused(images, monkeypatch):
    import os
    from rescue.guest import image as imageformat
    info = probe(str(images / "disk.qcow2"))
    imageformat.check_writable(info)                           # the test machine has room for 512 MiB
    fs = os.statvfs(images)
    monkeypatch.setattr(imageformat, "REPAIR_HEADROOM", fs.f_bavail * fs.f_frsize + (1 << 30))
    with pytest.raises(RescueError) as caught:
        imageformat.check_writable(info)
    assert caught.value.code == "HOST_DISK_FULL" and caught.value.exit_status == Exit.REFUSED
    assert "MiB free" in caught.value.message and "nothing was written" in caught.value.message
