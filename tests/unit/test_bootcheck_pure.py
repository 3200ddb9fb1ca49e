"""The pure parts of boot-check: hardware choice, qemu's command line, the
serial-console rewrites of the overlay's boot configuration, the reports."""
import pytest

from rescue import bootcheck
from rescue.bootcheck import (
    BootCheck, BootOptions, Hardware, OverlayFacts, choose_hardware, hardware_for, module_names, qemu_command,
    render_text, serial_inittab, to_json_document,
)
from rescue.bootcheck.console import analyse
from rescue.bootloader.bls import serial_bls
from rescue.bootloader.grub2 import serial_grub2
from rescue.bootloader.grub_legacy import serial_grub_legacy

# --- choose_hardware ---------------------------------------------------------------------

EL6_GENERIC_INITRD = {"ata_piix", "ata_generic", "ahci", "mptspi", "mptsas", "vmw_pvscsi", "sym53c8xx",
                      "virtio_blk", "virtio_scsi", "dm_mod", "ext4"}


@pytest.mark.parametrize("initrd_modules, disk, driver", [
    (EL6_GENERIC_INITRD, "ide", "ata_piix"),                    # generic initrd: IDE, SeaBIOS's own
    ({"mptspi", "ata_piix", "dm_mod"}, "ide", "ata_piix"),      # EL5 host-only initrd of a VMware guest
    ({"vmw_pvscsi", "dm_mod"}, "pvscsi", "vmw_pvscsi"),         # VMware Paravirtual
    ({"mptsas", "mptscsih"}, "mptsas1068", "mptsas"),           # VMware LSI Logic SAS
    ({"sym53c8xx"}, "lsi53c895a", "sym53c8xx"),
    ({"megaraid_sas"}, "megasas", "megaraid_sas"),
    ({"ahci", "libahci"}, "ahci", "ahci"),
    ({"virtio_scsi", "virtio_blk"}, "virtio-scsi", "virtio_scsi"),
    ({"virtio_blk", "virtio_pci"}, "virtio", "virtio_blk"),
])
def test_disk_controller_for_the_initrd_drivers(initrd_modules, disk, driver):
    hw = choose_hardware({"e1000"} | initrd_modules, in_initrd=initrd_modules)
    assert (hw.disk_if, hw.disk_driver) == (disk, driver)
    assert hw.notes == ()


def test_mptspi_only_has_no_qemu_model_and_says_so():
    hw = choose_hardware({"mptspi", "ata_piix", "e1000"}, in_initrd={"mptspi", "mptbase", "dm_mod"})
    assert hw.disk_if == "ide" and hw.disk_driver is None
    assert "mptspi" in hw.notes[0] and "IDE" in hw.notes[0]


def test_disk_driver_must_be_in_the_initrd_when_it_is_known():
    # ata_piix exists in /lib/modules but not in the initrd: it cannot find the root disk
    hw = choose_hardware({"ata_piix", "virtio_blk", "e1000"}, in_initrd={"virtio_blk"})
    assert hw.disk_if == "virtio"


def test_without_initrd_facts_the_kernel_modules_decide():
    assert choose_hardware({"sym53c8xx", "e1000"}).disk_if == "lsi53c895a"


@pytest.mark.parametrize("modules, nic, driver", [
    ({"vmxnet3", "e1000", "vmxnet"}, "vmxnet3", "vmxnet3"),
    ({"e1000", "vmxnet"}, "e1000", "e1000"),
    ({"e1000e"}, "e1000e", "e1000e"),
    ({"pcnet32"}, "pcnet", "pcnet32"),
    ({"virtio_net"}, "virtio-net-pci", "virtio_net"),
    ({"8139too"}, "rtl8139", "8139too"),
])
def test_nic_for_the_guest_drivers(modules, nic, driver):
    hw = choose_hardware(modules | {"ata_piix"})
    assert (hw.nic_model, hw.nic_driver) == (nic, driver)


