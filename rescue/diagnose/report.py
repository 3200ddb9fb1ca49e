"""Diagnoses rendered for people (rich) and for programs (JSON, schema vmrescue.report/1).

Pure: nothing here reads an image or decides anything; `rules` decided. Every
string that came from the guest (grub titles, paths, messages quoting them) is
untrusted: control characters are replaced and rich markup is escaped before
it reaches the terminal. JSON needs no such care: `json` escapes control
characters itself, and the document keeps the guest's text as it was.

The JSON contract is docs/report-schema.json; keys may be added, never renamed.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich import box
from rich.table import Table
from rich.text import Text

from rescue import __version__
from rescue.errors import RescueError
from rescue.kernel.inventory import newest_first
from rescue.model import BootEntry, Diagnosis, Finding, GuestFacts, Kernel, Severity
from rescue.diagnose.rules import needs_repair
from rescue.diagnose.rules.facts import default_index, entry_file_release

SCHEMA_ID = "vmrescue.report/1"
SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
YES, NO, NONE = "✓", "✗", "-"


# --- what to_json_document accepts ---------------------------------------------

@dataclass(frozen=True)
class FailedImage:
    """An image that could not be opened or inspected: reported, not diagnosed."""
    path: str
    format: str | None
    error: RescueError


class ImageOutcome(Protocol):
    """Shape of operations.ImageResult: exactly one of diagnosis and error is set."""
    path: str
    format: str | None
    diagnosis: Diagnosis | None
    error: RescueError | None


def to_json_document(
    diagnoses: Sequence[Diagnosis | FailedImage | ImageOutcome],
    formats: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """The whole report: one entry per image, in the order given.

    Items are bare `Diagnosis`es (their format taken from `formats`, same
    order), `FailedImage`s, or results shaped like `operations.ImageResult`
    (which carry their own path, format, and a diagnosis or an error).
    """
    formats = list(formats or [])
    images = []
    for i, item in enumerate(diagnoses):
        fmt = formats[i] if i < len(formats) else None
        images.append(_image_json(item, fmt))
    return {"schema": SCHEMA_ID, "generator": f"vmrescue {__version__}", "images": images}


def _image_json(item: Any, fmt: str | None) -> dict[str, Any]:
    if isinstance(item, Diagnosis):
        return diagnosis_json(item, fmt)
    fmt = getattr(item, "format", None) or fmt
    if getattr(item, "error", None) is not None:
        return error_json(item.path, fmt, item.error)
    return diagnosis_json(item.diagnosis, fmt, path=item.path)


def error_json(path: str, fmt: str | None, error: RescueError) -> dict[str, Any]:
    return {"path": path, "format": fmt,
            "error": {"code": error.code, "message": error.message, "hint": error.hint}}


def diagnosis_json(d: Diagnosis, fmt: str | None, path: str | None = None) -> dict[str, Any]:
    facts = d.facts
    rec = d.recommended_kernel
    return {
        "path": path or facts.image,
        "format": fmt,
        "os": _os_json(facts),
        "bootable": d.bootable,
        "default_kernel": d.default_kernel,
        "needs_repair": needs_repair(d),
        "bootloader": _bootloader_json(facts),
        "kernels": [_kernel_json(k) for k in facts.kernels],
        "third_party_modules": [
            {"path": m.path, "name": m.name, "vermagic_release": m.vermagic_release,
             "installed_under": m.installed_under}
            for m in facts.third_party_modules
        ],
        "findings": [_finding_json(f) for f in d.findings],
        "recommended_kernel": (
            {"uname_r": rec.uname_r, "package": rec.package, "packages": list(rec.packages or (rec.package,)),
             "reason": rec.reason} if rec else None),
        "machine_id": facts.machine_id,
        "firmware": _firmware_json(facts),
        "notes": list(facts.notes),
        "boot_symlinks": [{"path": link.path, "target": link.target, "problem": link.problem}
                          for link in facts.boot_symlinks],
    }


def _firmware_json(facts: GuestFacts) -> dict[str, Any] | None:
    fw = facts.firmware
    if fw is None:
        return None
    return {"needs": fw.needs, "partition_table": fw.partition_table, "bios_code": fw.bios_code,
            "bios_boot_partition": fw.bios_boot_partition, "esp": fw.esp, "esp_fstype": fw.esp_fstype,
            "esp_mounted": fw.esp_mounted, "fallback": fw.fallback, "vendor": fw.vendor,
            "vendors": [{"directory": v.directory, "loaders": list(v.loaders), "grub_cfg": v.grub_cfg,
                         "grubenv": v.grubenv, "stub": ({"uuid": v.stub_uuid, "target": v.stub_target,
                                                         "loads": v.stub_target_path, "exists": v.stub_target_exists}
                                                        if v.stub_uuid else None)} for v in fw.vendors],
            "vmx": fw.vmx, "vmx_firmware": fw.vmx_firmware}


def firmware_line(facts: GuestFacts) -> str | None:
    """"firmware: BIOS and UEFI (...)" for the text report; None when nothing is known."""
    fw = facts.firmware
    if fw is None or fw.needs is None and fw.esp is None:
        return None
    parts = []
    if fw.bios_code:
        parts.append("BIOS (boot code in the MBR" + (f", BIOS boot partition {fw.bios_boot_partition}"
                                                     if fw.bios_boot_partition else "") + ")")
    if fw.esp:
        loaders = [p for p in ([fw.fallback] if fw.fallback else []) +
                   [f"{v.directory}/{n}" for v in fw.vendors for n in v.loaders]]
        stub = next((v for v in fw.vendors if v.stub_uuid), None)
        parts.append(f"UEFI (ESP {fw.esp}" + (f": {', '.join(loaders)}" if loaders else ": no loader")
                     + (f"; {stub.grub_cfg} is a stub loading {stub.stub_target_path or stub.stub_target}" if stub else "")
                     + ")")
    needs = {"both": "BIOS or UEFI", "bios": "BIOS", "uefi": "UEFI", None: "neither"}[fw.needs]
    vmx = f"; {fw.vmx} sets {fw.vmx_firmware.upper()}" if fw.vmx and fw.vmx_firmware else ""
    return f"firmware: starts with {needs}: " + "; ".join(parts) + vmx


def _os_json(facts: GuestFacts) -> dict[str, Any] | None:
    o = facts.os
    if o is None:
        return None
    return {"distro": o.distro, "version": o.version, "arch": o.arch, "root": o.root,
            "product": o.product, "package_format": o.package_format}


def _bootloader_json(facts: GuestFacts) -> dict[str, Any]:
    bl = facts.bootloader
    return {
        "kind": bl.kind, "config": bl.config, "default": bl.default, "fallback": bl.fallback,
        "entries": [_entry_json(e) for e in bl.entries],
        "parse_errors": list(bl.parse_errors),
        "default_setting": bl.default_setting, "default_request": bl.default_request,
        "default_source": bl.default_source, "default_found": bl.default_found,
        "env": ({"path": bl.env.path, "variables": dict(bl.env.variables), "size": bl.env.size,
                 "problem": bl.env.problem} if bl.env is not None else None),
        "dropped": list(bl.dropped),
        "bls_problems": [{"path": path, "problem": problem} for path, problem in bl.bls_problems],
    }


def _entry_json(e: BootEntry) -> dict[str, Any]:
    return {
        "index": e.index, "title": e.title, "kind": e.kind,
        "kernel": e.kernel, "initrd": e.initrd,
        "guest_kernel": e.guest_kernel, "guest_initrd": e.guest_initrd,
        "kernel_exists": e.kernel_exists, "initrd_exists": e.initrd_exists,
        "root_device": e.root_device, "root_resolved": e.root_resolved,
        "id": e.id, "source": e.source, "unset": list(e.unset), "machine_id": e.machine_id,
    }


def _kernel_json(k: Kernel) -> dict[str, Any]:
    return {
        "uname_r": k.uname_r,
        "vmlinuz": k.vmlinuz.path if k.vmlinuz else None,
        "embedded_version": k.vmlinuz.embedded_version if k.vmlinuz else None,
        "embedded_release": k.vmlinuz.embedded_release if k.vmlinuz else None,
        "initrd": k.initrd.path if k.initrd else None,
        "modules_dir": k.modules.path if k.modules else None,
        "modules_kernel_tree": bool(k.modules and k.modules.has_kernel_tree),
        "system_map": k.system_map,
        "config": k.config,
        "rpm": k.rpm.nvra if k.rpm else None,
    }


def _finding_json(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {"code": f.code, "severity": f.severity.value, "message": f.message, "action": f.action}
    if f.evidence:
        out["evidence"] = [{"path": e.path, "line": e.line, "value": e.value} for e in f.evidence]
    return out


# --- text for a terminal ------------------------------------------------------------

def clean(s: object) -> str:
    """Guest text made inert: control and format characters shown as \\xNN / \\uNNNN.

    A hostile guest can put escape sequences (or bidi overrides) in a grub
    title; printed raw they would drive the operator's terminal.
    """
    out = []
    for ch in str(s):
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def safe(s: object) -> str:
    """Guest text ready to embed in rich markup."""
    return escape(clean(s))


def _markup(markup: str) -> Text:
    # emoji=False: a guest string like ":warning:" must print as written.
    return Text.from_markup(markup, emoji=False)


def verdict_markup(d: Diagnosis) -> str:
    """One line: BOOTABLE / NOT BOOTABLE, the default kernel, the recommended kernel."""
    state = "[bold green]BOOTABLE[/]" if d.bootable else "[bold red]NOT BOOTABLE[/]"
    default = safe(d.default_kernel) if d.default_kernel else "none"
    rec = d.recommended_kernel
    if rec is None:
        recommended = "none (no evidence)"
    elif not needs_repair(d):
        recommended = f"{safe(rec.uname_r)} (already the default; no repair needed)"
    else:
        recommended = f"[bold]{safe(rec.uname_r)}[/] ({safe(rec.package)})"
    return f"{safe(d.facts.image)}: {state} · default kernel: {default} · recommended: {recommended}"


def _mark(present: bool) -> str:
    return f"[green]{YES}[/]" if present else f"[red]{NO}[/]"


def _entries_by_release(facts: GuestFacts) -> dict[str, list[BootEntry]]:
    found: dict[str, list[BootEntry]] = {}
    for e in facts.bootloader.entries:
        release = entry_file_release(e)
        if release:
            found.setdefault(release, []).append(e)
    return found


def _table_releases(d: Diagnosis, entries: dict[str, list[BootEntry]]) -> list[str]:
    """Installed kernels, plus releases only an entry or the recommendation names."""
    releases = [k.uname_r for k in d.facts.kernels] + list(entries)
    if d.recommended_kernel:
        releases.append(d.recommended_kernel.uname_r)
    return newest_first(releases)


def _modules_cell(k: Kernel | None) -> str:
    if k is None or k.modules is None:
        return _mark(False)
    return _mark(True) if k.modules.has_kernel_tree else "[yellow]leftovers only[/]"


def _vmlinuz_cell(k: Kernel | None) -> str:
    if k is None or k.vmlinuz is None:
        return _mark(False)
    v = k.vmlinuz
    if v.embedded_release and v.embedded_release != v.name_release:
        return f"[yellow]{YES} is {safe(v.embedded_release)}[/]"
    return _mark(True)


def _entry_cell(facts: GuestFacts, entries: list[BootEntry]) -> str:
    if not entries:
        return NONE
    default = default_index(facts)
    return ", ".join(f"{e.index}*" if e.index == default else str(e.index) for e in entries)


def _third_party_cell(facts: GuestFacts, release: str) -> str:
    names = list(dict.fromkeys(m.name for m in facts.third_party_modules if m.vermagic_release == release))
    return safe(", ".join(names)) if names else NONE


def kernel_table(d: Diagnosis) -> Table:
    facts = d.facts
    entries = _entries_by_release(facts)
    table = Table(title="Kernels (newest first; * = default entry; ← = recommended)", title_justify="left",
                  box=box.SIMPLE_HEAD)
    # The release is what the operator copies into --kernel: never wrap or cut it.
    table.add_column("release", no_wrap=True, min_width=10)
    for column in ("vmlinuz", "initrd", "modules", "rpmdb", "grub entry", "third-party modules"):
        table.add_column(column)
    by_release = {k.uname_r: k for k in facts.kernels}
    rec = d.recommended_kernel.uname_r if d.recommended_kernel else None
    for release in _table_releases(d, entries):
        k = by_release.get(release)
        name = f"[bold]{safe(release)}[/] ←" if release == rec else safe(release)
        cells = (
            name,
            _vmlinuz_cell(k),
            _mark(bool(k and k.initrd)),
            _modules_cell(k),
            _mark(bool(k and k.rpm)),
            _entry_cell(facts, entries.get(release, [])),
            _third_party_cell(facts, release),
        )
        table.add_row(*(_markup(c) for c in cells))
    return table


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; rule order within each."""
    return sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity])


