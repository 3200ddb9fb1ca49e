"""boot-check's report: text for people, JSON (schema vmrescue.boot-check/1) for programs. Pure."""
from __future__ import annotations

from rescue.bootcheck import console
from rescue.bootcheck.check import BootCheck
from rescue.bootcheck.console import BootResult
from rescue.errors import RescueError

SCHEMA = "vmrescue.boot-check/1"


def _error_dict(result: BootResult) -> dict | None:
    if result.error is None:
        return None
    code, line = result.error
    message, hint = console.ERRORS.get(code, ("The boot failed.", "Read the console log."))
    return {"code": code, "message": message, "hint": hint, "line": line}


def _drivers_json(check: BootCheck) -> list[dict]:
    return [{"module": d.module, "expected_by": d.expected_by, "role": d.role, "loaded": d.loaded,
             "evidence": list(d.evidence),
             "error": None if d.error is None else dict(zip(("code", "message", "hint"), d.error)),
             "notes": list(d.notes)}
            for d in check.drivers]


def _probe_json(check: BootCheck) -> dict:
    p = check.probe
    return {"installed": check.overlay.probe, "ran": p is not None, "complete": bool(p and p.complete),
            "release": p.release if p else None,
            "links": [{"name": n, "state": s, "driver": d or None} for n, s, d in (p.links if p else ())]}


def to_json_document(check: BootCheck) -> dict:
    """The --json report (schema vmrescue.boot-check/1, see docs/boot-check.md)."""
    r = check.result
    return {
        "schema": SCHEMA,
        "image": check.image,
        "format": check.format,
        "ok": r.ok,
        "exit_status": int(check.exit_status),
        "stage_reached": r.stage_reached,
        "stages": [{"stage": stage, "line": line} for stage, line in r.stages],
        "error": _error_dict(r),
        "problems": [{"code": code, "line": line} for code, line in r.problems],
        "kernel": {"booted": r.kernel_version, "expected": check.options.expect_kernel},
        "boot": {
            "accel": check.accel,
            "ended": check.ended,
            "seconds": round(check.boot_seconds, 1),
            "timeout": check.options.timeout,
            "memory_mb": check.options.memory_mb,
            "firmware": check.hardware.firmware,
            "disk": check.hardware.disk_if,
            "disk_driver": check.hardware.disk_driver,
            "nic": check.hardware.nic_model,
            "nic_driver": check.hardware.nic_driver,
        },
        "overlay": {
            "seconds": round(check.prepare_seconds, 1),
            "os": check.overlay.product,
            "bootloader": check.overlay.bootloader,
            "configured": list(check.overlay.configured),
            "default_release": check.overlay.default_release,
            "mbr_boot_code": check.overlay.mbr_boot_code,
            "esp_loader": check.overlay.esp_loader,
            "esp_fallback": check.overlay.esp_fallback,
            "kernel_args": {"removed": list(check.overlay.args_removed), "added": list(check.overlay.args_added),
                            "booted_with": r.command_line},
            "probe": check.overlay.probe,
        },
        "drivers": _drivers_json(check),
        "probe": _probe_json(check),
        "console_log": check.console_log,
        "console_tail": list(check.console_tail),
        "notes": [*check.hardware.notes, *check.overlay.notes, *check.notes],
    }


