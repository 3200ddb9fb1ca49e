"""What a serial console line proves: the stage evidence and the problems, as patterns. Pure.

Only lines that the firmware, GRUB, the kernel, the initramfs (nash, dracut,
initramfs-tools), the init systems (sysvinit with EL's rc.sysinit, upstart,
systemd, busybox) and getty print, and the probe boot-check itself adds to
the overlay (rescue.bootcheck.probe): never a line of the test fixtures.
Patterns are matched against a line without its printk timestamp. Where
each line comes from: tests/data/console/ (the logs and their sources).

Some lines prove a stage only in context, which rescue.bootcheck.console
keeps track of:

* with an initramfs, "Freeing unused kernel memory" and "Run /init as init
  process" come before the root is mounted: they prove init only after it;
* a systemd initramfs (EL7+ dracut: "(Initramfs)!", "Running in initrd")
  prints systemd's own lines ("systemd[1]:", "[  OK  ] Reached target ...")
  before it switches root: those prove init only after "Switching root";
* "Freeing unused kernel memory" and "Run /sbin/init as init process" after
  the root is mounted are the kernel about to exec init: a "No working init
  found" or "Attempted to kill init" right after takes them back;
* a clean power-off or reboot after the root is mounted was asked for by
  user space, i.e. init ran.
"""
from __future__ import annotations

import re

from rescue.bootcheck.probe import BEGIN as PROBE_BEGIN

# "efi-loader" is a stage of UEFI boots only: the firmware started an EFI
# program from the disk (shim or GRUB-EFI), which then proves "bootloader".
STAGES = ("firmware", "efi-loader", "bootloader", "kernel", "initrd", "root-mounted", "init", "login")

PRINTK_TIME = re.compile(r"^(?:<\d+>)?\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])?\s?")

# The firmware ran: SeaBIOS's banner and its hand-over, OVMF's boot manager (BdsDxe)
# trying its boot options (Debian's ovmf 2022.11 on the serial port; EDK II
# MdeModulePkg/Universal/BdsDxe/BdsEntry.c prints these).
FIRMWARE = re.compile(
    r"^SeaBIOS \(version "
    r"|^Booting from (?:Hard Disk|Floppy|DVD/CD)"
    r"|BdsDxe: (?:loading|failed to load|starting) Boot[0-9A-F]{4}"
    r"|UEFI Interactive Shell"
)
# The firmware starts the EFI program of a boot option from a disk: the loader on the
# ESP. Not a program of the firmware's own volume, "Fv(...)", such as its shell.
EFI_LOADER = re.compile(r'BdsDxe: starting Boot[0-9A-F]{4} "[^"]*" from (?!Fv\()')

BOOTLOADER = re.compile(
    r"GNU GRUB\s+version"                    # GRUB legacy and GRUB 2 menu headers
    r"|^\s*Booting '.*'"                     # GRUB legacy: "  Booting 'CentOS (2.6.18-...)'"
    r"|^\s*Booting `.*'"                     # GRUB 2: "Booting `CentOS Linux ...'"
    r"|^\s*Booting a command list"
    r"|Press any key to enter the menu"      # GRUB legacy hiddenmenu (Red Hat)
    r"|Press `ESC' to enter the menu"        # GRUB legacy hiddenmenu (Debian)
    r"|^\s*GRUB Loading stage"               # GRUB legacy stage1 / stage1.5
    r"|^\s*Welcome to GRUB!"                 # GRUB 2 core
    r"|Use the \^ and v keys to"             # GRUB 2 menu
    r"|will be (?:started|executed) automatically in \d+s"
    r"|Booting the kernel"                   # the kernel's decompressor, loaded by the boot loader
)
LINUX_VERSION = re.compile(r"Linux version (\S+)")
COMMAND_LINE = re.compile(r"^Kernel command line: (.*)")

INITRD = re.compile(                          # after the kernel, before the root is mounted
    r"Freeing initrd memory"
    r"|^dracut(?:-[\w.-]+)?(?:\[\d+\])?:"    # "dracut: ...", "dracut-initqueue[218]: ..."
    r"|Unpacking initramfs"
    r"|Trying to unpack rootfs image as initramfs"
    r"|^RAMDISK: (?!\[mem)"                   # an initrd image; not "RAMDISK: [mem ...]" (memory map)
    r"|Red Hat nash version"                 # EL5 mkinitrd's init
    r"|Loading, please wait"                 # initramfs-tools
    r"|^Begin: (?:Loading essential drivers|Running /scripts/)"
    r"|Run /init as init process"
    r"|Running in initial RAM disk|Running in initrd"
    r"|\(Initramfs\)!"
)
SYSTEMD_INITRD = re.compile(r"\(Initramfs\)!|Running in initial RAM disk|Running in initrd")
ROOT_MOUNTED = re.compile(
    r"EXT[234]-fs\b.*: mounted filesystem|EXT[234]-fs: mounted filesystem"
    r"|XFS \([\w-]+\): Ending clean mount"   # "Mounting V5 Filesystem" comes before a mount that may fail
    r"|Mounted root"                         # "dracut: Mounted root filesystem /dev/mapper/..."
    r"|VFS: Mounted root"
    r"|Mounted /sysroot"                     # systemd in the initramfs
    r"|Reached target Initrd Root File System"
    r"|[Ss]witching root"
    r"|^Begin: Running /scripts/init-bottom \.\.\. done"
)
# Leaving the initramfs for the real root. nash's "Switching to new root and
# running init." does not prove the root was mounted: EL5 prints it even when
# mounting failed.
SWITCH_ROOT = re.compile(r"[Ss]witching root|Switching to new root|Starting Switch Root"
                         r"|^Begin: Running /scripts/init-bottom")

