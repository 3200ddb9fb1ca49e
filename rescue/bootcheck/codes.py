"""What each boot-check problem code means, for people: what happened and the next step. Pure.

The codes are found by rescue.bootcheck.console (the patterns are in
rescue.bootcheck.evidence); the report quotes the message and the hint.
"""
from __future__ import annotations

# code → (what happened, what to do next)
ERRORS: dict[str, tuple[str, str]] = {
    "NO_BOOTABLE_DEVICE": (
        "The firmware found no bootable disk: under BIOS the disk has no boot signature in its first "
        "sector; under UEFI no boot option has a loader.",
        "Install the boot loader into the MBR (from a rescue system: grub-install /dev/sda, "
        "or in the grub shell: root (hd0,0); setup (hd0))."),
    "EFI_LOAD_FAILED": (
        "The UEFI firmware could not start the loader of a boot option: the file is not on the EFI "
        "system partition or is not an EFI program (\"Not Found\"), or Secure Boot refused it "
        "(\"Access Denied\").",
        "Run `vmrescue diagnose`: its firmware section lists the ESP's loaders; a VM with fresh "
        "NVRAM starts only EFI/BOOT/BOOTX64.EFI (copy the vendor's shimx64.efi or grubx64.efi there)."),
    "EFI_SHELL": (
        "The UEFI firmware found nothing to boot and started its built-in shell.",
        "Run `vmrescue diagnose`: the EFI system partition is missing, unreadable or holds no "
        "loader at EFI/BOOT/BOOTX64.EFI; or boot the disk with --firmware bios if it has BIOS boot code."),
    "BOOT_CODE_SILENT": (
        "The BIOS handed over to the disk's boot code and nothing happened: the MBR holds no "
        "working boot loader (often all zeros).",
        "Install the boot loader into the MBR (grub-install /dev/sda, or in the grub shell: "
        "root (hd0,0); setup (hd0))."),
    "GRUB_STAGE1_ERROR": (
        "GRUB's first stage could not load the rest of GRUB from the disk.",
        "Reinstall GRUB into the MBR (grub-install /dev/sda, or setup (hd0) in the grub shell)."),
    "GRUB_FILE_NOT_FOUND": (
        "GRUB could not find a file the boot entry names (kernel or initrd).",
        "Run `vmrescue diagnose` on the image: the entry points at a file that is not there."),
    "GRUB_ERROR": (
        "GRUB failed to load the boot entry.",
        "Run `vmrescue diagnose` on the image to check the entry's root, kernel and initrd."),
    "GRUB_PROMPT": (
        "GRUB stopped at its command prompt: its configuration has no entry it can show "
        "(or could not be read).",
        "Run `vmrescue diagnose`; a kernel whose entry was removed is put back with "
        "`vmrescue reinstall-kernel`."),
    "GRUB_RESCUE": (
        "GRUB 2 stopped at its rescue prompt: it cannot find its own modules or /boot.",
        "Reinstall GRUB 2 (grub2-install /dev/sda) from a rescue system."),
    "KERNEL_VERSION_UNEXPECTED": (
        "A different kernel booted than the one expected.",
        "Check the default entry of the boot loader configuration (vmrescue diagnose)."),
    "MODULE_VERSION_MISMATCH": (
        "Kernel modules were built for another kernel and do not load.",
        "Rebuild the initrd for the running kernel, or reinstall the kernel package whose "
        "modules these are (vmrescue reinstall-kernel)."),
    "ROOT_DEVICE_MISSING": (
        "The initramfs did not find the root device.",
        "The initrd lacks the disk driver or the root= / rd_LVM_LV= arguments name a device "
        "that does not exist; rebuild the initrd (dracut -f) and check the kernel arguments."),
    "ROOT_FS_UNMOUNTABLE": (
        "The kernel could not mount the root filesystem.",
        "The initrd is missing or lacks the disk or filesystem driver; rebuild it for this "
        "kernel, and check root= on the kernel line."),
    "INITRAMFS_SHELL": (
        "The initramfs gave up and dropped to a shell.",
        "Look at the lines before it in the console log; usually the root device was not found."),
    "DRACUT_FATAL": (
        "dracut's initramfs stopped with a fatal error.",
        "Read the dracut line quoted; check root= and the rd_* / rd.* kernel arguments."),
    "NO_INIT": (
        "The kernel found no init program to run on the root filesystem.",
        "The root filesystem is damaged or is not the system's root; check root=."),
    "KERNEL_PANIC": (
        "The kernel panicked.",
        "Read the panic line and the lines before it in the console log."),
    "MAINTENANCE_SHELL": (
        "The system stopped in a maintenance shell (a filesystem check failed or a "
        "filesystem in /etc/fstab could not be mounted).",
        "Check /etc/fstab and run fsck on the filesystems from a rescue system."),
    "EMERGENCY_MODE": (
        "systemd stopped in emergency mode: a filesystem in /etc/fstab could not be mounted or "
        "checked, or a unit the boot needs failed.",
        "Read the FAILED / DEPEND lines before it in the console log; check /etc/fstab (nofail for "
        "disks that may be absent) and run fsck from a rescue system."),
    "SELINUX_POLICY": (
        "init could not load the SELinux policy while SELinux is enforcing, and halted.",
        "Reinstall the policy (selinux-policy-targeted), or boot once with enforcing=0 and relabel "
        "(touch /.autorelabel)."),
    "FSCK_FAILED": (
        "A filesystem check failed and needs to be run by hand.",
        "Run fsck on the filesystem the console names, from a rescue system."),
    "MOUNT_FAILED": (
        "A filesystem in /etc/fstab could not be mounted.",
        "Check the /etc/fstab line of the filesystem the console names (the device may be gone: "
        "nofail or a correct UUID)."),
    "GUEST_POWERED_OFF_AFTER_INIT": (
        "init ran, then the guest powered itself off (or rebooted) before a login prompt.",
        "The kernel, the initramfs and the root filesystem work; something the guest runs at boot "
        "asked for the power-off. Read the lines before it in the console log."),
    "GUEST_STOPPED": (
        "The virtual machine stopped (reset or powered off) before a login prompt.",
        "A reset right after the boot loader often means the kernel does not run on this CPU "
        "or is damaged; read the end of the console log."),
    "BOOT_TIMEOUT": (
        "No login prompt before the time limit.",
        "Read the end of the console log; give a longer --timeout if the guest was still busy."),
}
