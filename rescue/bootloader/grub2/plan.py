"""What boots a reinstalled kernel on a GRUB 2 guest, decided before anything is written. No I/O.

Where grub.cfg runs RHEL's `blscfg` (EL8, EL9), vmrescue does what the kernel
package's own kernel-install (20-grub.install) would have done: it writes the
entry /boot/loader/entries/<machine-id>-<release>.conf from
templates/bls-entry.conf.j2 (title "NAME (release) VERSION" from os-release,
`options` from the entry it replaces, else /etc/kernel/cmdline, else
"$kernelopts" where GRUB has kernelopts, else the options of the guest's other
entries, else root= from fstab) and sets saved_entry in grubenv (the block
rewritten whole, its other variables kept). Where it does not (EL7), it adds
the kernel's menuentry to grub.cfg from templates/grub2-menuentry.j2, in the
shape of the guest's own entries (or of grub2-mkconfig's 10_linux, with
/etc/default/grub's GRUB_CMDLINE_LINUX, when none is left), first in the
menu as grubby puts a new kernel, and makes it the default.

Why not the guest's own tools, run in the appliance: grubby copies the default
entry and fails with "unable to find a suitable template" exactly when that
entry's kernel is gone, the state a repair starts from; grub2-mkconfig
regenerates the whole file, dropping the custom entries and (EL8) rewriting
kernelopts from /etc/default/grub, and both see the appliance's firmware, not
the guest's. Entries whose kernel file is gone are dropped (EL7) or put aside
as <file>.vmrescue-<stamp> (BLS: GRUB reads only *.conf).
"""
from __future__ import annotations

import difflib
import posixpath
import re

from rescue.bootloader import templates
from rescue.bootloader.base import (
    BootLayout, BootLoaderPlan, ConfigFiles, FileWrite, KernelEntryRequest, backup_name, on_boot_filesystem,
)
from rescue.bootloader.bls import BLS_DIR, BlsFile, expand, read_bls_dir
from rescue.bootloader.grub2.menu import environment, grubenv_path, read_env
from rescue.bootloader.grub2.script import Grub2Config, Grub2Entry, default_grub, parse_grub2_cfg
from rescue.bootloader.grubenv import BLOCK_SIZE, render_grubenv
from rescue.errors import Exit, RescueError
from rescue.guest.release import os_release_values
from rescue.model import GrubEnv

__all__ = ["grubenv_write", "plan_bls_entry", "plan_kernel", "plan_menuentry"]

_MACHINE_ID = re.compile(r"^[0-9a-f]{32}$")


def plan_kernel(config: str, text: str | None, request: KernelEntryRequest, files: ConfigFiles,
                layout: BootLayout) -> BootLoaderPlan:
    cfg = parse_grub2_cfg(text or "")
    env = read_env(files, config, cfg)
    if cfg.blscfg_at is not None:
        return plan_bls_entry(request, files, layout, grubenv=(grubenv_path(config), env, cfg))
    return plan_menuentry(config, text or "", cfg, env, request, files, layout)


# --- EL8 and EL9: a BLS entry and saved_entry -------------------------------------------

def plan_bls_entry(request: KernelEntryRequest, files: ConfigFiles, layout: BootLayout,
                   grubenv: tuple[str, GrubEnv | None, Grub2Config] | None) -> BootLoaderPlan:
    """The BLS entry of `request.uname_r` (and saved_entry naming it, where a grubenv is read)."""
    entries, _dropped = read_bls_dir(files, BLS_DIR)
    machine_id, notes = _machine_id(files, entries)
    entry_id = f"{machine_id}-{request.uname_r}"
    path = f"{BLS_DIR}/{entry_id}.conf"
    variables = environment(grubenv[2], grubenv[1]) if grubenv else {}
    osr = os_release_values(files.text("/etc/os-release") or "")
    prefix = "" if layout.boot_is_separate else "/boot"
    mine = [e for e in entries if e.id.startswith(machine_id + "-") and e.id != entry_id]
    model = next((e for e in entries if e.id == entry_id), None) or (mine[0] if mine else None)
    options, options_from = _options(request, files, variables, entry_id, entries, mine)
    tuned = any("$tuned_initrd" in value for e in entries for value in e.entry.initrds)
    extra = _extra_keys(model, osr, request.release_major)
    text = _render("bls-entry.conf.j2", dict(
        title=_title(osr, request), version=request.uname_r, linux=f"{prefix}/vmlinuz-{request.uname_r}",
        initrd=f"{prefix}/{request.initrd_name}" + (" $tuned_initrd" if tuned else ""), options=options,
        extra=extra))
    old = files.text(path)
    writes = [FileWrite(path, old, text)]
    moves = tuple((e.path, backup_name(e.path, request.backup_stamp or "old")) for e in entries
                  if e.id != entry_id and not _loads(files, layout, e.entry.linux))
    detail = f"{path}: new entry '{_title(osr, request)}' (options {options_from})"
    if grubenv is not None and _already(grubenv[1], entry_id):
        detail += f"; saved_entry in {grubenv[0]} already names it"
    elif grubenv is not None:
        env_path, env, _cfg = grubenv
        write = grubenv_write(files, env_path, env, "saved_entry", entry_id)
        writes.append(write)
        detail += f"; saved_entry={entry_id} in {write.path}"
        if env is not None and env.problem:
            notes.append(f"{env_path} was damaged ({env.problem}); it is written anew with its readable variables")
    if moves:
        detail += "; put aside " + ", ".join(f"{posixpath.basename(a)} (its kernel is gone)" for a, _ in moves)
    return BootLoaderPlan(step="bls", detail=detail, writes=tuple(writes), moves=moves, notes=tuple(notes),
                          diff=_diffs(writes, moves))


