"""Parse yum's evidence about kernels: yum.log, repo files, yum.conf, plugin
configuration and /etc/sysconfig/kernel. No I/O: callers pass the text.

yum.log lines are "<timestamp> <Action>: <package>". yum 3.2 (EL5-EL7)
writes the timestamp as "%b %d %H:%M:%S" and the package as
"[epoch:]name-version-release.arch"; older yum wrote "name.arch
[epoch:]version-release", and erasures may carry only the name
("Erased: kernel"). dnf.rpm.log (EL8+) writes an ISO timestamp and a log
level before the action. All of these are read; other lines are skipped.
"""
from __future__ import annotations

import re
from typing import Iterable

from rescue.model import YumEvent, YumRepo
from rescue.distro.redhat_naming import KNOWN_ARCHES, is_kernel_package

__all__ = [
    "parse_yum_log",
    "ERASE_ACTIONS",
    "package_from_log",
    "package_name_from_log",
    "kernel_events",
    "parse_ini",
    "parse_repo_file",
    "parse_yum_conf",
    "parse_plugin_conf",
    "parse_sysconfig_kernel",
    "sysconfig_value",
    "yum_bool",
]

# --- yum.log -----------------------------------------------------------------

_LOG_RE = re.compile(
    r"""^(?P<when>
          [A-Z][a-z]{2}\s+\d{1,2}\s+\d{1,2}:\d{2}:\d{2}          # Sep 12 10:01:22
        | \d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}\S*              # 2020-06-01T10:00:00Z
        )
        \s+(?:(?:SUBDEBUG|DEBUG|INFO|DDEBUG)\s+)?                # dnf log level
        (?P<action>[A-Z][A-Za-z-]*):\s+
        (?P<package>\S.*?)\s*$""",
    re.VERBOSE,
)


# dnf.rpm.log names an erasure "Erase" (and the old half of an update "Cleanup");
# yum.log says "Erased".
ERASE_ACTIONS = frozenset({"Erased", "Erase"})


def parse_yum_log(text: str, log: str = "yum.log") -> tuple[YumEvent, ...]:
    """Every package event in a yum (or dnf.rpm) log, in file order; `log` names the file in messages."""
    events = []
    for line in text.splitlines():
        m = _LOG_RE.match(line.strip())
        if m:
            events.append(YumEvent(m.group("when"), m.group("action"), m.group("package"), log))
    return tuple(events)


def _split_epoch(s: str) -> tuple[int, str] | None:
    head, sep, tail = s.partition(":")
    if not sep:
        return 0, s
    if not head.isdigit() or not tail:
        return None
    return int(head), tail


def package_from_log(package: str) -> tuple[str, int, str, str, str] | None:
    """Split a package as yum logs it into (name, epoch, version, release, arch).

      "kernel-2.6.18-274.3.1.el5.centos.plus.x86_64"
          -> ("kernel", 0, "2.6.18", "274.3.1.el5.centos.plus", "x86_64")
      "1:foo-1.0-1.x86_64"          -> ("foo", 1, "1.0", "1", "x86_64")
      "foo-1:1.0-1.x86_64"  (dnf)   -> ("foo", 1, "1.0", "1", "x86_64")
      "kernel.x86_64 2.6.18-8.el5"  (old yum) -> ("kernel", 0, "2.6.18", "8.el5", "x86_64")

    None when the text holds no version (a bare "kernel") or no arch.
    """
    package = package.strip()
    if " " in package:
        # Old yum: "name.arch [epoch:]version-release"
        left, _, right = package.partition(" ")
        name, dot, arch = left.rpartition(".")
        split = _split_epoch(right.strip())
        if not dot or not name or arch not in KNOWN_ARCHES or split is None:
            return None
        epoch, evr = split
        version, dash, release = evr.partition("-")
        if not dash or not version or not release or "-" in release:
            return None
        return name, epoch, version, release, arch

    epoch = 0
    head, sep, tail = package.partition(":")
    if sep and head.isdigit():                     # yum: "1:foo-1.0-1.x86_64"
        epoch, package = int(head), tail
    rest, dot, arch = package.rpartition(".")
    if not dot or arch not in KNOWN_ARCHES:
        return None
    parts = rest.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    name, version, release = parts
    split = _split_epoch(version)                  # dnf: "foo-1:1.0-1.x86_64"
    if split is None or ":" in name or ":" in release:
        return None
    if split[0]:
        epoch, version = split
    return name, epoch, version, release, arch


