"""console.analyse on serial console logs as real guests print them.

The logs are written the way SeaBIOS (serial console), GRUB legacy on a
serial terminal, the EL5/EL6/EL7 kernels, nash, dracut and the init systems
print them, escape sequences and carriage returns included.
"""
import pytest

from rescue.bootcheck.console import ERRORS, STAGES, analyse, clean, last_lines

ESC = "\x1b"
SEABIOS = (f"{ESC}c{ESC}[?7l{ESC}[2J{ESC}[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n"
           "Booting from Hard Disk...\r\n")

# GRUB legacy on `terminal --timeout=0 serial console`, hiddenmenu: stage1 and
# stage1.5 print through the BIOS, stage2 clears the screen and counts down.
GRUB_LEGACY_HIDDEN = (
    "GRUB Loading stage1.5.\r\n\r\n\r\nGRUB loading, please wait...\r\n"
    "Press any key to continue.\r\n"
    f"{ESC}[2J{ESC}[H{ESC}[m"
    "Press any key to enter the menu\r\n\r\n\r\n"
    "Booting {title} in 5 seconds...\r"
    "Booting {title} in 4 seconds...\r"
    "Booting {title} in 1 seconds...\r\n"
    f"{ESC}[2J{ESC}[H"
    "  Booting '{title}'\r\n\r\n"
    "root (hd0,0)\r\n"
    " Filesystem type is ext2fs, partition type 0x83\r\n"
)

EL5_RELEASE = "2.6.18-274.3.1.el5.centos.plus"
EL5_BOOT = SEABIOS + GRUB_LEGACY_HIDDEN.format(title=f"CentOS ({EL5_RELEASE})") + f"""\
kernel /vmlinuz-{EL5_RELEASE} ro root=/dev/VolGroup00/LogVol00 console=tty0 console=ttyS0,115200
   [Linux-bzImage, setup=0x1e00, size=0x1d3c7c]
initrd /initrd-{EL5_RELEASE}.img
   [Linux-initrd @ 0x37d6e000, 0x281d3c bytes]

Bootdata ok (command line is ro root=/dev/VolGroup00/LogVol00 console=tty0 console=ttyS0,115200)
Linux version {EL5_RELEASE} (mockbuild@builder10.centos.org) (gcc version 4.1.2 20080704 (Red Hat 4.1.2-50)) #1 SMP Tue Sep 6 20:13:52 EDT 2011
BIOS-provided physical RAM map:
 BIOS-e820: 0000000000000000 - 000000000009fc00 (usable)
Kernel command line: ro root=/dev/VolGroup00/LogVol00 console=tty0 console=ttyS0,115200
Console: colour dummy device 80x25
checking if image is initramfs... it is
Freeing initrd memory: 2567k freed
Freeing unused kernel memory: 176k freed
Red Hat nash version 5.1.19.6 starting
Mounting proc filesystem
Mounting sysfs filesystem
Creating /dev
Loading ata_piix.ko module
Loading dm-mod.ko module
Scanning logical volumes
  Reading all physical volumes.  This may take a while...
  Found volume group "VolGroup00" using metadata type lvm2
Activating logical volumes
  2 logical volume(s) in volume group "VolGroup00" now active
Creating root device.
Mounting root filesystem.
kjournald starting.  Commit interval 5 seconds
EXT3-fs: mounted filesystem with ordered data mode.
Setting up other filesystems.
Switching to new root and running init.
unmounting old /dev
INIT: version 2.86 booting
\t\tWelcome to {ESC}[0;34mCentOS{ESC}[0;39m release 5.11 (Final)
\t\tPress 'I' to enter interactive startup.
Setting clock  (utc): Tue Nov 25 23:40:01 UTC 2025 [{ESC}[60G  OK  ]\r
Starting udev: [  OK  ]
INIT: Entering runlevel: 3
Starting sshd: [  OK  ]

CentOS release 5.11 (Final)
Kernel {EL5_RELEASE} on an x86_64

localhost.localdomain login: """.replace("\n", "\r\n")

