"""Which distribution a root filesystem holds, from its release files and an ELF header. No I/O.

The same precedence and names as libguestfs's inspection (daemon/inspect_fs_unix.ml):
/etc/os-release first unless it gives CentOS or Debian without a minor version,
then the distribution-specific release files, then redhat-release and
debian_version; the architecture from the ELF header of a system binary.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Release:
    distro: str                 # libguestfs's name: centos, rhel, fedora, debian, ...
    product: str
    major: int
    minor: int


# /etc/os-release ID → libguestfs distro name (libguestfs daemon/inspect_fs_unix.ml)
OS_RELEASE_IDS = {
    "almalinux": "almalinux", "alpine": "alpinelinux", "altlinux": "altlinux", "arch": "archlinux",
    "centos": "centos", "circle": "circle", "clear-linux-os": "clearlinux", "debian": "debian",
    "fedora": "fedora", "frugalware": "frugalware", "gentoo": "gentoo", "kali": "kalilinux",
    "linuxmint": "linuxmint", "mageia": "mageia", "neokylin": "neokylin", "ol": "oraclelinux",
    "openmandriva": "openmandriva", "opensuse": "opensuse", "opensuse-leap": "opensuse",
    "opensuse-tumbleweed": "opensuse", "rhel": "rhel", "rocky": "rocky", "scientific": "scientificlinux",
    "sled": "sles", "sles": "sles", "ubuntu": "ubuntu", "void": "voidlinux", "cirros": "cirros",
}
RPM_DISTROS = {"almalinux", "altlinux", "centos", "fedora", "mageia", "openmandriva", "opensuse",
               "oraclelinux", "redhat-based", "rhel", "rocky", "scientificlinux", "sles", "neokylin"}
DEB_DISTROS = {"debian", "ubuntu", "linuxmint", "kalilinux"}

# First line of /etc/redhat-release and friends: product prefix → distro.
_REDHAT_PRODUCTS = (
    ("Fedora", "fedora"),
    ("Red Hat Enterprise Linux", "rhel"),
    ("CentOS", "centos"),
    ("Scientific Linux", "scientificlinux"),
    ("Oracle Linux", "oraclelinux"),
    ("Enterprise Linux Enterprise Linux", "oraclelinux"),   # Oracle EL5's /etc/enterprise-release
    ("Rocky Linux", "rocky"),
    ("AlmaLinux", "almalinux"),
)
_RELEASE_UPDATE = re.compile(r"release (\d+)\D.*Update (\d+)")      # RHEL 4: "release 4 (Nahant Update 9)"
_RELEASE_VERSION = re.compile(r"release (\d+)(?:\.(\d+))?")


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0].strip()


def parse_redhat_release(text: str) -> Release | None:
    """ "CentOS Linux release 7.9.2009 (Core)" → centos 7.9; unknown products → redhat-based."""
    line = _first_line(text)
    if not line:
        return None
    distro = next((d for prefix, d in _REDHAT_PRODUCTS if line.startswith(prefix)), "redhat-based")
    m = _RELEASE_UPDATE.search(line) or _RELEASE_VERSION.search(line)
    if m is None:
        return Release(distro, line, 0, 0) if distro != "redhat-based" else None
    return Release(distro, line, int(m.group(1)), int(m.group(2) or 0))


def os_release_values(text: str) -> dict[str, str]:
    """The assignments of /etc/os-release (NAME, VERSION, ID, ...), quotes removed; nothing is evaluated."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if m:
            value = m.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[m.group(1)] = value
    return values


def parse_os_release(text: str) -> Release | None:
    """ID, VERSION_ID and PRETTY_NAME of /etc/os-release (shell-style assignments)."""
    values = os_release_values(text)
    os_id = values.get("ID", "").lower()
    if not os_id:
        return None
    distro = OS_RELEASE_IDS.get(os_id, "unknown")
    m = re.match(r"^(\d+)(?:\.(\d+))?", values.get("VERSION_ID", ""))
    major, minor = (int(m.group(1)), int(m.group(2) or 0)) if m else (0, 0)
    product = values.get("PRETTY_NAME") or values.get("NAME") or os_id
    return Release(distro, product, major, minor)


def parse_debian_version(text: str) -> Release | None:
    """ "12.5" → debian 12.5; "bookworm/sid" (testing, or Ubuntu's) → None."""
    line = _first_line(text)
    m = re.match(r"^(\d+)(?:\.(\d+))?", line)
    if not m:
        return None
    return Release("debian", f"Debian GNU/Linux {line}", int(m.group(1)), int(m.group(2) or 0))


# In libguestfs's order: os-release wins unless it gives CentOS or Debian
# without a minor version (their VERSION_ID is the major only), then the
# specific release files before the generic redhat-release (Oracle's
# redhat-release claims to be Red Hat).
RELEASE_FILES: tuple[tuple[str, Callable[[str], Release | None]], ...] = (
    ("/etc/os-release", parse_os_release),
    ("/etc/oracle-release", parse_redhat_release),
    ("/etc/enterprise-release", parse_redhat_release),
    ("/etc/fedora-release", parse_redhat_release),
    ("/etc/redhat-release", parse_redhat_release),
    ("/etc/centos-release", parse_redhat_release),
    ("/etc/system-release", parse_redhat_release),
    ("/etc/debian_version", parse_debian_version),
)


def choose_release(read: Callable[[str], str | None]) -> Release | None:
    """The release the guest's release files describe; `read(path)` gives a file's text or None.

    Files are read in order and only until one decides (a dict's `get` will do in tests).
    """
    fallback = None
    for path, parse in RELEASE_FILES:
        text = read(path)
        release = parse(text) if text is not None else None
        if release is None:
            continue
        if path == "/etc/os-release" and (release.distro == "unknown"
                                          or (release.distro in ("centos", "debian") and release.minor == 0)):
            fallback = release
            continue
        return release
    return fallback


# ELF e_machine → libguestfs's architecture name (ELF gABI machine numbers).
_ELF_MACHINES: dict[int, Callable[[int, str], str]] = {
    0x03: lambda bits, order: "i386",
    0x3E: lambda bits, order: "x86_64",
    0xB7: lambda bits, order: "aarch64",
    0x28: lambda bits, order: "arm",
    0x15: lambda bits, order: "ppc64le" if order == "<" else "ppc64",
    0x14: lambda bits, order: "ppc",
    0x16: lambda bits, order: "s390x" if bits == 64 else "s390",
    0x2B: lambda bits, order: "sparc64",
    0x02: lambda bits, order: "sparc",
    0x32: lambda bits, order: "ia64",
    0xF3: lambda bits, order: "riscv64" if bits == 64 else "riscv32",
    0x08: lambda bits, order: ("mips64" if bits == 64 else "mips") + ("el" if order == "<" else ""),
    0x102: lambda bits, order: "loongarch64",
}


def elf_arch(header: bytes) -> str | None:
    """The architecture of an ELF file from its first 20 bytes (e_ident, e_type, e_machine)."""
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[4] not in (1, 2) or header[5] not in (1, 2):
        return None
    bits = 32 if header[4] == 1 else 64
    order = "<" if header[5] == 1 else ">"
    machine, = struct.unpack_from(order + "H", header, 18)
    name = _ELF_MACHINES.get(machine)
    return name(bits, order) if name else None


def package_format(distro: str, has_rpmdb: bool, has_dpkg: bool) -> str:
    if distro in RPM_DISTROS:
        return "rpm"
    if distro in DEB_DISTROS:
        return "deb"
    if has_rpmdb:
        return "rpm"
    if has_dpkg:
        return "deb"
    return "unknown"
