"""Files inside the mounted guest: reading them (bounded) and changing them (repairs, overlays).

`GuestFiles` is the file half of `rescue.guest.session.Guest`; it reaches the
appliance only through `self.g`, the checked handle the session owns. Every
file vmrescue rewrites goes through `replace_file`, which keeps the file's
owner, group, mode and SELinux label and replaces it atomically.
"""
from __future__ import annotations

import posixpath
from typing import Callable, Sequence

SELINUX_XATTR = "security.selinux"
CONFIG_READ_LIMIT = 4 * 1024 * 1024     # a configuration vmrescue rewrites is read whole


class GuestFiles:
    """File operations on the guest mounted in the appliance (a mixin of `Guest`)."""

    g: object       # the session's checked libguestfs handle

    # --- files inside the mounted guest ----------------------------------------

    def exists(self, path: str) -> bool:
        return bool(self.g.exists(path))

    def is_file(self, path: str) -> bool:
        return bool(self.g.is_file(path, followsymlinks=True))

    def is_dir(self, path: str) -> bool:
        return bool(self.g.is_dir(path, followsymlinks=True))

    def is_symlink(self, path: str) -> bool:
        return bool(self.g.is_symlink(path))

    def readlink(self, path: str) -> str:
        return self.g.readlink(path)

    def readlinks(self, directory: str, names: list[str]) -> list[str]:
        """The target of each `directory/name` that is a symlink, "" for the others (one call per 500)."""
        targets: list[str] = []
        for start in range(0, len(names), 500):
            targets.extend(self.g.readlinklist(directory, names[start:start + 500]))
        return targets

    def find_nocase(self, path: str) -> str | None:
        """The guest path matching `path` case-insensitively (NTFS, FAT), or None."""
        try:
            found = self.g.case_sensitive_path(path)
        except RuntimeError:
            return None
        return found if self.g.exists(found) else None

    def size(self, path: str) -> int:
        return self.g.filesize(path)

    def lstat_mode(self, path: str) -> int | None:
        """st_mode of the path itself (a symlink's own), None when nothing is there."""
        try:
            return int(self.g.lstatns(path)["st_mode"])
        except RuntimeError:
            return None

    def statvfs(self, path: str) -> dict:
        """statvfs of the filesystem holding `path` (bsize, blocks, bfree, bavail, files, ffree ...)."""
        return dict(self.g.statvfs(path))

    def ls(self, path: str) -> list[str]:
        try:
            return self.g.ls(path)
        except RuntimeError:
            return []

    def find(self, path: str) -> list[str]:
        """Every path below `path`, relative to it; [] when it does not exist."""
        if not self.g.is_dir(path, followsymlinks=True):
            return []
        return self.g.find(path)

    def read(self, path: str, limit: int = 4 * 1024 * 1024, offset: int = 0) -> bytes:
        """At most `limit` bytes of a guest file (a hostile guest's files can be huge)."""
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            # the daemon caps one pread below 4 MiB
            chunk = self.g.pread(path, min(left, 2 * 1024 * 1024), offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def read_text(self, path: str, limit: int = 4 * 1024 * 1024) -> str:
        return self.read(path, limit).decode("utf-8", errors="replace")

    def read_device(self, device: str, size: int, offset: int = 0) -> bytes:
        """Raw bytes of an appliance device (e.g. the MBR of /dev/sda)."""
        return self.g.pread_device(device, size, offset)

    def device_bytes(self, device: str) -> int:
        return int(self.g.blockdev_getsize64(device))

    # --- changing the mounted guest (repairs, dry runs, boot-check overlays) -----

    def replace_file(self, path: str, data: bytes, before_rename: Callable[[], None] | None = None) -> None:
        """Replace a guest file atomically, keeping its owner, group, mode and SELinux label.

        The new bytes go to a hidden sibling first (same directory, so the
        rename cannot cross filesystems), which takes the old file's owner,
        mode and label; the rename then swaps it in: a run killed at any
        moment leaves the old file or the new one, never half of one. A file
        that does not exist yet is created 0644, root-owned, unlabelled
        (vmrescue's repair asks for a relabel where SELinux is on).
        """
        directory, name = posixpath.split(path)
        tmp = posixpath.join(directory, f".{name}.vmrescue-tmp")
        mode, uid, gid, label = 0o644, 0, 0, None
        if self.g.exists(path):
            st = self.g.statns(path)
            mode, uid, gid = st["st_mode"] & 0o7777, st["st_uid"], st["st_gid"]
            label = self.selinux_label(path)
        self.g.write(tmp, data)
        self.g.chown(uid, gid, tmp)
        self.g.chmod(mode, tmp)          # after chown, which may clear set-id bits
        if label is not None:
            self._set_label(tmp, label)
        if before_rename is not None:
            before_rename()
        self.g.rename(tmp, path)

    def _set_label(self, path: str, label: bytes) -> None:
        # The Python binding passes the value as a C string: the label's text,
        # with a length that takes in the NUL that ends it, as the kernel stores labels.
        text = label[:-1] if label.endswith(b"\0") else label
        self.g.lsetxattr(SELINUX_XATTR, text.decode("ascii"), len(label), path)

    def selinux_label(self, path: str) -> bytes | None:
        """The file's SELinux label as stored (b"system_u:object_r:boot_t:s0" and its NUL); None if it
        has none, or one that is not a plain ASCII label (which vmrescue does not copy)."""
        try:
            label = bytes(self.g.lgetxattr(path, SELINUX_XATTR))
        except RuntimeError:
            return None
        text = label[:-1] if label.endswith(b"\0") else label
        return label if text.isascii() and b"\0" not in text else None

    def command(self, argv: list[str]) -> str:
        """Run a guest program chrooted into the guest (its own rpm, dracut, depmod)."""
        return self.g.command(argv)

    def which(self, names: Sequence[str], dirs: Sequence[str] = ("/sbin", "/usr/sbin", "/bin", "/usr/bin")) -> str | None:
        """The first guest program found among `names` (guest path), or None."""
        for name in names:
            for d in dirs:
                path = f"{d}/{name}"
                if self.is_file(path):
                    return path
        return None

    def upload(self, host_path: str, guest_path: str) -> None:
        self.g.upload(host_path, guest_path)

    def download(self, guest_path: str, host_path: str) -> None:
        self.g.download(guest_path, host_path)

    def tar_in(self, host_tar: str, guest_dir: str) -> None:
        self.g.tar_in(host_tar, guest_dir, xattrs=False, selinux=False, acls=False)

    def write_file(self, path: str, data: bytes) -> None:
        self.g.write(path, data)

    def create_file(self, path: str, data: bytes, mode: int, label_like: str | None = None) -> None:
        """A new root-owned file (boot-check's probe on its overlay), with the SELinux label of
        `label_like` when that file has one: an unlabelled file would not be run where SELinux enforces."""
        self.g.write(path, data)
        self.g.chown(0, 0, path)
        self.g.chmod(mode, path)
        label = self.selinux_label(label_like) if label_like and self.g.exists(label_like) else None
        if label is not None:
            self._set_label(path, label)

    def chmod(self, mode: int, path: str) -> None:
        self.g.chmod(mode, path)

    def symlink(self, target: str, link: str) -> None:
        self.g.ln_sf(target, link)

    def rename(self, old: str, new: str) -> None:
        self.g.rename(old, new)

    def copy_preserving(self, src: str, dest: str) -> None:
        self.g.cp_a(src, dest)

    def remove(self, path: str) -> None:
        self.g.rm_f(path)

    def mkdir_p(self, path: str) -> None:
        self.g.mkdir_p(path)

    def realpath(self, path: str) -> str:
        return self.g.realpath(path)

    def glob(self, pattern: str) -> list[str]:
        return self.g.glob_expand(pattern)

    def sync(self) -> None:
        self.g.sync()


class GuestConfigFiles:
    """rescue.bootloader's ConfigFiles over the mounted guest, read whole (up to 4 MiB a file).

    Symlinks are followed inside the guest: a repair refuses beforehand a /boot
    holding links GRUB cannot follow (rules.repair_blocker), and boot-check
    reads its own throw-away overlay. The diagnosis reads through its own,
    stricter view (rescue.diagnose.reader).
    """

    def __init__(self, guest: GuestFiles, image: str):
        self.guest = guest
        self.image = image

    def text(self, path: str) -> str | None:
        data = self.data(path)
        return None if data is None else data.decode("utf-8", errors="replace")

    def data(self, path: str) -> bytes | None:
        if not self.guest.is_file(path):
            return None
        return self.guest.read(path, CONFIG_READ_LIMIT)

    def names(self, directory: str) -> list[str]:
        return self.guest.ls(directory)

    def is_file(self, path: str) -> bool:
        return self.guest.is_file(path)

    def real_path(self, path: str) -> str:
        if self.guest.exists(path) or self.guest.is_symlink(path):
            try:
                return self.guest.realpath(path)
            except RuntimeError:
                return path
        return path

    def size(self, path: str) -> int | None:
        return self.guest.size(path) if self.guest.is_file(path) else None