EL6_RELEASE = "2.6.32-431.29.2.el6.centos.plus.x86_64"
EL6_BOOT = SEABIOS + GRUB_LEGACY_HIDDEN.format(title=f"CentOS ({EL6_RELEASE})") + f"""\
kernel /vmlinuz-{EL6_RELEASE} ro root=/dev/mapper/vg_centos6-lv_root rd_LVM_LV=vg_centos6/lv_root rd_NO_LUKS rd_NO_MD console=tty0 console=ttyS0,115200
   [Linux-bzImage, setup=0x3400, size=0x3f0c90]
initrd /initramfs-{EL6_RELEASE}.img
   [Linux-initrd @ 0x37a3a000, 0x5b5e2c bytes]

Initializing cgroup subsys cpuset
Initializing cgroup subsys cpu
Linux version {EL6_RELEASE} (mockbuild@c6b8.bsys.dev.centos.org) (gcc version 4.4.7 20120313 (Red Hat 4.4.7-4) (GCC) ) #1 SMP Tue Sep 9 23:06:08 UTC 2014
Command line: ro root=/dev/mapper/vg_centos6-lv_root rd_LVM_LV=vg_centos6/lv_root rd_NO_LUKS rd_NO_MD console=tty0 console=ttyS0,115200
KERNEL supported cpus:
Trying to unpack rootfs image as initramfs...
Freeing initrd memory: 5846k freed
Freeing unused kernel memory: 1280k freed
dracut: dracut-004-336.el6_5.2
dracut: rd_NO_LUKS: removing cryptoluks activation
device-mapper: ioctl: 4.24.6-ioctl (2013-01-15) initialised: dm-devel@redhat.com
udev: starting version 147
dracut: Starting plymouth daemon
dracut: Scanning devices sda2  for LVM logical volumes vg_centos6/lv_root
dracut: inactive '/dev/vg_centos6/lv_root' [1.46 GiB] inherit
EXT4-fs (dm-0): mounted filesystem with ordered data mode. Opts: 
dracut: Mounted root filesystem /dev/mapper/vg_centos6-lv_root
dracut: Switching root
\t\tWelcome to CentOS 
Starting udev: udev: starting version 147
[  OK  ]
Setting hostname localhost.localdomain:  [  OK  ]
Mounting local filesystems:  [  OK  ]
Starting sshd: [  OK  ]

CentOS release 6.5 (Final)
Kernel {EL6_RELEASE} on an x86_64

localhost.localdomain login: """.replace("\n", "\r\n")

# The bootable test fixture: a Debian kernel and dracut's shell initramfs
# (printk timestamps), an init that prints the marker and a prompt.
FIXTURE_RELEASE = "6.1.0-28-amd64"
FIXTURE_BOOT = SEABIOS + GRUB_LEGACY_HIDDEN.format(title=f"CentOS ({FIXTURE_RELEASE})") + f"""\
kernel /vmlinuz-{FIXTURE_RELEASE} ro root=/dev/mapper/vg_boot-lv_root rd_LVM_LV=vg_boot/lv_root console=tty0 console=ttyS0,115200
   [Linux-bzImage, setup=0x4400, size=0x7a4dc0]
initrd /initramfs-{FIXTURE_RELEASE}.img
   [Linux-initrd @ 0x3e4c4000, 0x1b2a11c bytes]

[    0.000000] Linux version {FIXTURE_RELEASE} (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)
[    0.000000] Command line: ro root=/dev/mapper/vg_boot-lv_root rd_LVM_LV=vg_boot/lv_root console=tty0 console=ttyS0,115200
[    1.081833] Trying to unpack rootfs image as initramfs...
[    2.702142] Freeing initrd memory: 27816K
[    3.191022] Freeing unused kernel image (initmem) memory: 2816K
[    3.199301] Run /init as init process
[    4.731921] dracut: dracut-059-4
[    9.120031] dracut: Mounting /dev/mapper/vg_boot-lv_root with -o ro
[    9.301822] EXT4-fs (dm-0): mounted filesystem with ordered data mode. Quota mode: none.
[    9.522010] dracut: Switching root
VMRESCUE-BOOT-OK kernel={FIXTURE_RELEASE}

CentOS release 6.10 (Final)
Kernel {FIXTURE_RELEASE} on an x86_64

localhost login: 
""".replace("\n", "\r\n")

