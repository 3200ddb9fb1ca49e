"""Tests for rescue.rpmdb: real rpm databases, checked against rpm's own answers.

The sqlite database is written by the host's rpm (`--justdb`) from packages
built with rpmbuild. The Berkeley DB `Packages` files are made by BDB's own
`db_load` (Debian: db-util) from those headers, keyed as rpm keys them, in
both byte orders and two page sizes, and checked to be readable by rpm's
independent `bdb_ro` backend before vmrescue's reader is compared with it.
Hostile databases are made by editing the real files' bytes.
"""
from __future__ import annotations

import hashlib
import random
import shutil
import sqlite3
import struct
import subprocess
from pathlib import Path

import pytest

from rescue.rpm import database as rpmdb
from rescue.model import RpmPackage
from rescue.rpm.header import RpmFormatError

needs_rpmbuild = pytest.mark.skipif(shutil.which("rpmbuild") is None or shutil.which("rpm") is None,
                                    reason="rpm/rpmbuild are not installed (Debian: apt-get install rpm)")
DB_LOAD = shutil.which("db5.3_load") or shutil.which("db_load")
needs_db_load = pytest.mark.skipif(DB_LOAD is None, reason="db_load is not installed (Debian: apt-get install db-util)")

# name, epoch, version, release, target arch, kernel-uname-r provide
PACKAGES = [
    ("kernel", None, "2.6.18", "274.3.1.el5.centos.plus", "x86_64", "2.6.18-274.3.1.el5.centos.plus"),
    ("kernel-PAE", None, "2.6.18", "274.el5", "i686", "2.6.18-274.el5PAE"),
    ("kernel-xen", None, "2.6.18", "274.el5", "x86_64", None),
    ("tzdata", 2, "2023c", "1.el5", "noarch", None),
    ("bash", None, "3.2", "33.el5", "x86_64", None),
]


