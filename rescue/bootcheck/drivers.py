"""Did the drivers that matter load under the booted kernel? From the console alone. Pure.

The drivers boot-check looks at (`Expected`): every third-party module the
guest has (what diagnose lists: /lib/modules/*/{misc,extra,updates,weak-updates}),
and the drivers of the disk controller and the NIC qemu emulates. Two kinds
of evidence, both on the console:

* the kernel's own refusal lines, printed when a module is offered to it:
  "vmxnet: version magic '...' should be '...'", "vmxnet: disagrees about
  version of symbol module_layout", "vmxnet: Unknown symbol ... (err -2)",
  and insmod/modprobe's "... Invalid module format"; "module verification
  failed" and "loading out-of-tree module taints kernel" are notes (the
  module loads);
* the probe's report (rescue.bootcheck.probe): /proc/modules, built-ins and
  the network links, between its markers.

Without the probe's report a driver with no refusal line is "not known".
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from rescue.bootcheck import probe
from rescue.bootcheck.evidence import PRINTK_TIME
from rescue.model import ThirdPartyModule

THIRD_PARTY, DISK, NIC = "third-party", "disk", "nic"
_MAX_EVIDENCE = 200


@dataclass(frozen=True)
class Expected:
    module: str                  # as /proc/modules spells it (underscores)
    expected_by: str             # why boot-check looks at it
    role: str                    # THIRD_PARTY, DISK, NIC
    built_for: str | None = None     # a third-party module's vermagic release


@dataclass(frozen=True)
class ProbeReport:
    release: str | None
    modules: dict[str, str]                      # name -> state ("Live")
    builtin: frozenset[str]
    links: tuple[tuple[str, str, str], ...]      # (interface, operstate, driver)
    complete: bool                               # its end marker was seen
    lines: dict[str, str]                        # module name -> the probe's console line


@dataclass(frozen=True)
class Driver:
    module: str
    expected_by: str
    role: str
    loaded: bool | None                          # None: not known
    evidence: tuple[str, ...]                    # console lines
    error: tuple[str, str, str] | None = None    # (code, message, next step)
    notes: tuple[str, ...] = ()


def module_name(word: str) -> str:
    """'vmxnet', '/lib/modules/R/misc/vmxnet.ko', 'dm-mod' -> the name /proc/modules shows."""
    base = posixpath.basename(word.strip("'\"`()").rstrip(".:,"))
    base = re.sub(r"\.ko(?:\.(?:gz|xz|zst))?$", "", base)
    return base.replace("-", "_")


def expected_drivers(third_party: tuple[ThirdPartyModule, ...], disk: str | None, disk_if: str,
                     nic: str | None, nic_model: str, booted_hint: str | None) -> list[Expected]:
    """What to look for: each third-party module diagnose lists (of several copies of one name,
    the one in the tree of `booted_hint`, the default entry's release), then the drivers of the
    emulated disk controller and NIC."""
    found: dict[str, Expected] = {}
    for m in third_party:
        key = module_name(m.name)
        if key in found and m.installed_under != f"/lib/modules/{booted_hint}":
            continue
        built = f", built for {m.vermagic_release}" if m.vermagic_release else ", its vermagic unreadable"
        found[key] = Expected(key, f"third-party module {m.path}{built} (diagnose lists it)", THIRD_PARTY,
                              m.vermagic_release)
    out = list(found.values())
    if disk and module_name(disk) not in found:
        out.append(Expected(module_name(disk), f"the driver of the emulated disk controller ({disk_if})", DISK))
    if nic and module_name(nic) not in found:
        out.append(Expected(module_name(nic), f"the driver of the emulated NIC ({nic_model})", NIC))
    return out


# --- reading the console ---------------------------------------------------------------

_REFUSALS = (
    re.compile(r"^(?P<mod>[\w-]+): (?P<why>version magic '.*' should be '.*')"),
    re.compile(r"^(?P<mod>[\w-]+): (?P<why>disagrees about version of symbol \S+)"),
    re.compile(r"^(?P<mod>[\w-]+): (?P<why>Unknown symbol \S+)"),
    # kmod: "insmod: ERROR: could not insert module /lib/.../vmxnet.ko: Invalid module format",
    #       "modprobe: ERROR: could not insert 'vmxnet': Invalid module format"
    re.compile(r"could not insert (?:module )?(?P<mod>\S+?):? (?P<why>Invalid module format|Unknown symbol in module"
               r"|Exec format error)"),
    # module-init-tools: "FATAL: Error inserting vmxnet (/lib/.../vmxnet.ko): Invalid module format"
    re.compile(r"Error inserting (?P<mod>\S+) \(\S+\): (?P<why>Invalid module format|Unknown symbol in module)"),
)
_NOT_FOUND = re.compile(r"FATAL: Module (?P<mod>\S+) not found|modprobe: FATAL: Module (?P<mod2>\S+) not found")
_NOTES = re.compile(r"^(?P<mod>[\w-]+): (?P<why>module verification failed: .*|loading out-of-tree module taints kernel)")


def _quote(line: str) -> str:
    line = line.strip()
    return line if len(line) <= _MAX_EVIDENCE else line[:_MAX_EVIDENCE - 3] + "..."


def kernel_lines(lines: list[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per module, the console lines refusing it (or saying it is not there), and its notes."""
    refused: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    for raw in lines:
        line = PRINTK_TIME.sub("", raw).strip()
        if not line or line.startswith(probe.PREFIX):
            continue
        for pattern in _REFUSALS:
            m = pattern.search(line)
            if m:
                refused.setdefault(module_name(m.group("mod")), []).append(_quote(raw))
                break
        else:
            m = _NOT_FOUND.search(line)
            if m:
                refused.setdefault(module_name(m.group("mod") or m.group("mod2")), []).append(_quote(raw))
                continue
            m = _NOTES.search(line)
            if m:
                notes.setdefault(module_name(m.group("mod")), []).append(_quote(raw))
    return refused, notes


def probe_report(lines: list[str]) -> ProbeReport | None:
    """The probe's report, from its begin marker on; None when it never ran."""
    report: ProbeReport | None = None
    modules: dict[str, str] = {}
    seen: dict[str, str] = {}
    builtin: set[str] = set()
    links: list[tuple[str, str, str]] = []
    release, complete = None, False
    for raw in lines:
        line = PRINTK_TIME.sub("", raw).strip()
        if not line.startswith(probe.PREFIX):
            continue
        words = line[len(probe.PREFIX):].split()
        if not words:
            continue
        if words[0] == "begin":
            release = words[1] if len(words) > 1 else None
            report = ProbeReport(release, {}, frozenset(), (), False, {})
        elif report is None:
            continue
        elif words[0] == "module" and len(words) >= 2:
            modules[module_name(words[1])] = words[2] if len(words) > 2 else ""
            seen[module_name(words[1])] = _quote(raw)
        elif words[0] == "builtin" and len(words) >= 2:
            builtin.add(module_name(words[1]))
            seen[module_name(words[1])] = _quote(raw)
        elif words[0] == "link" and len(words) >= 3:
            links.append((words[1], words[2], words[3] if len(words) > 3 else ""))
        elif words[0] == "end":
            complete = True
            break
    if report is None:
        return None
    return ProbeReport(release, modules, frozenset(builtin), tuple(links), complete, seen)


# --- judging ---------------------------------------------------------------------------

def judge(expected: list[Expected], lines: list[str], booted: str | None,
          modules_dir_missing: bool = False) -> tuple[list[Driver], ProbeReport | None]:
    """Each expected driver's status under the booted kernel `booted` (from the console).

    `modules_dir_missing`: the guest has no /lib/modules/<booted>, so only the
    initramfs's and the built-in drivers can load.
    """
    report = probe_report(lines)
    refused, notes = kernel_lines(lines)
    release = (report.release if report else None) or booted
    out = []
    for exp in expected:
        seen_refused = refused.get(exp.module, [])
        evidence: list[str] = list(seen_refused)
        loaded: bool | None
        if report is not None and report.complete:
            links = [f"{probe.PREFIX} link {name} {state} {driver}"
                     for name, state, driver in report.links if driver and module_name(driver) == exp.module]
            # a NIC bound to the driver proves it, built in or not (modules.builtin may be unreadable)
            loaded = report.modules.get(exp.module) == "Live" or exp.module in report.builtin \
                or (exp.role == NIC and bool(links))
            if exp.role == DISK and not loaded:
                # init runs from the root filesystem, on the only disk: its controller's driver works
                loaded = True
                evidence.append(f"{probe.PREFIX} (not a loaded module: built in, the root filesystem was "
                                "mounted from this disk)")
            if exp.module in report.lines:
                evidence.insert(0, report.lines[exp.module])
            elif not loaded:
                evidence.append(f"{probe.PREFIX} (not among the loaded modules)")
            if exp.role == NIC:
                evidence += links
        else:
            loaded = False if seen_refused else None
        out.append(Driver(exp.module, exp.expected_by, exp.role, loaded, tuple(evidence),
                          _error(exp, loaded, bool(seen_refused), seen_refused, release, modules_dir_missing),
                          tuple(notes.get(exp.module, ()))))
    return out, report


def _error(exp: Expected, loaded: bool | None, refused: bool, lines: list[str], release: str | None,
           modules_dir_missing: bool) -> tuple[str, str, str] | None:
    if loaded is not False:
        return None
    under = f" under {release}" if release else ""
    if refused:
        why = PRINTK_TIME.sub("", lines[0]).strip()
        code, what = "DRIVER_REFUSED", f"{exp.module} did not load{under}: {why}"
    else:
        code, what = "DRIVER_NOT_LOADED", f"{exp.module} did not load{under}"
        if modules_dir_missing and release:
            what += f": the guest has no /lib/modules/{release}, so the kernel has only its initramfs's drivers"
    if exp.role == THIRD_PARTY and exp.built_for and exp.built_for != release:
        return (code, f"{what}; it was built for {exp.built_for}.",
                f"Boot the kernel it was built for: `vmrescue reinstall-kernel` puts {exp.built_for} back "
                f"(`vmrescue diagnose` names its package); or rebuild the module for {release or 'this kernel'} "
                "(VMware Tools: vmware-config-tools.pl -d).")
    if exp.role == THIRD_PARTY:
        return (code, f"{what}.", "Rebuild the module for this kernel (VMware Tools: vmware-config-tools.pl -d), "
                                  "or reinstall the package that ships it.")
    return (code, f"{what}, although qemu emulates the hardware it drives.",
            "Reinstall the booted kernel's package so that its modules are there, or boot the kernel the "
            "guest's modules belong to: `vmrescue diagnose` recommends it and `vmrescue reinstall-kernel` "
            "puts it back.")