def test_no_known_nic_falls_back_to_e1000_with_a_note():
    hw = choose_hardware({"ata_piix", "vmxnet"})
    assert hw.nic_model == "e1000" and hw.nic_driver is None
    assert any("NIC" in n for n in hw.notes)


def test_builtin_drivers_count_for_the_initrd():
    facts = OverlayFacts(initrd_modules=frozenset({"dm_mod"}), kernel_modules=frozenset({"e1000"}),
                         builtin_modules=frozenset({"ata_piix"}))
    assert hardware_for(facts).disk_if == "ide"


def test_unknown_guest_gets_ide_and_e1000():
    hw = hardware_for(OverlayFacts(os_found=True))
    assert (hw.disk_if, hw.nic_model) == ("ide", "e1000") and hw.notes
    assert hardware_for(OverlayFacts(os_found=False)).notes == ()


def test_module_names():
    assert module_names([
        "lib/modules/6.1.0-56-amd64/kernel/drivers/ata/ata_piix.ko",
        "usr/lib/modules/5.14/kernel/drivers/scsi/vmw_pvscsi.ko.xz",
        "lib/dm-mod.ko",                        # EL5 nash initrd: modules flat in /lib
        "kernel/drivers/net/e1000/e1000.ko",    # modules.builtin line
        "lib/modules/6.1.0-56-amd64/modules.dep",
        "etc/ld.so.conf",
    ]) == {"ata_piix", "vmw_pvscsi", "dm_mod", "e1000"}


# --- qemu's command line ----------------------------------------------------------------------

def test_qemu_boots_through_the_mbr_never_kernel():
    argv = qemu_command("qemu-system-x86_64", "/tmp/x/overlay.qcow2", Hardware("ide", "vmxnet3"), "tcg", 1024)
    assert "-kernel" not in argv and "-initrd" not in argv and "-snapshot" not in argv
    joined = " ".join(argv)
    assert "-machine pc,accel=tcg" in joined
    assert "-nographic" in argv and "-no-reboot" in argv and "-nodefaults" in argv
    assert argv[argv.index("-serial") + 1] == "stdio" and argv[argv.index("-monitor") + 1] == "none"
    assert "file=/tmp/x/overlay.qcow2,format=qcow2,if=none,id=disk0" in joined
    assert "ide-hd,drive=disk0,bus=ide.0,bootindex=0" in argv
    assert "vmxnet3,netdev=net0,romfile=" in argv
    assert "user,id=net0,restrict=on" in argv
    assert "-cpu" not in argv


def test_qemu_under_kvm_uses_the_host_cpu():
    argv = qemu_command("qemu", "/o.qcow2", Hardware("ide", "e1000"), "kvm", 512)
    assert "pc,accel=kvm" in argv and argv[argv.index("-cpu") + 1] == "host"
    assert argv[argv.index("-m") + 1] == "512"


@pytest.mark.parametrize("disk, devices", [
    ("pvscsi", ["pvscsi,id=scsi0", "scsi-hd,drive=disk0,bus=scsi0.0,bootindex=0"]),
    ("mptsas1068", ["mptsas1068,id=scsi0", "scsi-hd,drive=disk0,bus=scsi0.0,bootindex=0"]),
    ("lsi53c895a", ["lsi53c895a,id=scsi0", "scsi-hd,drive=disk0,bus=scsi0.0,bootindex=0"]),
    ("virtio-scsi", ["virtio-scsi-pci,id=scsi0", "scsi-hd,drive=disk0,bus=scsi0.0,bootindex=0"]),
    ("ahci", ["ahci,id=ahci0", "ide-hd,drive=disk0,bus=ahci0.0,bootindex=0"]),
    ("virtio", ["virtio-blk-pci,drive=disk0,bootindex=0"]),
])
def test_qemu_disk_controllers(disk, devices):
    argv = qemu_command("qemu", "/o.qcow2", Hardware(disk, "e1000"), "tcg", 1024)
    got = [argv[i + 1] for i, a in enumerate(argv) if a == "-device"][:-1]    # the last is the NIC
    assert got == devices


