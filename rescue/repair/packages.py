"""Find every package a repair installs, and verify each against the guest's own keys.

The kernel's image package (kernel on EL7 and older, kernel-core on EL8+) is
looked for in the files and directories the operator gave, then in a yum
repository (--repo), then in the guest's own package cache, and chosen by its
header (`rescue.rpm.sources.select`); the packages it comes with on this
release (EL8: kernel-modules and kernel; EL9: also kernel-modules-core) must be
the same build, found in the same places. Each is verified as rescue.rpm.verify
does (kernel or build, arch, digests, signature). Reads only: the guest is
mounted read-only while this runs.
"""
from __future__ import annotations

import posixpath
from pathlib import Path

from rescue.distro import Family
from rescue.errors import Exit, RescueError
from rescue.guest.session import Guest
from rescue.repair.plan import PackageChoice
from rescue.rpm.header import RpmFormatError, RpmHeader, header_span, kernel_uname_r, read_rpm_header
from rescue.rpm.repodata import find_in_repo, find_member_in_repo
from rescue.rpm.sources import FoundRpm, scan_paths, select
from rescue.rpm.verify import check_candidate, check_member, split_armored_keys, verify_rpm

HEADER_PROBE = 64 * 1024


def find_packages(guest: Guest, family: Family, target: str, *, rpms: tuple[Path, ...], dirs: tuple[Path, ...],
                  repo: str | None, nosignature: bool, workdir: Path, notes: list[str]) -> tuple[PackageChoice, ...]:
    """The kernel's packages on this release, the image's first, each verified; RescueError if one is missing."""
    arch = family.os.arch
    names = family.kernel_packages(target)
    image_name = names[0] if len(names) > 1 else None     # EL8+: the image is kernel-core's, never kernel's
    found = scan_paths(list(rpms), list(dirs), notes)
    cache = _GuestCache(guest, family, workdir)
    best, rejected = select(found, target, arch, image_name)
    source = "the given files and directories"
    if best is None and repo:
        best, repo_rejected = find_in_repo(repo, target, arch, workdir, image_name=image_name)
        rejected = [*rejected, *((r, why) for r, why in repo_rejected)]
        source = repo
    if best is None:
        best = cache.first(lambda path, h: kernel_uname_r(h) == target
                           and not check_candidate(path, h, target, arch, image_name))
        source = "the guest's yum cache"
    files = family.package_files_for(target, arch)
    if best is None:
        reasons = "; ".join(f"{getattr(r, 'path', r)}: {why}" for r, why in rejected[:6])
        raise RescueError(
            "RPM_NOT_FOUND",
            f"No RPM of kernel {target} for {arch} was found"
            + (f" (looked at: {reasons})" if reasons else "") + "; nothing was written.",
            f"Download the package{'s' if len(files) > 1 else ''} (e.g. {', '.join(files)}) from the "
            "distribution's mirror or vault and pass --from DIR or --rpm FILE.",
            Exit.REFUSED)
    keys = guest_keys(guest, family)
    choices = [_verified(best, source, target, arch, keys, nosignature, notes)]
    missing = []
    for name, file in zip(family.kernel_packages(target)[1:], files[1:]):
        member, where = _member(name, best.header, found, cache, repo, workdir)
        if member is None:
            missing.append(file)
            continue
        choices.append(_verified(member, where, target, arch, keys, nosignature, notes,
                                 fits=lambda path, header, name=name: check_member(path, header, name, best.header)))
    if missing:
        raise RescueError(
            "RPM_NOT_FOUND",
            f"Kernel {target} is {len(files)} packages on this release ({', '.join(family.kernel_packages(target))}); "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing beside {best.path}; "
            "nothing was written.",
            f"Download {', '.join(missing)} (the same build as {best.header.nvra}) and pass them with --from or "
            "--rpm.", Exit.REFUSED)
    return tuple(choices)


def _verified(found: FoundRpm, source: str, target: str, arch: str, keys: list[bytes], nosignature: bool,
              notes: list[str], fits=None) -> PackageChoice:
    verified = verify_rpm(found.path, target, arch, keys, nosignature, fits=fits)
    sig = verified.signature
    if sig is not None and sig.status != "ok":
        notes.append(f"{verified.header.nvra}: {sig.detail}")
    return PackageChoice(verified, source)


def _member(name: str, image: RpmHeader, found: list[FoundRpm], cache: "_GuestCache", repo: str | None,
            workdir: Path) -> tuple[FoundRpm | None, str]:
    def same_build(path, header: RpmHeader) -> bool:
        return not check_member(path, header, name, image)

    hit = next((f for f in found if same_build(f.path, f.header)), None)
    if hit is not None:
        return hit, "the given files and directories"
    if repo:
        hit = find_member_in_repo(repo, name, image, workdir)
        if hit is not None:
            return hit, repo
    return cache.first(same_build), "the guest's yum cache"


class _GuestCache:
    """The RPMs in the guest's package cache, their headers read once (and only when asked);
    the one chosen is copied out to `workdir`."""

    def __init__(self, guest: Guest, family: Family, workdir: Path):
        self.guest, self.dir, self.workdir = guest, family.package_cache_dir, workdir
        self._headers: list[tuple[str, RpmHeader]] | None = None

    def first(self, wanted) -> FoundRpm | None:
        for path, header in self._read():
            if wanted(path, header):
                local = self.workdir / posixpath.basename(path)
                self.guest.download(path, str(local))
                return FoundRpm(local, header)
        return None

    def _read(self) -> list[tuple[str, RpmHeader]]:
        if self._headers is None:
            self._headers = []
            for rel in self.guest.find(self.dir):
                path = f"{self.dir}/{rel}"
                if not rel.endswith(".rpm") or not self.guest.is_file(path):   # a FIFO named *.rpm would block
                    continue
                try:
                    data = self.guest.read(path, HEADER_PROBE)
                    need = header_span(data)
                    if need > len(data):
                        data = self.guest.read(path, need)
                    self._headers.append((path, read_rpm_header(data)))
                except (RuntimeError, RpmFormatError):
                    continue
        return self._headers


def guest_keys(guest: Guest, family: Family) -> list[bytes]:
    """The package signing keys the guest itself trusts (its /etc/pki/rpm-gpg)."""
    keys: list[bytes] = []
    for name in guest.ls(family.package_keys_dir):
        path = f"{family.package_keys_dir}/{name}"
        if guest.is_file(path):
            keys.extend(split_armored_keys(guest.read(path, 1024 * 1024)))
    return keys