def render_text(check: BootCheck) -> list[str]:
    """The human report, line by line (the CLI prints it)."""
    r = check.result
    accel = "KVM" if check.accel == "kvm" else "TCG"
    lines = []
    if r.ok:
        failed = [d.module for d in check.drivers if d.loaded is False]
        lines.append(f"{check.image}: BOOTS: login reached in {check.boot_seconds:.0f} s ({accel}), "
                     f"kernel {r.kernel_version or 'unknown'}"
                     + (f"; did not load: {', '.join(failed)}" if failed else ""))
    else:
        where = f"stopped at stage {r.stage_reached}" if r.stage_reached else "did not reach the boot loader"
        lines.append(f"{check.image}: DOES NOT BOOT: {where} ({accel}, {check.boot_seconds:.0f} s)")
        error = _error_dict(r)
        if error:
            lines.append(f"  {error['code']}: {error['message']}")
            if error["line"]:
                lines.append(f"    console: {error['line']}")
            if error["code"] == "BOOT_CODE_SILENT" and check.overlay.mbr_boot_code is False:
                lines.append("    the first 440 bytes of the disk (the MBR's boot code) are all zeros")
            lines.append(f"  next: {error['hint']}")
    proved = dict(r.stages)
    for stage in console.STAGES:
        if stage == "efi-loader" and check.hardware.firmware != "uefi" and stage not in proved:
            continue                        # a BIOS boot has no EFI loader
        if stage in proved:
            lines.append(f"  {stage:<13} {proved[stage]}")
        elif r.stage_reached and console.STAGES.index(stage) < console.STAGES.index(r.stage_reached):
            lines.append(f"  {stage:<13} (passed, no console line shows it)")
        else:
            lines.append(f"  {stage:<13} -")
    others = [p for p in r.problems if p != r.error]
    for code, line in others:
        lines.append(f"  also seen: {code}: {line}")
    lines.extend(_overlay_lines(check))
    lines.extend(_driver_lines(check))
    hw = check.hardware
    lines.append("  hardware: " + ("UEFI firmware (OVMF), " if hw.firmware == "uefi" else "") + f"disk {hw.disk_if}" + (f" ({hw.disk_driver})" if hw.disk_driver else "")
                 + f", NIC {hw.nic_model}" + (f" ({hw.nic_driver})" if hw.nic_driver else ""))
    for note in (*hw.notes, *check.overlay.notes, *check.notes):
        lines.append(f"  note: {note}")
    if not r.ok and check.console_tail:
        lines.append("  last console lines:")
        lines.extend(f"    | {line}" for line in check.console_tail)
    if check.console_log:
        lines.append(f"  console log: {check.console_log}")
    return lines


def _overlay_lines(check: BootCheck) -> list[str]:
    o = check.overlay
    if not o.args_added:
        return []
    removed = f"without {' '.join(o.args_removed)}, " if o.args_removed else ""
    line = f"  overlay: booted entry's kernel arguments {removed}with {' '.join(o.args_added)}"
    cmdline = check.result.command_line
    if cmdline is not None and any(w in cmdline.split() for w in ("quiet", "rhgb")):
        line += " (a quiet or rhgb from a GRUB variable stays; loglevel=7 after it still raises the kernel's level)"
    out = [line]
    if o.probe:
        out.append(f"  overlay: driver probe run by init ({o.probe}): loaded modules and network links on the console")
    return out


def _driver_lines(check: BootCheck) -> list[str]:
    if not check.drivers:
        return []
    booted = (check.probe.release if check.probe else None) or check.result.kernel_version
    out = [f"  drivers{f' under {booted}' if booted else ''}:"]
    for d in check.drivers:
        state = {True: "loaded", False: "NOT LOADED", None: "not known"}[d.loaded]
        out.append(f"    {d.module:<12} {state:<11} {d.expected_by}")
        out.extend(f"      console: {line}" for line in d.evidence)
        out.extend(f"      note: {line}" for line in d.notes)
        if d.error:
            out.append(f"      error {d.error[0]}: {d.error[1]}")
            out.append(f"      next: {d.error[2]}")
    if check.probe is None and any(d.loaded is None for d in check.drivers):
        out.append("    (the probe's report did not reach the console: only the kernel's refusals are known)")
    return out


def error_document(image: str, exc: RescueError) -> dict:
    """The --json report when the check could not run (bad image, no qemu, appliance failure)."""
    return {
        "schema": SCHEMA, "image": image, "format": None, "ok": False, "exit_status": int(exc.exit_status),
        "stage_reached": None, "stages": [], "error": {**exc.as_dict(), "line": None}, "problems": [],
        "kernel": None, "boot": None, "overlay": None, "drivers": [], "probe": None, "console_log": None,
        "console_tail": [], "notes": [],
    }
