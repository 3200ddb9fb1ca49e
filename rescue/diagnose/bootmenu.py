"""The boot loader's menu, resolved against the guest: model.Bootloader for the diagnosis.

The kind (rescue.bootloader.detect) reads its entries; here each entry's
kernel and initrd become the guest paths the boot loader reads, checked for
existence, and its root= is matched against the disk's filesystems.
"""
from __future__ import annotations

from dataclasses import replace

from rescue import bootloader
from rescue.bootloader.base import BootLayout, MenuEntry, not_a_config
from rescue.bootloader.cmdline import kernel_arg
from rescue.diagnose.reader import CONFIG_LIMIT, GuestReader
from rescue.guest.devices import Filesystem, resolve_spec
from rescue.model import BootEntry, Bootloader

MAX_ENTRIES = 100                       # entries resolved against the guest; a menu past this is junk


def read_bootloader(reader: GuestReader, layout: BootLayout, filesystems: list[Filesystem],
                    lvs: list[str], prefer: str | None = None) -> Bootloader:
    """The boot loader the guest boots with (`prefer`: the kind its release installs), its menu resolved."""
    loader = bootloader.detect(reader, prefer)
    if loader is None:
        return Bootloader(kind=None, config=None, default=None)
    menu = loader.menu(reader)
    entries = tuple(_resolved(loader, e, layout, reader, filesystems, lvs) for e in menu.entries[:MAX_ENTRIES])
    found = Bootloader(kind=loader.kind, config=loader.config, default=menu.default, fallback=menu.fallback,
                       entries=entries, parse_errors=menu.errors,
                       entries_total=len(menu.entries) if len(menu.entries) > MAX_ENTRIES else None,
                       default_setting=menu.default_setting, default_request=menu.default_request,
                       default_source=menu.default_source, default_found=menu.default_found, env=menu.env,
                       dropped=menu.dropped, bls_problems=menu.file_problems)
    data = reader.config_bytes.get(loader.config)
    if data is None:            # a directory of entries, not one file
        return found
    size = reader.guest.size(loader.config)
    if size > CONFIG_LIMIT:
        reader.notes.append(f"{loader.config} is {size} bytes; only its first {CONFIG_LIMIT // 1024} KiB were read")
    return replace(found, size=size, damaged=not_a_config(data))


def _resolved(loader: bootloader.BootLoader, e: MenuEntry, layout: BootLayout, reader: GuestReader,
              filesystems: list[Filesystem], lvs: list[str]) -> BootEntry:
    if e.kind not in ("linux", "xen"):
        # another OS, or commands such as "reboot": nothing vmrescue can check
        return BootEntry(index=e.index, title=e.title, kind=e.kind, grub_root=e.grub_root, kernel=e.kernel,
                         kernel_args=e.kernel_args, initrd=e.initrd, id=e.id, source=e.source)
    guest_kernel = loader.guest_path(e, e.kernel, layout) if e.kernel else None
    guest_initrd = loader.guest_path(e, e.initrd, layout) if e.initrd else None
    root_device = kernel_arg(e.kernel_args, "root")
    return BootEntry(
        index=e.index, title=e.title, kind=e.kind, grub_root=e.grub_root, kernel=e.kernel,
        kernel_args=e.kernel_args, initrd=e.initrd, guest_kernel=guest_kernel, guest_initrd=guest_initrd,
        kernel_exists=reader.loadable(guest_kernel), initrd_exists=reader.loadable(guest_initrd),
        root_device=root_device,
        root_resolved=resolve_spec(root_device, filesystems, lvs, layout.first_disk) if root_device else None,
        id=e.id, source=e.source, unset=e.unset, machine_id=e.machine_id,
    )
