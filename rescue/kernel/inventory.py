"""Which kernels a guest holds: every source about one release joined into a `Kernel`.

Pure: the inputs are what `gather` read (files in /boot, /lib/modules trees,
the rpmdb's kernel packages); nothing here touches an image. Like virt-v2v's
`linux_kernels`, a kernel is keyed by its release (`uname -r`), and a boot file
is tied to a release by its file name.
"""
from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterable
from typing import Protocol

from rescue.kernel.bootfiles import is_kdump_initrd
from rescue.model import InitrdFile, Kernel, ModulesDir, RpmPackage, VmlinuzFile
from rescue.rpm.vercmp import compare_uname_r


def newest_first(releases: Iterable[str]) -> list[str]:
    """Releases sorted newest first: version, then release, by rpmvercmp (ties by text)."""
    return sorted(set(releases), key=functools.cmp_to_key(compare_uname_r), reverse=True)


def _literal_initrd_release(filename: str) -> str:
    """The text between "initrd-"/"initramfs-" and ".img", kdump suffix included."""
    base = posixpath.basename(filename)
    return re.sub(r"^(initrd|initramfs)-|\.img$", "", base)


def _boot_initrds(initrds: Iterable[InitrdFile], vmlinuz_releases: set[str]) -> dict[str, InitrdFile]:
    """Initrds by release, leaving out kdump initrds.

    A "...kdump.img" is kept only when a vmlinuz carries that literal release:
    then it is the boot initrd of a "kdump" flavour kernel (EL5's kernel-kdump,
    vmlinuz-2.6.18-274.el5kdump), not a crash-kernel image.
    """
    by_release: dict[str, InitrdFile] = {}
    for initrd in initrds:
        release = initrd.name_release
        if is_kdump_initrd(initrd.path):
            release = _literal_initrd_release(initrd.path)
            if release not in vmlinuz_releases:
                continue
        by_release.setdefault(release, initrd)
    return by_release


class KernelNaming(Protocol):
    """How a distribution family names its kernel packages (rescue.distro.Family is one)."""

    def is_kernel_package(self, name: str) -> bool: ...

    def uname_r_for(self, package: RpmPackage) -> str: ...


def _packages_by_release(packages: Iterable[RpmPackage], naming: KernelNaming) -> dict[str, RpmPackage]:
    """Kernel packages by the release they install; the first one listed wins a tie."""
    by_release: dict[str, RpmPackage] = {}
    for pkg in packages:
        if naming.is_kernel_package(pkg.name):
            by_release.setdefault(naming.uname_r_for(pkg), pkg)
    return by_release


def _match_unusual_releases(by_package: dict[str, RpmPackage], on_disk: set[str]) -> dict[str, RpmPackage]:
    """Re-key a package whose computed release matches no file, when exactly one
    release on disk extends its VERSION-RELEASE (rebuilt or third-party kernels
    such as `6.1.0-56-amd64` packaged as kernel-6.1.0-56)."""
    claimed = set(by_package) & on_disk
    result = {}
    for key, pkg in by_package.items():
        if key not in on_disk:
            stem = f"{pkg.version}-{pkg.release}"
            hits = [r for r in on_disk - claimed
                    if r == stem or r.startswith(stem + "-") or r.startswith(stem + ".")]
            if len(hits) == 1:
                key = hits[0]
                claimed.add(key)
        result[key] = pkg
    return result


def join_kernels(
    vmlinuz: Iterable[VmlinuzFile],
    initrds: Iterable[InitrdFile],
    modules: Iterable[ModulesDir],
    system_maps: Iterable[str],
    configs: Iterable[str],
    packages: Iterable[RpmPackage],
    naming: KernelNaming | None,
) -> tuple[Kernel, ...]:
    """One `Kernel` per release seen in any source, newest first.

    A vmlinuz is keyed by the release in its file name, not the one in its
    header: GRUB and the initrd scripts find files by name, and a renamed kernel
    is exactly what `rules` must be able to point at. Packages are read with the
    family's `naming`; without one (a guest of no known family) they are left out.
    """
    by_vmlinuz: dict[str, VmlinuzFile] = {}
    for v in vmlinuz:
        by_vmlinuz.setdefault(v.name_release, v)
    by_initrd = _boot_initrds(initrds, set(by_vmlinuz))
    by_modules: dict[str, ModulesDir] = {}
    for m in modules:
        by_modules.setdefault(m.release, m)
    maps = set(system_maps)
    confs = set(configs)
    on_disk = set(by_vmlinuz) | set(by_initrd) | set(by_modules) | maps | confs
    by_package = _match_unusual_releases(_packages_by_release(packages, naming) if naming else {}, on_disk)

    releases = on_disk | set(by_package)
    return tuple(
        Kernel(
            uname_r=r,
            vmlinuz=by_vmlinuz.get(r),
            initrd=by_initrd.get(r),
            modules=by_modules.get(r),
            system_map=r in maps,
            config=r in confs,
            rpm=by_package.get(r),
        )
        for r in newest_first(releases)
    )


def booted_release(kernel: Kernel) -> str | None:
    """The `uname -r` this kernel reports once booted: its header's release if known.

    A kernel copied under another name still looks for /lib/modules/<header release>.
    """
    if kernel.vmlinuz is None:
        return None
    return kernel.vmlinuz.embedded_release or kernel.vmlinuz.name_release