def test_commas_in_the_overlay_path_are_escaped():
    argv = qemu_command("qemu", "/tmp/a,b/o.qcow2", Hardware("ide", "e1000"), "tcg", 1024)
    assert any(a.startswith("file=/tmp/a,,b/o.qcow2,") for a in argv)


# --- the overlay's boot configuration -------------------------------------------------------

EL5_GRUB_CONF = """\
# grub.conf generated by anaconda
#
#boot=/dev/sda
default=0
timeout=5
splashimage=(hd0,0)/grub/splash.xpm.gz
hiddenmenu
title CentOS (2.6.18-274.3.1.el5.centos.plus)
\troot (hd0,0)
\tkernel /vmlinuz-2.6.18-274.3.1.el5.centos.plus ro root=/dev/VolGroup00/LogVol00 rhgb quiet console=ttyS0,9600
\tinitrd /initrd-2.6.18-274.3.1.el5.centos.plus.img
title CentOS (2.6.18-274.el5xen)
\troot (hd0,0)
\tkernel /xen.gz-2.6.18-274.el5 dom0_mem=512M
\tmodule /vmlinuz-2.6.18-274.el5xen ro root=/dev/VolGroup00/LogVol00 rhgb quiet
\tmodule /initrd-2.6.18-274.el5xen.img
title Other
\trootnoverify (hd0,2)
\tchainloader +1
"""


def test_grub_legacy_gets_a_serial_console():
    new = serial_grub_legacy(EL5_GRUB_CONF)
    assert new.split("\n")[:7] == [
        "# grub.conf generated by anaconda", "#", "#boot=/dev/sda",
        "# vmrescue boot-check: GRUB and the kernels on the serial console",
        "serial --unit=0 --speed=115200", "terminal --timeout=0 serial console", "default=0",
    ]
    assert "\n#splashimage=(hd0,0)/grub/splash.xpm.gz  # disabled by vmrescue boot-check\n" in new
    assert ("\tkernel /vmlinuz-2.6.18-274.3.1.el5.centos.plus ro root=/dev/VolGroup00/LogVol00 "
            "console=tty0 console=ttyS0,115200 loglevel=7\n") in new
    # Xen: the hypervisor line is left alone, the dom0 kernel (first module) gets the console
    assert "\tkernel /xen.gz-2.6.18-274.el5 dom0_mem=512M\n" in new
    assert "\tmodule /vmlinuz-2.6.18-274.el5xen ro root=/dev/VolGroup00/LogVol00 console=tty0 console=ttyS0,115200 loglevel=7\n" in new
    assert "\tmodule /initrd-2.6.18-274.el5xen.img\n" in new
    assert "\tchainloader +1\n" in new


def test_grub_legacy_rewrite_still_parses_the_same_entries():
    from rescue.bootloader.grub_legacy.config import parse_grub_legacy
    old, new = parse_grub_legacy(EL5_GRUB_CONF), parse_grub_legacy(serial_grub_legacy(EL5_GRUB_CONF))
    assert [(e.title, e.kind, e.linux_kernel, e.linux_initrd) for e in old.entries] == \
           [(e.title, e.kind, e.linux_kernel, e.linux_initrd) for e in new.entries]
    assert new.default == 0 and new.serial == "--unit=0 --speed=115200" and new.splashimage is None
    assert new.errors == ()


def test_grub_legacy_replaces_the_guests_own_serial_settings():
    conf = "default=0\nserial --unit=1 --speed=9600\nterminal --timeout=10 console serial\ntitle A\n\tkernel /vmlinuz-1 ro\n"
    new = serial_grub_legacy(conf)
    assert new.count("\nserial ") == 1 and "\n#serial --unit=1 --speed=9600  # disabled" in new
    assert new.split("\n")[:3] == ["# vmrescue boot-check: GRUB and the kernels on the serial console",
                                   "serial --unit=0 --speed=115200", "terminal --timeout=0 serial console"]


