"""Red Hat kernel naming: package names and their `uname -r`, with no I/O.

The rules come from the kernel.spec files of each EL release:

* EL5 and older:  KernelVer=%{version}-%{release}$Flavour
                  -> 2.6.18-274.el5, 2.6.18-274.el5PAE, 2.6.18-274.el5xen
* EL6 and EL7:    KernelVer=%{version}-%{release}.%{_target_cpu}${Flavour:+.${Flavour}}
                  -> 2.6.32-754.el6.x86_64, 3.10.0-1160.el7.x86_64.debug
* EL8 and later:  the flavour is joined with "+"
                  -> 4.18.0-348.el8.x86_64+debug

EL6 has no kernel-PAE package (its i686 `kernel` is already PAE), so the
EL6 form `....el6.i686.PAE` only appears on Fedora-era rebuilds; the rule
above still produces it if such a package is met.

Which rule applies is the family's decision (`rescue.distro.redhat`): the
functions here take the EL generation as a number, or read the ".elN" tag.
"""
from __future__ import annotations

import re

from rescue.model import RpmPackage

__all__ = [
    "is_kernel_package",
    "kernel_flavour",
    "el_major_of",
    "uname_r_for",
    "split_uname_r",
    "package_name_for",
    "package_file_for",
    "kernel_package_names",
    "KNOWN_ARCHES",
]

KNOWN_ARCHES = frozenset({
    "x86_64", "i386", "i486", "i586", "i686", "athlon", "noarch", "ia64",
    "ppc", "ppc64", "ppc64le", "ppc64p7", "s390", "s390x", "aarch64",
    "armv7hl", "armv7l", "armv6hl", "src",
})



# --- kernel package names --------------------------------------------------

# Words in a package name that make it something other than a bootable
# kernel image (kernel-devel, kernel-PAE-devel, kernel-debug-modules-extra...).
_NOT_IMAGE_PARTS = frozenset({
    "headers", "devel", "firmware", "doc", "tools", "libs", "debuginfo",
    "common", "module", "modules", "extra", "internal", "abi", "whitelists",
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


def kernel_package_names(uname_r: str, el: int | None = None, name: str | None = None) -> tuple[str, ...]:
    """Every package a kernel consists of on EL generation `el`, the image package first, in install order.

    EL7 and older: the one package (kernel, kernel-PAE, kernel-plus ...). EL8
    split it into kernel-core (the image), kernel-modules and the empty meta
    package kernel; EL9 split kernel-modules-core out of kernel-core:
      EL8  kernel-core, kernel-modules, kernel
      EL9  kernel-core, kernel-modules-core, kernel-modules, kernel
    (kernel-debug-core ... for a flavour). `el` defaults to the release's .elN tag.
    """
    el = el if el is not None else (el_major_of(split_uname_r(uname_r)[1]) or 0)
    image = name or package_name_for(uname_r)
    if el < 8:
        return (image,)
    base = image[:-len("-core")] if image.endswith("-core") else image
    names = [f"{base}-core"] + ([f"{base}-modules-core"] if el >= 9 else []) + [f"{base}-modules", base]
    return tuple(names)


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
