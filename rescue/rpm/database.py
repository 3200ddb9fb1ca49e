"""Read a guest's RPM database without librpm and without libguestfs inspection.

libguestfs lists packages (`inspect_list_applications2`) only after its full
`inspect_os`, which costs 12-19 s per guest under TCG. The installed-package
list is simply every header blob in the database's Packages store, so it is
read here directly, from a copy downloaded to a host temporary directory:

  sqlite (rpm >= 4.16: Fedora 33+, EL9, Debian's rpm)
        `/var/lib/rpm/rpmdb.sqlite`, table `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`.
  Berkeley DB (rpm < 4.16: CentOS/RHEL 5-8)
        `/var/lib/rpm/Packages`, a BDB hash database: key = the header number
        (4 bytes, in the writing machine's byte order), data = the header blob.
        Key 0 holds rpm's next-instance counter, not a header.

A header blob is what rpm's headerExport() writes: a header structure
*without* its 8-byte preamble (magic 8e ad e8 01 + 4 reserved bytes), i.e.
index count (int32 BE), data store size (int32 BE), the index entries, the
data store. `rescue.rpmheader` parses the full structure, so the preamble is
put back before reusing its bounded decoder.

Berkeley DB hash file layout (BDB 4.x/5.x `dbinc/db_page.h`, the same page
format since hash version 8; rpm never enables checksums or encryption):

  page 0, hash meta page      lsn(8) pgno(4) magic(4)=0x061561 version(4)
                              pagesize(4) encrypt_alg(1) type(1)=8 metaflags(1)
                              unused(1) free(4) last_pgno(4) ... ; the byte
                              order of every number is the writer's, told
                              apart by which order reads the magic right.
  every page                  26-byte header: lsn(8) pgno(4) prev_pgno(4)
                              next_pgno(4) entries(2) hf_offset(2) level(1)
                              type(1), then `entries` 2-byte item offsets.
  type 13 P_HASH (2 P_HASH_UNSORTED in old files)
                              items alternate key, data; item i runs from
                              its offset to the offset of item i-1 (the page
                              end for item 0). Its first byte is its kind:
                              1 H_KEYDATA (the bytes follow), 3 H_OFFPAGE
                              (unused(3) pgno(4) tlen(4): the item lives in
                              an overflow chain), 2/4 duplicates (rpm never
                              stores duplicate keys in Packages).
  type 7 P_OVERFLOW           hf_offset bytes of data at offset 26,
                              continued on next_pgno.

The live hash pages are read in page order, not by walking buckets: a freed
page is retyped P_INVALID, and a deleted item leaves the offset table, so
every P_HASH page holds only live items, and a plain scan is bounded by the
file's size with no chain to loop on.

A guest is hostile input: every count, offset, length and chain is checked
against the data and capped, and anything malformed raises `RpmDbError` (for
a damaged header: skipped and counted). The sqlite file is opened read-only
and immutable on the host copy, with SQLite's own defences for untrusted
databases switched on, and a step budget so a crafted schema cannot hang us.
"""
from __future__ import annotations

import os
import sqlite3
import struct
import tempfile
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

from rescue.distro.redhat_naming import is_kernel_package
from rescue.rpm import structure
from rescue.model import RpmPackage

__all__ = [
    "RpmDbError", "InstalledPackages", "header_from_blob", "package_from_blob",
    "sqlite_blobs", "bdb_hash_items", "bdb_blobs", "read_packages", "read_guest_rpmdb",
    "SQLITE_PATHS", "BDB_PATHS",
]

# Where rpm keeps its database: the classic path, and the one Fedora 36+ and
# EL10 use (with /var/lib/rpm a symlink to it).
SQLITE_PATHS = ("/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite")
BDB_PATHS = ("/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/Packages")

MAX_DB_BYTES = 1024 * 1024 * 1024        # a large EL7 Packages file is ~150 MiB
MAX_HEADER_BYTES = 64 * 1024 * 1024      # a kernel header with its file list is a few MiB
MAX_PACKAGES = 200_000
SQLITE_STEP_BUDGET = 50_000_000          # VM steps; a real rpmdb needs far fewer


# Berkeley DB constants (dbinc/db_page.h, dbinc/hash.h)
_HASH_MAGIC = 0x061561
_P_HASH_UNSORTED, _P_OVERFLOW, _P_HASHMETA, _P_HASH = 2, 7, 8, 13
_H_KEYDATA, _H_DUPLICATE, _H_OFFPAGE, _H_OFFDUP = 1, 2, 3, 4
_PAGE_HEADER = 26
_DBMETA_CHKSUM = 0x01