def test_grub_legacy_keeps_crlf_and_comments_in_entries():
    conf = "default=0\r\ntitle A\r\n#\tkernel /old\r\n\tkernel /vmlinuz-1 ro quiet\r\n"
    new = serial_grub_legacy(conf)
    assert "#\tkernel /old\r\n" in new
    assert "\tkernel /vmlinuz-1 ro console=tty0 console=ttyS0,115200 loglevel=7\r\n" in new


def test_grub_legacy_without_entries_still_gets_the_console():
    new = serial_grub_legacy("# only comments\ndefault=0\ntimeout=5\n")
    assert "terminal --timeout=0 serial console" in new


EL7_GRUB_CFG = """\
### BEGIN /etc/grub.d/00_header ###
set pager=1
terminal_output console
if [ x$feature_timeout_style = xy ] ; then
  set timeout=5
fi
if loadfont unicode ; then
  terminal_output gfxterm
fi
### BEGIN /etc/grub.d/10_linux ###
menuentry 'CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)' --class centos {
\tload_video
\tlinux16 /vmlinuz-3.10.0-1160.el7.x86_64 root=/dev/mapper/centos-root ro crashkernel=auto rhgb quiet LANG=en_US.UTF-8
\tinitrd16 /initramfs-3.10.0-1160.el7.x86_64.img
}
"""


def test_grub2_gets_a_serial_console():
    new = serial_grub2(EL7_GRUB_CFG)
    lines = new.split("\n")
    assert lines[1:4] == ["serial --unit=0 --speed=115200", "terminal_input serial console",
                          "terminal_output serial console"]
    assert "\nterminal_output serial console\nif [ x$feature" in new          # rewritten in place
    assert "\n  terminal_output serial console\nfi\n" in new                  # the if-block is not left empty
    assert ("\tlinux16 /vmlinuz-3.10.0-1160.el7.x86_64 root=/dev/mapper/centos-root ro crashkernel=auto "
            "LANG=en_US.UTF-8 console=tty0 console=ttyS0,115200 loglevel=7\n") in new
    from rescue.bootloader.grub2 import parse_grub2_cfg
    assert parse_grub2_cfg(new).entries[0].kernel == "/vmlinuz-3.10.0-1160.el7.x86_64"


def test_bls_entry_options():
    entry = "title CentOS Stream\nversion 5.14.0-70.el9.x86_64\nlinux /vmlinuz-5.14.0-70.el9.x86_64\noptions $kernelopts rhgb quiet\n"
    assert "\noptions $kernelopts console=tty0 console=ttyS0,115200 loglevel=7\n" in serial_bls(entry)


EL5_INITTAB = """\
id:3:initdefault:
si::sysinit:/etc/rc.d/rc.sysinit
l3:3:wait:/etc/rc.d/rc 3
ca::ctrlaltdel:/sbin/shutdown -t3 -r now
1:2345:respawn:/sbin/mingetty tty1
2:2345:respawn:/sbin/mingetty tty2
x:5:respawn:/etc/X11/prefdm -nodaemon
"""


def test_sysvinit_gets_a_getty_on_the_serial_port():
    new = serial_inittab(EL5_INITTAB, "/sbin/agetty")
    assert new.startswith(EL5_INITTAB)
    assert new.endswith("S0:2345:respawn:/sbin/agetty ttyS0 115200 vt100\n")


def test_inittab_left_alone_when_not_needed():
    assert serial_inittab("id:3:initdefault:\n", "/sbin/agetty") is None          # EL6 upstart
    with_serial = EL5_INITTAB + "co:2345:respawn:/sbin/agetty ttyS0 115200 vt100-nav\n"
    assert serial_inittab(with_serial, "/sbin/agetty") is None


# --- reports ----------------------------------------------------------------------------------

