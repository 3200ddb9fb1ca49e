"""/etc/selinux/config as libselinux reads it at boot, and the binary policy's header. No I/O.

libselinux (selinux_config.c, load_policy.c): a line starting exactly
`SELINUX=` is matched against enforcing/permissive/disabled by prefix, case
ignored; a value matching none leaves the mode unset, and init then loads
the policy permissive. `SELINUXTYPE=` (case ignored) names the policy
directory /etc/selinux/<type>; its policy/policy.<N> is loaded, N from the
kernel's highest version down. With enforcing and no loadable policy, init
halts ("Unable to load SELinux Policy. Machine is in enforcing mode.
Halting now." on sysvinit/upstart; "Failed to load SELinux policy" and a
freeze on systemd). The kernel's `selinux=0` and `enforcing=0` override
the file. A policy file starts with the magic 0xf97cff8c and "SE Linux".
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

MODES = ("enforcing", "permissive", "disabled")
POLICY_MAGIC = 0xF97CFF8C


@dataclass(frozen=True)
class SelinuxConfig:
    mode: str | None            # what libselinux makes of SELINUX=: one of MODES, None when unset or invalid
    mode_value: str | None      # as written
    mode_line: int | None
    policy_type: str            # "targeted" when unset, as libselinux defaults
    type_line: int | None


def parse_selinux_config(text: str) -> SelinuxConfig:
    mode = value = None
    mode_line = type_line = None
    policy_type = "targeted"
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("SELINUX=") and value is None:
            value = line[len("SELINUX="):].strip()
            mode_line = number
            mode = next((m for m in MODES if value.lower().startswith(m)), None)
            continue
        stripped = line.strip()
        if stripped.upper().startswith("SELINUXTYPE="):
            policy_type = stripped[len("SELINUXTYPE="):].strip()
            type_line = number
    return SelinuxConfig(mode, value, mode_line, policy_type, type_line)


def effective_mode(config: SelinuxConfig, kernel_args: str) -> str:
    """The mode the boot ends up in: the kernel's selinux=0/enforcing= over the file; unset is permissive."""
    words = kernel_args.split()
    if "selinux=0" in words:
        return "disabled"
    if config.mode == "disabled":
        return "disabled"
    enforcing = [w for w in words if w.startswith("enforcing=")]
    if enforcing:
        return "permissive" if enforcing[-1] == "enforcing=0" else "enforcing"
    return config.mode or "permissive"


def is_policy(head: bytes) -> bool:
    if len(head) < 16:
        return False
    magic, length = struct.unpack_from("<II", head, 0)
    return magic == POLICY_MAGIC and head[8:8 + min(length, 8)] == b"SE Linux"
