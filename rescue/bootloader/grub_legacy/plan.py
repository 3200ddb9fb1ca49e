"""Plan a GRUB legacy grub.conf after `reinstall-kernel`. No I/O.

The caller hands over the current text of /boot/grub/grub.conf (or None when
it is gone) and a `file_exists` function; `plan_grub_conf` decides which
entries stay, writes an entry for the reinstalled kernel in the distribution's
own style (the shape anaconda and grubby write) and renders the whole file
from `templates/grub.conf.j2` (`render`, which also refuses what GRUB could not
read back). Writing it, atomically and with a backup, is the caller's business.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rescue.bootloader.cmdline import kernel_arg
from rescue.bootloader.grub_legacy.config import GrubConfig, GrubMenuEntry, parse_grub_device, parse_grub_legacy
from rescue.bootloader.grub_legacy.menu import (
    args_source, booted_index, fallbacks, global_comments, judge, layout,
)
from rescue.bootloader.grub_legacy.render import check_guest_text, check_value, finish, shown, unsafe
from rescue.errors import Exit, RescueError

__all__ = ["GrubPlan", "NewKernelEntry", "plan_grub_conf"]

FRESH_TIMEOUT = 5             # anaconda's timeout=5
# Global commands anaconda writes as "key=value"; the others as "key value".
_EQUALS_STYLE = frozenset({"default", "timeout", "fallback", "splashimage"})
# Arguments only a Xen dom0 kernel understands: not copied to a native entry.
_XEN_ONLY_ARG = re.compile(r"^(?:console=hvc\d*|xencons=.*)$")


@dataclass(frozen=True)
class NewKernelEntry:
    """The menu entry written for the reinstalled kernel.

    For a Xen kernel (`...el5xen`) `kernel` is the hypervisor (/xen.gz-R, with
    `kernel_args` its own arguments) and the dom0 kernel and its initrd are
    `modules`; `initrd` is then None.
    """
    uname_r: str
    title: str                          # "CentOS (2.6.18-274.el5)"
    root: str                           # GRUB device of the files, "(hd0,0)"
    kernel: str                         # "/vmlinuz-R" or "/boot/vmlinuz-R"; Xen: "/xen.gz-R'"
    kernel_args: str
    initrd: str | None
    modules: tuple[tuple[str, str], ...] = ()   # Xen: (dom0 vmlinuz, its args), (initrd, "")
    args_from: str = ""                 # where the arguments were copied from, said plainly

    @property
    def is_xen(self) -> bool:
        return bool(self.modules)

    @property
    def linux_args(self) -> str:
        """The Linux command line (for Xen, the dom0 kernel module's arguments)."""
        return self.modules[0][1] if self.modules else self.kernel_args


@dataclass(frozen=True)
class GrubPlan:
    text: str                                   # the whole new grub.conf
    default_index: int                          # index of the new entry, = its `default`
    kept: tuple[str, ...]                       # titles of the entries kept, in menu order
    dropped: tuple[tuple[str, str], ...]        # (title, reason) of dangling entries
    added: str                                  # title of the new entry
    entry: NewKernelEntry | None = None         # the new entry itself
    replaced: tuple[str, ...] = ()              # titles of old entries for the same release
    fallback_index: int | None = None           # first `fallback` entry, None when there is none
    notes: tuple[str, ...] = ()                 # other changes to the file, one sentence each


def _root_word(args: str) -> str | None:
    words = [w for w in args.split() if w.startswith("root=")]
    return words[-1] if words else None


def _new_entry(*, uname_r: str, distro_title: str, root: str, prefix: str, initrd_name: str,
               source: GrubMenuEntry | None, default_root_args: str,
               notes: list[str]) -> NewKernelEntry:
    xen = uname_r.endswith("xen")
    hypervisor_args = ""
    if source is None:
        args, args_from = default_root_args, "the defaults given for this guest (its fstab root)"
    else:
        args = source.linux_args
        if source.kind == "xen" and xen:
            hypervisor_args = source.kernel_args
        elif source.kind == "xen":
            args = " ".join(w for w in args.split(" ") if not _XEN_ONLY_ARG.match(w))
        args_from = f'entry {source.index} "{source.title}"'
        if kernel_arg(args, "root") is None and _root_word(default_root_args):
            args = f"{args} {_root_word(default_root_args)}".strip()
            notes.append(f"{args_from} has no root= argument; "
                         f"{_root_word(default_root_args)} (from the guest's fstab) was added.")
    title = f"{distro_title} ({uname_r})"
    vmlinuz = f"{prefix}/vmlinuz-{uname_r}"
    initrd = f"{prefix}/{initrd_name}"
    if xen:
        # kernel-xen 2.6.18-274.el5 installs /boot/xen.gz-2.6.18-274.el5 beside
        # /boot/vmlinuz-2.6.18-274.el5xen: the hypervisor's name has no suffix.
        return NewKernelEntry(uname_r, title, root, f"{prefix}/xen.gz-{uname_r[:-3]}",
                              hypervisor_args, None, ((vmlinuz, args), (initrd, "")), args_from)
    return NewKernelEntry(uname_r, title, root, vmlinuz, args, initrd, (), args_from)


def _entry_context(entry: NewKernelEntry) -> dict:
    return dict(new=True, title=entry.title, root=entry.root, kernel=entry.kernel,
                kernel_args=entry.kernel_args, initrd=entry.initrd, modules=entry.modules)


def _kept_context(entry: GrubMenuEntry, notes: list[str]) -> dict:
    lines = []
    for key, arg in entry.lines:
        if not key:
            # "=x" names no command: GRUB skips it, and written back without
            # its "=" it would become the command "x".
            notes.append(f'a line with no command ("={shown(arg)}") in entry '
                         f'"{shown(entry.title)}" was left out.')
            continue
        lines.append((key, arg))
    return dict(new=False, title=entry.title, lines=lines)


def _settings(cfg: GrubConfig, default_index: int, fallback: list[int] | None,
              notes: list[str]) -> list[tuple[str, str, str]]:
    """The global lines in their order, with `default` and `fallback` set."""
    out: list[tuple[str, str, str]] = []
    have_default = have_fallback = False
    for key, arg in cfg.global_lines:
        if key == "default":
            if not have_default:
                out.append(("default", "=", str(default_index)))
                have_default = True
            continue
        if key == "fallback":
            if not have_fallback and fallback:
                out.append(("fallback", "=", " ".join(map(str, fallback))))
            have_fallback = True
            continue
        if not key:
            notes.append(f'a global line with no command ("={shown(arg)}") was left out.')
            continue
        out.append((key, ("=" if key in _EQUALS_STYLE else " ") if arg else "", arg))
    if not have_default:
        out.insert(0, ("default", "=", str(default_index)))
    if not any(key == "timeout" for key, _ in cfg.global_lines):
        at = next(i for i, (key, _, _) in enumerate(out) if key == "default") + 1
        out.insert(at, ("timeout", "=", str(FRESH_TIMEOUT)))
        notes.append(f"there was no timeout (GRUB would wait at the menu forever); "
                     f"timeout={FRESH_TIMEOUT} was added.")
    return out


def _notice(*, el_major: int, boot_is_separate: bool, root: str, prefix: str,
            args: str) -> dict:
    """anaconda's NOTICE comment, for a file written from scratch."""
    root_word = _root_word(args)
    return dict(
        separate=boot_is_separate,
        root=root,
        kernel_example=f"{prefix}/vmlinuz-version ro" + (f" {root_word}" if root_word else ""),
        initrd_example=f"{prefix}/" + ("initrd-version.img" if el_major <= 5
                                       else "initramfs-version.img"),
    )


# --- planning ------------------------------------------------------------------

def plan_grub_conf(
    current_text: str | None,
    *,
    uname_r: str,
    el_major: int,
    boot_is_separate: bool,
    file_exists: Callable[[str], bool],
    initrd_name: str,
    default_root_args: str,
    grub_root: str,
    distro_title: str = "CentOS",
    written_by: str,
    backup_path: str | None,
    splash_exists: bool = False,
) -> GrubPlan:
    """Plan the grub.conf that boots `uname_r` by default. No I/O.

    current_text: the guest's grub.conf, or None when it is gone (a complete
        file is written in anaconda's style: default=0, timeout=5, the
        splashimage when `splash_exists` says /boot/grub/splash.xpm.gz is
        there, hiddenmenu, the entry).
    file_exists: whether a kernel/initrd/module path exists, given as grub.conf
        writes it relative to `grub_root` ("/vmlinuz-R" or "/boot/vmlinuz-R");
        a file on another GRUB device comes with that device, "(hd1,0)/vmlinuz".
        The new kernel's own files are not looked up.
    initrd_name: file name of the new kernel's initrd in /boot (see
        `default_initrd_name`).
    default_root_args: the arguments used when no entry has any to copy,
        e.g. "ro root=/dev/VolGroup00/LogVol00".
    grub_root: GRUB's name of the partition holding /boot, "(hd0,0)", used
        when no surviving entry says.
    written_by: who wrote the file and when, for the header comment, e.g.
        "vmrescue 0.1.0 reinstall-kernel, 2024-05-01 10:00:00 UTC".
    backup_path: where the caller saved the previous file (None: no backup).

    Raises RescueError UNSAFE_GRUB_VALUE (Exit.REFUSED) when a value would not
    survive being written as one grub.conf line.
    """
    _check_request(uname_r=uname_r, el_major=el_major, initrd_name=initrd_name,
                   default_root_args=default_root_args, grub_root=grub_root,
                   distro_title=distro_title, written_by=written_by, backup_path=backup_path)
    notes: list[str] = []
    cfg: GrubConfig | None = None
    if current_text is not None:
        check_guest_text(current_text)
        cfg = parse_grub_legacy(current_text)
        if not cfg.global_lines and not cfg.entries:
            notes.append("grub.conf holds no settings and no entries; a complete file was written.")
            cfg = None
    request = dict(uname_r=uname_r, distro_title=distro_title.strip(), initrd_name=initrd_name,
                   default_root_args=default_root_args.strip(), notes=notes)
    header = dict(written_by=written_by, backup_path=backup_path,
                  had_file=current_text is not None)

    if cfg is None:
        return _fresh_plan(request, header, el_major=el_major, boot_is_separate=boot_is_separate,
                           grub_root=grub_root, splash_exists=splash_exists)
    assert current_text is not None
    return _updated_plan(cfg, global_comments(current_text), request, header,
                         boot_is_separate=boot_is_separate, grub_root=grub_root,
                         file_exists=file_exists)


def _check_request(*, uname_r: str, el_major: int, initrd_name: str, default_root_args: str,
                   grub_root: str, distro_title: str, written_by: str,
                   backup_path: str | None) -> None:
    """Refuse what the caller asks for before looking at the guest's file."""
    if el_major >= 7:
        raise RescueError("NOT_GRUB_LEGACY",
                          f"EL{el_major} boots with GRUB2; grub.conf (GRUB legacy) is for EL6 and older.",
                          "Use the GRUB2 path for this guest.", Exit.REFUSED)
    where = "the new entry"
    for value, what, place in (
            (uname_r, "the kernel release", where), (distro_title, "the distribution title", where),
            (default_root_args, "the default kernel arguments", where),
            (grub_root, "the GRUB root device", where), (initrd_name, "the initrd name", where),
            (written_by, "the 'written by' stamp", "the header comment"),
            (backup_path or "", "the backup path", "the header comment")):
        check_value(value, what, place)
    if not uname_r or re.search(r"[\s/]", uname_r):
        raise unsafe(f"{where}: the kernel release {shown(uname_r)!r} is not a release "
                      f"(it is empty or holds a blank or a slash).")
    if not initrd_name or re.search(r"[\s/]", initrd_name):
        raise unsafe(f"{where}: the initrd name {shown(initrd_name)!r} must be a file name in /boot.")
    if parse_grub_device(grub_root) is None:
        raise unsafe(f"{where}: {grub_root!r} is not a GRUB legacy disk name such as (hd0,0).")
    if not distro_title.strip():
        raise unsafe(f"{where}: the distribution title is empty.")


def _fresh_plan(request: dict, header: dict, *, el_major: int, boot_is_separate: bool,
                grub_root: str, splash_exists: bool) -> GrubPlan:
    """A complete grub.conf as anaconda writes it, with only the new entry."""
    prefix = "" if boot_is_separate else "/boot"
    entry = _new_entry(**request, root=grub_root, prefix=prefix, source=None)
    settings = [("default", "=", "0"), ("timeout", "=", str(FRESH_TIMEOUT))]
    if splash_exists:
        settings.append(("splashimage", "=", f"{grub_root}{prefix}/grub/splash.xpm.gz"))
    settings.append(("hiddenmenu", "", ""))
    text = finish(dict(
        header, dropped=[], comments=[], settings=settings, entries=[_entry_context(entry)],
        notice=_notice(el_major=el_major, boot_is_separate=boot_is_separate, root=grub_root,
                       prefix=prefix, args=entry.linux_args),
    ))
    return GrubPlan(text=text, default_index=0, kept=(), dropped=(), added=entry.title,
                    entry=entry, notes=tuple(request["notes"]))


def _updated_plan(cfg: GrubConfig, comments: list[str], request: dict, header: dict, *,
                  boot_is_separate: bool, grub_root: str,
                  file_exists: Callable[[str], bool]) -> GrubPlan:
    """The guest's grub.conf with dangling entries dropped and the new entry default."""
    notes: list[str] = request["notes"]
    uname_r = request["uname_r"]
    verdicts = [judge(e, uname_r, grub_root, file_exists) for e in cfg.entries]
    booted = booted_index(cfg)
    source, source_alive = args_source(verdicts, "xen" if uname_r.endswith("xen") else "linux",
                                        booted)
    root, prefix = layout(source, source_alive, verdicts, grub_root, boot_is_separate)
    entry = _new_entry(**request, root=root, prefix=prefix, source=source)

    # The new entry takes the place of the first old entry for its release;
    # otherwise it goes first, where grubby puts a newly installed kernel.
    entries: list[dict] = []
    new_index_of: dict[int, int] = {}          # old index -> new index, for kept entries
    kept: list[str] = []
    dropped: list[tuple[str, str]] = []
    replaced: list[str] = []
    if not any(v.action == "replace" for v in verdicts):
        entries.append(_entry_context(entry))
    for v in verdicts:
        if v.action == "replace":
            replaced.append(v.entry.title)
            if len(replaced) == 1:
                entries.append(_entry_context(entry))
        elif v.action == "drop":
            dropped.append((v.entry.title, v.reason))
        else:
            new_index_of[v.entry.index] = len(entries)
            kept.append(v.entry.title)
            entries.append(_kept_context(v.entry, notes))
    default_index = next(i for i, e in enumerate(entries) if e["new"])

    witnesses = ([source] if source is not None and source_alive else [])
    witnesses += [v.entry for v in verdicts if v.alive]
    fallback = _fallback(cfg, new_index_of, witnesses, notes)
    note = _default_note(cfg, booted, default_index)
    if note:
        notes.append(note)
    settings = _settings(cfg, default_index, fallback, notes)

    text = finish(dict(header, dropped=dropped, comments=comments, settings=settings,
                        entries=entries, notice=None))
    return GrubPlan(text=text, default_index=default_index, kept=tuple(kept),
                    dropped=tuple(dropped), added=entry.title, entry=entry,
                    replaced=tuple(replaced), fallback_index=fallback[0] if fallback else None,
                    notes=tuple(notes))


def _fallback(cfg: GrubConfig, new_index_of: dict[int, int], witnesses: list[GrubMenuEntry],
              notes: list[str]) -> list[int] | None:
    """The new `fallback` entries: the same entries where they survive, else
    the last kernel that worked (the one the new entry's arguments came
    from), else none and the line goes. None when there was no fallback."""
    if not any(key == "fallback" for key, _ in cfg.global_lines):
        return None
    old = fallbacks(cfg)
    fallback = list(dict.fromkeys(new_index_of[i] for i in old if i in new_index_of))
    if not fallback:
        fallback = [new_index_of[e.index] for e in witnesses if e.index in new_index_of][:1]
    if [new_index_of.get(i) for i in old] != fallback:
        notes.append(f"fallback {' '.join(map(str, old)) or '(none)'} became "
                     + (" ".join(map(str, fallback)) if fallback
                        else "nothing (no other entry can boot): the line was dropped")
                     + ".")
    return fallback


def _default_note(cfg: GrubConfig, booted: int | None, default_index: int) -> str | None:
    if cfg.default_saved:
        return (f"'default saved' became default={default_index}: the saved choice in "
                f"/boot/grub/default would otherwise win over the new entry.")
    if cfg.default == default_index:
        return None
    was = "(none)" if cfg.default is None else str(cfg.default)
    if booted is not None and cfg.default == booted:
        was += f' ("{cfg.entries[booted].title}")'
    elif cfg.default is not None and booted is not None:
        was += f' (past the last entry; GRUB booted "{cfg.entries[booted].title}")'
    return f"default {was} became {default_index}."
