"""Plan and render a GRUB legacy grub.conf after `reinstall-kernel`. No I/O.

The caller hands over the current text of /boot/grub/grub.conf (or None when
it is gone) and a `file_exists` function; `plan_grub_conf` decides which
entries stay, writes an entry for the reinstalled kernel in the distribution's
own style (the shape anaconda and grubby write) and renders the whole file
from `templates/grub.conf.j2`. Writing it, atomically and with a backup, is
the caller's business.

Safety of the rendering:

* Guest text (titles, arguments, paths, comments) only ever reaches the
  template as *values*; it is never template source. A title such as
  "{{ 7*7 }}" is written as those nine characters.
* GRUB 0.97 reads its menu one line at a time (stage2.c
  get_line_from_config): a newline in a value would start a new command, and
  a backslash at the end of a line joins the next line to it. Values with a
  control character (newline, carriage return, NUL, ESC, ...) are refused
  with `UNSAFE_GRUB_VALUE`, and so is any rendered line that ends with a
  backslash or is longer than the 1500-byte buffer stage2 reads lines into.
  Tabs in lines kept from the guest's file become spaces, as GRUB reads them.
"""
from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2

from rescue.errors import Exit, RescueError
from rescue.grubconf import (
    GrubConfig,
    GrubMenuEntry,
    kernel_arg,
    parse_grub_device,
    parse_grub_legacy,
    split_grub_path,
)
from rescue.kernel.bootfiles import release_from_boot_name
from rescue.rpm.vercmp import compare_uname_r

__all__ = [
    "GrubPlan",
    "NewKernelEntry",
    "TEMPLATES_DIR",
    "default_initrd_name",
    "plan_grub_conf",
    "unified_diff",
]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_NAME = "grub.conf.j2"

GRUB_LINE_MAX = 1500          # stage2 reads config lines into a 1500-byte buffer
FRESH_TIMEOUT = 5             # anaconda's timeout=5
HEADER_MARK = "# vmrescue:"   # our own header lines; dropped when we re-read our file

# Control characters (C0 but TAB, DEL, C1) and the Unicode line and paragraph
# separators, which some readers take for line breaks.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_UNSAFE_OR_TAB = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CHAR_NAMES = {"\x00": "a NUL byte", "\n": "a newline", "\r": "a carriage return",
               "\t": "a tab", "\x1b": "an escape character (ESC)"}
_TITLE_LINE = re.compile(r"[ \t]*title(?=[ \t=]|$)[ \t=]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+")
# Global commands anaconda writes as "key=value"; the others as "key value".
_EQUALS_STYLE = frozenset({"default", "timeout", "fallback", "splashimage"})
# Arguments only a Xen dom0 kernel understands: not copied to a native entry.
_XEN_ONLY_ARG = re.compile(r"^(?:console=hvc\d*|xencons=.*)$")


# --- the plan ------------------------------------------------------------------

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


def default_initrd_name(uname_r: str, el_major: int) -> str:
    """The initrd file name the distribution uses: mkinitrd's initrd-R.img up
    to EL5, dracut's initramfs-R.img from EL6."""
    return f"initrd-{uname_r}.img" if el_major <= 5 else f"initramfs-{uname_r}.img"


# --- refusing unsafe values ------------------------------------------------------