EL7_RELEASE = "3.10.0-1160.119.1.el7.x86_64"
EL7_BOOT = SEABIOS + f"""\
{ESC}[H{ESC}[J{ESC}[1;1H{ESC}[?25l{ESC}[m{ESC}[H{ESC}[J{ESC}[1;1H{ESC}[2;22HGNU GRUB  version 2.02{ESC}[m{ESC}[4;2H+------+
  Booting `CentOS Linux ({EL7_RELEASE}) 7 (Core)'

[    0.000000] Linux version {EL7_RELEASE} (mockbuild@kbuilder.bsys.centos.org) (gcc version 4.8.5 20150623 (Red Hat 4.8.5-44) (GCC) ) #1 SMP Tue Jul 9 21:32:57 UTC 2024
[    1.502311] Freeing initrd memory: 19644k freed
[    1.944100] Freeing unused kernel image memory: 1980k freed
[    2.011920] systemd[1]: systemd 219 running in system mode. (+PAM +AUDIT +SELINUX)
[    2.013030] systemd[1]: Detected virtualization kvm.
Welcome to {ESC}[0;34mCentOS Linux 7 (Core) dracut-033-572.el7 (Initramfs){ESC}[0m!
[  OK  ] Reached target Basic System.
[    4.121334] XFS (dm-0): Mounting V5 Filesystem
[    4.391552] XFS (dm-0): Ending clean mount
[  OK  ] Mounted /sysroot.
         Starting Switch Root...
[    5.101233] systemd-journald[102]: Received SIGTERM from PID 1 (systemd).
[    5.390112] systemd[1]: Inserted module 'ip_tables'
Welcome to {ESC}[0;31mCentOS Linux 7 (Core){ESC}[0m!
[  OK  ] Started Getty on tty1.
[  OK  ] Started Serial Getty on ttyS0.

CentOS Linux 7 (Core)
Kernel {EL7_RELEASE} on an x86_64

localhost login: """.replace("\n", "\r\n")


def stage_lines(result):
    return dict(result.stages)


# --- boots that work -----------------------------------------------------------------

def test_centos5_boot_reaches_login_with_evidence_for_each_stage():
    result = analyse(EL5_BOOT, EL5_RELEASE)
    assert result.ok and result.decided
    assert result.stage_reached == "login"
    assert result.kernel_version == EL5_RELEASE
    assert result.error is None and result.problems == ()
    assert stage_lines(result) == {
        "firmware": "SeaBIOS (version 1.16.2-debian-1.16.2-1)",
        "bootloader": "GRUB Loading stage1.5.",
        "kernel": f"Linux version {EL5_RELEASE} (mockbuild@builder10.centos.org) (gcc version 4.1.2 20080704 "
                  "(Red Hat 4.1.2-50)) #1 SMP Tue Sep 6 20:13:52 EDT 2011",
        "initrd": "Freeing initrd memory: 2567k freed",
        "root-mounted": "EXT3-fs: mounted filesystem with ordered data mode.",
        "init": "INIT: version 2.86 booting",
        "login": "localhost.localdomain login:",
    }
    assert [s for s, _ in result.stages] == [s for s in STAGES if s != "efi-loader"]    # a BIOS boot


def test_centos6_dracut_boot():
    result = analyse(EL6_BOOT, EL6_RELEASE)
    assert result.ok
    lines = stage_lines(result)
    assert lines["initrd"] == "Trying to unpack rootfs image as initramfs..."
    assert lines["root-mounted"] == "EXT4-fs (dm-0): mounted filesystem with ordered data mode. Opts:"
    # "Freeing unused kernel memory" comes before dracut mounts the root: not init's evidence
    assert lines["init"] == "Welcome to CentOS"
    assert lines["login"] == "localhost.localdomain login:"


