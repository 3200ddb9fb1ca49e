"""rescue.bootloader.efi, rescue.guest.vmx, the FAT superblock and the firmware rules, on composed samples.

Shapes: the EL9 ESP stub as grub2-mkconfig's UnifyGrubConfig change writes it
(Fedora wiki "Changes/UnifyGrubConfig"; the four lines reproduced in
/work/notes/uefi.md by booting them), the EFI/<vendor> names of efi-rpm-macros
(rhel -> redhat), shim's file names (rhboot/shim: shimx64.efi, fbx64.efi,
mmx64.efi), and VMware's `firmware = "efi"` key as virt-v2v's input_vmx reads it.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from rescue.bootloader.efi import EspView, firmware_of, parse_stub, read_esp, vendor_for
from rescue.bootloader.grub2 import Grub2
from rescue.diagnose.rules import diagnose
from rescue.guest.superblocks import identify
from rescue.guest.vmx import find_vmx, parse_vmx, vmx_firmware
from rescue.model import EfiVendorDir, FirmwareFacts

from test_bootloader_grub2 import Files
from test_diagnose_rules_grub2 import bls, facts, grub2, kernel, MID, NEW

BOOT_UUID = "4a7c1f3e-9b2d-4e5f-8a6b-0c1d2e3f4a5b"
STUB = (f"search --no-floppy --fs-uuid --set=dev {BOOT_UUID}\nset prefix=($dev)/grub2\n\n"
        "export $prefix\nconfigfile $prefix/grub.cfg\n")
FULL_EL8 = ("set pager=1\nif [ -f ${config_directory}/grubenv ]; then\n  load_env -f ${config_directory}/grubenv\n"
            "fi\nset default=\"${saved_entry}\"\ninsmod blscfg\nblscfg\n")


def test_the_el9_stub_is_read_as_a_stub():
    assert parse_stub(STUB).uuid == BOOT_UUID and parse_stub(STUB).target == "/grub2/grub.cfg"
    # the -u short form and a path written with the device variable
    assert parse_stub(f"search -u {BOOT_UUID} --set=boot\nset prefix=($boot)/grub2\nconfigfile ($boot)/grub2/grub.cfg\n") \
        .target == "/grub2/grub.cfg"


@pytest.mark.parametrize("text", [FULL_EL8, STUB + "menuentry 'x' {\n linuxefi /vmlinuz\n}\n", "configfile /x\n", ""])
def test_a_full_configuration_is_not_a_stub(text):
    assert parse_stub(text) is None


def esp(extra=None) -> Files:
    files = {"/boot/efi/EFI/BOOT/BOOTX64.EFI": b"MZ", "/boot/efi/EFI/BOOT/fbx64.efi": b"MZ",
             "/boot/efi/EFI/almalinux/shimx64.efi": b"MZ", "/boot/efi/EFI/almalinux/grubx64.efi": b"MZ",
             "/boot/efi/EFI/almalinux/grub.cfg": STUB}
    files.update(extra or {})
    return Files(files)


def test_the_esp_is_read_without_case():
    view = read_esp(Files({"/boot/efi/efi/boot/bootx64.efi": b"MZ", "/boot/efi/efi/Redhat/GRUB.CFG": FULL_EL8,
                           "/boot/efi/efi/Redhat/grubx64.efi": b"MZ"}))
    assert view.fallback == "/boot/efi/efi/boot/bootx64.efi"
    (v,) = view.vendors
    assert v.directory == "/boot/efi/efi/Redhat" and v.grub_cfg == "/boot/efi/efi/Redhat/GRUB.CFG"
    assert v.loaders == ("grubx64.efi",) and v.stub is None
    # rhel's (and Oracle Linux's) packages write EFI/redhat
    assert vendor_for(view, "rhel") is v and vendor_for(view, "ol") is v


def test_the_el9_esp_has_a_fallback_a_vendor_and_a_stub():
    view = read_esp(esp())
    assert view.fallback.endswith("BOOTX64.EFI") and view.fallback_helpers == ("fbx64.efi",)
    (v,) = view.vendors
    assert v.loaders == ("shimx64.efi", "grubx64.efi") and v.stub.uuid == BOOT_UUID
    assert firmware_of(True, view) == "both" and firmware_of(False, view) == "uefi"
    assert firmware_of(True, EspView(None, (), ())) == "bios" and firmware_of(False, None) is None


def test_grub2_reads_the_full_esp_config_of_el8_but_follows_the_el9_stub():
    el8 = esp({"/boot/efi/EFI/almalinux/grub.cfg": FULL_EL8, "/boot/grub2/grub.cfg": "# BIOS copy\n"})
    assert Grub2.find(el8) == "/boot/efi/EFI/almalinux/grub.cfg"
    assert Grub2.find(esp({"/boot/grub2/grub.cfg": FULL_EL8})) == "/boot/grub2/grub.cfg"


def test_vmx_firmware(tmp_path):
    text = ('.encoding = "UTF-8"\nconfig.version = "8"\nFirmware = "efi"\n'
            'scsi0:0.fileName = "web01.vmdk"\nuefi.secureBoot.enabled = "TRUE"\n')
    assert vmx_firmware(parse_vmx(text)) == "uefi"
    assert vmx_firmware(parse_vmx('scsi0:0.fileName = "a.vmdk"\n')) == "bios"
    (tmp_path / "web01.vmx").write_text(text)
    (tmp_path / "other.vmx").write_text('scsi0:0.fileName = "other.vmdk"\nfirmware = "bios"\n')
    found = find_vmx(str(tmp_path / "web01.vmdk"))
    assert found[0] == str(tmp_path / "web01.vmx") and found[1]["firmware"] == "efi"
    assert find_vmx(str(tmp_path / "nothing.vmdk")) is None


@pytest.mark.skipif(shutil.which("mkfs.vfat") is None, reason="mkfs.vfat (dosfstools) is needed")
@pytest.mark.parametrize("fat", ["16", "32"])
def test_fat_superblocks_are_identified_as_blkid_does(tmp_path, fat):
    img = tmp_path / "esp.img"
    with open(img, "wb") as f:
        f.truncate(300 * 1024 * 1024 if fat == "32" else 64 * 1024 * 1024)
    subprocess.run(["mkfs.vfat", "-F", fat, "-n", "ESP", "-i", "ABCD1234", str(img)], check=True, capture_output=True)
    v = identify(img.read_bytes()[:8192])
    blkid = subprocess.run(["blkid", "-o", "export", str(img)], capture_output=True, text=True).stdout
    assert (v.fstype, v.label, v.uuid) == ("vfat", "ESP", "ABCD-1234")
    assert "UUID=ABCD-1234" in blkid and "TYPE=vfat" in blkid


# --- the firmware rules ---------------------------------------------------------------

def fw(**kw) -> FirmwareFacts:
    base = dict(partition_table="gpt", bios_code=False, esp="/dev/sda1", esp_fstype="vfat", esp_mounted=True,
                fstab_esp="UUID=ABCD-1234", fallback="/boot/efi/EFI/BOOT/BOOTX64.EFI",
                vendors=(EfiVendorDir("/boot/efi/EFI/almalinux", ("shimx64.efi", "grubx64.efi"),
                                      "/boot/efi/EFI/almalinux/grub.cfg", None, BOOT_UUID, "/grub2/grub.cfg",
                                      "/boot/grub2/grub.cfg", True),),
                vendor="/boot/efi/EFI/almalinux", needs="uefi")
    base.update(kw)
    return FirmwareFacts(**base)


def uefi_guest(**kw):
    return facts(kernels=(kernel(NEW),), bootloader=grub2(bls(0, NEW), request=f"{MID}-{NEW}"), firmware=fw(**kw))


def codes(d):
    return {f.code: f.severity.value for f in d.findings}


def test_a_healthy_uefi_guest_has_no_firmware_finding():
    d = diagnose(uefi_guest())
    assert d.bootable and not {c for c in codes(d) if c.startswith(("ESP", "EFI", "BIOS", "UEFI"))}


def test_no_esp_on_a_uefi_only_guest_stops_the_boot():
    d = diagnose(uefi_guest(esp=None, esp_mounted=False, fallback=None, vendors=(), vendor=None, needs=None))
    assert codes(d)["ESP_MISSING"] == "error" and d.bootable is False


def test_an_esp_without_a_loader_and_one_without_the_fallback():
    d = diagnose(uefi_guest(fallback=None, vendors=(), needs=None))
    assert codes(d)["EFI_NO_LOADER"] == "error" and d.bootable is False
    d = diagnose(uefi_guest(fallback=None))
    assert codes(d)["EFI_FALLBACK_MISSING"] == "warning" and d.bootable is True
    action = next(f.action for f in d.findings if f.code == "EFI_FALLBACK_MISSING")
    assert "cp /boot/efi/EFI/almalinux/shimx64.efi /boot/efi/EFI/BOOT/BOOTX64.EFI" in action


def test_a_stub_naming_no_filesystem_and_one_whose_target_is_gone():
    gone = EfiVendorDir("/boot/efi/EFI/almalinux", ("grubx64.efi",), "/boot/efi/EFI/almalinux/grub.cfg", None,
                        "0badbad0-0000-4000-8000-000000000000", "/grub2/grub.cfg", None, False)
    d = diagnose(uefi_guest(vendors=(gone,)))
    assert codes(d)["EFI_STUB_UUID_UNKNOWN"] == "error" and d.bootable is False
    assert "error: no such device" in next(f.message for f in d.findings if f.code == "EFI_STUB_UUID_UNKNOWN")
    missing = EfiVendorDir(gone.directory, gone.loaders, gone.grub_cfg, None, BOOT_UUID, "/grub2/grub.cfg",
                           "/boot/grub2/grub.cfg", False)
    assert codes(diagnose(uefi_guest(vendors=(missing,))))["EFI_STUB_TARGET_MISSING"] == "error"


def test_a_hybrid_guest_with_a_broken_esp_still_boots_through_bios():
    d = diagnose(uefi_guest(bios_code=True, bios_boot_partition="/dev/sda1", fallback=None, vendors=(), needs="bios"))
    assert codes(d)["EFI_NO_LOADER"] == "warning" and d.bootable is True


def test_the_vms_firmware_setting_against_the_disk():
    d = diagnose(uefi_guest(vmx="/vm/web01.vmx", vmx_firmware="bios"))
    assert codes(d)["BIOS_BOOT_CODE_MISSING"] == "error" and d.bootable is False
    assert 'firmware = "efi"' in next(f.action for f in d.findings if f.code == "BIOS_BOOT_CODE_MISSING")
    d = diagnose(uefi_guest(vmx="/vm/web01.vmx", vmx_firmware="uefi", bios_code=True, fallback=None, vendors=(),
                            needs="bios"))
    assert codes(d)["EFI_NO_LOADER"] == "error" and d.bootable is False


# --- boot-check's firmware ------------------------------------------------------------

def test_boot_check_chooses_the_firmware_the_disk_or_the_vm_asks_for():
    from rescue.bootcheck.hardware import choose_firmware
    assert choose_firmware("auto", True, False, False, None) == ("bios", ())
    firmware, notes = choose_firmware("auto", True, True, True, None)
    assert firmware == "uefi" and "--firmware bios" in notes[0]          # hybrid: UEFI, and says so
    assert choose_firmware("auto", True, True, True, "bios", "/vm/a.vmx")[0] == "bios"
    assert choose_firmware("bios", False, True, True, "uefi")[0] == "bios"   # --firmware wins
    firmware, notes = choose_firmware("auto", False, False, True, None)
    assert firmware == "uefi" and "no EFI/BOOT/BOOTX64.EFI" in notes[0]


def test_the_uefi_command_line_has_ovmf_code_read_only_and_private_variables():
    from rescue.bootcheck.hardware import Hardware, qemu_command
    argv = qemu_command("qemu", "/tmp/o.qcow2", Hardware("ide", "e1000", firmware="uefi"), "tcg", 1024,
                        ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/tmp/w/ovmf-vars.fd"))
    assert "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd" in argv
    assert "if=pflash,format=raw,unit=1,file=/tmp/w/ovmf-vars.fd" in argv
    assert not any("pflash" in a for a in qemu_command("qemu", "/tmp/o.qcow2", Hardware("ide", "e1000"), "tcg", 1024))
