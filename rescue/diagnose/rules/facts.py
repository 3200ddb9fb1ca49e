"""Facts about a guest's boot that several rules look up: which entry boots, what it loads. Pure."""
from __future__ import annotations

from rescue.distro import family_for
from rescue.kernel.bootfiles import release_from_boot_name
from rescue.kernel.inventory import booted_release
from rescue.model import BootEntry, GuestFacts, Kernel

LINUX_KINDS = ("linux", "xen")


def default_index(facts: GuestFacts) -> int | None:
    """The entry GRUB boots unattended: `default` as configured, 0 when unset."""
    bl = facts.bootloader
    if bl.default is not None:
        return bl.default
    return 0 if bl.entries else None


def entry_at(facts: GuestFacts, index: int | None) -> BootEntry | None:
    if index is None:
        return None
    return next((e for e in facts.bootloader.entries if e.index == index), None)


def default_entry(facts: GuestFacts) -> BootEntry | None:
    return entry_at(facts, default_index(facts))


def is_default(facts: GuestFacts, entry: BootEntry) -> bool:
    return entry.index == default_index(facts)


def kernel_named(facts: GuestFacts, release: str | None) -> Kernel | None:
    return next((k for k in facts.kernels if k.uname_r == release), None)


def entry_file_release(entry: BootEntry) -> str | None:
    """The release an entry's kernel file name carries, whether or not the file exists."""
    path = entry.guest_kernel or entry.kernel
    return release_from_boot_name(path) if path else None


def kernel_of_entry(facts: GuestFacts, entry: BootEntry) -> Kernel | None:
    """The installed kernel an entry boots, matched by the file it points to (not its title)."""
    if not entry.kernel_exists or entry.kind not in LINUX_KINDS:
        return None
    for k in facts.kernels:
        if k.vmlinuz is not None and entry.guest_kernel and k.vmlinuz.path == entry.guest_kernel:
            return k
    k = kernel_named(facts, entry_file_release(entry))
    return k if k is not None and k.vmlinuz is not None else None


def entry_release(facts: GuestFacts, entry: BootEntry) -> str | None:
    """The `uname -r` an entry boots, if its kernel is there."""
    k = kernel_of_entry(facts, entry)
    return booted_release(k) if k else None


def default_kernel(facts: GuestFacts) -> str | None:
    entry = default_entry(facts)
    return entry_release(facts, entry) if entry else None


def default_kernel_record(facts: GuestFacts) -> Kernel | None:
    entry = default_entry(facts)
    return kernel_of_entry(facts, entry) if entry else None


def has_modules_tree(facts: GuestFacts, release: str | None) -> bool:
    k = kernel_named(facts, release)
    return bool(k and k.modules and k.modules.has_kernel_tree)


def _on_lvm(device: str) -> bool:
    # /dev/mapper/VG-LV or /dev/VG/LV: the kernel alone cannot activate LVM.
    return device.startswith("/dev/mapper/") or device.count("/") == 3


def needs_initrd(facts: GuestFacts) -> bool:
    """Whether kernels need an initrd to reach root: the family says (EL5+ always), and a root on LVM does."""
    if facts.os is None:
        return False
    family = family_for(facts.os)
    return (family.needs_initrd() if family else True) or _on_lvm(facts.os.root)


def is_complete(facts: GuestFacts, k: Kernel) -> bool:
    """Everything a kernel needs to come up is in the guest: vmlinuz, modules, initrd."""
    return (k.vmlinuz is not None
            and has_modules_tree(facts, booted_release(k))
            and (k.initrd is not None or not needs_initrd(facts)))


def entry_problems(facts: GuestFacts, entry: BootEntry) -> list[str]:
    """Why an entry cannot boot a Linux kernel, as short clauses; empty when it can."""
    if entry.kind not in LINUX_KINDS:
        return [f"it is a {entry.kind} entry, not a Linux kernel"]
    if not entry.kernel:
        return ["it has no kernel line"]
    problems = []
    links = link_paths(facts)
    if not entry.kernel_exists:
        kernel = entry.guest_kernel or entry.kernel
        problems.append(f"its kernel {kernel} is " + ("a symlink GRUB cannot follow" if kernel in links else "missing"))
    if entry.initrd and not entry.initrd_exists:
        initrd = entry.guest_initrd or entry.initrd
        problems.append(f"its initrd {initrd} is " + ("a symlink GRUB cannot follow" if initrd in links else "missing"))
    if not entry.initrd and needs_initrd(facts):
        problems.append("it has no initrd line")
    release = entry_release(facts, entry)
    # An initrd carries the drivers needed to mount root, so a kernel without
    # /lib/modules still boots to init (only later drivers, e.g. the NIC, fail).
    if release and not has_modules_tree(facts, release) and not (entry.initrd and entry.initrd_exists):
        problems.append(f"/lib/modules/{release} has no kernel modules and no initrd carries them")
    if entry.unset and not entry.root_device:
        # `options $kernelopts` with kernelopts set nowhere: the kernel starts without root=
        problems.append(f"its options leave the kernel without root= (${', $'.join(entry.unset)} unset)")
    if entry.root_device and entry.root_resolved is None:
        problems.append(f"root={entry.root_device} names no filesystem in the guest")
    return problems


def link_paths(facts: GuestFacts) -> set[str]:
    return {link.path for link in facts.boot_symlinks}


def entry_can_boot(facts: GuestFacts, entry: BootEntry) -> bool:
    return not entry_problems(facts, entry)


def is_bootable(facts: GuestFacts) -> bool:
    """Strict: the default entry itself must boot (a fallback does not count)."""
    entry = default_entry(facts)
    return facts.os is not None and entry is not None and entry_can_boot(facts, entry)


def valid_fallback(facts: GuestFacts) -> BootEntry | None:
    entry = entry_at(facts, facts.bootloader.fallback)
    return entry if entry is not None and entry_can_boot(facts, entry) else None


def entries_booting(facts: GuestFacts, release: str) -> list[BootEntry]:
    return [e for e in facts.bootloader.entries if entry_release(facts, e) == release]


def linux_entries(facts: GuestFacts) -> list[BootEntry]:
    return [e for e in facts.bootloader.entries if e.kind in LINUX_KINDS]


def config_link(facts: GuestFacts):
    names = ("grub.conf", "menu.lst", "grub.cfg")
    return next((link for link in facts.boot_symlinks if link.path.rsplit("/", 1)[-1] in names), None)