def test_fixture_boot_reaches_login_at_its_getty_prompt():
    result = analyse(FIXTURE_BOOT, FIXTURE_RELEASE)
    assert result.ok
    assert result.kernel_version == FIXTURE_RELEASE
    lines = stage_lines(result)
    assert lines["kernel"].startswith(f"[    0.000000] Linux version {FIXTURE_RELEASE} (")
    assert lines["initrd"] == "[    1.081833] Trying to unpack rootfs image as initramfs..."
    assert lines["login"] == "localhost login:"
    assert "init" not in lines          # the marker is the fixture's own line, not evidence


def test_centos7_initramfs_systemd_is_not_the_real_init():
    result = analyse(EL7_BOOT, EL7_RELEASE)
    assert result.ok
    lines = stage_lines(result)
    assert lines["bootloader"] == "GNU GRUB  version 2.02"
    assert lines["root-mounted"] == "[    4.391552] XFS (dm-0): Ending clean mount"    # not "Mounting": it can fail
    assert lines["init"] == "[    5.390112] systemd[1]: Inserted module 'ip_tables'"


def test_without_an_expected_kernel_any_kernel_will_do():
    assert analyse(EL5_BOOT).ok


def test_a_boot_in_progress_is_not_decided():
    partial = EL6_BOOT[:EL6_BOOT.index("dracut: Switching root")]
    result = analyse(partial, EL6_RELEASE, idle=120)
    assert not result.ok and not result.decided
    assert result.stage_reached == "root-mounted"
    assert result.error is None


# --- boots that stop -------------------------------------------------------------------

def test_wrong_kernel_version():
    result = analyse(EL5_BOOT.replace(EL5_RELEASE, "2.6.18-238.el5"), EL5_RELEASE)
    assert not result.ok and result.decided
    assert result.kernel_version == "2.6.18-238.el5"
    code, line = result.error
    assert code == "KERNEL_VERSION_UNEXPECTED"
    assert line.startswith("Linux version 2.6.18-238.el5 ")


def test_the_fixtures_marker_proves_nothing():
    result = analyse(SEABIOS + f"VMRESCUE-BOOT-OK kernel={FIXTURE_RELEASE}\r\n", FIXTURE_RELEASE, ended="exited")
    assert result.stage_reached == "firmware" and result.kernel_version is None and not result.ok


GRUB_ERROR_15 = SEABIOS + GRUB_LEGACY_HIDDEN.format(title=f"CentOS ({EL5_RELEASE})") + f"""\
kernel /vmlinuz-{EL5_RELEASE} ro root=/dev/VolGroup00/LogVol00 console=tty0 console=ttyS0,115200

Error 15: File not found

Press any key to continue...""".replace("\n", "\r\n")


def test_grub_error_15_without_fallback():
    result = analyse(GRUB_ERROR_15, EL5_RELEASE)
    assert result.decided and not result.ok
    assert result.stage_reached == "bootloader"
    assert result.error == ("GRUB_FILE_NOT_FOUND", "Error 15: File not found")
    assert result.kernel_version is None


def test_grub_error_then_fallback_entry_boots():
    log = GRUB_ERROR_15.replace("Press any key to continue...", "")
    log += EL5_BOOT[EL5_BOOT.index("  Booting '"):].replace(EL5_RELEASE, "2.6.18-238.el5")
    result = analyse(log, "2.6.18-238.el5")
    assert result.ok
    assert result.problems == (("GRUB_FILE_NOT_FOUND", "Error 15: File not found"),)


def test_grub_error_with_silence_after_it_is_a_verdict_after_a_grace():
    log = GRUB_ERROR_15.replace("Press any key to continue...", "")
    assert not analyse(log, idle=3).decided
    assert analyse(log, idle=15).error == ("GRUB_FILE_NOT_FOUND", "Error 15: File not found")


def test_other_grub_legacy_errors_keep_their_number():
    log = SEABIOS + "  Booting 'CentOS'\r\n\r\nroot (hd0,4)\r\n\r\nError 22: No such partition\r\n\r\nPress any key to continue...\r\n"
    assert analyse(log).error == ("GRUB_ERROR", "Error 22: No such partition")