class RpmDbError(ValueError):
    """The database is missing, of an unknown kind, damaged or hostile."""


@dataclass(frozen=True)
class InstalledPackages:
    """Every package of a guest's RPM database."""
    packages: tuple[RpmPackage, ...]
    uname_r: dict[str, str] = field(default_factory=dict)   # nvra → its `kernel-uname-r` provide
    backend: str = ""                                       # "sqlite" or "bdb"
    path: str = ""                                          # guest path of the file read
    skipped: int = 0                                        # blobs that were no valid header

    def kernel_packages(self, is_kernel: Callable[[str], bool] = is_kernel_package) -> tuple[RpmPackage, ...]:
        return tuple(p for p in self.packages if is_kernel(p.name))


# --- header blobs --------------------------------------------------------------

def header_from_blob(blob: bytes) -> structure.HeaderStructure:
    """The header structure of an rpmdb blob, decoded lazily by rpmheader's reader.

    Raises structure.RpmFormatError when the blob is not exactly one header.
    """
    return structure.read_header_blob(blob, "database header")


def package_from_blob(blob: bytes) -> tuple[RpmPackage, str | None]:
    """The package a blob describes, and its `kernel-uname-r` provide (None if it has none)."""
    h = header_from_blob(blob)
    name = h.string(structure.TAG_NAME)
    version = h.string(structure.TAG_VERSION)
    release = h.string(structure.TAG_RELEASE)
    if not name or version is None or release is None:
        raise structure.RpmFormatError("database header: no name, version or release")
    package = RpmPackage(name=name, epoch=h.int(structure.TAG_EPOCH) or 0, version=version,
                         release=release, arch=h.string(structure.TAG_ARCH) or "")
    return package, _uname_r(h)


def _uname_r(h) -> str | None:
    names = h.strings(structure.TAG_PROVIDENAME) or []
    if "kernel-uname-r" not in names:
        return None
    flags = h.ints(structure.TAG_PROVIDEFLAGS) or []
    versions = h.strings(structure.TAG_PROVIDEVERSION) or []
    for i, provide in enumerate(names):
        if (provide == "kernel-uname-r" and i < len(versions) and versions[i]
                and i < len(flags) and flags[i] & structure.SENSE_EQUAL):
            return versions[i]
    return None


def read_packages(blobs: Iterator[bytes], backend: str = "", path: str = "") -> InstalledPackages:
    """Decode every blob; damaged ones are counted in `skipped`, not fatal."""
    packages, uname_r, skipped = [], {}, 0
    for blob in blobs:
        try:
            package, release = package_from_blob(blob)
        except structure.RpmFormatError:
            skipped += 1
            continue
        packages.append(package)
        if release:
            uname_r[package.nvra] = release
        if len(packages) > MAX_PACKAGES:
            raise RpmDbError(f"{path or 'the RPM database'} lists more than {MAX_PACKAGES} packages")
    return InstalledPackages(tuple(packages), uname_r, backend, path, skipped)


# --- sqlite --------------------------------------------------------------------

def sqlite_blobs(path: str) -> Iterator[bytes]:
    """The header blobs of an rpm sqlite database file on the host, never writing to it.

    A database left in WAL mode with a non-empty `-wal` beside it is opened
    read-only (so the committed transactions still in the log are seen); any
    other is opened immutable, which also keeps SQLite from creating files.
    """
    wal = path + "-wal"
    mode = "ro" if os.path.exists(wal) and os.path.getsize(wal) > 0 else "ro&immutable=1"
    try:
        con = sqlite3.connect(f"file:{_uri_path(path)}?mode={mode}", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise RpmDbError(f"cannot open the sqlite RPM database: {exc}") from None
    try:
        _harden(con)
        kind = con.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
        if kind is None or kind[0] != "table":
            raise RpmDbError("the sqlite RPM database has no Packages table")
        for (blob,) in con.execute("SELECT blob FROM Packages ORDER BY hnum"):
            if isinstance(blob, (bytes, memoryview)) and len(blob) <= MAX_HEADER_BYTES:
                yield bytes(blob)
            else:
                yield b""        # counted as skipped by read_packages
    except sqlite3.Error as exc:
        raise RpmDbError(f"the sqlite RPM database cannot be read: {exc}") from None
    finally:
        con.close()


def _uri_path(path: str) -> str:
    from urllib.parse import quote   # noqa: PLC0415
    return quote(os.path.abspath(path))


def _harden(con: sqlite3.Connection) -> None:
    """SQLite's advice for untrusted database files ("Defense against the dark arts")."""
    for pragma in ("PRAGMA trusted_schema = OFF", "PRAGMA cell_size_check = ON", "PRAGMA mmap_size = 0",
                   "PRAGMA query_only = ON"):
        con.execute(pragma)
    if hasattr(con, "setlimit"):                                   # Python 3.11+
        con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_HEADER_BYTES)
    if hasattr(con, "setconfig") and hasattr(sqlite3, "SQLITE_DBCONFIG_DEFENSIVE"):   # 3.12+
        con.setconfig(sqlite3.SQLITE_DBCONFIG_DEFENSIVE, True)
    steps = [0]

    def budget() -> int:
        steps[0] += 1
        return 1 if steps[0] > SQLITE_STEP_BUDGET // 1000 else 0   # non-zero aborts the query

    con.set_progress_handler(budget, 1000)


