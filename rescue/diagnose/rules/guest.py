"""Rules about the image and the guest as a whole: in use, no OS, /boot unreadable, links, rpmdb. Pure."""
from __future__ import annotations

import shlex
from collections.abc import Iterable

from rescue.diagnose.rules.facts import config_link, default_entry
from rescue.model import Finding, GuestFacts, Severity

ERROR, WARNING = Severity.ERROR, Severity.WARNING


def rule_in_use(facts: GuestFacts) -> Iterable[Finding]:
    if facts.in_use:
        yield Finding(
            "IMAGE_IN_USE", ERROR,
            f"{facts.image} is in use: {facts.in_use}. A running VM changes its disk while vmrescue reads it, "
            "so this diagnosis may not match what the disk holds once the VM stops.",
            "Shut the VM down (or diagnose a snapshot of the disk) and run vmrescue diagnose again.")


def _what_disk_holds(volumes: tuple[tuple[str, str], ...]) -> str:
    known = [f"{fstype} on {name}" for name, fstype in volumes if fstype]
    if known:
        return "It holds " + ", ".join(known) + ", but no filesystem with /etc, an fstab and a release file"
    if any(name == "the whole disk" for name, _ in volumes):
        return "It has no partition table and no filesystem: it is blank (or its first sectors were wiped)"
    return "Its partitions hold no filesystem vmrescue recognises"


def rule_no_os(facts: GuestFacts) -> Iterable[Finding]:
    if facts.os is None:
        why = f" {_what_disk_holds(facts.volumes)}." if facts.volumes else ""
        yield Finding(
            "NO_OS", ERROR,
            f"No Linux root filesystem was found in {facts.image}, so there is nothing to boot or repair.{why}",
            "Check that this is the VM's system disk (not a data disk) and that it is not encrypted: "
            f"virt-filesystems -a {shlex.quote(facts.image)} --all --long",
        )


def boot_unreadable(facts: GuestFacts) -> str | None:
    """Why the guest's /boot could not be read, or None: everything about kernels depends on it."""
    if "/boot" in facts.unmounted:
        return "The /boot filesystem could not be mounted"
    spec = next((spec for spec, mountpoint, _ in facts.fstab if mountpoint.rstrip("/") == "/boot"), None)
    if facts.os is not None and spec is not None and "/boot" not in dict(facts.os.mountpoints):
        return f"/etc/fstab mounts /boot from {spec}, which names no readable filesystem on this disk"
    return None


def rule_boot_unreadable(facts: GuestFacts) -> Iterable[Finding]:
    why = boot_unreadable(facts)
    if why is None:
        return
    blank = [name for name, fstype in facts.volumes if not fstype and name.startswith("partition")]
    where = (f"; {', '.join(blank)} {'holds' if len(blank) == 1 else 'hold'} no filesystem vmrescue recognises "
             "(a damaged superblock?)") if blank else ""
    yield Finding(
        "BOOT_UNREADABLE", ERROR,
        f"{why}{where}. GRUB reads its menu and the kernels from /boot, so the guest cannot boot, "
        "and vmrescue cannot see its kernels.",
        "Repair the /boot filesystem from a rescue shell (virt-rescue -a "
        f"{shlex.quote(facts.image)}): e2fsck -b 8193 on the /boot partition uses a backup superblock "
        "(mke2fs -n lists them); then run vmrescue diagnose again.")


def rule_boot_not_in_fstab(facts: GuestFacts) -> Iterable[Finding]:
    if facts.os is None or not facts.boot_is_separate:
        return
    if any(mountpoint.rstrip("/") == "/boot" for _, mountpoint, _ in facts.fstab):
        return
    yield Finding(
        "BOOT_NOT_IN_FSTAB", WARNING,
        "GRUB reads /boot from its own partition, but /etc/fstab has no /boot line, so the running "
        "system does not mount it: the next kernel update writes to the root filesystem's /boot, "
        "where GRUB never looks.",
        "Add the /boot partition to the guest's /etc/fstab (blkid shows its UUID), e.g. "
        "UUID=... /boot ext4 defaults 1 2.")


def rule_boot_symlinks(facts: GuestFacts) -> Iterable[Finding]:
    entry = default_entry(facts)
    default_files = {entry.guest_kernel, entry.guest_initrd} if entry else set()
    config = config_link(facts)
    for link in facts.boot_symlinks:
        if link.problem == "outside":
            what = (f"{link.path} is a symlink to {link.target}, outside /boot: GRUB cannot follow it, "
                    "and vmrescue neither reads nor writes through it")
        else:
            what = (f"{link.path} is an absolute symlink to {link.target}: GRUB resolves it on the /boot "
                    f"filesystem itself, where {link.target} does not exist")
        blocks = link is config or link.path in default_files
        consequence = (", so GRUB has no menu" if link is config
                       else ", so the default entry cannot load it" if blocks else "")
        yield Finding(
            "BOOT_SYMLINK", ERROR if blocks else WARNING, f"{what}{consequence}.",
            f"Replace the link with the file itself (or a relative link inside /boot) from a rescue shell: "
            f"virt-rescue -a {shlex.quote(facts.image)}, then rm {link.path} and restore the file "
            "(its package or a backup).")


def rule_rpmdb(facts: GuestFacts) -> Iterable[Finding]:
    if facts.rpmdb_error and facts.os is not None:
        yield Finding(
            "RPMDB_UNREADABLE", WARNING,
            f"The RPM database cannot be read ({facts.rpmdb_error}), so vmrescue cannot tell which kernels "
            "are packaged, and the guest's own rpm and yum will fail on it too.",
            "After the guest boots: cp -a /var/lib/rpm /var/lib/rpm.broken && rpm --rebuilddb; "
            "if that fails, restore /var/lib/rpm from a backup.")
