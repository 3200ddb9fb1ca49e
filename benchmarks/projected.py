"""The fast-inspection wiring, applied by patching `Guest` in-process: the "projected" numbers.

This is what `gather`/`operations`/`repair` do once rescue.inspection and
rescue.rpmdb are wired in (see docs/performance.md), done here from outside
so the benchmark can measure it before the wiring lands:

- `Guest.inspect()` runs `scan_disk` + `fast_inspect` on the disk being
  inspected (the one `lvm_only` last selected, else every disk); if it finds
  nothing on a disk, libguestfs's `inspect_os` answers as before.
- `Guest.os_info(root)` and `Guest.disk_of(root)` answer from that result.
- `Guest.applications(root)` reads the RPM database with rescue.rpmdb (the
  guest is mounted at that point), falling back to libguestfs.
- `Guest.filesystem_table(disk)` and `Guest.lvs()` answer from the scan.

Nothing here is used by vmrescue itself.
"""
from __future__ import annotations

from rescue import appliance, inspection, rpmdb

_NO_LABEL_TYPES = ("", "LVM2_member", "swap", "unknown")


def install() -> None:
    G = appliance.Guest
    original = {name: getattr(G, name) for name in
                ("inspect", "os_info", "disk_of", "applications", "filesystem_table", "lvs")}
    original_lvm_only = getattr(G, "lvm_only", None)

    def state(self) -> dict:
        return self.__dict__.setdefault("_projected", {"roots": {}, "volumes": {}, "disk": None,
                                                       "lvs": None, "fallback": False})

    def inspect(self):
        st = state(self)
        disks = [st["disk"]] if st["disk"] else self.devices()
        roots = []
        for disk in disks:
            volumes = inspection.scan_disk(self, disk)
            found = inspection.fast_inspect(self, disk, volumes)
            if not found:
                st["fallback"] = True
                return original["inspect"](self)
            st["volumes"][disk] = volumes
            for os_info in found:
                st["roots"][os_info.root] = (disk, os_info)
                roots.append(os_info.root)
        return roots

    def os_info(self, root):
        hit = state(self)["roots"].get(root)
        return hit[1] if hit else original["os_info"](self, root)

    def disk_of(self, device):
        hit = state(self)["roots"].get(device)
        return hit[0] if hit else original["disk_of"](self, device)

    def applications(self, root):
        if root in state(self)["roots"]:
            installed = rpmdb.read_guest_rpmdb(self)
            if installed is not None:
                return [{"app2_name": p.name, "app2_epoch": p.epoch, "app2_version": p.version,
                         "app2_release": p.release, "app2_arch": p.arch} for p in installed.packages]
        return original["applications"](self, root)

    def filesystem_table(self, disk=None):
        volumes = state(self)["volumes"]
        if disk is None and len(volumes) == 1:
            disk = next(iter(volumes))
        if disk in volumes:
            return [(v.device, v.fstype, "", "") if v.fstype in _NO_LABEL_TYPES else
                    (v.device, v.fstype, v.label, v.uuid) for v in volumes[disk]]
        return original["filesystem_table"](self, disk) if disk else original["filesystem_table"](self)

    def lvs(self):
        st = state(self)
        if st["lvs"] is None:
            st["lvs"] = original["lvs"](self)
        return list(st["lvs"])

    def lvm_only(self, disk):
        st = state(self)
        st["disk"], st["lvs"] = disk, None
        return original_lvm_only(self, disk)

    G.inspect, G.os_info, G.disk_of, G.applications = inspect, os_info, disk_of, applications
    G.filesystem_table, G.lvs = filesystem_table, lvs
    if original_lvm_only is not None:
        G.lvm_only = lvm_only