def test_grub2_file_not_found():
    log = SEABIOS + f"""  Booting `CentOS Linux ({EL7_RELEASE}) 7 (Core)'

error: file `/vmlinuz-{EL7_RELEASE}' not found.
error: you need to load the kernel first.

Press any key to continue...""".replace("\n", "\r\n")
    # GRUB 2 goes on after 10 s of "Press any key": not decided until it has been silent longer
    assert not analyse(log, EL7_RELEASE, idle=12).decided
    result = analyse(log, EL7_RELEASE, idle=30)
    assert result.error == ("GRUB_FILE_NOT_FOUND", f"error: file `/vmlinuz-{EL7_RELEASE}' not found.")
    assert [c for c, _ in result.problems] == ["GRUB_FILE_NOT_FOUND", "GRUB_ERROR"]


GRUB_PROMPT = SEABIOS + f"""\
GRUB Loading stage1.5.


GRUB loading, please wait...
Press any key to continue.
{ESC}[2J{ESC}[H

    GNU GRUB  version 0.97  (640K lower / 3072K upper memory)

 [ Minimal BASH-like line editing is supported.  For the first word, TAB
   lists possible command completions.  Anywhere else TAB lists the possible
   completions of a device/filename.]
{ESC}[8;1Hgrub> """.replace("\n", "\r\n")


def test_grub_prompt_without_entries():
    result = analyse(GRUB_PROMPT, EL5_RELEASE)
    assert result.decided and not result.ok
    assert result.stage_reached == "bootloader"
    assert result.error == ("GRUB_PROMPT", "grub>")


def test_grub2_rescue_prompt():
    log = SEABIOS + "error: unknown filesystem.\r\nEntering rescue mode...\r\ngrub rescue> "
    assert analyse(log).error == ("GRUB_ERROR", "error: unknown filesystem.")
    assert [c for c, _ in analyse(log).problems] == ["GRUB_ERROR", "GRUB_RESCUE"]


def test_no_bootable_device():
    log = SEABIOS + "Boot failed: not a bootable disk\r\n\r\nNo bootable device.  Retrying in 60 seconds.\r\n"
    result = analyse(log)
    assert result.decided
    assert result.stage_reached == "firmware"      # SeaBIOS ran, found nothing
    assert result.error == ("NO_BOOTABLE_DEVICE", "No bootable device.  Retrying in 60 seconds.")


def test_mbr_without_boot_code_goes_silent_after_the_bios_hands_over():
    assert not analyse(SEABIOS, idle=5).decided
    result = analyse(SEABIOS, idle=25)
    assert result.error == ("BOOT_CODE_SILENT", "Booting from Hard Disk...")
    assert result.stage_reached == "firmware"


EL6_NO_ROOT_PANIC = SEABIOS + GRUB_LEGACY_HIDDEN.format(title="CentOS (2.6.32-431.el6.x86_64)") + """\
kernel /vmlinuz-2.6.32-431.el6.x86_64 ro root=/dev/mapper/vg_centos6-lv_root console=tty0 console=ttyS0,115200
   [Linux-bzImage, setup=0x3400, size=0x3ee3b0]

Linux version 2.6.32-431.el6.x86_64 (mockbuild@c6b8.bsys.dev.centos.org) (gcc version 4.4.7 20120313 (Red Hat 4.4.7-4) (GCC) ) #1 SMP Fri Nov 22 03:15:09 UTC 2013
Freeing unused kernel memory: 1280k freed
VFS: Cannot open root device "mapper/vg_centos6-lv_root" or unknown-block(0,0)
Please append a correct "root=" boot option; here are the available partitions:
Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)
Pid: 1, comm: swapper Not tainted 2.6.32-431.el6.x86_64 #1
Call Trace:
 [<ffffffff815271fa>] ? panic+0xa7/0x16f
""".replace("\n", "\r\n")


