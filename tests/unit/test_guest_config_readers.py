"""The pure readers of the boot path's configuration: ELF/#! programs, SELinux, LVM, the VM's controller.

Samples are our own compositions: ELF headers laid out per the System V ABI
(e_phoff, e_phentsize/e_phnum, PT_INTERP = 3); /etc/selinux/config as
selinux_config(5) documents it; lvm.conf and system.devices in the syntax
of lvm.conf(5) and lvmdevices(8) (the devices-file line shape also appears
in lvm2's test/shell/devicesfile-*.sh); a .vmx with the keys VMware writes
(scsi0.virtualDev, scsi0:0.fileName).
"""
from __future__ import annotations

import struct

import pytest

from rescue.guest import controllers, executables, lvmconf, selinux


def elf(interp: str | None, bits: int = 64, endian: str = "<") -> bytes:
    out = bytearray(4096)
    out[:4] = b"\x7fELF"
    out[4], out[5] = (2 if bits == 64 else 1), (1 if endian == "<" else 2)
    phoff, phent = (64, 56) if bits == 64 else (52, 32)
    headers = [(6, 0, 0)] + ([(3, 0x200, len(interp) + 1)] if interp else []) + [(1, 0, 0)]
    if bits == 64:
        struct.pack_into(endian + "Q", out, 0x20, phoff)
        struct.pack_into(endian + "HH", out, 0x36, phent, len(headers))
    else:
        struct.pack_into(endian + "I", out, 0x1C, phoff)
        struct.pack_into(endian + "HH", out, 0x2A, phent, len(headers))
    for i, (ptype, offset, size) in enumerate(headers):
        at = phoff + i * phent
        if bits == 64:
            struct.pack_into(endian + "IIQ", out, at, ptype, 5, offset)
            struct.pack_into(endian + "Q", out, at + 32, size)
        else:
            struct.pack_into(endian + "II", out, at, ptype, offset)
            struct.pack_into(endian + "I", out, at + 16, size)
    if interp:
        out[0x200:0x200 + len(interp)] = interp.encode()
    return bytes(out)


@pytest.mark.parametrize("head, kind, interp", [
    (elf("/lib64/ld-linux-x86-64.so.2"), "elf", "/lib64/ld-linux-x86-64.so.2"),
    (elf("/lib/ld-linux.so.2", bits=32), "elf", "/lib/ld-linux.so.2"),
    (elf("/lib/ld64.so.1", endian=">"), "elf", "/lib/ld64.so.1"),
    (elf(None), "elf", None),                              # static (busybox)
    (b"#!/bin/bash\n. /etc/init.d/functions\n", "script", "/bin/bash"),
    (b"#! /usr/bin/env python3\n", "script", "/usr/bin/env"),
    (b"\0\0\0\0", "other", None),
])
def test_program_kinds_and_interpreters(head, kind, interp):
    found = executables.program_kind(head)
    assert (found.kind, found.interpreter) == (kind, interp)


def test_a_cut_elf_header_has_no_interpreter():
    assert executables.elf_interpreter(elf("/lib64/ld.so")[:40]) is None


SELINUX = """# This file controls the state of SELinux on the system.
SELINUX={mode}
# SELINUXTYPE= can take one of these values:
SELINUXTYPE={type}
"""


@pytest.mark.parametrize("mode, expect", [("enforcing", "enforcing"), ("Permissive", "permissive"),
                                          ("disabled", "disabled"), ("enforcin", None), ("disable", None)])
def test_selinux_mode_as_libselinux_matches_it(mode, expect):
    config = selinux.parse_selinux_config(SELINUX.format(mode=mode, type="targeted"))
    assert (config.mode, config.mode_value, config.mode_line, config.policy_type, config.type_line) == \
        (expect, mode, 2, "targeted", 4)


def test_selinux_effective_mode():
    enforcing = selinux.parse_selinux_config(SELINUX.format(mode="enforcing", type="mls"))
    assert selinux.effective_mode(enforcing, "ro root=/dev/sda1") == "enforcing"
    assert selinux.effective_mode(enforcing, "ro enforcing=0") == "permissive"
    assert selinux.effective_mode(enforcing, "ro selinux=0") == "disabled"
    invalid = selinux.parse_selinux_config(SELINUX.format(mode="enforcin", type="targeted"))
    assert selinux.effective_mode(invalid, "") == "permissive"         # an invalid value loads permissive
    assert selinux.parse_selinux_config(" SELINUX=enforcing\n").mode is None   # must start the line
    assert selinux.parse_selinux_config("").policy_type == "targeted"