INIT_ANYTIME = re.compile(
    r"INIT: version"                         # sysvinit
    r"|init started: +BusyBox"               # busybox init
    r"|" + re.escape(PROBE_BEGIN)            # the probe boot-check put on the overlay ran: init ran it
)
# The kernel about to exec the real root's init, after the root is mounted: it
# frees its own init code, then says which program it runs (kernels from about
# 5.6 on). Evidence only until a "No working init found" or "Attempted to kill init".
INIT_EXEC = re.compile(r"Run (?!/init\b)\S+ as init process|Freeing unused kernel (?:memory|image)")
INIT_AFTER_ROOT = re.compile(
    r"^Welcome to (?!GRUB)(?!.*\(Initramfs\))"   # systemd "Welcome to CentOS Linux 7 (Core)!", rc.sysinit
    r"|^Starting [\w ./-]+:"                 # EL initscripts: "Starting udev: [  OK  ]"
    r"|^init: \S+ (?:main|pre-start|post-start|post-stop) process"    # upstart
    r"|^\* (?:Starting|Stopping) "           # Ubuntu's upstart jobs (lsb)
    r"|^INIT: "
    r"|type=140[34] audit\(|audit: type=140[34] "   # SELinux policy loaded / enforcing set by init
    r"|SELinux: +Disabled at runtime"
)
# systemd's own lines: in a systemd initramfs only after the switch to the real root.
INIT_SYSTEMD = re.compile(
    r"^systemd\[1\]: (?!Switching root)"
    r"|systemd \d+(?:\.\d+)?(?: \([^)]*\))? running in system mode"
    r"|^\[\s*OK\s*\] (?:Reached target|Started|Finished|Mounted|Listening|Created)"
    r"(?! (?:target )?(?:Initrd|Switch Root|dracut))"
    r"|Reached target (?!Initrd)(?!Switch Root)"
    r"|Startup finished in"
    r"|Successfully loaded SELinux policy"
)
# A clean power-off, reboot or halt: asked for by user space (reboot(2)).
POWER_OFF = re.compile(
    r"^reboot: (?:Power down|Restarting system|System halted)"
    r"|^(?:Power down|Restarting system|System halted)\.$"
    r"|ACPI: (?:PM: )?Preparing to enter system sleep state S5"
    r"|^systemd-shutdown\[1\]: (?:Powering off|Rebooting|Halting system)"
    r"|^Requesting system (?:poweroff|reboot|halt)"      # busybox init
    r"|^INIT: Switching to runlevel: [06]"
)
# getty's prompt, after /etc/issue ("Kernel 2.6.32-754.el6.x86_64 on an x86_64"):
# "web01 login: ", possibly followed on the same line by what cloud-init prints.
LOGIN = re.compile(r"(?:^|\s)([A-Za-z0-9][\w.-]*) login: ?(?=\s|$)|^login: ?$"
                   r"|Please press Enter to activate this console")    # busybox askfirst

# --- problems ---------------------------------------------------------------------------

# A precursor is a symptom that a more telling one usually follows in the same
# stage (dracut's initqueue timeout, then "Warning: /dev/... does not exist"):
# it is the reported cause only when nothing better was seen.
FATAL, SYMPTOM, PRECURSOR = "fatal", "symptom", "precursor"

# GRUB legacy's numbered errors (stage2/char_io.c err_list) worth a name of their own.
GRUB_LEGACY_CODES = {15: "GRUB_FILE_NOT_FOUND"}

