"""Which disk controller the VM has, and so which driver its initrd must carry. No I/O.

From the VMware configuration beside the image when there is one (`.vmx`:
`scsi0.virtualDev = "lsilogic"`, `sata0.present`, the disk's
`scsi0:0.fileName`), else from what the guest itself was set up with:
modprobe.conf's `alias scsi_hostadapter DRIVER` (EL5's mkinitrd reads it)
and dracut's `add_drivers+=`/`force_drivers+=`.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

# VMware virtualDev -> the Linux driver (VMware KB "virtual SCSI adapters" and the drivers' own names)
SCSI_DRIVERS = {"lsilogic": "mptspi", "lsisas1068": "mptsas", "pvscsi": "vmw_pvscsi", "buslogic": "BusLogic"}
BUS_DRIVERS = {"sata": "ahci", "nvme": "nvme", "ide": "ata_piix"}


@dataclass(frozen=True)
class Controller:
    driver: str             # the module, as modprobe names it
    source: str             # the file that says so
    line: int | None
    said: str               # the setting as written


def parse_vmx(text: str) -> dict[str, tuple[str, int]]:
    """key (lower case) -> (value, line) of a .vmx file's `key = "value"` lines."""
    found = {}
    for number, line in enumerate(text.splitlines(), 1):
        m = re.match(r'^\s*([A-Za-z0-9_.:]+)\s*=\s*"?([^"]*)"?\s*$', line)
        if m:
            found[m.group(1).lower()] = (m.group(2), number)
    return found


def vmx_controller(vmx: dict[str, tuple[str, int]], image: str, path: str) -> Controller | None:
    """The controller the image's disk hangs off, else the first one present."""
    base = posixpath.basename(image)
    slot = next((key[:-len(".filename")] for key, (value, _) in vmx.items()
                 if key.endswith(".filename") and posixpath.basename(value) == base), None)
    order = ("scsi", "sata", "nvme", "ide")         # VMware's BIOS tries SCSI disks before the others
    buses = [slot.split(":")[0]] if slot else sorted(
        (key[:-len(".present")] for key, (value, _) in vmx.items()
         if key.endswith(".present") and ":" not in key and value.lower() == "true"
         and re.match(r"^(scsi|sata|nvme|ide)\d+$", key[:-len(".present")])),
        key=lambda bus: (order.index(re.sub(r"\d+$", "", bus)), bus))
    for bus in buses:
        kind = re.sub(r"\d+$", "", bus)
        if kind == "scsi":
            dev = vmx.get(f"{bus}.virtualdev")
            value, line = dev if dev else ("buslogic", None)     # VMware's default for old guests
            driver = SCSI_DRIVERS.get(value.lower())
            if driver:
                return Controller(driver, path, line, f'{bus}.virtualDev = "{value}"')
        elif kind in BUS_DRIVERS:
            value, line = vmx.get(f"{bus}.present", ("TRUE", None))
            return Controller(BUS_DRIVERS[kind], path, line, f'{bus}.present = "{value}"')
    return None


def guest_controllers(files: dict[str, str]) -> list[Controller]:
    """Drivers the guest's modprobe.conf and dracut configuration ask the initrd for."""
    found = []
    for path, text in files.items():
        for number, line in enumerate(text.splitlines(), 1):
            m = re.match(r"^\s*alias\s+scsi_hostadapter\d*\s+(\S+)", line)
            if m:
                found.append(Controller(m.group(1), path, number, line.strip()))
                continue
            m = re.match(r'^\s*(?:add_drivers|force_drivers)\+?=\s*"([^"]*)"', line)
            if m:
                found += [Controller(d, path, number, line.strip()) for d in m.group(1).split()]
    return found