def finding_markup(f: Finding) -> str:
    style = SEVERITY_STYLE[f.severity]
    seen = "".join(f"\n        at {safe(e.path)}{f':{e.line}' if e.line else ''}: {safe(e.value)}" for e in f.evidence)
    return (f"[{style}]{f.severity.value.upper():<7}[/] [bold]{f.code}[/] {safe(f.message)}{seen}\n"
            f"        → {safe(f.action)}")


def guest_summary_markup(facts: GuestFacts) -> str:
    line = f"  {safe(facts.os.product)} ({safe(facts.os.arch)}), root {safe(facts.os.root)}"
    if facts.bootloader.config:
        line += f", boot loader {safe(facts.bootloader.config)}"
    fw = firmware_line(facts)
    return line + (f"\n  {safe(fw)}" if fw else "")


def render_text(diagnosis: Diagnosis, console: Console) -> None:
    """The human report: verdict, kernels table, findings, notes."""
    facts = diagnosis.facts
    console.print(_markup(verdict_markup(diagnosis)))
    if facts.os is not None:
        console.print(_markup(guest_summary_markup(facts)))
    if facts.kernels or facts.bootloader.entries or diagnosis.recommended_kernel:
        console.print(kernel_table(diagnosis))
    if diagnosis.recommended_kernel and needs_repair(diagnosis):
        console.print(_markup(f"Recommended kernel {safe(diagnosis.recommended_kernel.uname_r)}: "
                              f"{safe(diagnosis.recommended_kernel.reason)}."))
    for f in sorted_findings(diagnosis.findings):
        console.print(_markup(finding_markup(f)))
    for note in facts.notes:
        console.print(_markup(f"[dim]note: {safe(note)}[/]"))


def render_error(path: str, error: RescueError, console: Console) -> None:
    """An image that could not be diagnosed, in the same voice as the CLI's errors."""
    console.print(_markup(f"{safe(path)}: [bold red]ERROR[/] [bold]{safe(error.code)}[/] {safe(error.message)}"))
    if error.hint:
        console.print(_markup(f"        hint: {safe(error.hint)}"))