def _spec(name, epoch, version, release, arch, uname_r) -> str:
    lines = ["%define debug_package %{nil}", "%define __os_install_post %{nil}",
             f"Name: {name}", f"Version: {version}", f"Release: {release}",
             f"Summary: {name} stand-in", "License: GPL", "AutoReqProv: no"]
    if epoch is not None:
        lines.append(f"Epoch: {epoch}")
    if arch == "noarch":
        lines.append("BuildArch: noarch")
    if uname_r:
        lines.append(f"Provides: kernel-uname-r = {uname_r}")
    lines += ["%description", "stand-in", "%install", f"mkdir -p %{{buildroot}}/usr/share/{name}"]
    # enough files that some headers outgrow a 4 KiB BDB page (overflow chains)
    count = 120 if name.startswith("kernel") else 3
    lines += [f"echo {i} > %{{buildroot}}/usr/share/{name}/file-with-a-long-name-{i:04d}" for i in range(count)]
    lines += ["%files", f"/usr/share/{name}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def rpm_root(tmp_path_factory) -> Path:
    """A root whose /var/lib/rpm/rpmdb.sqlite lists PACKAGES, written by the host's rpm."""
    if shutil.which("rpmbuild") is None or shutil.which("rpm") is None:
        pytest.skip("rpm/rpmbuild are not installed (Debian: apt-get install rpm)")
    top = tmp_path_factory.mktemp("rpmdb-build")
    for p in PACKAGES:
        spec = top / f"{p[0]}.spec"
        spec.write_text(_spec(*p))
        args = ["rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", "_build_id_links none"]
        if p[4] != "noarch":
            args += ["--target", p[4]]
        res = subprocess.run([*args, str(spec)], capture_output=True, text=True)
        if res.returncode != 0:
            pytest.skip(f"rpmbuild cannot build here: {res.stderr.strip()[-300:]}")
    rpms = sorted(top.rglob("*.rpm"))
    root = top / "root"
    base = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite"]
    subprocess.run([*base, "--initdb"], check=True, capture_output=True)
    subprocess.run([*base, "-i", "--justdb", "--nodeps", "--noscripts", "--notriggers", "--ignorearch",
                    "--ignoreos", "--ignoresize", *map(str, rpms)], check=True, capture_output=True)
    con = sqlite3.connect(root / "var/lib/rpm/rpmdb.sqlite")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    for leftover in ("rpmdb.sqlite-shm", "rpmdb.sqlite-wal", ".rpm.lock"):
        (root / "var/lib/rpm" / leftover).unlink(missing_ok=True)
    return root


def rpm_says(args: list[str]) -> set[tuple]:
    fmt = "%{name}|%{epochnum}|%{version}|%{release}|%{arch}\\n"
    out = subprocess.run(["rpm", *args, "-qa", "--qf", fmt], capture_output=True, text=True, check=True).stdout
    return {(n, int(e), v, r, a) for n, e, v, r, a in (line.split("|") for line in out.splitlines())
            if n != "gpg-pubkey"}


def as_tuples(packages) -> set[tuple]:
    return {(p.name, p.epoch, p.version, p.release, p.arch) for p in packages}


def sqlite_path(root: Path) -> Path:
    return root / "var/lib/rpm/rpmdb.sqlite"


def blobs_of(root: Path) -> list[tuple[int, bytes]]:
    con = sqlite3.connect(f"file:{sqlite_path(root)}?mode=ro&immutable=1", uri=True)
    try:
        return con.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
    finally:
        con.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- sqlite -----------------------------------------------------------------------------------

@needs_rpmbuild
def test_sqlite_agrees_with_rpm(rpm_root):
    got = rpmdb.read_packages(rpmdb.sqlite_blobs(str(sqlite_path(rpm_root))), "sqlite")
    want = rpm_says(["--root", str(rpm_root), "--dbpath", "/var/lib/rpm"])
    assert as_tuples(got.packages) == want
    assert len(want) == len(PACKAGES)
    assert got.skipped == 0
    assert got.uname_r == {
        "kernel-2.6.18-274.3.1.el5.centos.plus.x86_64": "2.6.18-274.3.1.el5.centos.plus",
        "kernel-PAE-2.6.18-274.el5.i686": "2.6.18-274.el5PAE",
    }
    assert {p.name for p in got.kernel_packages()} == {"kernel", "kernel-PAE", "kernel-xen"}


@needs_rpmbuild
def test_sqlite_is_never_written(rpm_root, tmp_path):
    db = tmp_path / "rpmdb.sqlite"
    shutil.copy(sqlite_path(rpm_root), db)
    before = sha256(db), db.stat().st_mtime_ns
    list(rpmdb.sqlite_blobs(str(db)))
    assert (sha256(db), db.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rpmdb.sqlite"]     # no -journal, -shm, -wal


@needs_rpmbuild
def test_sqlite_reads_committed_transactions_still_in_the_wal(rpm_root, tmp_path):
    work = tmp_path / "live"
    work.mkdir()
    shutil.copy(sqlite_path(rpm_root), work / "rpmdb.sqlite")
    con = sqlite3.connect(work / "rpmdb.sqlite")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    kernel_blob = blobs_of(rpm_root)[0][1]
    con.execute("INSERT INTO Packages (blob) VALUES (?)", (kernel_blob,))
    con.commit()
    # a guest shut down without a checkpoint: the database plus its log, copied while "running"
    snap = tmp_path / "snap"
    snap.mkdir()
    shutil.copy(work / "rpmdb.sqlite", snap / "rpmdb.sqlite")
    shutil.copy(work / "rpmdb.sqlite-wal", snap / "rpmdb.sqlite-wal")
    con.close()
    assert (snap / "rpmdb.sqlite-wal").stat().st_size > 0
    got = rpmdb.read_packages(rpmdb.sqlite_blobs(str(snap / "rpmdb.sqlite")))
    assert len(got.packages) == len(PACKAGES) + 1


def test_sqlite_hostile_files(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(rpmdb.RpmDbError):
        list(rpmdb.sqlite_blobs(str(junk)))

    no_table = tmp_path / "empty.sqlite"
    sqlite3.connect(no_table).close()
    with pytest.raises(rpmdb.RpmDbError, match="no Packages table"):
        list(rpmdb.sqlite_blobs(str(no_table)))

    # a view that would never end: refused before it is queried (it is not a table)
    view = tmp_path / "view.sqlite"
    con = sqlite3.connect(view)
    con.execute("CREATE VIEW Packages AS WITH RECURSIVE c(hnum) AS (SELECT 1 UNION ALL SELECT hnum + 1 FROM c) "
                "SELECT hnum, x'00' AS blob FROM c")
    con.commit()
    con.close()
    with pytest.raises(rpmdb.RpmDbError, match="no Packages table"):
        list(rpmdb.sqlite_blobs(str(view)))

    # wrong value types and junk blobs are skipped, not fatal
    odd = tmp_path / "odd.sqlite"
    con = sqlite3.connect(odd)
    con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob)")
    con.executemany("INSERT INTO Packages (blob) VALUES (?)", [("text",), (42,), (None,), (b"\x00" * 8,),
                                                               (b"\xff" * 64,)])
    con.commit()
    con.close()
    got = rpmdb.read_packages(rpmdb.sqlite_blobs(str(odd)))
    assert got.packages == () and got.skipped == 5


def test_sqlite_query_budget_stops_a_slow_database(tmp_path, monkeypatch):
    slow = tmp_path / "slow.sqlite"
    con = sqlite3.connect(slow)
    con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)")
    con.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b"x",)] * 20000)
    con.commit()
    con.close()
    monkeypatch.setattr(rpmdb, "SQLITE_STEP_BUDGET", 10_000)
    with pytest.raises(rpmdb.RpmDbError):
        list(rpmdb.sqlite_blobs(str(slow)))


