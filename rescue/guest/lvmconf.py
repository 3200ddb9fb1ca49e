"""LVM's device selection: lvm.conf's filter/global_filter, and the EL9 devices file. No I/O.

lvm.conf(5), LVM 2.03: `devices { filter = [ "a|^/dev/sda2$|", "r|.*|" ] }`.
Each pattern is `a` (accept) or `r` (reject) and a regex between any
delimiter; for each of a device's names the first pattern that matches
decides; a device is used if any of its names is accepted, and a name that
matches no pattern is accepted. global_filter is applied the same way, first.
The devices file (lvmdevices(8)), /etc/lvm/devices/system.devices, lists one
device per line as KEY=VALUE words (IDTYPE, IDNAME, DEVNAME, PVID, PART);
when it exists and use_devicesfile is on (RHEL 9's default), LVM uses only
the PVs it lists.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


@dataclass(frozen=True)
class Setting:
    value: str | tuple[str, ...]
    line: int                       # 1-based line of the key


def _strip_comment(line: str) -> str:
    out, quoted = [], False
    for c in line:
        if c == '"':
            quoted = not quoted
        if c == "#" and not quoted:
            break
        out.append(c)
    return "".join(out)


def parse_lvm_conf(text: str, section: str = "devices") -> dict[str, Setting]:
    """The settings of one section (the last assignment of a key wins, as in LVM)."""
    found: dict[str, Setting] = {}
    depth, current = 0, []
    pending: tuple[str, int, str] | None = None          # an array still open: key, line, text so far
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if pending is not None:
            key, start, so_far = pending
            so_far += " " + line
            if "]" in line:
                found[key] = Setting(tuple(re.findall(r'"((?:[^"\\]|\\.)*)"', so_far)), start)
                pending = None
            else:
                pending = (key, start, so_far)
            continue
        stripped = line.strip()
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\{", stripped)
        if m:
            current.append(m.group(1))
            depth += 1
            stripped = stripped[m.end():].strip()
            if not stripped:
                continue
        if stripped.startswith("}"):
            depth = max(0, depth - 1)
            current = current[:depth]
            continue
        m = _ASSIGN.match(stripped)
        if not m or current[-1:] != [section]:
            continue
        key, value = m.group(1), m.group(2).strip()
        if value.startswith("[") and "]" not in value:
            pending = (key, number, value)
        elif value.startswith("["):
            found[key] = Setting(tuple(re.findall(r'"((?:[^"\\]|\\.)*)"', value)), number)
        else:
            found[key] = Setting(value.strip('"'), number)
    return found


def _pattern(item: str) -> tuple[bool, re.Pattern[str]] | None:
    if len(item) < 3 or item[0] not in "ar":
        return None
    delim = item[1]
    body = item[2:]
    if body.endswith(delim):
        body = body[:-1]
    try:
        return item[0] == "a", re.compile(body)
    except re.error:
        return None


def accepts(patterns: tuple[str, ...], names: list[str]) -> bool:
    """Whether a filter lets LVM use a device known by `names` (see the module doc)."""
    compiled = [p for p in map(_pattern, patterns) if p is not None]
    for name in names:
        verdict = next((accept for accept, rx in compiled if rx.search(name)), True)
        if verdict:
            return True
    return False


def rejecting(settings: dict[str, Setting], names: list[str]) -> tuple[str, Setting] | None:
    """The setting (global_filter, then filter) that rejects every one of `names`, if any."""
    for key in ("global_filter", "filter"):
        setting = settings.get(key)
        if setting is not None and isinstance(setting.value, tuple) and not accepts(setting.value, names):
            return key, setting
    return None


def use_devicesfile(settings: dict[str, Setting], default: bool) -> bool:
    setting = settings.get("use_devicesfile")
    if setting is None or isinstance(setting.value, tuple):
        return default
    return setting.value.strip() not in ("0", "")


def devices_file_pvids(text: str) -> list[tuple[str, int]]:
    """(PVID without dashes, line) of every device the devices file lists."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        words = dict(w.split("=", 1) for w in line.split() if "=" in w)
        if words.get("PVID"):
            found.append((words["PVID"].replace("-", ""), number))
    return found
