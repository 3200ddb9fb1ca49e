"""Distribution families: what a family knows, behind one interface (`Family`), one module each.

    redhat   RHEL, CentOS, Scientific Linux, Oracle Linux, Rocky, AlmaLinux, Fedora

A family answers, for one guest's release: how its kernel packages are named
and which `uname -r` each installs, what its initrd file is called and which
of its tools builds it (with which arguments), how a package is installed,
which boot loader a release without any configuration boots with, and what
its package manager's files say (`yum`). `family_for` picks the family from
the inspected OS; None means vmrescue can diagnose the guest but not repair it.
Adding a family (Debian, SUSE) is one module implementing `Family`, plus its
fixtures.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from rescue.model import OsInfo, RpmPackage

__all__ = ["Family", "family_for"]


class Family(ABC):
    """One distribution family, for one guest's release."""

    name: ClassVar[str]
    distros: ClassVar[frozenset[str]]          # libguestfs distro names it covers

    def __init__(self, os_info: OsInfo):
        self.os = os_info

    # --- kernel packages and their releases --------------------------------------

    @abstractmethod
    def is_kernel_package(self, name: str) -> bool:
        """Whether a package installs a bootable kernel image."""

    @abstractmethod
    def uname_r_for(self, package: RpmPackage) -> str:
        """The `uname -r` a kernel package installs on this release."""

    @abstractmethod
    def package_file_for(self, uname_r: str, arch: str) -> str:
        """The file name of the package that installs kernel `uname_r`'s image."""

    @abstractmethod
    def kernel_packages(self, uname_r: str) -> tuple[str, ...]:
        """The names of every package kernel `uname_r` consists of on this release, the image's first."""

    def package_files_for(self, uname_r: str, arch: str) -> tuple[str, ...]:
        """The file names of those packages."""
        image = self.package_file_for(uname_r, arch)
        names = self.kernel_packages(uname_r)
        return tuple(image.replace(names[0], name, 1) for name in names)

    def boot_files(self, uname_r: str) -> tuple[tuple[str, str], ...]:
        """(file the package installs, where the boot loader needs it) that the package's own scriptlet
        copies; () when the package puts its files in /boot itself."""
        return ()

    # --- booting it ------------------------------------------------------------------

    @abstractmethod
    def initrd_name(self, uname_r: str) -> str:
        """The initrd's file name in /boot for kernel `uname_r`."""

    initrd_tools: ClassVar[tuple[str, ...]]    # the guest programs that build it, preferred first

    @abstractmethod
    def initrd_command(self, tool: str, path: str, uname_r: str, drivers: list[str]) -> list[str]:
        """The guest command that builds `path` for `uname_r` with `drivers` in it."""

    @abstractmethod
    def needs_initrd(self) -> bool:
        """Whether this release's kernels cannot mount their root without an initrd."""

    @abstractmethod
    def bootloader_kind(self) -> str:
        """The boot loader kind this release installs (for a guest whose configuration is gone)."""

    @abstractmethod
    def title(self) -> str:
        """The distribution's name in boot menu titles: "CentOS", "Red Hat Enterprise Linux"."""

    # --- packages ------------------------------------------------------------------------

    @abstractmethod
    def install_command(self, rpm: str, packages: list[str]) -> list[str]:
        """The guest command that installs the package files `packages` with the guest's `rpm`, in one
        transaction."""

    package_keys_dir: ClassVar[str]           # the guest's package signing keys
    package_cache_dir: ClassVar[str]          # where the guest's package manager caches packages

    @abstractmethod
    def priorities_package(self) -> str:
        """The package of the yum priorities plugin on this release."""


def family_for(os_info: OsInfo | None) -> Family | None:
    """The family of the inspected OS, None when vmrescue has none for it."""
    from rescue.distro.redhat import RedHat   # noqa: PLC0415 - the families import this module

    if os_info is None:
        return None
    for family in (RedHat,):
        if os_info.distro in family.distros and os_info.package_format == "rpm":
            return family(os_info)
    return None
