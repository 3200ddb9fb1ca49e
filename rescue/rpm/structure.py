"""The RPM file layout and its header structures, with no I/O.

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

A hostile file must not make this module allocate much or loop long: every
count and offset is checked against the data before use, and the header sizes
are capped the way rpm caps them (at most 65535 index entries, a data store
of at most 256 MiB). Anything malformed raises `RpmFormatError`, and only that.
"""
from __future__ import annotations

import struct

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

# Dependency sense flags (rpm's rpmsenseFlags).
SENSE_LESS, SENSE_GREATER, SENSE_EQUAL = 0x02, 0x04, 0x08


class RpmFormatError(ValueError):
    """The data is not an RPM file, or a damaged or hostile one."""



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


def layout(data: bytes) -> tuple[int, int, int, int] | int:
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
    got = layout(data_prefix)
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