# --- Berkeley DB hash ----------------------------------------------------------

class _Bdb:
    """One open Berkeley DB hash file: its meta page, and a budget of overflow pages.

    In a sound file every overflow page belongs to exactly one item, so the
    chains together are no longer than the file; a hostile file pointing many
    items at one long chain runs out of budget instead of reading for ever.
    """

    def __init__(self, f: BinaryIO, file_size: int):
        if file_size > MAX_DB_BYTES:
            raise RpmDbError(f"the Berkeley DB file is {file_size} bytes (limit {MAX_DB_BYTES})")
        self.f = f
        f.seek(0)
        head = f.read(512)
        if len(head) < 72:
            raise RpmDbError("not a Berkeley DB file: shorter than its meta page")
        for order in ("<", ">"):
            if struct.unpack_from(order + "I", head, 12)[0] == _HASH_MAGIC:
                break
        else:
            raise RpmDbError(f"not a Berkeley DB hash database (magic {head[12:16].hex()})")
        version, pagesize = struct.unpack_from(order + "II", head, 16)
        encrypt, page_type, metaflags = head[24], head[25], head[26]
        if page_type != _P_HASHMETA:
            raise RpmDbError(f"the Berkeley DB meta page has type {page_type}, not the hash meta page (8)")
        if not 6 <= version <= 10:
            raise RpmDbError(f"Berkeley DB hash version {version} is not one vmrescue knows (6-10)")
        if pagesize < 512 or pagesize > 65536 or pagesize & (pagesize - 1):
            raise RpmDbError(f"the Berkeley DB page size {pagesize} is not a power of two in 512..65536")
        if encrypt or metaflags & _DBMETA_CHKSUM:
            raise RpmDbError("the Berkeley DB file is encrypted or checksummed, which rpm never does")
        self.order = order
        self.pagesize = pagesize
        self.pages = file_size // pagesize
        self.overflow_budget = self.pages

    def page(self, pgno: int) -> bytes:
        if not 0 < pgno < self.pages:
            raise RpmDbError(f"Berkeley DB: page {pgno} is outside the file ({self.pages} pages)")
        self.f.seek(pgno * self.pagesize)
        page = self.f.read(self.pagesize)
        if len(page) != self.pagesize:
            raise RpmDbError(f"Berkeley DB: page {pgno} is truncated")
        return page

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, data) pair, page by page."""
        for pgno in range(1, self.pages):
            page = self.page(pgno)
            if page[25] in (_P_HASH, _P_HASH_UNSORTED):
                yield from self._page_items(pgno, page)

    def _page_items(self, pgno: int, page: bytes) -> Iterator[tuple[bytes, bytes]]:
        entries, = struct.unpack_from(self.order + "H", page, 20)
        if entries % 2 or _PAGE_HEADER + 2 * entries > self.pagesize:
            raise RpmDbError(f"Berkeley DB: hash page {pgno} claims {entries} items")
        offsets = struct.unpack_from(f"{self.order}{entries}H", page, _PAGE_HEADER)
        floor = _PAGE_HEADER + 2 * entries
        for i in range(0, entries, 2):
            yield self._item(pgno, page, offsets, i, floor), self._item(pgno, page, offsets, i + 1, floor)

    def _item(self, pgno: int, page: bytes, offsets, i: int, floor: int) -> bytes:
        start = offsets[i]
        end = self.pagesize if i == 0 else offsets[i - 1]
        if not floor <= start < end <= self.pagesize:
            raise RpmDbError(f"Berkeley DB: item {i} of hash page {pgno} lies outside its page")
        kind = page[start]
        if kind == _H_KEYDATA:
            return page[start + 1:end]
        if kind == _H_OFFPAGE:
            if end - start < 12:
                raise RpmDbError(f"Berkeley DB: off-page item {i} of page {pgno} is truncated")
            off_pgno, total = struct.unpack_from(self.order + "II", page, start + 4)
            return self._overflow(off_pgno, total)
        raise RpmDbError(f"Berkeley DB: item {i} of page {pgno} has kind {kind} "
                         "(a duplicate set), which an rpm Packages database never holds")

    def _overflow(self, pgno: int, total: int) -> bytes:
        """The `total` bytes of an off-page item, following its overflow chain."""
        if total > MAX_HEADER_BYTES:
            raise RpmDbError(f"Berkeley DB: an item claims {total} bytes (limit {MAX_HEADER_BYTES})")
        chunks, got, seen = [], 0, set()
        while got < total:
            if pgno in seen:
                raise RpmDbError(f"Berkeley DB: an overflow chain loops at page {pgno}")
            seen.add(pgno)
            self.overflow_budget -= 1
            if self.overflow_budget < 0:
                raise RpmDbError("Berkeley DB: the overflow chains are longer than the file "
                                 "(pages shared or looping)")
            page = self.page(pgno)
            if page[25] != _P_OVERFLOW:
                raise RpmDbError(f"Berkeley DB: page {pgno} of an overflow chain has type {page[25]}")
            next_pgno, = struct.unpack_from(self.order + "I", page, 16)
            length, = struct.unpack_from(self.order + "H", page, 22)    # hf_offset: bytes on this page
            if length == 0 or length > self.pagesize - _PAGE_HEADER:
                raise RpmDbError(f"Berkeley DB: overflow page {pgno} claims {length} bytes")
            length = min(length, total - got)
            chunks.append(page[_PAGE_HEADER:_PAGE_HEADER + length])
            got += length
            if got < total and next_pgno == 0:
                raise RpmDbError(f"Berkeley DB: an overflow chain ends after {got} of {total} bytes")
            pgno = next_pgno
        return b"".join(chunks)


def bdb_hash_items(f: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, data) pair of a Berkeley DB hash database, from a binary file open for reading."""
    f.seek(0, os.SEEK_END)
    return _Bdb(f, f.tell()).items()


