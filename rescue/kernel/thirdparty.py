"""Third-party kernel modules: what sits in /lib/modules/R/{misc,extra,updates,weak-updates}. No I/O here.

VMware Tools compiles vmxnet, vmhgfs and vmmemctl into misc/, kmod packages
install into extra/ (and link kABI-compatible kernels' weak-updates/ to
them), and driver updates go to updates/. No kernel package owns them, so an
erased kernel leaves them behind, with the vermagic of the kernel they were
built for. diagnose and boot-check both list them through `list_modules`,
handing over their own way of reading the guest.
"""
from __future__ import annotations

import posixpath
from typing import Callable, Iterator, Protocol

from rescue.kernel import modinfo
from rescue.model import ThirdPartyModule

THIRD_PARTY_DIRS = ("misc", "extra", "updates", "weak-updates")


class Tree(Protocol):
    def ls(self, path: str) -> list[str]: ...
    def find(self, path: str) -> list[str]: ...     # every path below, relative; [] when absent
    def is_file(self, path: str) -> bool: ...       # symlinks followed


def module_record(path: str, data: bytes, installed_under: str) -> ThirdPartyModule:
    """One module's record from its bytes (its name and vermagic from .modinfo, the file name if none)."""
    info = modinfo.read_modinfo(data)
    return ThirdPartyModule(
        path=path,
        name=(info.get("name") or [posixpath.basename(path)[:-3]])[0],
        vermagic_release=modinfo.vermagic_release(info),
        installed_under=installed_under,
    )


def list_modules(tree: Tree, read: Callable[[str], bytes | None]) -> Iterator[ThirdPartyModule]:
    """Every third-party .ko of every /lib/modules/R, in release then directory order."""
    for release in sorted(tree.ls("/lib/modules")):
        for sub in THIRD_PARTY_DIRS:
            top = f"/lib/modules/{release}/{sub}"
            for rel in tree.find(top):
                if not rel.endswith(".ko"):
                    continue
                path = f"{top}/{rel.lstrip('/')}"          # libguestfs's find names "/vmxnet.ko"
                if not tree.is_file(path):      # a dangling weak-updates symlink
                    continue
                yield module_record(path, read(path) or b"", f"/lib/modules/{release}")
