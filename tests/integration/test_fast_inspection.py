"""rescue.inspection and rescue.rpmdb against libguestfs's own inspection, on one launch.

For every fixture guest the fast path (`scan_disk` + `fast_inspect`, and the
RPM database read by `rpmdb`) must find what `inspect_os`, `inspect_get_*`
and `inspect_list_applications2` find: the same root, distro, product,
version, arch, package format, mountpoints and packages; and the superblock
reader must agree with blkid (`vfs_type`/`vfs_label`/`vfs_uuid`).

Two launches: guests of different layouts (distinct VG names) share one.
The second also turns a guest's sqlite rpmdb into a Berkeley DB `Packages`
(in libguestfs's throw-away overlay; the image is opened read-only) and reads
it back through the appliance.
"""
from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import fixtures
from rescue.guest import inspect as inspection
from rescue.rpm import database as rpmdb
from rescue.guest.session import Guest
from rescue.guest.image import probe
from rescue.distro.redhat_naming import is_kernel_package

pytestmark = pytest.mark.integration

GROUPS = {
    "healthy": ("el5-healthy", "el6-healthy", "el7-healthy"),
    "mixed": ("el5-pae", "el6-seed", "el7-seed"),
}
DB_LOAD = shutil.which("db5.3_load") or shutil.which("db_load")


def _libguestfs_view(guest: Guest, root: str) -> dict:
    info = guest.os_info(root)
    with guest.mounted(info) as failed:
        assert not failed
        apps = guest.applications(root)
    packages = {(a["app2_name"], int(a["app2_epoch"] or 0), a["app2_version"], a["app2_release"], a["app2_arch"])
                for a in apps if a["app2_name"] != "gpg-pubkey"}
    return {"os": info, "packages": packages}


def _fast_view(guest: Guest, disk: str) -> tuple[list, list]:
    volumes = inspection.scan_disk(guest, disk)
    roots = inspection.fast_inspect(guest, disk, volumes)
    return volumes, roots


def _packages(guest: Guest, os_info) -> rpmdb.InstalledPackages:
    with guest.mounted(os_info) as failed:
        assert not failed
        return rpmdb.read_guest_rpmdb(guest)


@pytest.fixture(scope="module", params=sorted(GROUPS))
def launched(request):
    names = GROUPS[request.param]
    images = [probe(str(fixtures.image(name))) for name in names]
    with Guest(images) as guest:
        disks = guest.devices()
        fast, timings = {}, {}
        for name, disk in zip(names, disks):
            started = time.monotonic()
            volumes, roots = _fast_view(guest, disk)
            timings[name] = time.monotonic() - started
            assert guest.g.mounts() == [], "fast_inspect left something mounted"
            fast[name] = (disk, volumes, roots, _packages(guest, roots[0]) if roots else None)
        started = time.monotonic()
        slow_roots = guest.inspect()
        slow_seconds = time.monotonic() - started
        slow = {root: _libguestfs_view(guest, root) for root in slow_roots}
        blkid = {v.device: (guest.g.vfs_type(v.device), guest.vfs_label(v.device), guest.vfs_uuid(v.device))
                 for _, volumes, _, _ in fast.values() for v in volumes}
        print(f"\n{request.param}: fast inspection " + ", ".join(f"{n} {t:.2f} s" for n, t in timings.items())
              + f"; inspect_os of all {len(names)}: {slow_seconds:.1f} s")
        yield {"names": names, "fast": fast, "slow": slow, "blkid": blkid, "guest": guest}


def test_same_roots_and_facts_as_libguestfs(launched):
    fast_roots = {r.root: r for _, _, roots, _ in launched["fast"].values() for r in roots}
    assert set(fast_roots) == set(launched["slow"])
    for name, (disk, _, roots, _) in launched["fast"].items():
        assert len(roots) == 1, f"{name}: {roots}"
        got = roots[0]
        want = launched["slow"][got.root]["os"]
        assert got == want, f"{name} on {disk}"
        scenario = fixtures.get(name)
        assert got.arch == ("i386" if getattr(scenario, "arch", "x86_64") == "i386" else "x86_64")


def test_same_packages_as_libguestfs(launched):
    for name, (_, _, roots, installed) in launched["fast"].items():
        want = launched["slow"][roots[0].root]["packages"]
        got = {(p.name, p.epoch, p.version, p.release, p.arch) for p in installed.packages}
        assert installed.backend == "sqlite" and installed.skipped == 0
        assert got == want, name
        kernels = {p for p in want if is_kernel_package(p[0])}
        assert {(p.name, p.epoch, p.version, p.release, p.arch) for p in installed.kernel_packages()} == kernels
        for p in installed.kernel_packages():          # every fixture kernel carries kernel-uname-r
            assert installed.uname_r[p.nvra].startswith(p.version)


def test_superblocks_agree_with_blkid(launched):
    for _, volumes, _, _ in launched["fast"].values():
        for v in volumes:
            fstype, label, uuid = launched["blkid"][v.device]
            assert (v.fstype, v.label, v.uuid) == (fstype, label, uuid), v.device


@pytest.mark.skipif(DB_LOAD is None, reason="db_load is not installed (Debian: apt-get install db-util)")
def test_berkeley_db_through_the_appliance(launched):
    """The guest's database as CentOS 5-7 keep it: a Berkeley DB Packages file, read via download."""
    guest: Guest = launched["guest"]
    name = launched["names"][0]
    _, _, roots, installed = launched["fast"][name]
    os_info = roots[0]
    with tempfile.TemporaryDirectory() as tmp:
        # the guest's own header blobs, rewritten by Berkeley DB's db_load as rpm keyed them
        with guest.mounted(os_info) as failed:
            assert not failed
            guest.download("/var/lib/rpm/rpmdb.sqlite", f"{tmp}/rpmdb.sqlite")
        con = sqlite3.connect(f"file:{tmp}/rpmdb.sqlite?mode=ro&immutable=1", uri=True)
        rows = con.execute("SELECT hnum, blob FROM Packages").fetchall()
        con.close()
        lines = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END",
                 " " + struct.pack("<I", 0).hex(), " " + struct.pack("<I", len(rows) + 1).hex()]
        for number, blob in rows:
            lines += [" " + struct.pack("<I", number).hex(), " " + blob.hex()]
        Path(f"{tmp}/dump").write_text("\n".join(lines + ["DATA=END"]) + "\n")
        subprocess.run([DB_LOAD, "-f", f"{tmp}/dump", f"{tmp}/Packages"], check=True)
        # read-write over the read-only drive: the writes land in libguestfs's overlay
        with guest.mounted(os_info, writable=True) as failed:
            assert not failed
            guest.upload(f"{tmp}/Packages", "/var/lib/rpm/Packages")
            guest.remove("/var/lib/rpm/rpmdb.sqlite")
            got = rpmdb.read_guest_rpmdb(guest)
    assert (got.backend, got.path) == ("bdb", "/var/lib/rpm/Packages")
    assert sorted(got.packages, key=lambda p: p.nvra) == sorted(installed.packages, key=lambda p: p.nvra)
    assert got.uname_r == installed.uname_r
