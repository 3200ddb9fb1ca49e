"""The metadata of an RPM package file: `read_rpm_header`, with no I/O.

Reads the lead, the signature header and the main header (rescue.rpm.structure)
into an `RpmHeader`: name, EVR, arch, provides, files, the digests the
signature header records (checked by rescue.rpm.digests) and its OpenPGP
signatures (rescue.rpm.openpgp). The payload is never read here. Only the few
tags vmrescue needs are decoded; anything malformed raises RpmFormatError.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from rescue.rpm.openpgp import RpmSignature, parse_pgp_signature
from rescue.rpm.structure import (
    LEAD_SIZE, SENSE_EQUAL, SENSE_GREATER, SENSE_LESS, SIGTAG_DSA, SIGTAG_GPG, SIGTAG_LONGARCHIVESIZE,
    SIGTAG_LONGSIZE, SIGTAG_MD5, SIGTAG_PAYLOADSIZE, SIGTAG_PGP, SIGTAG_RSA, SIGTAG_SHA1, SIGTAG_SHA256,
    SIGTAG_SIZE, TAG_ARCH, TAG_ARCHIVESIZE, TAG_BASENAMES, TAG_DIRINDEXES, TAG_DIRNAMES, TAG_EPOCH,
    TAG_FILEDIGESTALGO, TAG_FILEDIGESTS, TAG_FILEFLAGS, TAG_FILEGROUPNAME, TAG_FILELINKTOS, TAG_FILEMODES,
    TAG_FILESIZES, TAG_FILEUSERNAME, TAG_LONGARCHIVESIZE, TAG_LONGFILESIZES, TAG_NAME, TAG_OLDFILENAMES,
    TAG_OS, TAG_PAYLOADCOMPRESSOR, TAG_PAYLOADDIGEST, TAG_PAYLOADDIGESTALGO, TAG_PAYLOADFORMAT,
    TAG_PROVIDEFLAGS, TAG_PROVIDENAME, TAG_PROVIDEVERSION, TAG_RELEASE, TAG_REQUIRENAME, TAG_SOURCERPM,
    TAG_SUMMARY, TAG_VERSION, HeaderStructure, RpmFormatError, layout, header_span, read_header_blob,
)

__all__ = ["RpmFormatError", "Provide", "RpmFile", "RpmSignature", "RpmHeader", "LEAD_SIZE",
           "header_span", "read_header_blob", "read_rpm_header", "kernel_uname_r"]



@dataclass(frozen=True)
class Provide:
    name: str
    flags: int                   # rpmsense bits: 2 <, 4 >, 8 =
    version: str                 # "" when the provide is unversioned

    def __str__(self) -> str:
        if not self.version:
            return self.name
        op = ""
        if self.flags & SENSE_LESS:
            op += "<"
        if self.flags & SENSE_GREATER:
            op += ">"
        if self.flags & SENSE_EQUAL:
            op += "="
        return f"{self.name} {op or '?'} {self.version}"


@dataclass(frozen=True)
class RpmFile:
    path: str
    mode: int | None = None
    size: int | None = None
    link_target: str = ""
    user: str = ""
    group: str = ""
    digest: str = ""             # hex, in the header's file digest algorithm; "" for non-files
    flags: int = 0               # rpmfileAttrs: 0x40 ghost, 0x01 config, ...



@dataclass(frozen=True)
class RpmHeader:
    name: str
    epoch: int | None
    version: str
    release: str
    arch: str
    os: str
    summary: str | None
    source_rpm: str | None       # None for a source package
    provides: tuple[Provide, ...]
    requires: tuple[str, ...]
    files: tuple[RpmFile, ...]
    file_digest_algo: int        # OpenPGP hash id; rpm's default is 1 (MD5)
    payload_format: str          # "cpio" (or "drpm" for delta rpms)
    payload_compressor: str      # "gzip", "xz", "bzip2", "zstd", "lzma"; "gzip" when absent
    archive_size: int | None     # uncompressed payload size
    # from the signature header
    sig_size: int | None         # main header + payload, in bytes
    header_sha1: str | None      # hex
    header_sha256: str | None    # hex
    md5: str | None              # hex, main header + payload
    payload_digest: str | None   # hex, compressed payload
    payload_digest_algo: int | None
    signatures: tuple[RpmSignature, ...]
    # where the parts are in the file
    header_offset: int           # first byte of the main header
    payload_offset: int          # first byte of the payload

    @property
    def nvra(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.{self.arch}"

    @property
    def evr(self) -> str:
        e = f"{self.epoch}:" if self.epoch else ""
        return f"{e}{self.version}-{self.release}"

    @property
    def is_source(self) -> bool:
        return self.source_rpm is None

    @property
    def file_paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)


# --- the header ------------------------------------------------------------------

def _files(h: HeaderStructure) -> tuple[RpmFile, ...]:
    basenames = h.strings(TAG_BASENAMES)
    if basenames is not None:
        dirnames = h.strings(TAG_DIRNAMES) or []
        dirindexes = h.ints(TAG_DIRINDEXES) or []
        if len(dirindexes) != len(basenames):
            raise RpmFormatError(f"main header: {len(basenames)} file base names but "
                                 f"{len(dirindexes)} directory indexes")
        paths = []
        for base, di in zip(basenames, dirindexes):
            if di >= len(dirnames):
                raise RpmFormatError(f"main header: file {base!r} names directory {di} "
                                     f"of {len(dirnames)}")
            paths.append(dirnames[di] + base)
    else:
        paths = h.strings(TAG_OLDFILENAMES) or []
    n = len(paths)

    def column(values):
        # A column that does not have one value per file is ignored rather
        # than trusted half-way.
        return values if values is not None and len(values) == n else None

    modes = column(h.ints(TAG_FILEMODES))
    sizes = column(h.ints(TAG_LONGFILESIZES)) or column(h.ints(TAG_FILESIZES))
    links = column(h.strings(TAG_FILELINKTOS))
    users = column(h.strings(TAG_FILEUSERNAME))
    groups = column(h.strings(TAG_FILEGROUPNAME))
    digests = column(h.strings(TAG_FILEDIGESTS))
    flags = column(h.ints(TAG_FILEFLAGS))
    return tuple(
        RpmFile(
            path=p,
            mode=modes[i] if modes else None,
            size=sizes[i] if sizes else None,
            link_target=links[i] if links else "",
            user=users[i] if users else "",
            group=groups[i] if groups else "",
            digest=digests[i] if digests else "",
            flags=flags[i] if flags else 0,
        )
        for i, p in enumerate(paths)
    )


def _provides(h: HeaderStructure) -> tuple[Provide, ...]:
    names = h.strings(TAG_PROVIDENAME) or []
    flags = h.ints(TAG_PROVIDEFLAGS) or []
    versions = h.strings(TAG_PROVIDEVERSION) or []
    out = []
    for i, name in enumerate(names):
        out.append(Provide(name,
                           flags[i] if i < len(flags) else 0,
                           versions[i] if i < len(versions) else ""))
    return tuple(out)


def _signatures(sig: HeaderStructure) -> tuple[RpmSignature, ...]:
    out = []
    for tag, label, header_only in ((SIGTAG_RSA, "RSA", True), (SIGTAG_DSA, "DSA", True),
                                    (SIGTAG_PGP, "PGP", False), (SIGTAG_GPG, "GPG", False)):
        blob = sig.binary(tag)
        if blob:
            out.append(parse_pgp_signature(blob, label, header_only))
    return tuple(out)


def _first(*values):
    for v in values:
        if v is not None:
            return v
    return None


def read_rpm_header(data: bytes) -> RpmHeader:
    """Parse the lead, the signature header and the main header.

    `data` needs to hold only the first `header_span(data)` bytes of the
    file; the payload is not read. Raises RpmFormatError, and nothing else,
    for anything that is not a well-formed RPM.
    """
    data = bytes(data)
    try:
        got = layout(data)
        if isinstance(got, int):
            raise RpmFormatError(f"the file is truncated: its headers need {got} bytes, "
                                 f"there are {len(data)}")
        main, end, _n_sig, _n_main = got
        sig = HeaderStructure(data, LEAD_SIZE, "signature header")
        h = HeaderStructure(data, main, "main header")

        name = h.string(TAG_NAME)
        version = h.string(TAG_VERSION)
        release = h.string(TAG_RELEASE)
        if not name or version is None or release is None:
            raise RpmFormatError("the main header has no name, version or release")
        md5 = sig.binary(SIGTAG_MD5)
        payload_digest = h.strings(TAG_PAYLOADDIGEST)
        return RpmHeader(
            name=name,
            epoch=h.int(TAG_EPOCH),
            version=version,
            release=release,
            arch=h.string(TAG_ARCH) or "",
            os=h.string(TAG_OS) or "",
            summary=h.string(TAG_SUMMARY),
            source_rpm=h.string(TAG_SOURCERPM),
            provides=_provides(h),
            requires=tuple(h.strings(TAG_REQUIRENAME) or ()),
            files=_files(h),
            file_digest_algo=h.int(TAG_FILEDIGESTALGO) or 1,
            payload_format=h.string(TAG_PAYLOADFORMAT) or "cpio",
            payload_compressor=h.string(TAG_PAYLOADCOMPRESSOR) or "gzip",
            archive_size=_first(sig.int(SIGTAG_LONGARCHIVESIZE), sig.int(SIGTAG_PAYLOADSIZE),
                                h.int(TAG_LONGARCHIVESIZE), h.int(TAG_ARCHIVESIZE)),
            sig_size=_first(sig.int(SIGTAG_LONGSIZE), sig.int(SIGTAG_SIZE)),
            header_sha1=sig.string(SIGTAG_SHA1),
            header_sha256=sig.string(SIGTAG_SHA256),
            md5=md5.hex() if md5 else None,
            payload_digest=payload_digest[0] if payload_digest else None,
            payload_digest_algo=h.int(TAG_PAYLOADDIGESTALGO),
            signatures=_signatures(sig),
            header_offset=main,
            payload_offset=end,
        )
    except struct.error as exc:          # defensive: every read is bounds-checked first
        raise RpmFormatError(f"damaged header: {exc}") from None


# --- questions about a header --------------------------------------------------

_VMLINUZ_PREFIX = "/boot/vmlinuz-"


def kernel_uname_r(h: RpmHeader) -> str | None:
    """The kernel release (`uname -r`) a package installs.

    From its `kernel-uname-r = X` provide, which every Red Hat kernel
    package since EL5 carries; else from a `/boot/vmlinuz-X` in its file
    list; else from `/lib/modules/X/vmlinuz`, where EL8+ kernel-core keeps
    the image (copied to /boot by its scriptlet). None when none is there.
    """
    for p in h.provides:
        if p.name == "kernel-uname-r" and p.version and p.flags & SENSE_EQUAL:
            return p.version
    for path in h.file_paths:
        if path.startswith(_VMLINUZ_PREFIX) and "/" not in path[len(_VMLINUZ_PREFIX):]:
            release = path[len(_VMLINUZ_PREFIX):]
            if release:
                return release
    for path in h.file_paths:
        parts = path.split("/")
        if len(parts) == 5 and parts[1:3] == ["lib", "modules"] and parts[4] == "vmlinuz":
            return parts[3]