def a_check(log, expect=None, ended="verdict", **kwargs):
    return BootCheck(
        image="/images/web01.vmdk", format="vmdk", options=BootOptions(expect_kernel=expect),
        result=analyse(log, expect, ended=None if ended == "verdict" else ended), ended=ended, accel="tcg",
        hardware=Hardware("ide", "vmxnet3", "ata_piix", "vmxnet3"),
        overlay=OverlayFacts(os_found=True, product="CentOS release 6.10 (Final)", bootloader="grub-legacy",
                             configured=("/boot/grub/grub.conf",), default_release=expect, mbr_boot_code=True),
        console_log="/tmp/vmrescue-boot-check-x/console.log", console_tail=("a", "b"), log_truncated=False,
        prepare_seconds=35.2, boot_seconds=33.04, **kwargs)


OK_LOG = ("  Booting 'CentOS (6.1.0-56-amd64)'\r\n[    0.000000] Linux version 6.1.0-56-amd64 (x)\r\n"
          "\r\nCentOS release 6.10 (Final)\r\nKernel 6.1.0-56-amd64 on an x86_64\r\n\r\nweb01 login: ")


def test_json_document_of_a_boot():
    doc = to_json_document(a_check(OK_LOG, "6.1.0-56-amd64"))
    assert doc["schema"] == "vmrescue.boot-check/1"
    assert doc["ok"] is True and doc["exit_status"] == 0 and doc["stage_reached"] == "login"
    assert [s["stage"] for s in doc["stages"]] == ["bootloader", "kernel", "login"]
    assert doc["error"] is None
    assert doc["kernel"] == {"booted": "6.1.0-56-amd64", "expected": "6.1.0-56-amd64"}
    assert doc["boot"]["accel"] == "tcg" and doc["boot"]["disk"] == "ide" and doc["boot"]["seconds"] == 33.0
    assert doc["overlay"]["configured"] == ["/boot/grub/grub.conf"]
    import json
    json.dumps(doc)


def test_json_document_of_a_failure():
    doc = to_json_document(a_check("Booting from Hard Disk...\r\nNo bootable device.\r\n"))
    assert doc["ok"] is False and doc["exit_status"] == 1
    assert doc["error"]["code"] == "NO_BOOTABLE_DEVICE"
    assert doc["error"]["line"] == "No bootable device." and doc["error"]["message"] and doc["error"]["hint"]


def test_text_report_of_a_failure_shows_the_error_and_the_last_lines():
    lines = render_text(a_check("  Booting 'A'\r\n\r\nError 15: File not found\r\n\r\nPress any key to continue...\r\n"))
    assert lines[0] == "/images/web01.vmdk: DOES NOT BOOT: stopped at stage bootloader (TCG, 33 s)"
    assert lines[1].startswith("  GRUB_FILE_NOT_FOUND: GRUB could not find a file")
    assert "    console: Error 15: File not found" in lines
    assert "    | b" in lines and lines[-1] == "  console log: /tmp/vmrescue-boot-check-x/console.log"


def test_text_report_of_a_boot():
    lines = render_text(a_check(OK_LOG, "6.1.0-56-amd64"))
    assert lines[0] == "/images/web01.vmdk: BOOTS: login reached in 33 s (TCG), kernel 6.1.0-56-amd64"
    assert "  initrd        (passed, no console line shows it)" in lines
    assert "  hardware: disk ide (ata_piix), NIC vmxnet3 (vmxnet3)" in lines
    assert not any("last console lines" in line for line in lines)


# --- options --------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, code", [
    (BootOptions(timeout=0), "BAD_TIMEOUT"),
    (BootOptions(memory_mb=16), "BAD_MEMORY"),
    (BootOptions(keep_log="/nonexistent-dir/x.log"), "BAD_LOG_PATH"),
])
def test_bad_options_are_refused_before_anything_runs(options, code):
    from rescue.errors import Exit, RescueError
    with pytest.raises(RescueError) as caught:
        bootcheck.check_options(options)
    assert caught.value.code == code and caught.value.exit_status == Exit.USAGE