def test_kernel_panic_without_initrd():
    result = analyse(EL6_NO_ROOT_PANIC, "2.6.32-431.el6.x86_64")
    assert result.decided and not result.ok
    assert result.stage_reached == "kernel"
    assert result.error == ("ROOT_FS_UNMOUNTABLE",
                            'VFS: Cannot open root device "mapper/vg_centos6-lv_root" or unknown-block(0,0)')
    assert result.problems[-1] == ("ROOT_FS_UNMOUNTABLE",
                                   "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)")


def test_a_bare_panic_is_the_error():
    log = "Linux version 2.6.32-431.el6.x86_64 (x)\r\nKernel panic - not syncing: Fatal exception\r\n"
    assert analyse(log).error == ("KERNEL_PANIC", "Kernel panic - not syncing: Fatal exception")


EL5_MODULE_MISMATCH = SEABIOS + GRUB_LEGACY_HIDDEN.format(title="CentOS (2.6.18-238.el5)") + """\
kernel /vmlinuz-2.6.18-238.el5 ro root=/dev/VolGroup00/LogVol00 console=tty0 console=ttyS0,115200
initrd /initrd-2.6.18-238.el5.img

Linux version 2.6.18-238.el5 (mockbuild@builder10.centos.org) (gcc version 4.1.2 20080704 (Red Hat 4.1.2-50)) #1 SMP Thu Jan 13 15:51:15 EST 2011
Freeing initrd memory: 2567k freed
Freeing unused kernel memory: 176k freed
Red Hat nash version 5.1.19.6 starting
Loading ehci-hcd.ko module
ehci_hcd: disagrees about version of symbol struct_module
insmod: error inserting '/lib/ehci-hcd.ko': -1 Invalid module format
ERROR: /bin/insmod exited abnormally! (pid 470)
Loading mptspi.ko module
mptbase: disagrees about version of symbol struct_module
Scanning logical volumes
  No volume groups found
Activating logical volumes
  Volume group "VolGroup00" not found
Creating root device.
Mounting root filesystem.
mount: could not find filesystem '/dev/root'
Setting up other filesystems.
Switching to new root and running init.
switchroot: mount failed: No such file or directory
Kernel panic - not syncing: Attempted to kill init!
""".replace("\n", "\r\n")


def test_module_version_mismatch_is_named_as_the_cause():
    result = analyse(EL5_MODULE_MISMATCH, "2.6.18-238.el5")
    assert result.decided and not result.ok
    assert result.stage_reached == "initrd"          # nash's "Switching to new root" proves nothing
    assert result.error == ("MODULE_VERSION_MISMATCH", "ehci_hcd: disagrees about version of symbol struct_module")
    assert [c for c, _ in result.problems] == [
        "MODULE_VERSION_MISMATCH", "MODULE_VERSION_MISMATCH", "MODULE_VERSION_MISMATCH",
        "ROOT_DEVICE_MISSING", "ROOT_FS_UNMOUNTABLE", "KERNEL_PANIC"]


def test_dracut_root_device_missing_then_shell():
    log = FIXTURE_BOOT[:FIXTURE_BOOT.index("[    9.120031]")] + """\
[  188.221003] dracut Warning: Could not boot.
[  188.230011] dracut Warning: /dev/mapper/vg_boot-lv_root does not exist
Dropping to debug shell.

sh-5.2# """.replace("\n", "\r\n")
    result = analyse(log, FIXTURE_RELEASE)
    assert result.decided
    assert result.stage_reached == "initrd"
    assert result.error == ("ROOT_DEVICE_MISSING",
                            "[  188.230011] dracut Warning: /dev/mapper/vg_boot-lv_root does not exist")
    assert result.problems[-1] == ("INITRAMFS_SHELL", "Dropping to debug shell.")


def test_el6_dracut_no_root_device_panics():
    log = EL6_BOOT[:EL6_BOOT.index("EXT4-fs (dm-0)")] + """\
dracut Warning: No root device "block:/dev/mapper/vg_centos6-lv_root" found
dracut Warning: Boot has failed. To debug this issue add "rdshell" to the kernel command line.
dracut Warning: Signal caught!
Kernel panic - not syncing: Attempted to kill init!
""".replace("\n", "\r\n")
    result = analyse(log, EL6_RELEASE)
    assert result.error == ("ROOT_DEVICE_MISSING",
                            'dracut Warning: No root device "block:/dev/mapper/vg_centos6-lv_root" found')


