"""The Red Hat family: RHEL and its rebuilds (CentOS, Scientific Linux, Oracle, Rocky, Alma) and Fedora.

What changes with the release is decided here, from the guest's EL generation:
kernel naming (`redhat_naming`, EL5 / EL6-7 / EL8+ forms), the initrd (mkinitrd's
initrd-R.img up to EL5, dracut's initramfs-R.img from EL6), the boot loader a
release installs (GRUB legacy up to EL6, GRUB 2 from EL7), the yum priorities
plugin's package name. Fedora releases are mapped onto the EL generation they
were branched from, so that Fedora 19 names kernels like EL7 and Fedora 28
like EL8; an unknown release is read from each package's own ".elN" tag.
"""
from __future__ import annotations

import posixpath

from rescue.distro import Family
from rescue.distro import redhat_naming
from rescue.model import OsInfo, RpmPackage

__all__ = ["RedHat"]

EL_DISTROS = frozenset({"rhel", "centos", "scientificlinux", "oraclelinux", "rocky", "almalinux", "circle",
                        "redhat-based"})
# Fedora release -> the EL generation branched from it (EL7 from F19, EL8 from F28, EL9 from F34).
_FEDORA_EL = ((34, 9), (28, 8), (19, 7), (12, 6), (6, 5))


def el_generation(os_info: OsInfo) -> int | None:
    """The EL major release whose rules this guest follows; None when the release says nothing."""
    if os_info.distro == "fedora":
        return next((el for fedora, el in _FEDORA_EL if os_info.major >= fedora), None)
    return os_info.major or None


class RedHat(Family):
    name = "redhat"
    distros = EL_DISTROS | {"fedora"}
    initrd_tools = ("dracut", "mkinitrd")
    package_keys_dir = "/etc/pki/rpm-gpg"
    package_cache_dir = "/var/cache/yum"

    def __init__(self, os_info: OsInfo):
        super().__init__(os_info)
        self.el = el_generation(os_info)

    @classmethod
    def of_release(cls, major: int, distro: str = "centos") -> "RedHat":
        """The family of a release known only by its number (tests, tables)."""
        return cls(OsInfo(root="", distro=distro, product="", major=major, minor=0, arch="x86_64",
                          package_format="rpm"))

    def is_kernel_package(self, name: str) -> bool:
        return redhat_naming.is_kernel_package(name)

    def uname_r_for(self, package: RpmPackage) -> str:
        return redhat_naming.uname_r_for(package, self.el)

    def package_file_for(self, uname_r: str, arch: str) -> str:
        return redhat_naming.package_file_for(uname_r, arch, self.kernel_packages(uname_r)[0])

    def kernel_packages(self, uname_r: str) -> tuple[str, ...]:
        return redhat_naming.kernel_package_names(uname_r, self.el)

    def boot_files(self, uname_r: str) -> tuple[tuple[str, str], ...]:
        # EL8+ kernel-core keeps its image in /lib/modules/R; its %posttrans
        # (kernel-install, 20-grub.install) copies it and its companions to /boot.
        if (self.el or 0) < 8:
            return ()
        top = f"/lib/modules/{uname_r}"
        return ((f"{top}/vmlinuz", f"/boot/vmlinuz-{uname_r}"), (f"{top}/.vmlinuz.hmac", f"/boot/.vmlinuz-{uname_r}.hmac"),
                (f"{top}/System.map", f"/boot/System.map-{uname_r}"), (f"{top}/config", f"/boot/config-{uname_r}"),
                (f"{top}/symvers.gz", f"/boot/symvers-{uname_r}.gz"))

    def initrd_name(self, uname_r: str) -> str:
        return initrd_name(uname_r, self.el or 0)

    def initrd_command(self, tool: str, path: str, uname_r: str, drivers: list[str]) -> list[str]:
        if posixpath.basename(tool) == "dracut":
            return [tool, "-f"] + (["--add-drivers", " ".join(drivers)] if drivers else []) + [path, uname_r]
        return [tool, "-f"] + [f"--with={d}" for d in drivers] + [path, uname_r]

    def needs_initrd(self) -> bool:
        # EL5 and later always boot through an initrd (older ones only for a root on LVM).
        return (self.el or 0) >= 5

    def bootloader_kind(self) -> str:
        return "grub-legacy" if (self.el or 0) <= 6 else "grub2"

    def title(self) -> str:
        return {"centos": "CentOS", "rhel": "Red Hat Enterprise Linux", "scientificlinux": "Scientific Linux",
                "oraclelinux": "Oracle Linux", "fedora": "Fedora"}.get(self.os.distro, self.os.distro.title())

    def install_command(self, rpm: str, packages: list[str]) -> list[str]:
        # --noscripts: the kernel's %post (new-kernel-pkg/grubby) would run the
        # appliance's view of the world; vmrescue does its steps explicitly.
        # --nodeps: a half-updated guest may not satisfy them, and they name the
        # very tools (mkinitrd/dracut) checked for before.
        return [rpm, "-ivh", "--force", "--noscripts", "--nodeps", *packages]

    def priorities_package(self) -> str:
        return "yum-priorities" if (self.el or 0) <= 5 else "yum-plugin-priorities"


def initrd_name(uname_r: str, el_major: int) -> str:
    """The initrd file name the distribution uses: mkinitrd's initrd-R.img up
    to EL5, dracut's initramfs-R.img from EL6."""
    return f"initrd-{uname_r}.img" if el_major <= 5 else f"initramfs-{uname_r}.img"