def package_name_from_log(package: str) -> str:
    """The package name of a logged package, also for bare names
    ("Erased: kernel" in old yum logs)."""
    parsed = package_from_log(package)
    if parsed:
        return parsed[0]
    return package.strip().split(" ")[0]


def kernel_events(events: Iterable[YumEvent]) -> tuple[YumEvent, ...]:
    """The events about kernel image packages (kernel, kernel-PAE,
    kernel-xen, kernel-plus, ...), not kernel-headers/-devel/-firmware/-doc."""
    return tuple(e for e in events if is_kernel_package(package_name_from_log(e.package)))


# --- ini files -------------------------------------------------------------

def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """A tolerant reader for yum's ini files: {section: {key: value}}.

    Keys are lower-cased; the last value of a repeated key wins and repeated
    sections are merged. Indented lines continue the previous value (as
    baseurl lists do); "#" and ";" start comments; lines that are neither
    sections nor "key=value" are skipped rather than rejected.
    """
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    last_key: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if raw[:1] in (" ", "\t") and current is not None and last_key is not None:
            current[last_key] = (current[last_key] + " " + line).strip()
            continue
        if line.startswith("["):
            name = line[1:].split("]", 1)[0].strip()
            if not name or "]" not in line:
                current, last_key = None, None
                continue
            current = sections.setdefault(name, {})
            last_key = None
            continue
        # iniparse, which yum uses, takes "key=value" and "key: value".
        cut = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        key, sep, value = (line[:cut], "=", line[cut + 1:]) if cut > 0 else (line, "", "")
        if not sep or current is None or not key.strip():
            last_key = None
            continue
        last_key = key.strip().lower()
        current[last_key] = value.strip()
    return sections


_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}


def yum_bool(value: str | None, default: bool) -> bool:
    """yum's boolean option values; anything else keeps the default."""
    if value is None:
        return default
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return default


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def parse_repo_file(path: str, text: str) -> tuple[YumRepo, ...]:
    """The repositories of one .repo file (or yum.conf), in file order.
    `enabled` defaults to on, as in yum; `priority` is None when unset or
    not a number. The [main] section is configuration, not a repository."""
    repos = []
    for name, options in parse_ini(text).items():
        if name.lower() == "main":
            continue
        repos.append(YumRepo(
            file=path,
            repo_id=name,
            enabled=yum_bool(options.get("enabled"), True),
            priority=_int_or_none(options.get("priority")),
            excludes=_split_list(options.get("exclude", "") + " " + options.get("excludes", "")),
        ))
    return tuple(repos)


def _split_list(value: str) -> tuple[str, ...]:
    # yum list options are separated by spaces and/or commas.
    return tuple(w for w in re.split(r"[\s,]+", value) if w)


def parse_yum_conf(text: str) -> tuple[bool, tuple[str, ...]]:
    """(plugins enabled, exclude patterns) from yum.conf's [main] section.
    yum's own default for `plugins` is off; "exclude" and "excludes" are
    both accepted, as yum does."""
    main = parse_ini(text).get("main", {})
    plugins = yum_bool(main.get("plugins"), False)
    excludes: list[str] = []
    for key in ("exclude", "excludes"):
        if key in main:
            excludes.extend(_split_list(main[key]))
    return plugins, tuple(excludes)


def parse_plugin_conf(text: str) -> bool:
    """Whether a yum plugin's conf enables it ([main] enabled=1); a plugin
    without `enabled` is not loaded."""
    return yum_bool(parse_ini(text).get("main", {}).get("enabled"), False)


# --- /etc/sysconfig ----------------------------------------------------------

_ASSIGN_RE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def sysconfig_value(text: str, key: str) -> str | None:
    """The value a shell-style /etc/sysconfig file gives `key` (last
    assignment wins; surrounding quotes removed); None if unset."""
    value = None
    for line in text.splitlines():
        m = _ASSIGN_RE.match(line)
        if not m or m.group(1) != key:
            continue
        v = m.group(2).strip()
        if v[:1] in ("'", '"'):
            quote = v[0]
            end = v.find(quote, 1)
            v = v[1:end] if end > 0 else v[1:]
        else:
            v = v.split("#", 1)[0].strip()
            v = v.split()[0] if v.split() else ""
        value = v
    return value


def parse_sysconfig_kernel(text: str) -> str | None:
    """DEFAULTKERNEL from /etc/sysconfig/kernel: the package whose new
    versions new-kernel-pkg makes the GRUB default (e.g. "kernel",
    "kernel-PAE"); None if unset or empty."""
    return sysconfig_value(text, "DEFAULTKERNEL") or None
