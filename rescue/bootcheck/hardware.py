"""Which hardware qemu emulates for the test boot, and the qemu command line. Pure.

The disk controller must be one the guest's initrd has a driver for (the
initrd finds the root disk), the NIC one its kernel has; VMware's own models
come first, as the guest's configuration expects them.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Hardware:
    disk_if: str                      # qemu controller: see DISK_CONTROLLERS
    nic_model: str                    # qemu NIC device
    disk_driver: str | None = None    # the guest module that drives it (None: nothing matched)
    nic_driver: str | None = None
    notes: tuple[str, ...] = ()
    firmware: str = "bios"            # "bios" (SeaBIOS, the MBR) or "uefi" (OVMF, the ESP's fallback loader)


# (guest module, qemu controller), in order of preference. IDE first: SeaBIOS
# boots it natively, libata names the disk sda as VMware's SCSI controllers
# did, and nearly every initrd that was not built host-only carries ata_piix.
# Then the SCSI controllers qemu emulates that VMware guests use (PVSCSI, LSI
# SAS), the other LSI models, AHCI, and virtio last (the disk becomes vda,
# which root=/dev/sda2 style kernel lines do not survive).
DISK_CONTROLLERS = (
    ("ata_piix", "ide"),
    ("vmw_pvscsi", "pvscsi"),
    ("mptsas", "mptsas1068"),
    ("sym53c8xx", "lsi53c895a"),
    ("megaraid_sas", "megasas"),
    ("ahci", "ahci"),
    ("virtio_scsi", "virtio-scsi"),
    ("virtio_blk", "virtio"),
)


# (guest module, qemu NIC): VMware's own models first, as the guest's network
# configuration expects them. Only the driver binding matters for the boot.
NICS = (
    ("vmxnet3", "vmxnet3"),
    ("e1000", "e1000"),
    ("e1000e", "e1000e"),
    ("pcnet32", "pcnet"),
    ("virtio_net", "virtio-net-pci"),
    ("8139too", "rtl8139"),
)


# VMware hardware qemu has no model of.
NO_QEMU_MODEL = {
    "mptspi": "VMware's LSI Logic parallel SCSI (mptspi)",
    "BusLogic": "VMware's BusLogic SCSI",
    "vmxnet": "VMware's vmxnet (v1/v2) NIC",
}


DEFAULT_DISK, DEFAULT_NIC = "ide", "e1000"


def drivers_of(hardware: Hardware) -> tuple[str | None, str | None]:
    """The guest drivers of the emulated disk controller and NIC, also when the choice fell back
    to a default for want of one (that driver is then the one the guest would need)."""
    disk = hardware.disk_driver or next((mod for mod, qemu in DISK_CONTROLLERS if qemu == hardware.disk_if), None)
    nic = hardware.nic_driver or next((mod for mod, qemu in NICS if qemu == hardware.nic_model), None)
    return disk, nic


def module_names(paths: Iterable[str]) -> frozenset[str]:
    """Module names ("ata_piix") from paths of .ko files (any compression), as modprobe spells them."""
    names = set()
    for path in paths:
        m = re.match(r"(.+)\.ko(?:\.(?:gz|xz|zst))?$", posixpath.basename(path.strip()))
        if m:
            names.add(m.group(1).replace("-", "_"))
    return frozenset(names)


def choose_hardware(available_modules: set[str] | frozenset[str],
                    in_initrd: set[str] | frozenset[str] | None = None) -> Hardware:
    """The disk controller and NIC to emulate for a guest with these drivers.

    `available_modules` are the kernel's modules and built-ins; the disk driver
    must be in `in_initrd` (the default entry's initrd, plus built-ins) when it
    is known, because the initrd is what finds the root disk.
    """
    boot = available_modules if in_initrd is None else in_initrd
    notes = []
    disk = next(((mod, qemu) for mod, qemu in DISK_CONTROLLERS if mod in boot), None)
    if disk is None:
        where = "its initrd" if in_initrd is not None else "its kernel"
        unsupported = [label for mod, label in NO_QEMU_MODEL.items() if mod in boot and mod != "vmxnet"]
        has = f" ({where} only has {', '.join(unsupported)})" if unsupported else ""
        notes.append(f"The guest has no driver in {where} for a disk controller qemu emulates{has}; booting from "
                     "IDE: if the boot stops where the root device is looked for, that says nothing about the kernel.")
        disk = (None, DEFAULT_DISK)
    nic = next(((mod, qemu) for mod, qemu in NICS if mod in available_modules), None)
    if nic is None:
        notes.append("The guest has no driver for a NIC qemu emulates; using e1000 (it does not matter for booting).")
        nic = (None, DEFAULT_NIC)
    return Hardware(disk_if=disk[1], nic_model=nic[1], disk_driver=disk[0], nic_driver=nic[0], notes=tuple(notes))


FIRMWARE_CHOICES = ("auto", "bios", "uefi")


def choose_firmware(requested: str, mbr_boot_code: bool | None, esp_fallback: bool, esp_loader: bool,
                    vmx_firmware: str | None, vmx: str | None = None) -> tuple[str, tuple[str, ...]]:
    """The firmware to boot with, and what to say about the choice.

    --firmware wins; else the VM's .vmx; else what the disk holds: an ESP with a
    loader means UEFI (a hybrid disk too: the firmware of the VMs made today),
    boot code in the MBR alone means BIOS.
    """
    notes: list[str] = []
    if requested in ("bios", "uefi"):
        firmware = requested
    elif vmx_firmware in ("bios", "uefi"):
        firmware = vmx_firmware
        notes.append(f"{vmx} sets {firmware.upper()} firmware; booting with it.")
    elif esp_loader:
        firmware = "uefi"
        if mbr_boot_code:
            notes.append("The disk boots with BIOS and with UEFI firmware; booting UEFI (--firmware bios for the other).")
    else:
        firmware = "bios"
    if firmware == "uefi" and esp_loader and not esp_fallback:
        notes.append("The ESP has no EFI/BOOT/BOOTX64.EFI: UEFI firmware with fresh NVRAM (as here, and in a new or "
                     "converted VM) does not find the vendor's loader.")
    return firmware, tuple(notes)


def qemu_command(qemu: str, overlay: str, hardware: Hardware, accel: str, memory_mb: int,
                 ovmf: tuple[str, str] | None = None) -> list[str]:
    """qemu booting the overlay through the disk's own boot code, console on stdout.

    BIOS: SeaBIOS and the MBR; -nographic makes SeaBIOS mirror the screen to the
    serial port, so what the BIOS and GRUB's first stages print reaches the log
    too. UEFI: OVMF (`ovmf` = its code, and a private copy of its variables) and
    the ESP's removable-media fallback loader, as a VM with fresh NVRAM starts;
    OVMF's console is the serial port. User networking is restricted (no host,
    no outside); the NIC's boot ROM is left out so that nothing but the disk is tried.
    """
    drive = overlay.replace(",", ",,")
    argv = [qemu, "-name", "vmrescue-boot-check", "-machine", f"pc,accel={accel}",
            "-m", str(memory_mb), "-smp", "1",
            "-nodefaults", "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio",
            "-boot", "strict=on"]
    if hardware.firmware == "uefi":
        if ovmf is None:
            raise ValueError("UEFI boot without OVMF files")
        code, variables = (path.replace(",", ",,") for path in ovmf)
        argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
                 "-drive", f"if=pflash,format=raw,unit=1,file={variables}"]
    argv += ["-drive", f"file={drive},format=qcow2,if=none,id=disk0,cache=unsafe"]
    if accel == "kvm":
        argv += ["-cpu", "host"]      # as libguestfs does; broken nested KVM fails at once with it
    disk = hardware.disk_if
    if disk == "ide":
        argv += ["-device", "ide-hd,drive=disk0,bus=ide.0,bootindex=0"]
    elif disk == "ahci":
        argv += ["-device", "ahci,id=ahci0", "-device", "ide-hd,drive=disk0,bus=ahci0.0,bootindex=0"]
    elif disk == "virtio":
        argv += ["-device", "virtio-blk-pci,drive=disk0,bootindex=0"]
    else:
        controller = "virtio-scsi-pci" if disk == "virtio-scsi" else disk
        argv += ["-device", f"{controller},id=scsi0", "-device", "scsi-hd,drive=disk0,bus=scsi0.0,bootindex=0"]
    argv += ["-netdev", "user,id=net0,restrict=on", "-device", f"{hardware.nic_model},netdev=net0,romfile="]
    return argv
