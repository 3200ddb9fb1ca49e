"""RPM version ordering and Red Hat kernel naming, with no I/O.

`rpmvercmp` follows rpm's lib/rpmvercmp.c (rpm >= 4.15, which added `^`);
the rules are quoted next to the code that implements them. The kernel
naming rules come from the kernel.spec files of each EL release:

* EL5 and older:  KernelVer=%{version}-%{release}$Flavour
                  -> 2.6.18-274.el5, 2.6.18-274.el5PAE, 2.6.18-274.el5xen
* EL6 and EL7:    KernelVer=%{version}-%{release}.%{_target_cpu}${Flavour:+.${Flavour}}
                  -> 2.6.32-754.el6.x86_64, 3.10.0-1160.el7.x86_64.debug
* EL8 and later:  the flavour is joined with "+"
                  -> 4.18.0-348.el8.x86_64+debug

EL6 has no kernel-PAE package (its i686 `kernel` is already PAE), so the
EL6 form `....el6.i686.PAE` only appears on Fedora-era rebuilds; the rule
above still produces it if such a package is met.
"""
from __future__ import annotations

import re
from functools import cmp_to_key
from typing import Iterable

from rescue.model import RpmPackage

__all__ = [
    "rpmvercmp",
    "compare_evr",
    "is_kernel_package",
    "kernel_flavour",
    "el_major_of",
    "uname_r_for",
    "split_uname_r",
    "package_name_for",
    "package_file_for",
    "compare_uname_r",
    "newest",
    "KNOWN_ARCHES",
]

KNOWN_ARCHES = frozenset({
    "x86_64", "i386", "i486", "i586", "i686", "athlon", "noarch", "ia64",
    "ppc", "ppc64", "ppc64le", "ppc64p7", "s390", "s390x", "aarch64",
    "armv7hl", "armv7l", "armv6hl", "src",
})


# --- rpmvercmp -------------------------------------------------------------

def _isdigit(c: str) -> bool:
    # rpm uses its own ASCII-only risdigit/risalpha, not the locale's.
    return "0" <= c <= "9"


def _isalpha(c: str) -> bool:
    return "a" <= c <= "z" or "A" <= c <= "Z"


def _isalnum(c: str) -> bool:
    return _isdigit(c) or _isalpha(c)


def rpmvercmp(a: str, b: str) -> int:
    """Compare two version (or release) strings the way rpm does.

    Returns 1 if `a` is newer, 0 if they are the same version, -1 if `b`
    is newer.
    """
    # "easy comparison to see if versions are identical"
    if a == b:
        return 0
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        # Separators are every character that is not alphanumeric, "~" or
        # "^"; runs of them are skipped and all separators compare equal.
        while i < la and not _isalnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < lb and not _isalnum(b[j]) and b[j] not in "~^":
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
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
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


# --- kernel package names --------------------------------------------------

# Words in a package name that make it something other than a bootable
# kernel image (kernel-devel, kernel-PAE-devel, kernel-debug-modules-extra...).
_NOT_IMAGE_PARTS = frozenset({
    "headers", "devel", "firmware", "doc", "tools", "libs", "debuginfo",
    "common", "modules", "extra", "internal", "abi", "whitelists",
    "stablelists", "cross", "bootwrapper", "source", "utils", "selftests",
    "ipaclones", "uki", "virt", "srpm", "macros", "rpm",
})

# Package-name suffixes whose kernels carry no flavour in `uname -r`:
# CentOS plus builds ("kernel-plus" on EL7) and ELRepo's mainline/long-term.
_NO_UNAME_FLAVOUR = frozenset({"plus", "ml", "lt"})


def is_kernel_package(name: str) -> bool:
    """True for packages that ship a bootable kernel image: kernel,
    kernel-PAE, kernel-xen, kernel-plus, kernel-core (EL8+), ...; False for
    kernel-headers, kernel-devel, kernel-firmware, kernel-doc and the like."""
    if name == "kernel":
        return True
    if not name.startswith("kernel-"):
        return False
    parts = name[len("kernel-"):].split("-")
    if not all(parts):
        return False
    return not any(p.lower() in _NOT_IMAGE_PARTS for p in parts)


def kernel_flavour(package_name: str) -> str:
    """The flavour a kernel package adds to `uname -r`.

    "kernel" -> "", "kernel-PAE" -> "PAE", "kernel-xen" -> "xen",
    "kernel-plus" -> "", "kernel-core" -> "", "kernel-debug-core" -> "debug".
    Raises ValueError for packages that are not kernel images (filter with
    `is_kernel_package` first): asking for the flavour of kernel-devel is a
    caller bug, and a guess would produce a wrong package file name.
    """
    if not is_kernel_package(package_name):
        raise ValueError(f"{package_name!r} is not a kernel image package")
    if package_name == "kernel":
        return ""
    parts = package_name[len("kernel-"):].split("-")
    # EL8+ split packages: kernel-core, kernel-debug-core hold the image.
    if parts[-1] == "core":
        parts = parts[:-1]
    parts = [p for p in parts if p not in _NO_UNAME_FLAVOUR]
    return "-".join(parts)