# Problems that only GRUB (or the BIOS) prints: matched only before the kernel
# started, because "Error ..." and "error: ..." mean other things later.
BOOT_PROBLEMS: tuple[tuple[re.Pattern, str, str], ...] = (
    (re.compile(r"No bootable device|No bootable option or device was found"), "NO_BOOTABLE_DEVICE", FATAL),
    # OVMF: a boot option whose loader is absent or no EFI program ("Not Found"), or refused
    # by Secure Boot ("Access Denied"). qemu's empty CD-ROM drive always fails: not a symptom.
    (re.compile(r'BdsDxe: failed to load Boot[0-9A-F]{4} "(?![^"]*(?:DVD|CD)-ROM)'), "EFI_LOAD_FAILED", SYMPTOM),
    (re.compile(r"^\s*Boot Failed\b"), "EFI_LOAD_FAILED", SYMPTOM),            # older OVMF, other EFI firmware
    # Every boot option failed and Debian's OVMF started its last one, the EFI shell.
    (re.compile(r"UEFI Interactive Shell|^\s*Shell> ?$"), "EFI_SHELL", FATAL),
    (re.compile(r"\bGRUB (?:Hard Disk|Read|Geom) Error"), "GRUB_STAGE1_ERROR", FATAL),
    (re.compile(r"^\s*grub rescue>"), "GRUB_RESCUE", FATAL),
    (re.compile(r"^\s*grub>"), "GRUB_PROMPT", FATAL),
    (re.compile(r"^\s*Error (\d+): \S"), "GRUB_ERROR", SYMPTOM),                # GRUB legacy
    # GRUB 2 ("file `/vmlinuz-R' not found."; RHEL's names its source: "error: ../../grub-core/fs/
    # fshelp.c:257:file `...", and long lines wrap at the serial terminal's 80 columns)
    (re.compile(r"^\s*error: (?:\S+:\d+:)?file\b"), "GRUB_FILE_NOT_FOUND", SYMPTOM),
    (re.compile(r"^\s*error: \S"), "GRUB_ERROR", SYMPTOM),
)
# "Press any key to continue..." after a GRUB legacy error: no fallback entry, GRUB waits.
GRUB_WAITS = re.compile(r"Press any key to continue")
HANDOFF = re.compile(r"^Booting from (?:Hard Disk|Floppy|DVD/CD)")

# (pattern, code, kind, the stage the line itself proves). First match wins.
KERNEL_PROBLEMS: tuple[tuple[re.Pattern, str, str, str | None], ...] = (
    (re.compile(r"Kernel panic - not syncing: VFS:"), "ROOT_FS_UNMOUNTABLE", FATAL, None),
    (re.compile(r"Kernel panic - not syncing: No (?:working )?init found"), "NO_INIT", FATAL, "root-mounted"),
    (re.compile(r"Kernel panic - not syncing"), "KERNEL_PANIC", FATAL, None),
    (re.compile(r"No (?:working )?init found|Target filesystem doesn't have requested"
                r"|exists but couldn't execute it"), "NO_INIT", SYMPTOM, "root-mounted"),
    (re.compile(r"disagrees about version of symbol|Invalid module format|version magic '.*' should be"
                r"|: Unknown symbol \S+ \(err"), "MODULE_VERSION_MISMATCH", SYMPTOM, None),
    (re.compile(r"dracut:? ?FATAL"), "DRACUT_FATAL", FATAL, "initrd"),
    (re.compile(r"Warning: /dev/\S+ does not exist|No root device .* found|Unable to find root device"
                r"|[Cc]annot find root device|Gave up waiting for root (?:file system )?device"
                r"|ALERT! .* does not exist|dracut Warning: LVM \S+ not found"
                r"|Volume group \"\S+\" not found"), "ROOT_DEVICE_MISSING", SYMPTOM, "initrd"),
    (re.compile(r"dracut-initqueue:? timeout"), "ROOT_DEVICE_MISSING", PRECURSOR, "initrd"),
    (re.compile(r"mount: could not find filesystem|VFS: Cannot open root device|No filesystem could mount root"
                r"|Failed to mount /sysroot|mount: error mounting /dev/root"), "ROOT_FS_UNMOUNTABLE", SYMPTOM, None),
    (re.compile(r"Unable to load SELinux Policy|Cannot load SELinux Policy|Failed to load SELinux policy"),
     "SELINUX_POLICY", FATAL, "init"),
    (re.compile(r"Welcome to emergency mode|You are in emergency mode"), "EMERGENCY_MODE", FATAL, "init"),
    (re.compile(r"Dropping to (?:a |the )?(?:debug )?shell|Entering emergency mode|^\(initramfs\)"
                r"|^(?:dracut|switch_root)?:/# ?$|Spawning shell within the initramfs"),
     "INITRAMFS_SHELL", FATAL, "initrd"),
    (re.compile(r"An error occurred during the file system check|UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY"
                r"|fsck failed with exit status|Failed to start File System Check|requires a manual fsck"
                r"|fsck exited with status code [1-9]"), "FSCK_FAILED", SYMPTOM, None),
    (re.compile(r"Give root password for maintenance|Press enter for maintenance"
                r"|A maintenance shell will now be started|the root account is locked"),
     "MAINTENANCE_SHELL", FATAL, "init"),
    (re.compile(r"Failed to mount |Timed out waiting for device|Dependency failed for Local File Systems"
                r"|General error mounting filesystems|is not ready yet or not present"),
     "MOUNT_FAILED", SYMPTOM, None),
)
# Problems after which a "Run /sbin/init as init process" proved nothing.
INIT_NEVER_RAN = re.compile(r"No (?:working )?init found|Attempted to kill init|couldn't execute it")