def _already(env: GrubEnv | None, value: str) -> bool:
    """saved_entry already names the entry (the update left it): grubenv needs no write."""
    return env is not None and not env.problem and env.get("saved_entry") == value


def _machine_id(files: ConfigFiles, entries: list[BlsFile]) -> tuple[str, list[str]]:
    machine_id = (files.text("/etc/machine-id") or "").strip()
    if _MACHINE_ID.match(machine_id):
        return machine_id, []
    prefixes = {e.id[:32] for e in entries if _MACHINE_ID.match(e.id[:32])}
    if len(prefixes) == 1:
        found = prefixes.pop()
        return found, [f"/etc/machine-id is missing or empty; the entry is named with {found}, the machine-id "
                       "of the guest's other entries"]
    raise RescueError("NO_MACHINE_ID", f"{files.image}: /etc/machine-id holds no machine-id, and the guest's BLS "
                      "entries do not agree on one; kernel-install names the entry after it. Nothing was written.",
                      "Write the guest's machine-id (32 hex digits) into /etc/machine-id (virt-customize "
                      "--run-command 'systemd-machine-id-setup') and run again.", Exit.REFUSED)


def _options(request: KernelEntryRequest, files: ConfigFiles, variables: dict[str, str], entry_id: str,
             entries: list[BlsFile], mine: list[BlsFile]) -> tuple[str, str]:
    """(the options line, where it came from), as kernel-install would choose them."""
    def boots(options: str | None) -> bool:
        # Options whose variables are unset (kernelopts lost from grubenv) give a kernel no root=.
        return bool(options) and any(word.startswith("root=") for word in expand(options, variables)[0].split())

    same = next((e for e in entries if e.id == entry_id and boots(e.entry.options)), None)
    if same is not None:
        return same.entry.options, f"from the entry it replaces, {same.path}"
    cmdline = " ".join((files.text("/etc/kernel/cmdline") or "").split())
    if cmdline:
        return cmdline, "from /etc/kernel/cmdline"
    if boots("$kernelopts"):
        tuned = any("$tuned_params" in e.entry.options for e in entries)
        return "$kernelopts" + (" $tuned_params" if tuned else ""), "$kernelopts, as EL8's kernel-install writes it"
    other = next((e for e in mine if boots(e.entry.options)), None)
    if other is not None:
        return other.entry.options, f"copied from {other.path}"
    settings = default_grub(files.text("/etc/default/grub") or "")
    args = " ".join(settings.get(k, "") for k in ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT")).split()
    if request.root_spec and args:
        # what grub2-mkconfig puts into kernelopts
        return " ".join([f"root={request.root_spec}", "ro", *args]), \
            "root= from /etc/fstab and GRUB_CMDLINE_LINUX from /etc/default/grub, as grub2-mkconfig makes kernelopts"
    if request.root_spec:
        return f"root={request.root_spec} ro", "root= from /etc/fstab"
    raise RescueError("NO_KERNEL_OPTIONS", f"{files.image}: nothing says which options the kernel boots with "
                      "(no entry to copy, no /etc/kernel/cmdline, no kernelopts, no / in /etc/fstab); nothing "
                      "was written.", "Write the kernel command line into /etc/kernel/cmdline and run again.",
                      Exit.REFUSED)


def _extra_keys(model: BlsFile | None, osr: dict[str, str], major: int) -> list[tuple[str, str]]:
    if model is not None:
        keys = [("grub_users", model.entry.grub_users)] if model.entry.grub_users else []
        keys += [("grub_arg", value) for value in model.entry.grub_arg]
        keys += [("grub_class", value) for value in model.entry.grub_class]
        if keys:
            return keys
    # 20-grub.install: grub_class "kernel" on EL8 (the package's bls.conf), the os-release ID from EL9
    return [("grub_users", "$grub_users"), ("grub_arg", "--unrestricted"),
            ("grub_class", "kernel" if major <= 8 else osr.get("ID", "kernel"))]


def _title(osr: dict[str, str], request: KernelEntryRequest) -> str:
    name = osr.get("NAME") or request.distro_title
    version = osr.get("VERSION", "")
    return f"{name} ({request.uname_r}) {version}".strip()


def _loads(files: ConfigFiles, layout: BootLayout, path: str | None) -> bool:
    guest = on_boot_filesystem(path, layout)
    return bool(guest) and files.is_file(guest)


# --- grubenv ------------------------------------------------------------------------------

def grubenv_write(files: ConfigFiles, path: str, env: GrubEnv | None, name: str, value: str) -> FileWrite:
    """The grubenv block with `name` set to `value`, its other variables kept, at its real path."""
    real = files.real_path(path)
    variables = dict(env.variables) if env is not None else {}
    variables[name] = value
    size = env.size if env is not None and env.problem is None and env.size >= BLOCK_SIZE else BLOCK_SIZE
    old = files.data(real)
    new = render_grubenv(variables, size)
    return FileWrite(real, old.decode("utf-8", "replace") if old is not None else None,
                     new.decode("utf-8", "replace"))


# --- EL7: a menuentry in grub.cfg ------------------------------------------------------

def plan_menuentry(config: str, text: str, cfg: Grub2Config, env: GrubEnv | None, request: KernelEntryRequest,
                   files: ConfigFiles, layout: BootLayout) -> BootLoaderPlan:
    osr = os_release_values(files.text("/etc/os-release") or "")
    title = _title(osr, request)
    prefix = "" if layout.boot_is_separate else "/boot"
    top = [e for e in cfg.entries if e.parent is None]
    alive = [e for e in top if e.kernel and "-rescue-" not in e.kernel and _loads(files, layout, e.kernel)]
    dead = [e for e in top if e.kernel and not _loads(files, layout, e.kernel)]
    lines = text.split("\n")
    model = alive[0] if alive else None
    block = _render("grub2-menuentry.j2", _entry_context(model, lines, title, request, files, layout, prefix, osr))
    at = _insert_line(lines, cfg)
    new_lines = _edit_lines(lines, at, block.rstrip("\n").split("\n"), [e.span for e in dead])
    notes = ["grub.cfg lists no working entry to copy; the entry is written as grub2-mkconfig's 10_linux "
             "writes it"] if model is None else []
    writes = []
    default_how = ""
    if cfg.default is not None and "saved_entry" in cfg.default and _already(env, title):
        default_how = f"saved_entry in {grubenv_path(config)} already names it"
    elif cfg.default is not None and "saved_entry" in cfg.default:
        env_path = grubenv_path(config)
        write = grubenv_write(files, env_path, env, "saved_entry", title)
        writes.append(write)
        default_how = f"saved_entry='{title}' in {write.path}"
    else:
        new_lines = _set_default(lines, new_lines, cfg)
        default_how = "set default=\"0\" in grub.cfg"
    new_text = "\n".join(new_lines)
    writes.insert(0, FileWrite(config, text, new_text))
    detail = f"{config}: new first entry '{title}'; {default_how}"
    if dead:
        detail += "; dropped " + ", ".join(f"'{e.title}' (missing {e.kernel})" for e in dead)
    return BootLoaderPlan(step="grub.cfg", detail=detail, writes=tuple(writes), notes=tuple(notes),
                          diff=_diffs(writes, ()))


def _entry_context(model: Grub2Entry | None, lines: list[str], title: str, request: KernelEntryRequest,
                   files: ConfigFiles, layout: BootLayout, prefix: str, osr: dict[str, str]) -> dict:
    kernel, initrd = f"{prefix}/vmlinuz-{request.uname_r}", f"{prefix}/{request.initrd_name}"
    if model is not None:
        head, setup, release = _model_parts(model, lines)
        options = [word.replace(release, request.uname_r) if release else word for word in head]
        command = model.linux_command or "linux16"
        return dict(title=_quoted_title(title)[1:-1], options=options, setup=setup, linux_command=command,
                    kernel=kernel, args=model.kernel_args, initrd_command=command.replace("linux", "initrd"),
                    initrd=initrd)
    boot, root = layout.filesystem("/boot"), layout.filesystem("/")
    os_class = re.sub(r"[^a-z0-9]", "_", (osr.get("ID") or "linux").lower())
    options = [f"--class {os_class}", "--class gnu-linux", "--class gnu", "--class os", "--unrestricted",
               f"$menuentry_id_option 'gnulinux-{request.uname_r}-advanced-{root.uuid if root else 'root'}'"]
    setup = ["load_video", "set gfxpayload=keep", "insmod gzio", "insmod part_msdos"]
    if boot is not None:
        setup.append(f"insmod {'ext2' if boot.fstype.startswith('ext') else boot.fstype}")
        if boot.uuid:
            setup.append(f"search --no-floppy --fs-uuid --set=root {boot.uuid}")
    cmdline = default_grub(files.text("/etc/default/grub") or "").get("GRUB_CMDLINE_LINUX", "")
    args = " ".join(filter(None, [f"root={request.root_spec}" if request.root_spec else "", "ro", cmdline]))
    return dict(title=_quoted_title(title)[1:-1], options=options, setup=setup, linux_command="linux16",
                kernel=kernel, args=args, initrd_command="initrd16", initrd=initrd)


def _model_parts(model: Grub2Entry, lines: list[str]) -> tuple[list[str], list[str], str | None]:
    """The model entry's menuentry options (title left out), its setup lines, and its kernel's release."""
    first, last = model.span
    block = lines[first - 1:last]
    header = block[0]
    after_title = header.split("'", 2)[2] if header.count("'") >= 2 else ""
    head = after_title.rsplit("{", 1)[0].split()
    # the block's own lines (their nesting kept), but those that load the kernel and the initrd
    setup = [line[1:].rstrip() if line.startswith("\t") else line.strip() for line in block[1:-1]
             if line.strip() and line.split()[0] not in ("linux", "linux16", "linuxefi", "initrd", "initrd16",
                                                         "initrdefi")]
    release = (model.kernel or "").rsplit("vmlinuz-", 1)[-1] or None
    return _regroup(head), setup, release


def _regroup(words: list[str]) -> list[str]:
    """Option words with their values rejoined: ["--class", "centos"] → ["--class centos"]."""
    out: list[str] = []
    for word in words:
        if out and (out[-1] in ("--class", "--id", "--users", "--hotkey") or out[-1] == "$menuentry_id_option"):
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def _quoted_title(title: str) -> str:
    return "'" + title.replace("'", "'\\''") + "'"


def _insert_line(lines: list[str], cfg: Grub2Config) -> int:
    """Where the new entry goes (0-based): before the first top-level menuentry, else after 10_linux's header."""
    firsts = [e.span[0] for e in cfg.entries if e.parent is None and e.span[0]]
    if firsts:
        return min(firsts) - 1
    for i, line in enumerate(lines):
        if line.startswith("### BEGIN /etc/grub.d/10_linux"):
            return i + 1
    return len(lines) - (1 if lines and lines[-1] == "" else 0)


def _edit_lines(lines: list[str], at: int, block: list[str], drop: list[tuple[int, int]]) -> list[str]:
    gone = {n for first, last in drop for n in range(first - 1, last)}
    out: list[str] = []
    for i, line in enumerate(lines):
        if i == at:
            out.extend(block)
        if i not in gone:
            out.append(line)
    if at >= len(lines):
        out.extend(block)
    return out


def _set_default(old: list[str], new: list[str], cfg: Grub2Config) -> list[str]:
    """`new` with grub.cfg's `set default=` lines naming the new first entry ("0")."""
    targets = {old[n - 1] for n in cfg.default_lines if 0 < n <= len(old)}
    if not targets:
        return ['set default="0"', *new]
    return [re.sub(r"set default=\S*", 'set default="0"', line) if line in targets else line for line in new]


# --- rendering and showing ------------------------------------------------------------

def _render(name: str, context: dict) -> str:
    return templates.environment(templates.refuse_controls).get_template(name).render(**context)


def _diffs(writes: list[FileWrite], moves: tuple[tuple[str, str], ...]) -> str:
    out = []
    for old, new in moves:
        out.append(f"rename {old} → {new} (GRUB reads only *.conf)\n")
    for write in writes:
        out.append(_diff(write))
    return "".join(out)


def _diff(write: FileWrite) -> str:
    old, new = write.old, write.new
    if write.path.endswith("grubenv"):
        old = "\n".join(line for line in (old or "").split("\n") if not line.startswith("#")) if old else old
        new = "\n".join(line for line in new.split("\n") if not line.startswith("#"))
    before = (old or "").splitlines(keepends=True)
    after = new.splitlines(keepends=True)
    lines = difflib.unified_diff(before, after, fromfile=write.path if write.old is not None else "/dev/null",
                                 tofile=write.path, fromfiledate="current", tofiledate="planned by vmrescue")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