_EL_RE = re.compile(r"\.el(\d+)")


def el_major_of(release: str) -> int | None:
    """The EL major release a package release names: "274.el5" -> 5,
    "1160.el7_9" -> 7; None when there is no ".elN" tag."""
    m = _EL_RE.search(release)
    return int(m.group(1)) if m else None


def _kernel_arch(arch: str) -> str:
    # 32-bit EL guests report "i386", but their kernels are built for i686.
    return "i686" if arch in ("i386", "i486", "i586") else arch


def uname_r_for(pkg: RpmPackage, el_major: int | None = None) -> str:
    """The `uname -r` (and /lib/modules directory name) a kernel package
    installs. `el_major` defaults to the ".elN" tag of the release."""
    flavour = kernel_flavour(pkg.name)
    if el_major is None:
        el_major = el_major_of(pkg.release) or 0
    base = f"{pkg.version}-{pkg.release}"
    if 0 < el_major <= 5:
        return base + flavour
    arch = _kernel_arch(pkg.arch)
    if el_major >= 8:
        return f"{base}.{arch}" + (f"+{flavour}" if flavour else "")
    # EL6, EL7, and unknown releases with an arch (the Fedora-era form).
    return f"{base}.{arch}" + (f".{flavour}" if flavour else "")


# EL5-era flavours appended straight to the release ("274.el5PAE").
# Longest first so "PAE-debug" is not read as "debug".
_EL5_FLAVOURS = ("PAE-debug", "xen-debug", "PAE", "xen", "debug", "kdump",
                 "hugemem", "largesmp", "smp", "BOOT")


def split_uname_r(uname_r: str) -> tuple[str, str, str, str | None]:
    """Split a `uname -r` into (version, release, flavour, arch or None).

    Best effort, following the forms in the module docstring:
      "2.6.18-274.el5xen"                -> ("2.6.18", "274.el5", "xen", None)
      "2.6.32-754.el6.x86_64"            -> ("2.6.32", "754.el6", "", "x86_64")
      "3.10.0-1160.el7.x86_64.debug"     -> ("3.10.0", "1160.el7", "debug", "x86_64")
      "4.18.0-348.el8.x86_64+debug"      -> ("4.18.0", "348.el8", "debug", "x86_64")
    """
    version, _, rest = uname_r.partition("-")
    flavour = ""
    arch: str | None = None

    if "+" in rest:                      # EL8+: "...x86_64+debug"
        rest, _, flavour = rest.rpartition("+")

    parts = rest.split(".")
    if len(parts) >= 2 and parts[-1] in KNOWN_ARCHES:
        arch = parts[-1]
        rest = ".".join(parts[:-1])
    elif len(parts) >= 3 and parts[-2] in KNOWN_ARCHES and not flavour:
        arch, flavour = parts[-2], parts[-1]       # EL6/EL7: ".x86_64.debug"
        rest = ".".join(parts[:-2])
    elif not flavour:
        # EL5: the flavour is glued to the last release word ("el5PAE").
        for f in _EL5_FLAVOURS:
            if rest.endswith(f) and len(rest) > len(f) and rest[-len(f) - 1] != ".":
                flavour = f
                rest = rest[: -len(f)]
                break
    return version, rest, flavour, arch


def package_name_for(uname_r: str, name: str | None = None) -> str:
    """The kernel package name that installs `uname_r`, unless the caller
    already knows it (`name`, e.g. from the rpm database or yum.log).

    CentOS plus kernels are package "kernel" on EL5/EL6 but "kernel-plus"
    on EL7; EL8+ images live in "kernel-core" / "kernel-<flavour>-core".
    ELRepo kernels (".elrepo") can be kernel-ml or kernel-lt, which the
    name cannot tell; "kernel-ml" is returned and callers should pass `name`.
    """
    if name:
        return name
    _version, release, flavour, _arch = split_uname_r(uname_r)
    el = el_major_of(release) or 0
    if "elrepo" in release:
        base = "kernel-ml"
    elif el == 7 and "centos.plus" in release:
        base = "kernel-plus"
    else:
        base = "kernel"
    if flavour:
        base = f"{base}-{flavour}"
    if el >= 8 and "elrepo" not in release:
        base += "-core"
    return base


def package_file_for(uname_r: str, arch: str, name: str | None = None) -> str:
    """The RPM file name that provides the kernel `uname_r`.

    The arch written in `uname_r` (EL6+) wins over `arch`; i386 guests get
    i686 kernels.
      "2.6.18-274.el5xen", "x86_64"      -> "kernel-xen-2.6.18-274.el5.x86_64.rpm"
      "2.6.32-754.el6.x86_64", "x86_64"  -> "kernel-2.6.32-754.el6.x86_64.rpm"
    """
    version, release, _flavour, uarch = split_uname_r(uname_r)
    pkg = package_name_for(uname_r, name)
    return f"{pkg}-{version}-{release}.{uarch or _kernel_arch(arch)}.rpm"


# --- ordering kernels ------------------------------------------------------

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
