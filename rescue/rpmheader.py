"""Read the metadata of an RPM package file, with no I/O.

An RPM file is four parts, one after the other (rpm's doc/manual/format.md,
and the LSB "Package File Format" chapter):

  lead       96 bytes, magic ed ab ee db. Obsolete: rpm reads only its magic
             and signature type (5, "header-style signature"); its name and
             arch fields are never trusted here either.
  signature  a header structure (below) holding digests and signatures of
             the parts after it; padded with zeros to a multiple of 8 bytes.
  header     the main header: name, version, files, dependencies ...
  payload    the compressed cpio archive of the files, to the end of file.

A header structure is: magic 8e ad e8 01, 4 reserved bytes, the number of
index entries (int32 BE), the size of the data store (int32 BE), the index
entries (16 bytes each: tag, type, offset into the store, count), then the
data store. All numbers are big-endian.

Which digest covers what (rpm's doc/manual/signatures_digests.md):
  SHA1 (269), SHA256 (273)     the main header, as hex strings
  RSA (268), DSA (267)         OpenPGP signatures of the main header
  MD5 (1004)                   main header + payload, binary
  PGP (1002), GPG (1005)       OpenPGP signatures of main header + payload
  SIZE (1000) / LONGSIZE (270) the byte length of main header + payload
  PAYLOADDIGEST (5092, in the main header, algorithm in 5093): the
                               compressed payload, as hex strings

A hostile file must not make this module allocate much or loop long: every
count and offset is checked against the data before use, the header sizes
are capped the way rpm caps them (at most 65535 index entries, a data store
of at most 256 MiB), and only the few tags this module needs are decoded.
Anything malformed raises `RpmFormatError`, and only that.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import BinaryIO, Union

__all__ = [
    "RpmFormatError",
    "Provide",
    "RpmFile",
    "RpmSignature",
    "RpmHeader",
    "LEAD_SIZE",
    "header_span",
    "read_rpm_header",
    "parse_pgp_signature",
    "kernel_uname_r",
    "verify_digests",
    "HASH_ALGOS",
]

LEAD_SIZE = 96
_LEAD_MAGIC = b"\xed\xab\xee\xdb"
_HEADER_MAGIC = b"\x8e\xad\xe8\x01"
_PREAMBLE = 16                      # magic(4) reserved(4) nindex(4) hsize(4)
_ENTRY = 16
_SIGTYPE_HEADERSIG = 5              # lead.signature_type of every rpm >= 3.0

# rpm's own limits (lib/header_internal.h: hdrchkTags, HEADER_DATA_MAX).
MAX_INDEX_ENTRIES = 0xFFFF
MAX_DATA_STORE = 256 * 1024 * 1024

# Header data types (rpm's rpmTagType).
_NULL, _CHAR, _INT8, _INT16, _INT32, _INT64, _STRING, _BIN, _STRING_ARRAY, _I18NSTRING = range(10)
_INT_SIZES = {_CHAR: 1, _INT8: 1, _INT16: 2, _INT32: 4, _INT64: 8}
_INT_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}

# Signature header tags (rpm's rpmSigTag).
SIGTAG_SIZE = 1000
SIGTAG_PGP = 1002
SIGTAG_MD5 = 1004
SIGTAG_GPG = 1005
SIGTAG_PAYLOADSIZE = 1007
SIGTAG_DSA = 267
SIGTAG_RSA = 268
SIGTAG_SHA1 = 269
SIGTAG_LONGSIZE = 270
SIGTAG_LONGARCHIVESIZE = 271
SIGTAG_SHA256 = 273

# Main header tags (rpm's rpmTag).
TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_SUMMARY = 1004
TAG_OS = 1021
TAG_ARCH = 1022
TAG_OLDFILENAMES = 1027
TAG_FILESIZES = 1028
TAG_FILEMODES = 1030
TAG_FILEDIGESTS = 1035
TAG_FILELINKTOS = 1036
TAG_FILEFLAGS = 1037
TAG_FILEUSERNAME = 1039
TAG_FILEGROUPNAME = 1040
TAG_SOURCERPM = 1044
TAG_ARCHIVESIZE = 1046
TAG_PROVIDENAME = 1047
TAG_REQUIRENAME = 1049
TAG_PROVIDEFLAGS = 1112
TAG_PROVIDEVERSION = 1113
TAG_DIRINDEXES = 1116
TAG_BASENAMES = 1117
TAG_DIRNAMES = 1118
TAG_PAYLOADFORMAT = 1124
TAG_PAYLOADCOMPRESSOR = 1125
TAG_LONGFILESIZES = 5008
TAG_FILEDIGESTALGO = 5011
TAG_PAYLOADDIGEST = 5092
TAG_PAYLOADDIGESTALGO = 5093
TAG_LONGARCHIVESIZE = 271

# OpenPGP hash algorithm ids (RFC 4880 9.4, RFC 9580 9.5), which rpm also
# uses for FILEDIGESTALGO and PAYLOADDIGESTALGO.
HASH_ALGOS = {1: "md5", 2: "sha1", 3: "ripemd160", 8: "sha256", 9: "sha384",
              10: "sha512", 11: "sha224", 12: "sha3_256", 14: "sha3_512"}
_PUBKEY_ALGOS = {1: "RSA", 2: "RSA", 3: "RSA", 17: "DSA", 19: "ECDSA",
                 22: "EdDSA", 27: "Ed25519", 28: "Ed448"}

# Dependency sense flags (rpm's rpmsenseFlags).
SENSE_LESS, SENSE_GREATER, SENSE_EQUAL = 0x02, 0x04, 0x08


class RpmFormatError(ValueError):
    """The data is not an RPM file, or a damaged or hostile one."""


# --- the data ------------------------------------------------------------------

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
class RpmSignature:
    """One OpenPGP signature from the signature header."""
    tag: str                     # "RSA", "DSA" (header only) or "PGP", "GPG" (header + payload)
    header_only: bool
    version: int | None          # OpenPGP signature packet version: 3, 4 or 6; None if unreadable
    pubkey_algo: str             # "RSA", "DSA", "EdDSA", ... or "algo N"
    hash_algo: str               # "sha256", ... or "algo N"
    key_id: str | None           # 16 lowercase hex digits, None when the packet names no issuer

    @property
    def short_key_id(self) -> str | None:
        """The 8 hex digits rpm prints ("key ID 171a62e4")."""
        return self.key_id[-8:] if self.key_id else None


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


# --- finding the parts ---------------------------------------------------------

def _preamble(data: bytes, off: int, what: str) -> tuple[int, int] | None:
    """(index entries, data store size) of the header structure at `off`,
    None when `data` does not reach that far yet."""
    if len(data) < off + _PREAMBLE:
        return None
    if data[off:off + 4] != _HEADER_MAGIC:
        raise RpmFormatError(f"the {what} has no header magic at offset {off} "
                             f"(found {data[off:off + 4].hex()}, expected 8eade801)")
    nindex, hsize = struct.unpack_from(">II", data, off + 8)
    if nindex == 0 or nindex > MAX_INDEX_ENTRIES:
        raise RpmFormatError(f"the {what} claims {nindex} index entries "
                             f"(rpm allows 1 to {MAX_INDEX_ENTRIES})")
    if hsize > MAX_DATA_STORE:
        raise RpmFormatError(f"the {what} claims a data store of {hsize} bytes "
                             f"(rpm allows at most {MAX_DATA_STORE})")
    return nindex, hsize


def read_header_blob(blob: bytes, what: str = "database header") -> "HeaderStructure":
    """A header structure as rpm's databases store it: without the 8 bytes of
    magic and reserved space in front. Bounded like the rest of this reader;
    RpmFormatError unless the blob is exactly one header (or more)."""
    data = _HEADER_MAGIC + b"\0\0\0\0" + bytes(blob)
    got = _preamble(data, 0, what)
    if got is None:
        raise RpmFormatError(f"{what}: {len(blob)} bytes is too short for a header")
    nindex, hsize = got
    need = _PREAMBLE + nindex * _ENTRY + hsize
    if len(data) < need:
        raise RpmFormatError(f"{what}: claims {need - 8} bytes, the blob has {len(blob)}")
    return HeaderStructure(data, 0, what)


def _check_lead(data: bytes) -> None:
    if data[:4] != _LEAD_MAGIC[:len(data[:4])]:
        raise RpmFormatError(f"not an RPM file: it starts with {data[:4].hex()}, "
                             f"not the RPM lead magic edabeedb")
    if len(data) >= LEAD_SIZE:
        sigtype = struct.unpack_from(">H", data, 78)[0]
        if sigtype != _SIGTYPE_HEADERSIG:
            raise RpmFormatError(f"the lead names signature type {sigtype}; only type 5 "
                                 f"(header-style signature, every rpm since 3.0) is known")


def _layout(data: bytes) -> tuple[int, int, int, int] | int:
    """(main header offset, main header end, signature nindex, main nindex)
    when `data` holds the lead and both headers, otherwise the number of
    bytes needed to learn more."""
    _check_lead(data)
    sig = _preamble(data, LEAD_SIZE, "signature header")
    if sig is None:
        return LEAD_SIZE + _PREAMBLE
    sig_end = LEAD_SIZE + _PREAMBLE + sig[0] * _ENTRY + sig[1]
    main = sig_end + (-sig_end) % 8          # the signature is padded to 8 bytes
    hdr = _preamble(data, main, "main header")
    if hdr is None:
        return main + _PREAMBLE
    end = main + _PREAMBLE + hdr[0] * _ENTRY + hdr[1]
    if len(data) < end:
        return end
    return main, end, sig[0], hdr[0]


def header_span(data_prefix: bytes) -> int:
    """How many bytes from the start of the file `read_rpm_header` needs.

    With a short prefix this is the length needed to read the next size
    field (always more than `len(data_prefix)`), so callers read until the
    answer stops growing; at most three rounds, the sizes being capped.
    Raises RpmFormatError as soon as the prefix shows the file is no RPM.
    """
    if len(data_prefix) < LEAD_SIZE:
        _check_lead(data_prefix)
        return LEAD_SIZE + _PREAMBLE
    got = _layout(data_prefix)
    if isinstance(got, int):
        return got
    return got[1]


# --- decoding a header structure -----------------------------------------------

class HeaderStructure:
    """One header structure: its index, read eagerly (bounded by the entry
    count), and values decoded only on request."""

    def __init__(self, data: bytes, off: int, what: str):
        nindex, hsize = struct.unpack_from(">II", data, off + 8)
        self.what = what
        index_at = off + _PREAMBLE
        self.store_at = index_at + nindex * _ENTRY
        self.hsize = hsize
        self.data = data
        self.index: dict[int, tuple[int, int, int]] = {}
        for i in range(nindex):
            tag, typ, offset, count = struct.unpack_from(">IIiI", data, index_at + i * _ENTRY)
            if typ > _I18NSTRING:
                raise RpmFormatError(f"{what}: tag {tag} has unknown data type {typ}")
            if offset < 0 or offset > hsize:
                raise RpmFormatError(f"{what}: tag {tag} points at offset {offset}, "
                                     f"outside its {hsize}-byte data store")
            # A duplicated tag: rpm keeps the first, and so does this.
            self.index.setdefault(tag, (typ, offset, count))

    def _raw(self, tag: int) -> tuple[int, int, int] | None:
        return self.index.get(tag)

    def _strings(self, offset: int, count: int, tag: int) -> list[str]:
        # Each string needs at least its NUL, so a count larger than the
        # rest of the store is a lie, caught before the loop.
        if count > self.hsize - offset:
            raise RpmFormatError(f"{self.what}: tag {tag} claims {count} strings in "
                                 f"{self.hsize - offset} bytes")
        out = []
        pos = self.store_at + offset
        limit = self.store_at + self.hsize
        for _ in range(count):
            nul = self.data.find(b"\0", pos, limit)
            if nul < 0:
                raise RpmFormatError(f"{self.what}: tag {tag} has a string that runs "
                                     f"past the end of the data store")
            out.append(self.data[pos:nul].decode("utf-8", errors="replace"))
            pos = nul + 1
        return out

    def strings(self, tag: int) -> list[str] | None:
        raw = self._raw(tag)
        if raw is None:
            return None
        typ, offset, count = raw
        if typ == _STRING:
            return self._strings(offset, 1, tag)
        if typ in (_STRING_ARRAY, _I18NSTRING):
            return self._strings(offset, count, tag)
        raise RpmFormatError(f"{self.what}: tag {tag} has type {typ}, expected a string")

    def string(self, tag: int) -> str | None:
        got = self.strings(tag)
        # I18N strings hold one translation per locale; the first is "C".
        return got[0] if got else None

    def ints(self, tag: int) -> list[int] | None:
        raw = self._raw(tag)
        if raw is None:
            return None
        typ, offset, count = raw
        size = _INT_SIZES.get(typ)
        if size is None:
            raise RpmFormatError(f"{self.what}: tag {tag} has type {typ}, expected an integer")
        if count * size > self.hsize - offset:
            raise RpmFormatError(f"{self.what}: tag {tag} claims {count} integers of "
                                 f"{size} bytes in {self.hsize - offset} bytes")
        return list(struct.unpack_from(f">{count}{_INT_FORMATS[size]}", self.data,
                                       self.store_at + offset))

    def int(self, tag: int) -> int | None:
        got = self.ints(tag)
        return got[0] if got else None

    def binary(self, tag: int) -> bytes | None:
        raw = self._raw(tag)
        if raw is None:
            return None
        typ, offset, count = raw
        if typ not in (_BIN, _CHAR, _INT8):
            raise RpmFormatError(f"{self.what}: tag {tag} has type {typ}, expected binary data")
        if count > self.hsize - offset:
            raise RpmFormatError(f"{self.what}: tag {tag} claims {count} bytes in "
                                 f"{self.hsize - offset}")
        start = self.store_at + offset
        return bytes(self.data[start:start + count])


# --- OpenPGP signature packets -------------------------------------------------

def _algo_name(table: dict[int, str], n: int) -> str:
    return table.get(n, f"algo {n}")


def _subpacket_issuer(area: bytes) -> str | None:
    """The issuer key id from a v4/v6 signature subpacket area (RFC 4880
    5.2.3.1, RFC 9580 5.2.3.7): subpacket 16 (issuer key id) wins, else 33
    (issuer fingerprint; a v4 key id is its last 8 bytes, a v6 key id its
    first 8)."""
    pos, end = 0, len(area)
    from_fpr = None
    while pos < end:
        first = area[pos]
        if first < 192:
            length, pos = first, pos + 1
        elif first < 255:
            if pos + 2 > end:
                return from_fpr
            length, pos = ((first - 192) << 8) + area[pos + 1] + 192, pos + 2
        else:
            if pos + 5 > end:
                return from_fpr
            length, pos = struct.unpack_from(">I", area, pos + 1)[0], pos + 5
        if length == 0 or pos + length > end:
            return from_fpr
        kind = area[pos] & 0x7F          # bit 7 is the "critical" flag
        body = area[pos + 1:pos + length]
        if kind == 16 and len(body) == 8:
            return body.hex()
        if kind == 33 and len(body) >= 9 and from_fpr is None:
            fpr = body[1:]
            from_fpr = (fpr[:8] if body[0] >= 5 else fpr[-8:]).hex()
        pos += length
    return from_fpr


def parse_pgp_signature(blob: bytes, tag: str = "", header_only: bool = True) -> RpmSignature:
    """Read an OpenPGP signature packet (RFC 4880 4.2, 5.2) as rpm stores it.

    Never raises: an unreadable packet gives version None and key_id None.
    """
    unknown = RpmSignature(tag, header_only, None, "", "", None)
    if len(blob) < 2 or not blob[0] & 0x80:
        return unknown
    b0 = blob[0]
    if b0 & 0x40:                                    # new format
        ptag = b0 & 0x3F
        o1 = blob[1]
        if o1 < 192:
            length, pos = o1, 2
        elif o1 < 224:
            if len(blob) < 3:
                return unknown
            length, pos = ((o1 - 192) << 8) + blob[2] + 192, 3
        elif o1 == 255:
            if len(blob) < 6:
                return unknown
            length, pos = struct.unpack_from(">I", blob, 2)[0], 6
        else:                                        # partial length: take the rest
            length, pos = len(blob) - 2, 2
    else:                                            # old format
        ptag = (b0 >> 2) & 0x0F
        ltype = b0 & 0x03
        if ltype == 3:
            length, pos = len(blob) - 1, 1
        else:
            n = 1 << ltype
            if len(blob) < 1 + n:
                return unknown
            length = int.from_bytes(blob[1:1 + n], "big")
            pos = 1 + n
    if ptag != 2:                                    # 2 = signature packet
        return unknown
    body = blob[pos:pos + length]
    if not body:
        return unknown
    version = body[0]
    if version in (2, 3):
        # v3: version, hashed length (5), type, time(4), key id(8), pk algo, hash algo
        if len(body) < 17 or body[1] != 5:
            return RpmSignature(tag, header_only, version, "", "", None)
        return RpmSignature(tag, header_only, 3, _algo_name(_PUBKEY_ALGOS, body[15]),
                            _algo_name(HASH_ALGOS, body[16]), body[7:15].hex())
    if version in (4, 5, 6):
        # v4: version, type, pk algo, hash algo, hashed area (2-byte length),
        # unhashed area (2-byte length); v6 uses 4-byte lengths.
        if len(body) < 6:
            return RpmSignature(tag, header_only, version, "", "", None)
        pk, hs = body[2], body[3]
        lsize = 4 if version == 6 else 2
        pos = 4
        issuer = None
        for _area in range(2):
            if pos + lsize > len(body):
                break
            alen = int.from_bytes(body[pos:pos + lsize], "big")
            pos += lsize
            area = body[pos:pos + alen]
            pos += alen
            issuer = issuer or _subpacket_issuer(area)
        return RpmSignature(tag, header_only, version, _algo_name(_PUBKEY_ALGOS, pk),
                            _algo_name(HASH_ALGOS, hs), issuer)
    return RpmSignature(tag, header_only, version, "", "", None)


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
        got = _layout(data)
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
    return None


Source = Union[bytes, bytearray, memoryview, BinaryIO]
_CHUNK = 1024 * 1024


def _chunks(source: Source):
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source)
        for i in range(0, len(view), _CHUNK):
            yield view[i:i + _CHUNK]
        return
    if source.seekable():
        source.seek(0)
    while True:
        block = source.read(_CHUNK)
        if not block:
            return
        yield block


def _new_hash(algo: int | None, what: str, problems: list[str]):
    name = HASH_ALGOS.get(algo or 0)
    if name is None:
        problems.append(f"{what} uses digest algorithm {algo}, which vmrescue cannot check")
        return None
    try:
        return hashlib.new(name)
    except ValueError:
        problems.append(f"{what} uses {name}, which this host's Python cannot compute")
        return None


def verify_digests(h: RpmHeader, file_bytes_or_stream: Source) -> list[str]:
    """Check the file against the digests its own headers record.

    `file_bytes_or_stream` is the whole file (bytes, or a binary stream,
    rewound when seekable); `h` is its parsed header. Returns the problems
    found, one sentence each; an empty list means every digest present
    matches and at least one was present. Signatures are not checked here
    (see rescue.rpmverify).
    """
    problems: list[str] = []
    hstart, hend = h.header_offset, h.payload_offset
    sha1 = hashlib.sha1() if h.header_sha1 else None
    sha256 = hashlib.sha256() if h.header_sha256 else None
    md5 = hashlib.md5() if h.md5 else None
    payload = (_new_hash(h.payload_digest_algo or 8, "the payload digest", problems)
               if h.payload_digest else None)

    pos = 0
    for block in _chunks(file_bytes_or_stream):
        n = len(block)
        lo, hi = pos, pos + n
        # The main header [hstart, hend) and the payload [hend, EOF).
        a, b = max(lo, hstart), min(hi, hend)
        if a < b:
            part = block[a - lo:b - lo]
            for d in (sha1, sha256, md5):
                if d is not None:
                    d.update(part)
        a = max(lo, hend)
        if a < hi:
            part = block[a - lo:]
            if md5 is not None:
                md5.update(part)
            if payload is not None:
                payload.update(part)
        pos = hi

    if pos < hend:
        problems.append(f"the file is truncated: {pos} bytes, but its headers alone need {hend}")
        return problems
    actual_size = pos - hstart
    if h.sig_size is not None and h.sig_size != actual_size:
        problems.append(f"size mismatch: the signature header records {h.sig_size} bytes of "
                        f"header and payload, the file has {actual_size}")
    if sha256 is not None and sha256.hexdigest() != h.header_sha256.lower():
        problems.append(f"header SHA256 mismatch: recorded {h.header_sha256}, "
                        f"computed {sha256.hexdigest()}")
    if sha1 is not None and sha1.hexdigest() != h.header_sha1.lower():
        problems.append(f"header SHA1 mismatch: recorded {h.header_sha1}, "
                        f"computed {sha1.hexdigest()}")
    if payload is not None and payload.hexdigest() != h.payload_digest.lower():
        problems.append(f"payload digest mismatch: recorded {h.payload_digest}, "
                        f"computed {payload.hexdigest()}")
    if md5 is not None and md5.hexdigest() != h.md5:
        problems.append(f"MD5 (header and payload) mismatch: recorded {h.md5}, "
                        f"computed {md5.hexdigest()}")
    if not (sha1 or sha256 or md5 or h.payload_digest):
        problems.append("the package records no header or payload digest, so its "
                        "integrity cannot be checked")
    return problems
