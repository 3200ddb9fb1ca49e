"""Reading a mounted guest for a diagnosis: every read capped, nothing followed out of /boot.

`GuestReader` is what the diagnosis reads through: text and bytes with a size
cap (a hostile guest's files can be huge), failures written down as notes
instead of raised, and boot loader configurations read only where GRUB
itself could read them (a grub.conf that is a symlink to /etc/shadow is
neither read nor quoted). It is the `ConfigFiles` the boot loader kinds see.
"""
from __future__ import annotations

from rescue.guest.devices import symlink_target_path
from rescue.errors import first_line
from rescue.guest.session import Guest

CONFIG_LIMIT = 1024 * 1024              # no real grub.conf is near this
SYMLINK_HOPS = 8


class GuestReader:
    def __init__(self, guest: Guest, image: str, notes: list[str], bad_links: set[str] = frozenset()):
        self.guest = guest
        self.image = image
        self.notes = notes                  # appended to: what could not be read, said plainly
        self.bad_links = set(bad_links)     # /boot symlinks GRUB cannot follow (see gather)
        self.config_bytes: dict[str, bytes] = {}   # configurations read, for the damage check

    # --- any file ------------------------------------------------------------------

    def read_text(self, path: str, limit: int = CONFIG_LIMIT) -> str | None:
        """A guest text file, or None when absent/unreadable (noted)."""
        try:
            if not self.guest.is_file(path):
                return None
            data = self.guest.read(path, limit)
        except RuntimeError as exc:
            self.notes.append(f"could not read {path}: {first_line(exc)}")
            return None
        if len(data) >= limit:
            self.notes.append(f"{path} is larger than {limit // 1024} KiB; only its start was read")
        return data.decode("utf-8", errors="replace")

    def read_bytes(self, path: str, limit: int) -> bytes | None:
        try:
            return self.guest.read(path, limit)
        except RuntimeError as exc:
            self.notes.append(f"could not read {path}: {first_line(exc)}")
            return None

    # --- boot loader configurations (the ConfigFiles of rescue.bootloader) -----------

    def text(self, path: str) -> str | None:
        data = self._config_bytes(path)
        return None if data is None else data.decode("utf-8", errors="replace")

    def data(self, path: str) -> bytes | None:
        return self._config_bytes(path)

    def names(self, directory: str) -> list[str]:
        return self.guest.ls(directory)

    def is_file(self, path: str) -> bool:
        return self.guest.is_file(path)

    def real_path(self, path: str) -> str:
        try:
            return self.guest.realpath(path)
        except RuntimeError:
            return path

    def size(self, path: str) -> int | None:
        return self.guest.size(path) if self.guest.is_file(path) else None

    def loadable(self, guest_path: str | None) -> bool:
        """A file GRUB can load: present, and not behind a symlink it cannot follow."""
        return bool(guest_path) and guest_path not in self.bad_links and self.guest.is_file(guest_path)

    def _config_bytes(self, path: str) -> bytes | None:
        """A configuration file's bytes, None when absent or behind a symlink out of /boot."""
        if path in self.config_bytes:
            return self.config_bytes[path]
        try:
            if not self.guest.is_file(path) or not self._readable_config(path):
                return None
        except RuntimeError as exc:
            self.notes.append(f"could not read {path}: {first_line(exc)}")
            return None
        data = self.read_bytes(path, CONFIG_LIMIT)
        if data is not None:
            self.config_bytes[path] = data
        return data

    def _readable_config(self, path: str) -> bool:
        """Whether `path` reaches a file in /boot through symlinks GRUB can follow.

        A grub.conf that is a symlink to /etc/shadow must not be read (nor its
        lines quoted in a report); GRUB could not read it either.
        """
        current = path
        for _ in range(SYMLINK_HOPS):
            if current in self.bad_links:
                return False
            if not self.guest.is_symlink(current):
                break
            current = symlink_target_path(current, self.guest.readlink(current))
        else:
            return False
        try:
            return self.guest.realpath(path).startswith("/boot/")
        except RuntimeError:
            return False