def test_dracut_fatal():
    log = FIXTURE_BOOT[:FIXTURE_BOOT.index("[    9.120031]")] + \
        "[    5.1] dracut: FATAL: No or empty root= argument\r\n[    5.2] dracut: Refusing to continue\r\n"
    assert analyse(log).error == ("DRACUT_FATAL", "[    5.1] dracut: FATAL: No or empty root= argument")


def test_no_init_found():
    log = ("Linux version 2.6.32-431.el6.x86_64 (x)\r\nVFS: Mounted root (ext4 filesystem) readonly on device 8:2.\r\n"
           "Kernel panic - not syncing: No init found.  Try passing init= option to kernel.\r\n")
    result = analyse(log)
    assert result.stage_reached == "root-mounted"
    assert result.error == ("NO_INIT", "Kernel panic - not syncing: No init found.  Try passing init= option to kernel.")


def test_a_vmxnet_mismatch_after_login_does_not_fail_the_boot():
    log = EL5_BOOT.replace("Starting sshd: [  OK  ]",
                           "vmxnet: disagrees about version of symbol struct_module\r\nStarting sshd: [  OK  ]")
    result = analyse(log, EL5_RELEASE)
    assert result.ok and result.error is None
    assert result.problems == (("MODULE_VERSION_MISMATCH", "vmxnet: disagrees about version of symbol struct_module"),)


def test_maintenance_shell():
    log = EL6_BOOT[:EL6_BOOT.index("Mounting local")] + """\
*** An error occurred during the file system check.
*** Dropping you to a shell; the system will reboot
*** when you leave the shell.
Give root password for maintenance
(or type Control-D to continue): """.replace("\n", "\r\n")
    result = analyse(log, EL6_RELEASE)
    assert result.stage_reached == "init"
    assert result.error == ("FSCK_FAILED", "*** An error occurred during the file system check.")
    assert [code for code, _ in result.problems] == ["FSCK_FAILED", "MAINTENANCE_SHELL"]


# --- how the capture ended ------------------------------------------------------------

def test_empty_log():
    result = analyse("", "2.6.18-238.el5")
    assert result.stage_reached is None and result.stages == ()
    assert result.error is None and not result.ok and not result.decided
    assert result.kernel_version is None
    assert analyse("", ended="timeout").error == ("BOOT_TIMEOUT", "")
    assert analyse("", ended="exited").error == ("GUEST_STOPPED", "")


def test_timeout_names_the_last_line():
    partial = EL6_BOOT[:EL6_BOOT.index("dracut: Switching root")]
    result = analyse(partial, EL6_RELEASE, ended="timeout")
    assert result.error == ("BOOT_TIMEOUT", "dracut: Mounted root filesystem /dev/mapper/vg_centos6-lv_root")


def test_reset_after_the_boot_loader():
    log = GRUB_ERROR_15[:GRUB_ERROR_15.index("kernel /vmlinuz")]
    assert analyse(log, ended="exited").error == ("GUEST_STOPPED", "Filesystem type is ext2fs, partition type 0x83")


def test_the_fixture_powering_off_after_its_marker_is_a_success():
    assert analyse(FIXTURE_BOOT, FIXTURE_RELEASE, ended="exited").ok


# --- cleaning ---------------------------------------------------------------------------

def test_clean_strips_escapes_and_splits_cursor_moves():
    raw = f"{ESC}c{ESC}[?7l{ESC}[2J{ESC}[0mSeaBIOS\r\n{ESC}[4;2H+----+{ESC}[5;2H| CentOS |{ESC}]0;title\x07\x08\x00ok\r\n"
    assert [l for l in clean(raw).split("\n") if l] == ["SeaBIOS", "+----+", "| CentOS |ok"]


def test_evidence_lines_are_cleaned():
    result = analyse(EL5_BOOT)
    assert all("\x1b" not in line and "\r" not in line for _, line in result.stages)