def test_missing_qemu_is_an_environment_error(monkeypatch):
    from rescue.errors import Exit, RescueError
    monkeypatch.setenv("VMRESCUE_QEMU", "qemu-system-that-does-not-exist")
    with pytest.raises(RescueError) as caught:
        bootcheck.check_tools()
    assert caught.value.code == "QEMU_MISSING" and caught.value.exit_status == Exit.ENVIRONMENT


def test_the_console_edit_drops_quiet_and_raises_the_log_level():
    from rescue.bootloader.cmdline import console_changes, with_console
    line = "\tkernel /vmlinuz-2.6.32-754.el6.x86_64 ro root=/dev/sda2 rhgb quiet loglevel=3 console=tty1"
    assert with_console(line) == ("\tkernel /vmlinuz-2.6.32-754.el6.x86_64 ro root=/dev/sda2 "
                                  "console=tty0 console=ttyS0,115200 loglevel=7")
    removed, added = console_changes("ro root=/dev/sda2 rhgb quiet loglevel=3 console=tty1")
    assert removed == ["rhgb", "quiet", "loglevel=3", "console=tty1"]
    assert added == ["console=tty0", "console=ttyS0,115200", "loglevel=7"]


def test_report_of_a_boot_whose_third_party_driver_is_refused():
    from rescue.bootcheck import drivers, probe
    from rescue.bootcheck.console import console_lines
    from rescue.model import ThirdPartyModule
    r, r2 = "6.1.0-57-amd64", "6.1.0-56-cloud-amd64"
    log = (f"  Booting 'CentOS copied kernel ({r2})'\r\n[    0.000000] Linux version {r2} (x)\r\n"
           f"[    0.000000] Kernel command line: ro root=/dev/sda2 console=tty0 console=ttyS0,115200 loglevel=7\r\n"
           "[   21.2] vmxnet: disagrees about version of symbol module_layout\r\n"
           f"{probe.BEGIN} {r2}\r\n{probe.PREFIX} module ata_piix Live\r\n{probe.END}\r\n\r\nweb01 login: ")
    tools = (ThirdPartyModule(f"/lib/modules/{r}/misc/vmxnet.ko", "vmxnet", r, f"/lib/modules/{r}"),)
    found, report = drivers.judge(drivers.expected_drivers(tools, "ata_piix", "ide", None, "e1000", r2),
                                  console_lines(log), r2)
    check = a_check(log, drivers=tuple(found), probe=report)
    check = BootCheck(**{**check.__dict__, "overlay": OverlayFacts(
        os_found=True, bootloader="grub-legacy", args_removed=("rhgb", "quiet"),
        args_added=("console=tty0", "console=ttyS0,115200", "loglevel=7"), probe="rc.local")})
    doc = to_json_document(check)
    assert doc["ok"] is True and doc["exit_status"] == 0           # the verdict stays "boots"
    vmxnet = doc["drivers"][0]
    assert (vmxnet["module"], vmxnet["loaded"], vmxnet["error"]["code"]) == ("vmxnet", False, "DRIVER_REFUSED")
    assert vmxnet["evidence"] == ["[   21.2] vmxnet: disagrees about version of symbol module_layout",
                                  f"{probe.PREFIX} (not among the loaded modules)"]
    assert [d["loaded"] for d in doc["drivers"]] == [False, True]      # vmxnet, ata_piix (no NIC driver asked for)
    assert doc["probe"] == {"installed": "rc.local", "ran": True, "complete": True, "release": r2, "links": []}
    assert doc["overlay"]["kernel_args"]["removed"] == ["rhgb", "quiet"]
    assert doc["overlay"]["kernel_args"]["booted_with"].endswith("loglevel=7")
    lines = render_text(check)
    assert lines[0].endswith(f"kernel {r2}; did not load: vmxnet")
    assert "  overlay: booted entry's kernel arguments without rhgb quiet, with console=tty0 " \
           "console=ttyS0,115200 loglevel=7" in lines
    assert f"  drivers under {r2}:" in lines
    assert any(line.startswith("    vmxnet       NOT LOADED  third-party module") for line in lines)
    assert any(line.startswith("      next: Boot the kernel it was built for") for line in lines)
