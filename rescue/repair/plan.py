"""A kernel reinstall as a plan value: decided, checked and printed before the first write. Pure.

`reinstall.plan_reinstall` fills a `RepairPlan` while the guest is mounted
read-only; the CLI prints it (the dry run and the real run print the same
value); `reinstall.apply_plan` then runs its steps, each a function of
`rescue.repair.steps` taking only what it needs. The small decisions the plan
is made of (which kernel, which drivers the initrd needs) are here, tested on
tables.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from rescue.bootloader.base import BootLoaderPlan
from rescue.errors import Exit, RescueError
from rescue.model import Diagnosis
from rescue.rpm.verify import VerifiedRpm

_ALIAS = re.compile(r"^\s*alias\s+(scsi_hostadapter\d*|eth\d+)\s+(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class PackageChoice:
    verified: VerifiedRpm
    source: str                          # where it was found, said plainly

    @property
    def path(self) -> Path:
        return self.verified.path


@dataclass(frozen=True)
class InitrdBuild:
    argv: tuple[str, ...]                # the guest's dracut/mkinitrd, as it will run
    path: str                            # the initrd it writes
    drivers: tuple[str, ...]             # root drivers it must contain


@dataclass(frozen=True)
class RepairPlan:
    image: str
    target: str                          # the kernel release to boot
    target_reason: str
    packages: tuple[PackageChoice, ...]  # every package of the kernel on this release, the image's first
    backups: tuple[tuple[str, str], ...]     # (file, its backup) before anything is overwritten
    install: tuple[str, ...] | None      # the guest's rpm command (one transaction); None: vmrescue unpacks them
    install_why: str                     # why that method
    boot_files: tuple[tuple[str, str], ...]  # (installed file, /boot copy) the package's scriptlet would make
    depmod: tuple[str, ...] | None
    initrd: InitrdBuild
    bootloader: BootLoaderPlan
    relabel: str | None                  # SELinux mode that makes the first boot relabel, None: no relabel
    notes: tuple[str, ...] = ()

    @property
    def package(self) -> PackageChoice:
        return self.packages[0]

    def steps(self) -> list[tuple[str, str]]:
        """The plan, one (step, detail) line each, in the order they run."""
        steps = [("target", f"kernel {self.target} ({self.target_reason})")]
        for choice in self.packages:
            sig = choice.verified.signature
            signed = (f"signature {sig.status}" + (f" (key {sig.key_id})" if sig.key_id else "")) if sig else \
                "signature not checked (--nosignature)"
            steps.append(("package", f"{choice.path} from {choice.source}: {choice.verified.header.nvra}, "
                                     f"digests ok, {signed}"))
        if self.backups:
            steps.append(("backup", ", ".join(copy for _, copy in self.backups)))
        names = " ".join(choice.path.name for choice in self.packages)
        if self.install is not None:
            options = [word for word in self.install[1:] if word.startswith("-")]
            many = len(self.packages) > 1
            steps.append(("install", f"{self.install[0]} {' '.join(options)} {names} (the guest's own rpm"
                                     + (", one transaction; its RPM database now lists the packages)" if many
                                        else "; its RPM database now lists the package)")))
        else:
            count = sum(len(choice.verified.header.files) for choice in self.packages)
            steps.append(("install", f"unpack the {count} files of {names} into the guest ({self.install_why})"))
        if self.boot_files:
            steps.append(("boot files", "copy " + ", ".join(f"{src} to {dst}" for src, dst in self.boot_files)
                                        + " (what the kernel package's kernel-install would copy)"))
        if self.depmod is not None:
            steps.append(("depmod", " ".join(self.depmod)))
        drivers = f"; root drivers: {', '.join(self.initrd.drivers)}" if self.initrd.drivers else ""
        steps.append(("initrd", f"{' '.join(self.initrd.argv)}{drivers}"))
        if self.bootloader.step:
            steps.append((self.bootloader.step, self.bootloader.detail))
        if self.relabel:
            steps.append(("selinux", f"SELinux is {self.relabel}: /.autorelabel makes the first boot relabel "
                                     "the files vmrescue wrote"))
        return steps

    def key(self) -> tuple:
        """What the plan decides, without the time stamps of its backups (to compare two plans)."""
        return tuple((name, re.sub(r"\.vmrescue-\d{8}-\d{6}", ".vmrescue-STAMP", detail))
                     for name, detail in self.steps())


# --- the decisions it is made of ---------------------------------------------------

def choose_target(before: Diagnosis, requested: str | None) -> tuple[str, str]:
    """(uname_r, why): the operator's --kernel, else diagnose's recommendation."""
    if requested:
        return requested, "given with --kernel"
    rec = before.recommended_kernel
    if rec is None:
        raise RescueError("NO_TARGET_KERNEL",
                          f"{before.facts.image}: diagnose found no evidence of which kernel this guest needs.",
                          "Name it: --kernel UNAME_R (e.g. the release in /lib/modules/*/misc/vmxnet.ko's vermagic).",
                          Exit.USAGE)
    return rec.uname_r, rec.reason


def initrd_drivers(modprobe_conf: str, root_fstype: str | None, root_on_lvm: bool,
                   available: set[str]) -> list[str]:
    """Drivers the initrd needs to reach root: scsi_hostadapter aliases, the root fs, LVM.

    Only modules the new kernel actually ships are named (dracut and mkinitrd
    fail on unknown ones); names compare with '-' and '_' alike, as modprobe does.
    """
    def norm(name: str) -> str:
        return name.replace("-", "_")

    have = {norm(m): m for m in available}
    wanted = [m for key, m in _ALIAS.findall(modprobe_conf) if key.startswith("scsi_hostadapter")]
    if root_fstype in ("ext3", "ext4", "xfs", "ext2"):
        wanted.append(root_fstype)
    if root_on_lvm:
        wanted.append("dm-mod")
    seen, drivers = set(), []
    for m in wanted:
        if norm(m) in have and norm(m) not in seen:
            seen.add(norm(m))
            drivers.append(have[norm(m)])
    return drivers


def missing_from_initrd(paths: list[str], drivers: list[str]) -> list[str]:
    names = {posixpath.basename(p).split(".ko")[0].replace("-", "_") for p in paths if ".ko" in p}
    return [d for d in drivers if d.replace("-", "_") not in names]


def kernel_modules(file_paths: tuple[str, ...], uname_r: str) -> set[str]:
    """The module names a kernel package installs under /lib/modules/<uname_r>."""
    top = f"/lib/modules/{uname_r}/"
    return {posixpath.basename(p).split(".ko")[0] for p in file_paths if p.startswith(top) and ".ko" in p}