def bdb_blobs(path: str) -> Iterator[bytes]:
    """The header blobs of an rpm Berkeley DB Packages file on the host.

    Keys are header numbers in the byte order of the machine that wrote the
    file, which is the database's own; number 0 is rpm's instance counter.
    """
    with open(path, "rb") as f:
        db = _Bdb(f, os.fstat(f.fileno()).st_size)
        seen: set[int] = set()
        for key, data in db.items():
            if len(key) != 4:
                continue
            number, = struct.unpack(db.order + "I", key)
            if number == 0 or number in seen:
                continue
            seen.add(number)
            yield data


# --- from a guest --------------------------------------------------------------

def read_guest_rpmdb(guest, limit: int = MAX_DB_BYTES) -> InstalledPackages | None:
    """The packages of the guest mounted at "/" (a `rescue.appliance.Guest`).

    None when the guest has no database this module reads (none at all, or
    SUSE's ndb `Packages.db`): the caller then falls back to libguestfs.
    Raises RpmDbError when a database exists but cannot be read.
    """
    for paths, backend, reader in ((SQLITE_PATHS, "sqlite", sqlite_blobs), (BDB_PATHS, "bdb", bdb_blobs)):
        for guest_path in paths:
            if not guest.is_file(guest_path):
                continue
            size = guest.size(guest_path)
            if size > limit:
                raise RpmDbError(f"{guest_path} is {size} bytes, more than vmrescue reads ({limit})")
            with tempfile.TemporaryDirectory(prefix="vmrescue-rpmdb-") as tmp:
                host_path = os.path.join(tmp, os.path.basename(guest_path))
                guest.download(guest_path, host_path)
                if backend == "sqlite":
                    wal = guest_path + "-wal"
                    if guest.is_file(wal) and 0 < guest.size(wal) <= limit:
                        guest.download(wal, host_path + "-wal")
                if os.path.getsize(host_path) > limit:        # it grew between size() and download()
                    raise RpmDbError(f"{guest_path} is larger than vmrescue reads ({limit})")
                return read_packages(reader(host_path), backend, guest_path)
    return None
