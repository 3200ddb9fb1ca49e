"""Read a yum repository the way yum reads it, and fetch the kernel package it lists.

`repodata/repomd.xml` names the `primary` metadata file, whose `<package>`
entries give each package's name, arch, version, provides and location. Only
the chosen package is then fetched (downloaded to a temporary file for a URL),
and its own header is checked again: the metadata only chooses, it does not
vouch. Every metadata file is capped (compressed and uncompressed), and the XML
parser refuses any DOCTYPE, which is where entity-expansion attacks live.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import tempfile
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from rescue.distro.redhat_naming import is_kernel_package, uname_r_for
from rescue.errors import Exit, RescueError
from rescue.model import RpmPackage
from rescue.rpm.header import RpmFormatError, RpmHeader
from rescue.rpm.repo import MAX_PACKAGE, TIMEOUT, RepoLocation, capped_blocks
from rescue.rpm.sources import FoundRpm, choose
from rescue.rpm.verify import check_candidate, kernel_arches_for, read_header_file

__all__ = ["RepoPackage", "repo_candidates", "repo_select", "fetch_package", "find_in_repo", "find_member_in_repo"]

MAX_REPOMD = 4 * 1024 * 1024
MAX_PRIMARY_COMPRESSED = 256 * 1024 * 1024
MAX_PRIMARY_XML = 1024 * 1024 * 1024
_CHUNK = 256 * 1024


class _DoctypeRefused(Exception):
    pass


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class _NoDoctypeBuilder(ET.TreeBuilder):
    def doctype(self, name, pubid, system):
        # Called as the DOCTYPE starts, before any entity it declares is used.
        raise _DoctypeRefused(name)


def _bad_metadata(what: str, why: str) -> RescueError:
    return RescueError("REPO_BAD_METADATA", f"{what} cannot be used: {why}.",
                       "The repository metadata is damaged or hostile; use another mirror.",
                       Exit.REFUSED)


_DIGESTS = {"sha": "sha1", "sha1": "sha1", "sha224": "sha224", "sha256": "sha256",
            "sha384": "sha384", "sha512": "sha512", "md5": "md5"}


def _new_digest(kind: str | None):
    name = _DIGESTS.get((kind or "").lower())
    return hashlib.new(name) if name else None


def _primary_location(repo: RepoLocation) -> tuple[str, str | None, str | None]:
    """(href, checksum type, checksum) of the primary metadata, from repomd.xml."""
    what = repo.where("repodata/repomd.xml")
    raw = repo.read("repodata/repomd.xml", MAX_REPOMD)
    parser = ET.XMLParser(target=_NoDoctypeBuilder())
    try:
        parser.feed(raw)
        root = parser.close()
    except _DoctypeRefused:
        raise _bad_metadata(what, "it has a DOCTYPE, which repository metadata never needs") from None
    except ET.ParseError as exc:
        raise _bad_metadata(what, f"it is not well-formed XML ({exc})") from None
    for data in root:
        if _local(data.tag) != "data" or data.get("type") != "primary":
            continue
        href = checksum = kind = None
        for child in data:
            if _local(child.tag) == "location":
                href = child.get("href")
            elif _local(child.tag) == "checksum":
                kind, checksum = child.get("type"), (child.text or "").strip().lower()
        if href:
            return href, kind, checksum
    raise _bad_metadata(what, "it names no primary metadata")


def _decompressed(raw: bytes, href: str, what: str) -> Iterator[bytes]:
    name = href.lower()
    if name.endswith(".gz"):
        f = gzip.GzipFile(fileobj=io.BytesIO(raw))
    elif name.endswith(".bz2"):
        f = bz2.BZ2File(io.BytesIO(raw))
    elif name.endswith(".xz"):
        f = lzma.LZMAFile(io.BytesIO(raw))
    elif name.endswith(".xml"):
        f = io.BytesIO(raw)
    else:
        raise _bad_metadata(what, "its compression is not gzip, bzip2 or xz, which are what "
                                  "EL yum repositories use (zstd and sqlite are not read)")
    def too_large() -> None:
        raise _bad_metadata(what, f"it unpacks to more than {MAX_PRIMARY_XML} bytes")

    try:
        yield from capped_blocks(f, MAX_PRIMARY_XML, too_large)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise _bad_metadata(what, f"it cannot be unpacked ({exc})") from None


@dataclass(frozen=True)
class RepoPackage:
    """One package as the repository metadata describes it."""
    name: str
    epoch: int
    version: str
    release: str
    arch: str
    href: str                           # location, relative to the repository
    uname_r: str | None                 # from its kernel-uname-r provide, if any
    checksum_type: str | None = None
    checksum: str | None = None
    size: int | None = None
    provides: tuple[str, ...] = field(default=(), compare=False)

    @property
    def nvra(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.{self.arch}"


class _PrimaryTarget:
    """Streams primary.xml, keeping only the kernel packages: a full EL
    primary has tens of thousands of packages, and descriptions are never
    kept."""

    _TEXT = frozenset({"name", "arch", "checksum"})

    def __init__(self, keep: Callable[[str, str | None], bool] | None = None):
        # keep(name, kernel-uname-r provide): which packages to list; kernel images by default
        self.keep = keep or (lambda name, uname_r: is_kernel_package(name) or bool(uname_r))
        self.packages: list[RepoPackage] = []
        self.pkg: dict | None = None
        self.section: str | None = None
        self.text: list[str] | None = None
        self.depth_in_pkg = 0

    def doctype(self, name, pubid, system):
        raise _DoctypeRefused(name)

    def start(self, tag, attrib):
        local = _local(tag)
        if local == "package" and self.pkg is None:
            self.pkg = {"provides": [], "uname_r": None}
            self.depth_in_pkg = 0
            return
        if self.pkg is None:
            return
        self.depth_in_pkg += 1
        pkg = self.pkg
        if self.depth_in_pkg == 1 and local in self._TEXT:
            self.text = []
            if local == "checksum":
                pkg["_checksum_type"] = attrib.get("type")
        elif local == "version":
            pkg["epoch"] = attrib.get("epoch", "0")
            pkg["ver"] = attrib.get("ver", "")
            pkg["rel"] = attrib.get("rel", "")
        elif local == "location":
            pkg["href"] = attrib.get("href", "")
        elif local == "size":
            pkg["size"] = attrib.get("package")
        elif local in ("provides", "requires", "conflicts", "obsoletes", "suggests",
                       "recommends", "supplements", "enhances", "files"):
            self.section = local
        elif local == "entry" and self.section == "provides":
            name = attrib.get("name", "")
            ver, rel = attrib.get("ver"), attrib.get("rel")
            evr = (ver or "") + (f"-{rel}" if rel else "")
            if len(pkg["provides"]) < 1000:
                pkg["provides"].append(f"{name} = {evr}" if evr else name)
            if name == "kernel-uname-r" and evr and attrib.get("flags", "EQ") == "EQ":
                pkg["uname_r"] = evr

    def data(self, text):
        if self.text is not None and sum(map(len, self.text)) < 4096:
            self.text.append(text)

    def end(self, tag):
        if self.pkg is None:
            return
        local = _local(tag)
        if self.depth_in_pkg == 0 and local == "package":
            self._finish(self.pkg)
            self.pkg = None
            return
        if self.depth_in_pkg == 1 and self.text is not None and local in self._TEXT:
            self.pkg[local] = "".join(self.text).strip()
            self.text = None
        if local == self.section:
            self.section = None
        self.depth_in_pkg -= 1

    def _finish(self, p: dict) -> None:
        name = p.get("name", "")
        if not name or not p.get("href"):
            return
        if not self.keep(name, p["uname_r"]):
            return
        try:
            epoch = int(p.get("epoch") or 0)
        except ValueError:
            epoch = 0
        size = p.get("size")
        self.packages.append(RepoPackage(
            name=name, epoch=epoch, version=p.get("ver", ""), release=p.get("rel", ""),
            arch=p.get("arch", ""), href=p["href"], uname_r=p["uname_r"],
            checksum_type=p.get("_checksum_type"), checksum=(p.get("checksum") or "").lower() or None,
            size=int(size) if size and size.isdigit() else None,
            provides=tuple(p["provides"])))

    def close(self):
        return self.packages


def repo_candidates(repo: str, timeout: float = TIMEOUT,
                    keep: Callable[[str, str | None], bool] | None = None) -> list[RepoPackage]:
    """The kernel packages a yum repository lists (packages whose name is a
    kernel image package, or which provide kernel-uname-r).

    `repo` is a local directory or an http(s) URL, holding repodata/.
    Raises RescueError when the repository cannot be read or its metadata
    is unusable (bad checksum, DOCTYPE, too large, not XML).
    """
    r = RepoLocation(repo, timeout)
    href, kind, checksum = _primary_location(r)
    what = r.where(href)
    raw = r.read(href, MAX_PRIMARY_COMPRESSED)
    digest = _new_digest(kind)
    if checksum and digest is not None:
        digest.update(raw)
        if digest.hexdigest() != checksum:
            raise _bad_metadata(what, f"its {kind} checksum is {digest.hexdigest()}, but "
                                      f"repomd.xml records {checksum}")
    target = _PrimaryTarget(keep)
    parser = ET.XMLParser(target=target)
    try:
        for block in _decompressed(raw, href, what):
            parser.feed(block)
        return parser.close()
    except _DoctypeRefused:
        raise _bad_metadata(what, "it has a DOCTYPE, which repository metadata never needs") from None
    except ET.ParseError as exc:
        raise _bad_metadata(what, f"it is not well-formed XML ({exc})") from None


def _repo_uname_r(p: RepoPackage) -> str | None:
    if p.uname_r:
        return p.uname_r
    if is_kernel_package(p.name):
        return uname_r_for(RpmPackage(p.name, p.epoch, p.version, p.release, p.arch))
    return None


def repo_select(packages: list[RepoPackage], target_uname_r: str, guest_arch: str,
                image_name: str | None = None) -> tuple[RepoPackage | None, list[tuple[RepoPackage, str]]]:
    """The repository package that installs `target_uname_r` on a
    `guest_arch` guest (by its kernel-uname-r provide, else by the release
    its name, version, release and arch give), and why each other kernel
    package was not taken."""
    prefs = kernel_arches_for(guest_arch)

    def problems(p: RepoPackage) -> str | None:
        uname_r = _repo_uname_r(p)
        if not is_kernel_package(p.name):
            return f"{p.nvra} is not a kernel image package"
        if image_name is not None and p.name != image_name:
            return f"{p.nvra} is package {p.name!r}; on this guest's release the kernel image comes in {image_name!r}"
        if uname_r != target_uname_r:
            return f"{p.nvra} installs kernel {uname_r}, but the guest needs {target_uname_r}"
        if p.arch not in prefs:
            return (f"{p.nvra} is built for {p.arch}, but the guest is {guest_arch} "
                    f"and runs {' or '.join(prefs)} kernels")
        return None

    return choose(packages, guest_arch, problems=problems, arch=lambda p: p.arch,
                  also_fits=lambda other, best: f"{other.nvra} also fits, but {best.nvra} is preferred")


def fetch_package(repo: str, pkg: RepoPackage, dest_dir: Path,
                  timeout: float = TIMEOUT) -> Path:
    """The package as a local file: its path inside a local repository, or
    a download into `dest_dir` for a URL (the caller removes it). The
    checksum the metadata records is checked either way; the download is
    capped at the size the metadata records (and at MAX_PACKAGE)."""
    r = RepoLocation(repo, timeout)
    what = r.where(pkg.href)
    cap = min(MAX_PACKAGE, pkg.size) if pkg.size else MAX_PACKAGE
    digest = _new_digest(pkg.checksum_type) if pkg.checksum else None
    if r.dir is not None:
        path = r.local_path(pkg.href)
        for block in r.stream(pkg.href, cap):
            if digest is not None:
                digest.update(block)
    else:
        fd, name = tempfile.mkstemp(prefix="vmrescue-", suffix=".rpm", dir=dest_dir)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                for block in r.stream(pkg.href, cap):
                    if digest is not None:
                        digest.update(block)
                    out.write(block)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    if digest is not None and digest.hexdigest() != pkg.checksum:
        if r.dir is None:
            path.unlink(missing_ok=True)
        raise RescueError("REPO_CHECKSUM_MISMATCH",
                          f"{what} has {pkg.checksum_type} checksum {digest.hexdigest()}, but the "
                          f"repository metadata records {pkg.checksum}.",
                          "The mirror is inconsistent or the download was altered; try another mirror.",
                          Exit.REFUSED)
    return path


def find_in_repo(repo: str, target_uname_r: str, guest_arch: str, dest_dir: Path,
                 timeout: float = TIMEOUT, image_name: str | None = None) -> tuple[FoundRpm | None, list[tuple[str, str]]]:
    """Find, fetch and re-check the package for `target_uname_r` in a yum
    repository. Returns it (None when the repository has no fitting
    package) and the (package, reason) of every kernel package passed over."""
    best, rejected = repo_select(repo_candidates(repo, timeout), target_uname_r, guest_arch, image_name)
    passed = [(p.nvra, why) for p, why in rejected]
    if best is None:
        return None, passed
    path = fetch_package(repo, best, dest_dir, timeout)
    try:
        header = read_header_file(path)
    except (OSError, RpmFormatError) as exc:
        passed.append((best.nvra, f"the repository lists it, but {path} is not a valid RPM ({exc})"))
        return None, passed
    problems = check_candidate(path, header, target_uname_r, guest_arch, image_name)
    if problems:
        passed.append((best.nvra, "the repository metadata lists it for the guest, but its own "
                                  "header disagrees: " + " ".join(problems)))
        return None, passed
    return FoundRpm(path, header), passed


def find_member_in_repo(repo: str, name: str, image: RpmHeader, dest_dir: Path,
                        timeout: float = TIMEOUT) -> FoundRpm | None:
    """The package `name` built with the kernel image `image` (EL8+'s kernel-modules ...), fetched."""
    listed = repo_candidates(repo, timeout, keep=lambda n, _uname_r: n == name)
    match = next((p for p in listed if (p.version, p.release, p.arch) == (image.version, image.release, image.arch)),
                 None)
    if match is None:
        return None
    path = fetch_package(repo, match, dest_dir, timeout)
    try:
        header = read_header_file(path)
    except (OSError, RpmFormatError):
        return None
    return FoundRpm(path, header)