def test_last_lines():
    assert last_lines(EL5_BOOT, 2) == [f"Kernel {EL5_RELEASE} on an x86_64", "localhost.localdomain login:"]


def test_every_error_code_has_a_message_and_a_hint():
    from rescue.bootcheck import evidence
    codes = {row[1] for row in evidence.BOOT_PROBLEMS + evidence.KERNEL_PROBLEMS}
    codes |= {"KERNEL_VERSION_UNEXPECTED", "BOOT_CODE_SILENT", "GUEST_STOPPED", "BOOT_TIMEOUT", "GRUB_FILE_NOT_FOUND",
              "GUEST_POWERED_OFF_AFTER_INIT"}
    assert codes <= set(ERRORS)
    assert all(message and hint for message, hint in ERRORS.values())


@pytest.mark.parametrize("log", ["\x00" * 100, "\x1b[" * 50, "grub>" * 3, "Linux version"])
def test_garbage_never_raises(log):
    analyse(log, "x", ended="timeout", idle=999)


# Lines as the bootable fixture printed them under qemu (Debian's grub-legacy, kernel 6.1, dracut 059).
FIXTURE_EXCERPT = """\
SeaBIOS (version 1.16.2-debian-1.16.2-1)
Booting from Hard Disk...
GRUB Loading stage1.5.
GRUB loading, please wait...
Press `ESC' to enter the menu... 1
Press `ESC' to enter the menu... 0
  Booting 'CentOS (6.1.0-56-amd64)'
root (hd0,0)
 Filesystem type is ext2fs, partition type 0x83
kernel /vmlinuz-6.1.0-56-amd64 ro root=/dev/mapper/vg_boot-lv_root rd_LVM_LV=vg
_boot/lv_root console=tty0 console=ttyS0,115200
   [Linux-bzImage, setup=0x4e00, size=0x7d87c0]
initrd /initramfs-6.1.0-56-amd64.img
   [Linux-initrd @ 0x3753c000, 0xab3f86 bytes]
[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)
[    0.039856] RAMDISK: [mem 0x3753c000-0x37feffff]
[    2.374813] Trying to unpack rootfs image as initramfs...
[    4.944206] Run /init as init process
[    7.195764] dracut: dracut-059-4
[    8.455923] dracut Warning: Option 'rd_LVM_LV=' is deprecated, use 'rd.lvm.lv' instead.
[   19.754348] EXT4-fs (dm-0): mounted filesystem with ordered data mode. Quota mode: none.
[   22.506354] dracut: Switching root
VMRESCUE-BOOT-OK kernel=6.1.0-56-amd64

CentOS release 6.10 (Final)
Kernel 6.1.0-56-amd64 on an x86_64

el6bootable login:
"""


def test_real_fixture_excerpt():
    result = analyse(FIXTURE_EXCERPT, "6.1.0-56-amd64")
    assert result.ok and result.problems == ()
    lines = stage_lines(result)
    assert lines["initrd"] == "[    2.374813] Trying to unpack rootfs image as initramfs..."   # not the memory map
    assert lines["bootloader"] == "GRUB Loading stage1.5."


def test_a_timeout_after_a_symptom_is_still_a_timeout():
    # EL5 without a getty on ttyS0: init runs, a vmxnet module fails, no prompt ever comes
    log = EL5_BOOT[:EL5_BOOT.index("INIT: Entering runlevel")] + \
        "vmxnet: disagrees about version of symbol struct_module\r\n"
    result = analyse(log, EL5_RELEASE, ended="timeout")
    assert result.stage_reached == "init"
    assert result.error == ("BOOT_TIMEOUT", "vmxnet: disagrees about version of symbol struct_module")
    assert result.problems == (("MODULE_VERSION_MISMATCH", "vmxnet: disagrees about version of symbol struct_module"),)


def test_grub_waiting_after_an_error_at_the_timeout_names_the_grub_error():
    log = GRUB_ERROR_15.replace("Press any key to continue...", "")
    assert analyse(log, ended="timeout").error == ("GRUB_FILE_NOT_FOUND", "Error 15: File not found")
