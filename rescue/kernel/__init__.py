"""Kernel files, read without running them (no I/O here: callers hand over bytes and names).

`bootfiles` (what a /boot file name says), `bzimage` (the version string inside
a vmlinuz), `modinfo` (a module's .modinfo: name, vermagic), `initramfs`
(what an initrd lists, whatever its compression), `inventory` (every source
about one release joined into one `Kernel` record, as virt-v2v's linux_kernels).
"""
