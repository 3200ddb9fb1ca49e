"""Gather what BIOS and UEFI firmware would find on a guest's disk: MBR boot code, the ESP and its loaders.

Reads only: 512 bytes of the disk, its partition types, the mounted ESP's
directory listing and its grub.cfg files, and a .vmx beside the image on the
host. The rules are in rescue.diagnose.rules.firmware; the ESP's layout in
rescue.bootloader.efi.
"""
from __future__ import annotations

import posixpath

from rescue.bootloader.efi import BIOS_BOOT_TYPE_GUID, ESP_MOUNT, ESP_TYPE_GUID, firmware_of, read_esp, vendor_for
from rescue.guest.devices import Filesystem
from rescue.guest.session import Guest
from rescue.guest.vmx import find_vmx, vmx_firmware
from rescue.model import EfiVendorDir, FirmwareFacts, OsInfo

MBR_BYTES = 512


def has_boot_code(mbr: bytes) -> bool:
    """The MBR ends in 0x55AA and its code area (the first 440 bytes) is not all zeros."""
    return len(mbr) >= 512 and mbr[510:512] == b"\x55\xaa" and any(mbr[:440])


def read_firmware(guest: Guest, reader, image: str, disk: str, os_info: OsInfo,
                  filesystems: list[Filesystem], fstab: tuple[tuple[str, str, str], ...],
                  unmounted: tuple[str, ...]) -> FirmwareFacts:
    try:
        mbr = guest.read_device(disk, MBR_BYTES)
    except RuntimeError:
        mbr = b""
    table, types = guest.partition_types(disk)
    esp = next((dev for dev, t in types if t in (ESP_TYPE_GUID, "ef")), None)
    mounted = dict(os_info.mountpoints)
    esp = esp or mounted.get(ESP_MOUNT)
    bios_boot = next((dev for dev, t in types if t == BIOS_BOOT_TYPE_GUID), None)
    fs = next((f for f in filesystems if f.device == esp), None)
    esp_mounted = ESP_MOUNT in mounted and ESP_MOUNT not in unmounted
    view = read_esp(reader) if esp_mounted else None
    vendor = vendor_for(view, os_info.distro) if view else None
    by_uuid = {f.uuid.lower(): f.device for f in filesystems if f.uuid}
    where = {device: mountpoint for mountpoint, device in os_info.mountpoints}
    vendors = []
    for v in view.vendors if view else ():
        target_path = None
        if v.stub is not None:
            device = by_uuid.get(v.stub.uuid.lower())
            if device in where:
                target_path = posixpath.join(where[device], v.stub.target.lstrip("/"))
        vendors.append(EfiVendorDir(v.directory, v.loaders, v.grub_cfg, v.grubenv,
                                    v.stub.uuid if v.stub else None, v.stub.target if v.stub else None, target_path,
                                    target_path is not None and reader.text(target_path) is not None))
    vmx = find_vmx(image)
    bios = has_boot_code(mbr) and (table != "gpt" or bios_boot is not None)
    return FirmwareFacts(
        partition_table=table, bios_code=has_boot_code(mbr), bios_boot_partition=bios_boot, esp=esp,
        esp_fstype=fs.fstype if fs else None, esp_mounted=esp_mounted,
        fstab_esp=next((spec for spec, mp, _ in fstab if mp == ESP_MOUNT), None),
        fallback=view.fallback if view else None, fallback_helpers=view.fallback_helpers if view else (),
        vendors=tuple(vendors), vendor=vendor.directory if vendor else None,
        vmx=vmx[0] if vmx else None, vmx_firmware=vmx_firmware(vmx[1]) if vmx else None,
        needs=firmware_of(bios, view))
