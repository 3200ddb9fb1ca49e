"""The disk image and the libguestfs session on it.

`image` probes an image file on the host before anything opens it (format,
backing files, truncation, a running VM's lock, room to write). `session.Guest`
is the only owner of a libguestfs handle: drives read-only unless asked,
one launch (KVM, else TCG: `hypervisor`), mounting, and the guest's files
(`files`, including the one atomic writer). `inspect` finds the Linux root on a
disk with vmrescue's own light inspection, from the pure readers `superblocks`,
`release` and `fstab`; `devices` translates the guest's device names to the
appliance's.
"""
