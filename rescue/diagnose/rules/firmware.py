"""Rules about what the firmware starts: BIOS boot code, the EFI system partition and its loaders. Pure.

Only positive evidence makes the firmware a blocker: a guest installed for
UEFI (fstab mounts /boot/efi, or its .vmx says `firmware = "efi"`) whose ESP
has no loader, an EL9 stub that looks for a filesystem the image lacks, a VM
set to BIOS whose disk holds no boot code. An image with neither is judged by
its boot loader's configuration alone, as before.
"""
from __future__ import annotations

import posixpath
from collections.abc import Iterable

from rescue.bootloader.efi import ESP_MOUNT
from rescue.model import FirmwareFacts, Finding, GuestFacts, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


def _uefi_install(fw: FirmwareFacts) -> bool:
    """The guest was installed to boot through UEFI."""
    return fw.fstab_esp is not None or fw.vmx_firmware == "uefi"


def _uefi_only(fw: FirmwareFacts) -> bool:
    return _uefi_install(fw) and (not fw.bios_code or fw.vmx_firmware == "uefi")


def firmware_blocker(facts: GuestFacts) -> str | None:
    """Why no firmware would start the guest's boot loader, or None."""
    fw = facts.firmware
    if fw is None:
        return None
    if fw.vmx_firmware == "bios" and not fw.bios_code:
        return "the VM starts BIOS firmware and the disk holds no boot code"
    if _uefi_only(fw):
        if fw.esp is None or not fw.esp_mounted:
            return "the guest boots through UEFI and its EFI system partition is missing or unreadable"
        if not (fw.fallback or any(v.loaders for v in fw.vendors)):
            return "the EFI system partition holds no loader"
    stub = _stub(fw)
    if _uefi_only(fw) and stub is not None and not stub.stub_target_exists:
        return f"{stub.grub_cfg} does not lead to a grub.cfg of the image"
    return None


def _stub(fw: FirmwareFacts):
    return next((v for v in fw.vendors if v.directory == fw.vendor and v.stub_uuid), None) or \
        next((v for v in fw.vendors if v.stub_uuid), None)


def rule_esp(facts: GuestFacts) -> Iterable[Finding]:
    fw = facts.firmware
    if fw is None or not _uefi_install(fw):
        return
    severity = ERROR if _uefi_only(fw) else WARNING
    if fw.esp is None:
        where = f"/etc/fstab mounts {fw.fstab_esp} at {ESP_MOUNT}" if fw.fstab_esp else "the VM's .vmx asks for UEFI"
        yield Finding("ESP_MISSING", severity,
                      f"{where}, but the disk has no EFI system partition (GPT type EF00 or MBR type 0xEF), so "
                      "UEFI firmware finds nothing to start.",
                      "Restore the ESP from a backup or recreate it (a FAT partition of type EF00 at /boot/efi with "
                      "EFI/BOOT/BOOTX64.EFI and the vendor directory: dnf reinstall shim-x64 grub2-efi-x64 from a "
                      "rescue shell), or set the VM to BIOS if the disk holds BIOS boot code.")
        return
    if fw.esp_fstype not in (None, "", "vfat", "msdos"):
        yield Finding("ESP_NOT_VFAT", severity,
                      f"The EFI system partition {fw.esp} holds {fw.esp_fstype}, not FAT: UEFI firmware reads only FAT.",
                      f"Check that {fw.esp} is the ESP; if it was overwritten, recreate it (mkfs.vfat) and reinstall "
                      "shim-x64 and grub2-efi-x64 from a rescue shell.")
        return
    if not fw.esp_mounted:
        yield Finding("ESP_UNREADABLE", severity,
                      f"The EFI system partition {fw.esp} could not be mounted at {ESP_MOUNT}: its FAT may be damaged.",
                      f"Run fsck.vfat -n {fw.esp} from a rescue system, then fsck.vfat -a if it reports errors.")
        return
    vendor_loaders = [posixpath.join(v.directory, name) for v in fw.vendors for name in v.loaders]
    if not fw.fallback and not vendor_loaders:
        yield Finding("EFI_NO_LOADER", severity,
                      f"The EFI system partition has neither {ESP_MOUNT}/EFI/BOOT/BOOTX64.EFI nor a vendor loader "
                      "(EFI/<vendor>/shimx64.efi or grubx64.efi): UEFI firmware falls through to its shell.",
                      "Reinstall shim-x64 and grub2-efi-x64 from a rescue shell (dnf reinstall shim-x64 grub2-efi-x64).")
    elif not fw.fallback:
        yield Finding("EFI_FALLBACK_MISSING", WARNING,
                      f"{ESP_MOUNT}/EFI/BOOT/BOOTX64.EFI is missing: only the firmware's boot entry reaches "
                      f"{vendor_loaders[0]}, and a VM with fresh NVRAM (a new, cloned or converted VM) will not boot.",
                      f"Copy the vendor's shim to the fallback path: mkdir -p {ESP_MOUNT}/EFI/BOOT && cp "
                      f"{posixpath.dirname(vendor_loaders[0])}/shimx64.efi {ESP_MOUNT}/EFI/BOOT/BOOTX64.EFI "
                      "(dnf reinstall shim-x64 does the same).")


def rule_efi_stub(facts: GuestFacts) -> Iterable[Finding]:
    fw = facts.firmware
    if fw is None:
        return
    for v in fw.vendors:
        if not v.stub_uuid:
            continue
        severity = ERROR if _uefi_only(fw) else WARNING
        if v.stub_target_path is None:
            yield Finding("EFI_STUB_UUID_UNKNOWN", severity,
                          f"{v.grub_cfg} looks for the filesystem {v.stub_uuid}, which no filesystem of the image "
                          "has: GRUB says \"error: no such device\" and stops at its prompt.",
                          f"Put /boot's UUID (blkid on the /boot partition) on the search line of {v.grub_cfg}; keep "
                          "the file a stub (grub2-mkconfig writes /boot/grub2/grub.cfg).")
        elif not v.stub_target_exists:
            yield Finding("EFI_STUB_TARGET_MISSING", severity,
                          f"{v.grub_cfg} loads {v.stub_target_path}, which does not exist: GRUB stops at its prompt "
                          "with no error.",
                          "Regenerate it from a rescue shell: grub2-mkconfig -o /boot/grub2/grub.cfg.")


def rule_firmware_setting(facts: GuestFacts) -> Iterable[Finding]:
    fw = facts.firmware
    if fw is None or fw.vmx_firmware is None:
        return
    if fw.vmx_firmware == "bios" and not fw.bios_code:
        yield Finding("BIOS_BOOT_CODE_MISSING", ERROR,
                      f"{fw.vmx} starts the VM with BIOS firmware, but the disk's MBR holds no boot code"
                      + (" (the guest was installed for UEFI)" if fw.esp else "") + ".",
                      f"Set firmware = \"efi\" in {fw.vmx}" if fw.esp else
                      "Reinstall the boot loader from a rescue shell: grub2-install /dev/sda.")