# --- header blobs -------------------------------------------------------------------------------

@needs_rpmbuild
def test_blob_is_a_header_without_its_preamble(rpm_root):
    _, blob = blobs_of(rpm_root)[0]
    nindex, hsize = struct.unpack(">II", blob[:8])
    assert len(blob) == 8 + 16 * nindex + hsize          # what rpm's headerExport writes
    assert not blob.startswith(b"\x8e\xad\xe8\x01")


@needs_rpmbuild
def test_hostile_blobs_raise_rpm_format_error(rpm_root):
    _, blob = blobs_of(rpm_root)[0]
    cases = [
        b"", blob[:7], blob[:len(blob) // 2],
        struct.pack(">II", 0xFFFFFFF, 16) + blob[8:],          # index count beyond rpm's limit
        struct.pack(">II", 1, 0x7FFFFFFF) + blob[8:],          # data store beyond rpm's limit
        struct.pack(">II", 1, 4) + struct.pack(">IIiI", 1000, 6, 0, 1) + b"abcd",   # name without NUL
    ]
    for case in cases:
        with pytest.raises(RpmFormatError):
            rpmdb.package_from_blob(case)
    rng = random.Random(5)
    for _ in range(300):                                       # random damage: a package or RpmFormatError
        damaged = bytearray(blob)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            package, _ = rpmdb.package_from_blob(bytes(damaged))
            assert isinstance(package, RpmPackage)
        except RpmFormatError:
            pass


# --- Berkeley DB --------------------------------------------------------------------------------

def make_bdb(blobs: list[tuple[int, bytes]], path: Path, order: str = "<", pagesize: int = 4096,
             copies: int = 1) -> Path:
    """A Packages file as rpm < 4.16 keeps it, written by Berkeley DB's own db_load.

    Keys are header numbers in the writer's byte order; key 0 holds the
    next free number. `copies` repeats the headers under new numbers, to
    spread records over several buckets and pages.
    """
    lorder = 1234 if order == "<" else 4321
    lines = ["VERSION=3", "format=bytevalue", "type=hash", f"db_pagesize={pagesize}", f"db_lorder={lorder}",
             "HEADER=END"]
    records = [(n + i * 1000, b) for i in range(copies) for n, b in blobs]
    lines += [" " + struct.pack(order + "I", 0).hex(), " " + struct.pack(order + "I", max(n for n, _ in records) + 1).hex()]
    for number, blob in records:
        lines += [" " + struct.pack(order + "I", number).hex(), " " + blob.hex()]
    lines.append("DATA=END")
    path.parent.mkdir(parents=True, exist_ok=True)
    dump = path.parent.parent / (path.parent.name + ".dump")
    dump.write_text("\n".join(lines) + "\n")
    subprocess.run([DB_LOAD, "-f", str(dump), str(path)], check=True, capture_output=True)
    return path


def bdb_variants():
    return [("<", 4096, 1), (">", 4096, 1), ("<", 65536, 1), ("<", 4096, 40), (">", 8192, 40)]


@needs_rpmbuild
@needs_db_load
@pytest.mark.parametrize("order, pagesize, copies", bdb_variants())
def test_bdb_agrees_with_rpm(rpm_root, tmp_path, order, pagesize, copies):
    packages = make_bdb(blobs_of(rpm_root), tmp_path / "db" / "Packages", order, pagesize, copies)
    got = rpmdb.read_packages(rpmdb.bdb_blobs(str(packages)), "bdb")
    assert got.skipped == 0
    assert len(got.packages) == len(PACKAGES) * copies
    assert as_tuples(got.packages) == rpm_says(["--root", str(rpm_root), "--dbpath", "/var/lib/rpm"])
    assert got.uname_r["kernel-PAE-2.6.18-274.el5.i686"] == "2.6.18-274.el5PAE"
    # rpm's own read-only BDB reader sees the same file the same way
    res = subprocess.run(["rpm", "--dbpath", str(packages.parent), "--define", "_db_backend bdb_ro", "-qa",
                          "--qf", "%{name}|%{epochnum}|%{version}|%{release}|%{arch}\\n"],
                         capture_output=True, text=True)
    if res.returncode == 0 and res.stdout:
        rows = [tuple(line.split("|")) for line in res.stdout.splitlines()]
        assert len(rows) == len(PACKAGES) * copies
        assert {(n, int(e), v, r, a) for n, e, v, r, a in rows} == as_tuples(got.packages)


@needs_rpmbuild
@needs_db_load
def test_bdb_layouts_cover_on_page_and_overflow_items(rpm_root, tmp_path):
    small = make_bdb(blobs_of(rpm_root), tmp_path / "a" / "Packages", pagesize=4096)
    large = make_bdb(blobs_of(rpm_root), tmp_path / "b" / "Packages", pagesize=65536)

    def items(path: Path) -> list[tuple[int, int]]:
        """(kind, length) of every item on the hash pages."""
        data = path.read_bytes()
        pagesize = struct.unpack_from("<I", data, 20)[0]
        found = []
        for pgno in range(1, len(data) // pagesize):
            page = data[pgno * pagesize:(pgno + 1) * pagesize]
            if page[25] == 13:
                entries = struct.unpack_from("<H", page, 20)[0]
                offsets = [struct.unpack_from("<H", page, 26 + 2 * i)[0] for i in range(entries)]
                found += [(page[o], (pagesize if i == 0 else offsets[i - 1]) - o) for i, o in enumerate(offsets)]
        return found

    # 4 KiB pages: every header in an overflow chain, only keys (and the counter) on the page
    assert {kind for kind, _ in items(small)} == {1, 3}
    assert max(length for kind, length in items(small) if kind == 1) == 5
    # 64 KiB pages: the small headers on the page, the kernels' in overflow chains
    assert any(kind == 1 and length > 1000 for kind, length in items(large))
    assert any(kind == 3 for kind, _ in items(large))


@needs_rpmbuild
@needs_db_load
def test_bdb_hostile_files(rpm_root, tmp_path):
    good = make_bdb(blobs_of(rpm_root), tmp_path / "db" / "Packages").read_bytes()
    pagesize = 4096

    def load(data: bytes):
        path = tmp_path / "hostile"
        path.write_bytes(data)
        return rpmdb.read_packages(rpmdb.bdb_blobs(str(path)))

    def edited(pgno: int, offset: int, fmt: str, value: int) -> bytes:
        data = bytearray(good)
        struct.pack_into(fmt, data, pgno * pagesize + offset, value)
        return bytes(data)

    overflow_pages = [p for p in range(1, len(good) // pagesize) if good[p * pagesize + 25] == 7]
    hash_pages = [p for p in range(1, len(good) // pagesize) if good[p * pagesize + 25] == 13]
    # the first page of a chain of several pages
    first_overflow = next(p for p in overflow_pages if struct.unpack_from("<I", good, p * pagesize + 16)[0])
    cases = {
        "bad magic": edited(0, 12, "<I", 0x12345678),
        "checksummed": edited(0, 26, "<B", 1),
        "odd page size": edited(0, 20, "<I", 3000),
        "btree, not hash": edited(0, 25, "<B", 9),
        "overflow chain loops": edited(first_overflow, 16, "<I", first_overflow),
        "overflow chain leaves the file": edited(first_overflow, 16, "<I", 10 ** 6),
        "overflow page claims too much": edited(first_overflow, 22, "<H", 65000),
        "too many items": edited(hash_pages[0], 20, "<H", 5000),
        "item offset outside the page": edited(hash_pages[0], 26, "<H", 5),
        "truncated": good[:len(good) - pagesize - 100],
        "empty": b"",
    }
    for name, data in cases.items():
        with pytest.raises(rpmdb.RpmDbError):
            load(data)
            pytest.fail(f"{name}: accepted")

    # every off-page item pointing at one chain: the overflow budget stops the re-reading
    data = bytearray(good)
    for pgno in hash_pages:
        page = pgno * pagesize
        entries = struct.unpack_from("<H", data, page + 20)[0]
        for i in range(entries):
            at = page + struct.unpack_from("<H", data, page + 26 + 2 * i)[0]
            if data[at] == 3:
                struct.pack_into("<I", data, at + 4, first_overflow)
    got = None
    try:
        got = load(bytes(data))
    except rpmdb.RpmDbError:
        pass
    assert got is None or len(got.packages) <= len(PACKAGES)

    # random damage: a result or RpmDbError, never another exception, never a hang
    rng = random.Random(7)
    for _ in range(200):
        data = bytearray(good)
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            load(bytes(data))
        except rpmdb.RpmDbError:
            pass


def test_bdb_rejects_duplicate_sets_and_non_bdb(tmp_path):
    # a hand-made hash file: meta page + one P_HASH page holding an H_DUPLICATE item
    pagesize = 512
    meta = bytearray(pagesize)
    struct.pack_into("<IIIIBB", meta, 8, 0, 0x061561, 9, pagesize, 0, 8)
    page = bytearray(pagesize)
    page[25] = 13
    struct.pack_into("<HH", page, 20, 2, pagesize - 10)
    struct.pack_into("<HH", page, 26, pagesize - 5, pagesize - 10)
    page[pagesize - 5:] = b"\x01\x01\x00\x00\x00"          # key: H_KEYDATA, header number 1
    page[pagesize - 10:pagesize - 5] = b"\x02\x00\x00\x00\x00"   # data: H_DUPLICATE
    path = tmp_path / "Packages"
    path.write_bytes(bytes(meta + page))
    with pytest.raises(rpmdb.RpmDbError, match="duplicate"):
        list(rpmdb.bdb_blobs(str(path)))


# --- from a guest -------------------------------------------------------------------------------

class FakeGuest:
    """is_file/size/download over a host directory standing for the guest's root."""

    def __init__(self, root: Path):
        self.root = root
        self.downloads = []

    def _host(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def is_file(self, path):
        return self._host(path).is_file()

    def size(self, path):
        return self._host(path).stat().st_size

    def download(self, path, host_path):
        self.downloads.append(path)
        shutil.copy(self._host(path), host_path)


@needs_rpmbuild
def test_read_guest_rpmdb_sqlite(rpm_root):
    guest = FakeGuest(rpm_root)
    before = sha256(sqlite_path(rpm_root))
    got = rpmdb.read_guest_rpmdb(guest)
    assert (got.backend, got.path) == ("sqlite", "/var/lib/rpm/rpmdb.sqlite")
    assert len(got.packages) == len(PACKAGES)
    assert guest.downloads == ["/var/lib/rpm/rpmdb.sqlite"]
    assert sha256(sqlite_path(rpm_root)) == before


@needs_rpmbuild
@needs_db_load
def test_read_guest_rpmdb_bdb_and_limits(rpm_root, tmp_path):
    guest_root = tmp_path / "guest"
    make_bdb(blobs_of(rpm_root), guest_root / "var/lib/rpm/Packages")
    got = rpmdb.read_guest_rpmdb(FakeGuest(guest_root))
    assert (got.backend, got.path, len(got.packages)) == ("bdb", "/var/lib/rpm/Packages", len(PACKAGES))
    with pytest.raises(rpmdb.RpmDbError, match="more than vmrescue reads"):
        rpmdb.read_guest_rpmdb(FakeGuest(guest_root), limit=1000)


def test_read_guest_rpmdb_none(tmp_path):
    (tmp_path / "var/lib/rpm").mkdir(parents=True)
    (tmp_path / "var/lib/rpm/Packages.db").write_bytes(b"ndb")     # SUSE's ndb: not read here
    assert rpmdb.read_guest_rpmdb(FakeGuest(tmp_path)) is None