def test_policy_file_magic():
    head = struct.pack("<II", 0xF97CFF8C, 8) + b"SE Linux" + struct.pack("<I", 33)
    assert selinux.is_policy(head) and not selinux.is_policy(b"\0" * 20)


LVM_CONF = """config {
    checks = 1
}
devices {
    dir = "/dev"
    # filter = [ "a|.*|" ]
    filter = [ "a|^/dev/vda2$|",
               "r|.*|" ]
    global_filter = [ "a|.*|" ]   # everything
    use_devicesfile = 0
}
"""


def test_lvm_conf_devices_section():
    settings = lvmconf.parse_lvm_conf(LVM_CONF)
    assert settings["filter"].value == ("a|^/dev/vda2$|", "r|.*|") and settings["filter"].line == 7
    assert settings["global_filter"].value == ("a|.*|",)
    assert "checks" not in settings
    assert lvmconf.use_devicesfile(settings, True) is False
    assert lvmconf.use_devicesfile({}, True) is True


@pytest.mark.parametrize("patterns, names, accepted", [
    (("a|^/dev/vda2$|", "r|.*|"), ["/dev/sda2"], False),
    (("a|^/dev/vda2$|", "r|.*|"), ["/dev/sda2", "/dev/vda2"], True),
    (("r|^/dev/sd|",), ["/dev/sda2", "/dev/disk/by-id/lvm-pv-uuid-x"], True),    # a name matching nothing is accepted
    (("r|.*|",), ["/dev/sda2"], False),
    (("a/sda/", "r/.*/"), ["/dev/sda2"], True),                                  # any delimiter
])
def test_filter_semantics(patterns, names, accepted):
    assert lvmconf.accepts(patterns, names) is accepted


def test_the_rejecting_setting_is_named():
    settings = lvmconf.parse_lvm_conf(LVM_CONF)
    key, setting = lvmconf.rejecting(settings, ["/dev/sda2"])
    assert key == "filter" and setting.line == 7
    assert lvmconf.rejecting(settings, ["/dev/vda2"]) is None


def test_devices_file_pvids():
    text = ("# LVM uses devices listed in this file.\nVERSION=1.1.2\n"
            "IDTYPE=sys_wwid IDNAME=naa.600224807870e925 DEVNAME=/dev/sda4 PVID=9dRHhFlPYWgaHo3wlfv4ZahXpnSdLYP2 PART=4\n"
            "IDTYPE=devname IDNAME=/dev/vda2 DEVNAME=/dev/vda2 PVID=phl0clFbAokp9UXqbIgI5YYQxuTIJVkD PART=2\n")
    assert lvmconf.devices_file_pvids(text) == [("9dRHhFlPYWgaHo3wlfv4ZahXpnSdLYP2", 3),
                                               ("phl0clFbAokp9UXqbIgI5YYQxuTIJVkD", 4)]


VMX = """.encoding = "UTF-8"
config.version = "8"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "web01.vmdk"
sata0.present = "TRUE"
"""


def test_vmx_controller_of_the_disk():
    found = controllers.vmx_controller(controllers.parse_vmx(VMX), "/vmfs/web01/web01.vmdk", "/vmfs/web01/web01.vmx")
    assert (found.driver, found.line, found.said) == ("vmw_pvscsi", 4, 'scsi0.virtualDev = "pvscsi"')
    other = controllers.vmx_controller(controllers.parse_vmx(VMX.replace("pvscsi", "lsilogic")), "x.vmdk", "x.vmx")
    assert other.driver == "mptspi"          # the first controller present
    sata = controllers.vmx_controller(controllers.parse_vmx('sata0.present = "TRUE"\n'), "x.vmdk", "x.vmx")
    assert sata.driver == "ahci"


def test_guest_controllers_from_modprobe_and_dracut():
    found = controllers.guest_controllers({
        "/etc/modprobe.conf": "alias eth0 e1000\nalias scsi_hostadapter mptbase\nalias scsi_hostadapter1 mptspi\n",
        "/etc/dracut.conf.d/vm.conf": 'add_drivers+=" vmw_pvscsi "\n'})
    assert [(c.driver, c.source, c.line) for c in found] == [
        ("mptbase", "/etc/modprobe.conf", 2), ("mptspi", "/etc/modprobe.conf", 3),
        ("vmw_pvscsi", "/etc/dracut.conf.d/vm.conf", 1)]
