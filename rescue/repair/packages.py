"""Find the kernel package a repair installs, and verify it against the guest's own keys.

Looked for in the files and directories the operator gave, then in a yum
repository (--repo), then in the guest's own package cache; verified as
rescue.rpm.verify does (kernel, release, arch, digests, signature). Reads only:
the guest is mounted read-only while this runs.
"""
from __future__ import annotations

import posixpath
from pathlib import Path

from rescue.distro import Family
from rescue.errors import Exit, RescueError
from rescue.guest.session import Guest
from rescue.repair.plan import PackageChoice
from rescue.rpm.header import RpmFormatError, header_span, kernel_uname_r, read_rpm_header
from rescue.rpm.repodata import find_in_repo
from rescue.rpm.sources import FoundRpm, scan_paths, select
from rescue.rpm.verify import check_candidate, split_armored_keys, verify_rpm

HEADER_PROBE = 64 * 1024


def find_package(guest: Guest, family: Family, target: str, *, rpms: tuple[Path, ...], dirs: tuple[Path, ...],
                 repo: str | None, nosignature: bool, workdir: Path, notes: list[str]) -> PackageChoice:
    arch = family.os.arch
    found = scan_paths(list(rpms), list(dirs), notes)
    best, rejected = select(found, target, arch)
    source = "the given files and directories"
    if best is None and repo:
        best, repo_rejected = find_in_repo(repo, target, arch, workdir)
        rejected = [*rejected, *((r, why) for r, why in repo_rejected)]
        source = repo
    if best is None:
        best = from_guest_cache(guest, family, target, workdir)
        source = "the guest's yum cache"
    if best is None:
        reasons = "; ".join(f"{getattr(r, 'path', r)}: {why}" for r, why in rejected[:6])
        raise RescueError(
            "RPM_NOT_FOUND",
            f"No RPM of kernel {target} for {arch} was found"
            + (f" (looked at: {reasons})" if reasons else "") + "; nothing was written.",
            f"Download the package (e.g. {_package_file(family, target, arch)}) from the distribution's "
            "mirror or vault and pass --from DIR or --rpm FILE.",
            Exit.REFUSED)
    verified = verify_rpm(best.path, target, arch, guest_keys(guest, family), nosignature)
    sig = verified.signature
    if sig is not None and sig.status != "ok":
        notes.append(f"{verified.header.nvra}: {sig.detail}")
    return PackageChoice(verified, source)


def from_guest_cache(guest: Guest, family: Family, target: str, workdir: Path) -> FoundRpm | None:
    """The kernel's package in the guest's own package cache, copied out to `workdir`."""
    cache = family.package_cache_dir
    for rel in guest.find(cache):
        if not rel.endswith(".rpm"):
            continue
        path = f"{cache}/{rel}"
        if not guest.is_file(path):    # a FIFO named *.rpm would block the read for ever
            continue
        try:
            data = guest.read(path, HEADER_PROBE)
            need = header_span(data)
            if need > len(data):
                data = guest.read(path, need)
            header = read_rpm_header(data)
        except (RuntimeError, RpmFormatError):
            continue
        if kernel_uname_r(header) != target or check_candidate(path, header, target, family.os.arch):
            continue
        local = workdir / posixpath.basename(path)
        guest.download(path, str(local))
        return FoundRpm(local, header)
    return None


def guest_keys(guest: Guest, family: Family) -> list[bytes]:
    """The package signing keys the guest itself trusts (its /etc/pki/rpm-gpg)."""
    keys: list[bytes] = []
    for name in guest.ls(family.package_keys_dir):
        path = f"{family.package_keys_dir}/{name}"
        if guest.is_file(path):
            keys.extend(split_armored_keys(guest.read(path, 1024 * 1024)))
    return keys


def _package_file(family: Family, uname_r: str, arch: str) -> str:
    try:
        return family.package_file_for(uname_r, arch)
    except ValueError:
        return f"kernel-{uname_r}.rpm"