def _shown(text: str, limit: int = 60) -> str:
    """A value as it can be quoted in a message: control characters, and the bidi overrides
    and other format characters that would reorder the terminal's line, as '?'."""
    text = _UNSAFE_OR_TAB.sub("?", text)
    text = "".join("?" if unicodedata.category(c) in ("Cf", "Zl", "Zp") else c for c in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _char_name(char: str) -> str:
    return _CHAR_NAMES.get(char, f"the control character U+{ord(char):04X}")


def _unsafe(message: str) -> RescueError:
    return RescueError(
        "UNSAFE_GRUB_VALUE", message,
        "Nothing was written. Fix the value (for a line of the guest's grub.conf: edit it "
        "with virt-edit, or move the file away so that a fresh one is written) and run again.",
        Exit.REFUSED)


def _check_value(value: str, what: str, where: str) -> None:
    """Refuse a value that could break a grub.conf line or a terminal."""
    bad = _UNSAFE_OR_TAB.search(value)
    if bad:
        raise _unsafe(f"{where}: {what} {_shown(value)!r} contains {_char_name(bad.group())}; "
                      f"GRUB reads one command per line, so it cannot be written into grub.conf.")
    if value.endswith("\\"):
        raise _unsafe(f"{where}: {what} {_shown(value)!r} ends with a backslash, which would join "
                      f"the next line of grub.conf to it.")


def _check_guest_text(text: str) -> None:
    """Refuse a grub.conf whose kept lines hold control characters.

    The parser skips such lines (GRUB would trip on them), so rendering from
    the parsed model would silently lose them: refuse instead, naming the line
    and the entry. A CR before the newline (a file saved with CRLF endings) is
    a line ending, not data; comments inside the menu are not carried over and
    are not checked.
    """
    title: str | None = None
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        stripped = line.lstrip(" \t")
        if stripped.startswith("#") and title is not None:
            continue
        m = _TITLE_LINE.match(line)
        if m:
            title = line[m.end():].rstrip(" \t\r")
        bad = _UNSAFE.search(line)
        if bad:
            where = "the global settings" if title is None else f'entry "{_shown(title)}"'
            raise _unsafe(f"grub.conf line {number} (in {where}) contains {_char_name(bad.group())}: "
                          f"{_shown(line)!r}. It may be damaged (zeroed blocks after a crash) or "
                          f"hostile; vmrescue does not rewrite it.")


def _finalize(value):
    """Last guard on every value the template prints (see _check_value)."""
    if isinstance(value, str):
        bad = _UNSAFE_OR_TAB.search(value)
        if bad:
            raise _unsafe(f"a value for grub.conf contains {_char_name(bad.group())}: "
                          f"{_shown(value)!r}.")
    return value


def _check_rendered(text: str) -> None:
    title = None
    for number, line in enumerate(text.split("\n"), 1):
        if line.startswith("title"):
            title = line[len("title"):].strip()
        where = "the global settings" if title is None else f'entry "{_shown(title)}"'
        size = len(line.encode("utf-8", "surrogateescape"))
        if size > GRUB_LINE_MAX:
            raise _unsafe(f"line {number} of the new grub.conf (in {where}) is {size} bytes long; "
                          f"GRUB 0.97 reads only the first {GRUB_LINE_MAX}.")
        if line.endswith("\\"):
            raise _unsafe(f"line {number} of the new grub.conf (in {where}) ends with a backslash, "
                          f"which would join the next line to it.")


# --- the template ---------------------------------------------------------------

def _spaced(value: str) -> str:
    """" value" when there is a value, "" otherwise: `kernel /v{{ args|spaced }}`."""
    return f" {value}" if value else ""


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=False,                 # grub.conf is not HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.filters["spaced"] = _spaced
    return env


def _render(context: dict) -> str:
    return _environment().get_template(TEMPLATE_NAME).render(**context)


# --- reading the current file -------------------------------------------------

def _global_comments(text: str) -> list[str]:
    """Comment lines before the first `title` (anaconda's header, "#boot="),
    as GRUB reads lines: CRs dropped, tabs as spaces, backslash-newline
    joined. Our own header lines are left out: they are written afresh."""
    comments: list[str] = []
    buf = ""
    for raw in text.split("\n"):
        raw = raw.replace("\r", "").replace("\t", " ")
        if raw.endswith("\\"):
            buf += raw[:-1] + " "
            continue
        line, buf = (buf + raw).lstrip(" "), ""
        if line.startswith("#"):
            if not line.startswith(HEADER_MARK):
                comments.append(line.rstrip(" "))
        elif _TITLE_LINE.match(line):
            return comments
    if buf.lstrip(" ").startswith("#"):
        comments.append(buf.strip(" "))
    return comments


def _numbers(arg: str) -> list[int]:
    """The entry numbers of "fallback 1 2": words up to the first non-number."""
    found = []
    for word in arg.split():
        if not _NUMBER.fullmatch(word):
            break
        found.append(int(word, 16) if word[:2] in ("0x", "0X") else int(word))
    return found


def _fallbacks(cfg: GrubConfig) -> list[int]:
    args = [arg for key, arg in cfg.global_lines if key == "fallback"]
    return _numbers(args[-1]) if args else []


def _booted_index(cfg: GrubConfig) -> int | None:
    """The entry GRUB boots without a key press (stage2.c: a default past the
    end is replaced by the first valid fallback, else by entry 0). With
    `default saved` the choice is in /boot/grub/default, unknown here: 0."""
    count = len(cfg.entries)
    if not count:
        return None
    if cfg.default is not None and cfg.default < count:
        return cfg.default
    for index in _fallbacks(cfg):
        if index < count:
            return index
    return 0


def _release(entry: GrubMenuEntry) -> str | None:
    """Release of the Linux kernel an entry boots, from its file name."""
    path = entry.linux_kernel
    if not path:
        return None
    return release_from_boot_name(split_grub_path(path)[1].rsplit("/", 1)[-1])


def _device(entry: GrubMenuEntry) -> str | None:
    """The GRUB device an entry's files are read from: a "(hdX,Y)" prefix on
    its kernel path, else its `root`; None means GRUB's own partition."""
    device = split_grub_path(entry.kernel or entry.chainloader or "")[0]
    return device or entry.root


def _same_device(a: str, b: str) -> bool:
    parsed = parse_grub_device(a)
    return parsed is not None and parsed == parse_grub_device(b)


@dataclass(frozen=True)
class _Verdict:
    entry: GrubMenuEntry
    action: str                # "keep", "drop", "replace"
    reason: str = ""
    verified: bool = False     # a Linux or Xen entry whose files were all found

    @property
    def alive(self) -> bool:
        return self.verified and self.entry.kind in ("linux", "xen")


def _judge(entry: GrubMenuEntry, uname_r: str, grub_root: str,
           file_exists: Callable[[str], bool]) -> _Verdict:
    def exists(path: str) -> bool:
        # file_exists resolves paths against the caller's grub_root; a file
        # on another GRUB device is named with that device, as GRUB names it.
        device, rest = split_grub_path(path)
        device = device or entry.root
        if device is not None and not _same_device(device, grub_root):
            return bool(file_exists(device + rest))
        return bool(file_exists(rest))

    if entry.kind == "linux":
        files = [("kernel", entry.kernel)] + ([("initrd", entry.initrd)] if entry.initrd else [])
    elif entry.kind == "xen":
        files = [("hypervisor", entry.kernel)] + [("module", path) for path, _ in entry.modules]
    else:
        # Chainloader entries (another OS) and commands such as "reboot" load
        # nothing vmrescue can check: kept as written.
        return _Verdict(entry, "keep")
    missing = [f"{label} {path}" for label, path in files if path and not exists(path)]
    action = "replace" if _release(entry) == uname_r else ("drop" if missing else "keep")
    return _Verdict(entry, action, "missing " + ", ".join(missing) if missing else "", not missing)


def _newer(a: GrubMenuEntry, b: GrubMenuEntry) -> bool:
    ra, rb = _release(a), _release(b)
    if ra is None or rb is None:
        return ra is not None and rb is None
    return compare_uname_r(ra, rb) > 0


def _args_source(verdicts: list[_Verdict], want_kind: str,
                 booted: int | None) -> tuple[GrubMenuEntry | None, bool]:
    """The entry whose arguments the new entry copies, and whether it survives.

    The last entry that worked: among surviving Linux/Xen entries (of the new
    kernel's kind if there is one), the one GRUB booted, else the newest
    kernel. If none survives, the one GRUB booted even though its files are
    gone, else the first Linux/Xen entry at all.
    """
    alive = [v.entry for v in verdicts if v.alive]
    if alive:
        pool = [e for e in alive if e.kind == want_kind] or alive
        for entry in pool:
            if entry.index == booted:
                return entry, True
        best = pool[0]
        for entry in pool[1:]:
            if _newer(entry, best):
                best = entry
        return best, True
    bootable = [v.entry for v in verdicts if v.entry.kind in ("linux", "xen")]
    for entry in bootable:
        if entry.index == booted:
            return entry, False
    return (bootable[0] if bootable else None), False


def _layout(source: GrubMenuEntry | None, source_alive: bool, verdicts: list[_Verdict],
            grub_root: str, boot_is_separate: bool) -> tuple[str, str]:
    """(GRUB root, path prefix) for the new entry: as the surviving entries
    have them (the args source first), else from the caller."""
    witnesses = ([source] if source is not None and source_alive else [])
    witnesses += [v.entry for v in verdicts if v.alive and v.entry is not source]
    root = next((d for d in map(_device, witnesses) if d), grub_root)
    if witnesses:
        path = split_grub_path(witnesses[0].linux_kernel or "")[1]
        prefix = "/boot" if path.startswith("/boot/") else ""
    else:
        prefix = "" if boot_is_separate else "/boot"
    return root, prefix


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
            notes.append(f'a line with no command ("={_shown(arg)}") in entry '
                         f'"{_shown(entry.title)}" was left out.')
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
            notes.append(f'a global line with no command ("={_shown(arg)}") was left out.')
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
        _check_guest_text(current_text)
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
    return _updated_plan(cfg, _global_comments(current_text), request, header,
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
        _check_value(value, what, place)
    if not uname_r or re.search(r"[\s/]", uname_r):
        raise _unsafe(f"{where}: the kernel release {_shown(uname_r)!r} is not a release "
                      f"(it is empty or holds a blank or a slash).")
    if not initrd_name or re.search(r"[\s/]", initrd_name):
        raise _unsafe(f"{where}: the initrd name {_shown(initrd_name)!r} must be a file name in /boot.")
    if parse_grub_device(grub_root) is None:
        raise _unsafe(f"{where}: {grub_root!r} is not a GRUB legacy disk name such as (hd0,0).")
    if not distro_title.strip():
        raise _unsafe(f"{where}: the distribution title is empty.")


def _finish(context: dict) -> str:
    text = _render(context)
    _check_rendered(text)
    return text


def _fresh_plan(request: dict, header: dict, *, el_major: int, boot_is_separate: bool,
                grub_root: str, splash_exists: bool) -> GrubPlan:
    """A complete grub.conf as anaconda writes it, with only the new entry."""
    prefix = "" if boot_is_separate else "/boot"
    entry = _new_entry(**request, root=grub_root, prefix=prefix, source=None)
    settings = [("default", "=", "0"), ("timeout", "=", str(FRESH_TIMEOUT))]
    if splash_exists:
        settings.append(("splashimage", "=", f"{grub_root}{prefix}/grub/splash.xpm.gz"))
    settings.append(("hiddenmenu", "", ""))
    text = _finish(dict(
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
    verdicts = [_judge(e, uname_r, grub_root, file_exists) for e in cfg.entries]
    booted = _booted_index(cfg)
    source, source_alive = _args_source(verdicts, "xen" if uname_r.endswith("xen") else "linux",
                                        booted)
    root, prefix = _layout(source, source_alive, verdicts, grub_root, boot_is_separate)
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

    text = _finish(dict(header, dropped=dropped, comments=comments, settings=settings,
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
    old = _fallbacks(cfg)
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


# --- showing the change -------------------------------------------------------------

def _lines(text: str) -> list[str]:
    # Split on "\n" only: str.splitlines also breaks at \x0b, \x1c, U+2028 ...
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def unified_diff(old: str | None, new: str, path: str) -> str:
    """A unified diff from the current file (None or "" when it is gone) to
    the planned one, as `diff -u` prints it; "" when they are the same."""
    out = []
    for line in difflib.unified_diff(_lines(old or ""), _lines(new),
                                     fromfile=path if old is not None else "/dev/null",
                                     tofile=path, fromfiledate="current",
                                     tofiledate="planned by vmrescue"):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)
