"""Check an RPM file against the digests its own signature header records.

Which digest covers what (rpm's doc/manual/signatures_digests.md):
  SHA1 (269), SHA256 (273)     the main header, as hex strings
  MD5 (1004)                   main header + payload, binary
  SIZE (1000) / LONGSIZE (270) the byte length of main header + payload
  PAYLOADDIGEST (5092, in the main header, algorithm in 5093): the
                               compressed payload, as hex strings
Signatures are rpm's to check (rescue.rpm.verify).
"""
from __future__ import annotations

import hashlib
from typing import BinaryIO, Union

from rescue.rpm.header import RpmHeader
from rescue.rpm.structure import HASH_ALGOS



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
    (see rescue.rpm.verify).
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
