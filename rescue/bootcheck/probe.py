"""The probe boot-check adds to the overlay: which modules the booted kernel loaded, and the network links. Pure.

A short shell script prints, on the console and between markers, the
loaded modules (/proc/modules), those of the expected drivers that are
built into the kernel (modules.builtin), and each network link's state and
driver, then returns: it changes nothing and the boot goes on. The guest's
init runs it the way it runs local start-up commands:

  systemd     a unit of its own in /etc/systemd/system, wanted by
              multi-user.target and ordered before the gettys;
  otherwise   a line in rc.local (sysvinit's rc and EL6's upstart both run
              it last, inside `rc`, before the gettys start).

An upstart job of its own would start with the gettys (`start on stopped
rc`) and race them; the rc.local line runs before them.

Every line the probe prints starts with PREFIX, so its report can be picked
out of kernel messages interleaved with it (`parse`, in rescue.bootcheck.drivers).
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

from rescue.bootloader.cmdline import MARK

PREFIX = "vmrescue-probe:"
BEGIN, END = f"{PREFIX} begin", f"{PREFIX} end"

SCRIPT = "/etc/vmrescue-boot-check-probe.sh"
UNIT_NAME = "vmrescue-boot-check-probe.service"
UNIT = f"/etc/systemd/system/{UNIT_NAME}"
UNIT_WANTS = f"/etc/systemd/system/multi-user.target.wants/{UNIT_NAME}"
RC_LOCALS = ("/etc/rc.d/rc.local", "/etc/rc.local")     # EL keeps the file in rc.d, /etc/rc.local links to it


@dataclass(frozen=True)
class ProbePlan:
    """How the probe goes onto the overlay: files to create, the rc.local to edit, what to say."""
    how: str | None                          # "systemd", "rc.local", None: not installed
    creates: tuple[tuple[str, str, int], ...] = ()   # (path, text, mode)
    links: tuple[tuple[str, str], ...] = ()          # (link path, target)
    rc_local: str | None = None              # the rc.local to append the probe's line to (made executable)
    note: str | None = None


def script(modules: list[str]) -> str:
    """The probe. `modules` are the drivers whose built-in presence it reports (modules.builtin)."""
    wanted = " ".join(sorted(set(modules)))
    return f"""#!/bin/sh
# {MARK}: added to a throw-away overlay only. Prints the loaded modules and the
# network links on the console, between markers, and changes nothing.
exec >/dev/console 2>&1
release=$(uname -r)
echo "{BEGIN} $release"
while read -r name size used by state rest; do
  echo "{PREFIX} module $name $state"
done < /proc/modules
for want in {wanted}; do
  dashed=$(echo "$want" | tr _ -)
  if grep -qE "/($want|$dashed)\\.ko" "/lib/modules/$release/modules.builtin" 2>/dev/null; then
    echo "{PREFIX} builtin $want"
  fi
done
for dev in /sys/class/net/*; do
  name=${{dev##*/}}
  [ -e "$dev" ] && [ "$name" != lo ] || continue
  driver=$(readlink "$dev/device/driver" 2>/dev/null)
  state=$(cat "$dev/operstate" 2>/dev/null)
  echo "{PREFIX} link $name ${{state:-unknown}} ${{driver##*/}}"
done
echo "{END}"
"""


UNIT_TEXT = f"""# {MARK}: added to a throw-away overlay only
[Unit]
Description=vmrescue boot-check probe (loaded modules and network links on the console)
After=systemd-modules-load.service network.target
Before=getty.target serial-getty@ttyS0.service

[Service]
Type=oneshot
ExecStart=/bin/sh {SCRIPT}
TimeoutStartSec=30

[Install]
WantedBy=multi-user.target
"""

RC_LOCAL_LINE = f"/bin/sh {SCRIPT} || :    # {MARK}: loaded modules and network links on the console"


def with_probe_line(text: str) -> str:
    """rc.local running the probe: before a final `exit` (Debian's and Ubuntu's rc.local end with `exit 0`)."""
    if not text.strip():
        return f"#!/bin/sh\n{RC_LOCAL_LINE}\n"
    lines = text.rstrip("\n").split("\n")
    last = max(i for i, line in enumerate(lines) if line.strip())
    words = lines[last].split("#", 1)[0].split()
    if words[:1] == ["exit"]:
        lines.insert(last, RC_LOCAL_LINE)
    else:
        lines.append(RC_LOCAL_LINE)
    return "\n".join(lines) + "\n"


def plan_probe(init_real: str | None, rc_locals: dict[str, str | None], has_rc_d: bool,
               modules: list[str]) -> ProbePlan:
    """Decide how the probe goes onto the overlay.

    `init_real` is where /sbin/init leads inside the guest (None: no
    /sbin/init); `rc_locals` maps each of RC_LOCALS that exists to its real
    path; `has_rc_d`: /etc/rc.d is a directory.
    """
    probe = (SCRIPT, script(modules), 0o755)
    name = posixpath.basename(init_real or "")
    if name == "systemd":
        return ProbePlan("systemd", creates=(probe, (UNIT, UNIT_TEXT, 0o644)), links=((UNIT_WANTS, UNIT),))
    if name == "busybox":
        return ProbePlan(None, note="init is busybox, whose inittab runs no rc.local: no probe was added, so "
                                    "whether the drivers loaded is told only by the kernel's own messages")
    real = next((rc_locals[p] for p in RC_LOCALS if rc_locals.get(p)), None)
    if real is not None:
        return ProbePlan("rc.local", creates=(probe,), rc_local=real)
    made = RC_LOCALS[0] if has_rc_d else RC_LOCALS[1]
    return ProbePlan("rc.local", creates=(probe,), rc_local=made,
                     note=f"the guest had no rc.local; {made} was created for the probe, and its init may not run it")
