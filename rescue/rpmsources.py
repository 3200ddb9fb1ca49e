"""Find the kernel RPM a guest needs: in files and directories, or in a yum repository.

Packages are recognised by their headers, never by their file names: a
file called kernel-2.6.18-274.el5.x86_64.rpm may hold anything. Only the
header part of each file is read (`rpmverify.read_header_file`), and
`select` explains why every other package found was not taken, so an
operator who pointed at the wrong directory sees what was there.

A yum repository (a local directory or an http(s) URL) is read the way yum
reads it: `repodata/repomd.xml` names the `primary` metadata file, whose
`<package>` entries give each package's name, arch, version, provides and
location. Only the chosen package is then fetched (downloaded to a
temporary file for a URL), and its own header is checked again: the
metadata only chooses, it does not vouch.

Everything read from outside is bounded: the number of files scanned, the
size of every metadata file (compressed and uncompressed), the size of the
download, and the time each request may take. The XML parser refuses any
DOCTYPE, which is where entity-expansion attacks live.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import posixpath
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from rescue.errors import Exit, RescueError
from rescue.model import RpmPackage
from rescue.rpmheader import RpmFormatError, RpmHeader
from rescue.rpmverify import check_candidate, kernel_arches_for, read_header_file
from rescue.versions import is_kernel_package, uname_r_for

__all__ = [
    "FoundRpm",
    "scan_paths",
    "select",
    "RepoPackage",
    "repo_candidates",
    "repo_select",
    "fetch_package",
    "find_in_repo",
]

MAX_RPM_FILES = 5000             # *.rpm files examined per scan
MAX_WALK_ENTRIES = 200_000       # directory entries looked at per scan
MAX_REPOMD = 4 * 1024 * 1024
MAX_PRIMARY_COMPRESSED = 256 * 1024 * 1024
MAX_PRIMARY_XML = 1024 * 1024 * 1024
MAX_PACKAGE = 1024 * 1024 * 1024
TIMEOUT = 60                     # seconds, per network operation
_CHUNK = 256 * 1024


# --- files and directories -------------------------------------------------------

@dataclass(frozen=True)
class FoundRpm:
    path: Path
    header: RpmHeader


def scan_paths(files: list[Path], dirs: list[Path], notes: list[str] | None = None,
               limit: int = MAX_RPM_FILES) -> list[FoundRpm]:
    """Read the header of each file in `files` and of every *.rpm file under
    `dirs` (recursively, in name order).

    Files that cannot be read or are no valid RPM are skipped, with a note
    appended to `notes` when given. Inside `dirs`, symbolic links to
    directories are not entered and symbolic links to files outside the
    directory's own tree are not followed. At most `limit` *.rpm files are
    examined. The same file reached twice is listed once.
    """
    if notes is None:
        notes = []
    found: list[FoundRpm] = []
    seen: set[Path] = set()
    examined = 0

    def consider(path: Path) -> None:
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            notes.append(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc}), skipped")
            return
        if real in seen:
            return
        seen.add(real)
        if not real.is_file():          # also keeps FIFOs and devices from blocking open()
            notes.append(f"{path}: not a regular file, skipped")
            return
        try:
            header = read_header_file(real)
        except OSError as exc:
            notes.append(f"{path}: cannot be read ({exc.strerror or exc}), skipped")
        except RpmFormatError as exc:
            notes.append(f"{path}: not a valid RPM package ({exc}), skipped")
        else:
            found.append(FoundRpm(path, header))

    for f in files:
        if examined >= limit:
            notes.append(f"stopped after {limit} RPM files; {f} and the rest were not read")
            return found
        examined += 1
        consider(Path(f))

    for d in dirs:
        top = Path(d)
        if not top.is_dir():
            notes.append(f"{top}: not a directory, skipped")
            continue
        real_top = top.resolve()
        plain: list[Path] = []
        links: list[Path] = []
        entries = 0
        stopped = False
        for dirpath, dirnames, filenames in os.walk(
                top, followlinks=False,
                onerror=lambda e: notes.append(f"{e.filename}: cannot be listed ({e.strerror}), skipped")):
            dirnames.sort()
            entries += len(dirnames) + len(filenames)
            if entries > MAX_WALK_ENTRIES:
                notes.append(f"{top}: stopped after {MAX_WALK_ENTRIES} directory entries; "
                             f"point --from at the directory that holds the packages")
                break
            for name in sorted(filenames):
                if not name.lower().endswith(".rpm"):
                    continue
                path = Path(dirpath, name)
                if path.is_symlink():
                    try:
                        target = path.resolve(strict=True)
                    except (OSError, RuntimeError):
                        notes.append(f"{path}: a broken symbolic link, skipped")
                        continue
                    if not target.is_relative_to(real_top):
                        notes.append(f"{path}: a symbolic link out of {top} (to {target}), "
                                     f"not followed")
                        continue
                    links.append(path)
                else:
                    plain.append(path)
                if examined + len(plain) + len(links) >= limit:
                    notes.append(f"stopped after {limit} RPM files; the rest of {top} was not read")
                    stopped = True
                    break
            if stopped:
                break
        # Real files first, so a package reached both directly and through a
        # link inside the tree is listed under its own name.
        for path in plain + links:
            examined += 1
            consider(path)
        if stopped:
            return found
    return found


def select(found: list[FoundRpm], target_uname_r: str,
           guest_arch: str) -> tuple[FoundRpm | None, list[tuple[FoundRpm, str]]]:
    """The one package to install kernel `target_uname_r` into a
    `guest_arch` guest, and every other package with the reason it was not
    taken. When several fit, the preferred arch wins (i686 over i586 on a
    32-bit guest), then the first found."""
    fitting: list[FoundRpm] = []
    rejected: list[tuple[FoundRpm, str]] = []
    for f in found:
        problems = check_candidate(f.path, f.header, target_uname_r, guest_arch)
        if problems:
            rejected.append((f, " ".join(problems)))
        else:
            fitting.append(f)
    if not fitting:
        return None, rejected
    prefs = kernel_arches_for(guest_arch)
    fitting.sort(key=lambda f: prefs.index(f.header.arch))
    best = fitting[0]
    for other in fitting[1:]:
        if other.header.arch != best.header.arch:
            why = (f"{other.path} ({other.header.nvra}) also fits, but {best.path} "
                   f"({best.header.arch}) is preferred on a {guest_arch} guest")
        else:
            why = (f"{other.path} ({other.header.nvra}) is another copy of the same "
                   f"package; {best.path} is used")
        rejected.append((other, why))
    return best, rejected


# --- yum repositories: where to read from -----------------------------------------

class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s), never to ftp: or file: URLs."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to a {scheme}: URL refused",
                                         headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_RedirectHandler)


class _Repo:
    """A repository location: a local directory or an http(s) base URL.
    Paths inside it come from its own metadata, so each is checked to stay
    inside the repository."""

    def __init__(self, repo: str, timeout: float):
        self.text = repo
        self.timeout = timeout
        parts = urllib.parse.urlsplit(repo)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            self.url = repo if repo.endswith("/") else repo + "/"
            self.dir = None
        elif scheme == "file" or not scheme or len(scheme) == 1:   # "C:" is not a scheme here
            local = urllib.parse.unquote(parts.path) if scheme == "file" else repo
            self.url = None
            self.dir = Path(local)
            if not self.dir.is_dir():
                raise RescueError("REPO_NOT_FOUND", f"The repository {repo} is not a directory.",
                                  "Pass --repo a directory holding repodata/, or an http(s) URL.",
                                  Exit.USAGE)
            self.dir = self.dir.resolve()
        else:
            raise RescueError("REPO_BAD_LOCATION",
                              f"The repository {repo} is neither a local directory nor an "
                              f"http(s) URL ({scheme}: is not supported).",
                              "Pass --repo a directory or an http:// or https:// URL.", Exit.USAGE)

    def _relative(self, href: str) -> str:
        rel = posixpath.normpath(href.strip())
        if (not href.strip() or urllib.parse.urlsplit(href).scheme or rel.startswith("/")
                or rel == ".." or rel.startswith("../")):
            raise RescueError("REPO_BAD_METADATA",
                              f"The repository {self.text} names {href!r}, which lies outside it.",
                              "The repository metadata is damaged or hostile; use another mirror.",
                              Exit.REFUSED)
        return rel

    def where(self, href: str) -> str:
        rel = self._relative(href)
        if self.url:
            return urllib.parse.urljoin(self.url, urllib.parse.quote(rel))
        return str(self.dir / rel)

    def local_path(self, href: str) -> Path:
        assert self.dir is not None
        path = (self.dir / self._relative(href)).resolve()
        if not path.is_relative_to(self.dir):
            raise RescueError("REPO_BAD_METADATA",
                              f"The repository {self.text} names {href!r}, which leads out of "
                              f"it (to {path}).",
                              "Use a repository whose files lie inside it.", Exit.REFUSED)
        return path

    def stream(self, href: str, cap: int) -> Iterator[bytes]:
        """The bytes of `href`, in chunks; RescueError past `cap` bytes."""
        what = self.where(href)
        try:
            if self.url:
                with _OPENER.open(urllib.request.Request(what), timeout=self.timeout) as resp:
                    length = resp.headers.get("Content-Length")
                    if length and length.isdigit() and int(length) > cap:
                        self._too_large(what, cap)
                    yield from self._capped(resp, what, cap)
            else:
                path = self.local_path(href)
                if not path.is_file():
                    raise FileNotFoundError(2, "not a regular file", str(path))
                with open(path, "rb") as f:
                    yield from self._capped(f, what, cap)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
            code = "REPO_UNREACHABLE" if self.url else "REPO_UNREADABLE"
            raise RescueError(code, f"Cannot read {what}: {reason}.",
                              "Check the --repo location (and the network, for a URL).",
                              Exit.ENVIRONMENT if self.url else Exit.USAGE) from None

    def _capped(self, stream, what: str, cap: int) -> Iterator[bytes]:
        """Blocks of `stream`, refusing it once more than `cap` bytes have come."""
        total = 0
        while True:
            block = stream.read(_CHUNK)
            if not block:
                return
            total += len(block)
            if total > cap:
                self._too_large(what, cap)
            yield block

    def read(self, href: str, cap: int) -> bytes:
        return b"".join(self.stream(href, cap))

    @staticmethod
    def _too_large(what: str, cap: int):
        raise RescueError("REPO_TOO_LARGE", f"{what} is larger than {cap} bytes; refused.",
                          "The repository is damaged or hostile; use another mirror.",
                          Exit.REFUSED)


# --- yum repositories: metadata ---------------------------------------------------

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


def _primary_location(repo: _Repo) -> tuple[str, str | None, str | None]:
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
    total = 0
    try:
        while True:
            block = f.read(_CHUNK)
            if not block:
                return
            total += len(block)
            if total > MAX_PRIMARY_XML:
                raise _bad_metadata(what, f"it unpacks to more than {MAX_PRIMARY_XML} bytes")
            yield block
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

    def __init__(self):
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
        if not (is_kernel_package(name) or p["uname_r"]):
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


def repo_candidates(repo: str, timeout: float = TIMEOUT) -> list[RepoPackage]:
    """The kernel packages a yum repository lists (packages whose name is a
    kernel image package, or which provide kernel-uname-r).

    `repo` is a local directory or an http(s) URL, holding repodata/.
    Raises RescueError when the repository cannot be read or its metadata
    is unusable (bad checksum, DOCTYPE, too large, not XML).
    """
    r = _Repo(repo, timeout)
    href, kind, checksum = _primary_location(r)
    what = r.where(href)
    raw = r.read(href, MAX_PRIMARY_COMPRESSED)
    digest = _new_digest(kind)
    if checksum and digest is not None:
        digest.update(raw)
        if digest.hexdigest() != checksum:
            raise _bad_metadata(what, f"its {kind} checksum is {digest.hexdigest()}, but "
                                      f"repomd.xml records {checksum}")
    target = _PrimaryTarget()
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


def repo_select(packages: list[RepoPackage], target_uname_r: str,
                guest_arch: str) -> tuple[RepoPackage | None, list[tuple[RepoPackage, str]]]:
    """The repository package that installs `target_uname_r` on a
    `guest_arch` guest (by its kernel-uname-r provide, else by the release
    its name, version, release and arch give), and why each other kernel
    package was not taken."""
    prefs = kernel_arches_for(guest_arch)
    fitting: list[RepoPackage] = []
    rejected: list[tuple[RepoPackage, str]] = []
    for p in packages:
        uname_r = _repo_uname_r(p)
        if not is_kernel_package(p.name):
            rejected.append((p, f"{p.nvra} is not a kernel image package"))
        elif uname_r != target_uname_r:
            rejected.append((p, f"{p.nvra} installs kernel {uname_r}, but the guest needs "
                                f"{target_uname_r}"))
        elif p.arch not in prefs:
            rejected.append((p, f"{p.nvra} is built for {p.arch}, but the guest is {guest_arch} "
                                f"and runs {' or '.join(prefs)} kernels"))
        else:
            fitting.append(p)
    if not fitting:
        return None, rejected
    fitting.sort(key=lambda p: prefs.index(p.arch))
    best = fitting[0]
    for other in fitting[1:]:
        rejected.append((other, f"{other.nvra} also fits, but {best.nvra} is preferred"))
    return best, rejected


def fetch_package(repo: str, pkg: RepoPackage, dest_dir: Path,
                  timeout: float = TIMEOUT) -> Path:
    """The package as a local file: its path inside a local repository, or
    a download into `dest_dir` for a URL (the caller removes it). The
    checksum the metadata records is checked either way; the download is
    capped at the size the metadata records (and at MAX_PACKAGE)."""
    r = _Repo(repo, timeout)
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
                 timeout: float = TIMEOUT) -> tuple[FoundRpm | None, list[tuple[str, str]]]:
    """Find, fetch and re-check the package for `target_uname_r` in a yum
    repository. Returns it (None when the repository has no fitting
    package) and the (package, reason) of every kernel package passed over."""
    best, rejected = repo_select(repo_candidates(repo, timeout), target_uname_r, guest_arch)
    passed = [(p.nvra, why) for p, why in rejected]
    if best is None:
        return None, passed
    path = fetch_package(repo, best, dest_dir, timeout)
    try:
        header = read_header_file(path)
    except (OSError, RpmFormatError) as exc:
        passed.append((best.nvra, f"the repository lists it, but {path} is not a valid RPM ({exc})"))
        return None, passed
    problems = check_candidate(path, header, target_uname_r, guest_arch)
    if problems:
        passed.append((best.nvra, "the repository metadata lists it for the guest, but its own "
                                  "header disagrees: " + " ".join(problems)))
        return None, passed
    return FoundRpm(path, header), passed
