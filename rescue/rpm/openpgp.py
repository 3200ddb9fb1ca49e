"""OpenPGP signature packets as rpm stores them in a signature header, with no I/O.

Only what vmrescue reports is read: the packet version, the public-key and
hash algorithms, and the issuer's key id (RFC 4880 4.2, 5.2; RFC 9580).
Verifying a signature is rpm's job (`rescue.rpm.verify` runs rpmkeys).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from rescue.rpm.structure import HASH_ALGOS

_PUBKEY_ALGOS = {1: "RSA", 2: "RSA", 3: "RSA", 17: "DSA", 19: "ECDSA",
                 22: "EdDSA", 27: "Ed25519", 28: "Ed448"}


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

