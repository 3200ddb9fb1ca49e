"""RPM version ordering, with no I/O.

`rpmvercmp` follows rpm's lib/rpmvercmp.c (rpm >= 4.15, which added `^`);
the rules are quoted next to the code that implements them. Kernel releases
("2.6.18-274.el5") are ordered by the same rules, version then release.
"""
from __future__ import annotations

from functools import cmp_to_key
from typing import Iterable

__all__ = ["rpmvercmp", "compare_evr", "compare_uname_r", "newest"]


# --- rpmvercmp -------------------------------------------------------------

def _isdigit(c: str) -> bool:
    # rpm uses its own ASCII-only risdigit/risalpha, not the locale's.
    return "0" <= c <= "9"


def _isalpha(c: str) -> bool:
    return "a" <= c <= "z" or "A" <= c <= "Z"


def _isalnum(c: str) -> bool:
    return _isdigit(c) or _isalpha(c)


def rpmvercmp(a: str, b: str, caret: str = "^") -> int:
    """Compare two version (or release) strings the way rpm does.

    Returns 1 if `a` is newer, 0 if they are the same version, -1 if `b`
    is newer. `caret` is rpm's "^"; RHEL's GRUB (blscfg) compares the same
    way with "+" in its place.
    """
    # "easy comparison to see if versions are identical"
    if a == b:
        return 0
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        # Separators are every character that is not alphanumeric, "~" or
        # "^"; runs of them are skipped and all separators compare equal.
        while i < la and not _isalnum(a[i]) and a[i] != "~" and a[i] != caret:
            i += 1
        while j < lb and not _isalnum(b[j]) and b[j] != "~" and b[j] != caret:
            j += 1

        ca = a[i] if i < la else ""
        cb = b[j] if j < lb else ""

        # "handle the tilde separator, it sorts before everything else"
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i += 1
            j += 1
            continue

        # "Handle caret separator. Concept is the same as tilde, except that
        # if one of the strings ends (base version), the other is considered
        # as higher version."
        if ca == caret or cb == caret:
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != caret:
                return 1
            if cb != caret:
                return -1
            i += 1
            j += 1
            continue

        # "If we ran to the end of either, we are finished with the loop"
        if not ca or not cb:
            break

        # "grab first completely alpha or completely numeric segment";
        # the type is decided by the first string.
        si, sj = i, j
        isnum = _isdigit(ca)
        test = _isdigit if isnum else _isalpha
        while i < la and test(a[i]):
            i += 1
        while j < lb and test(b[j]):
            j += 1
        seg_a, seg_b = a[si:i], b[sj:j]

        # "numeric segments are always newer than alpha segments": the second
        # string has no segment of the first one's type here.
        if not seg_b:
            return 1 if isnum else -1

        if isnum:
            # "throw away any leading zeros - it's a number, right?"
            seg_a = seg_a.lstrip("0")
            seg_b = seg_b.lstrip("0")
            # "whichever number has more digits wins"
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1

        # Same-length numbers and alpha segments compare as strings (strcmp).
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1

    # "this catches the case where all numeric and alpha segments have
    # compared identically but the segment separating characters were
    # different"
    if i >= la and j >= lb:
        return 0
    # "whichever version still has characters left over wins"
    return -1 if i >= la else 1


def _epoch_int(epoch: int | str | None) -> int:
    # A missing epoch is 0, as in rpm.
    if epoch is None or epoch == "":
        return 0
    try:
        return int(epoch)
    except (TypeError, ValueError):
        return 0


def compare_evr(a: tuple, b: tuple) -> int:
    """Compare (epoch, version, release) tuples: epoch numerically, then
    version and release with `rpmvercmp`."""
    ea, eb = _epoch_int(a[0]), _epoch_int(b[0])
    if ea != eb:
        return 1 if ea > eb else -1
    rc = rpmvercmp(a[1] or "", b[1] or "")
    if rc:
        return rc
    return rpmvercmp(a[2] or "", b[2] or "")




def compare_uname_r(a: str, b: str) -> int:
    """Order two kernel releases ("2.6.18-274.el5") by version, then release,
    with rpmvercmp; identical orderings fall back to plain text so the
    result is total and stable."""
    va, _, ra = a.partition("-")
    vb, _, rb = b.partition("-")
    rc = compare_evr((0, va, ra), (0, vb, rb))
    if rc:
        return rc
    return (a > b) - (a < b)


def newest(releases: Iterable[str]) -> str | None:
    """The newest of some kernel releases, None if there are none."""
    ordered = sorted(releases, key=cmp_to_key(compare_uname_r))
    return ordered[-1] if ordered else None
