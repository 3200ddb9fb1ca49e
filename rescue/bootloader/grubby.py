"""Adding a kernel's entry with the guest's own grubby (GRUB 2 and BLS guests, until vmrescue writes them)."""
from __future__ import annotations

from typing import Callable

from rescue.bootloader.base import BootLoaderPlan, KernelEntryRequest

NO_GRUBBY_NOTE = ("GRUB2 guest without grubby: add the entry with "
                  "`grub2-mkconfig -o /boot/grub2/grub.cfg` after boot from rescue media")


def grubby_plan(request: KernelEntryRequest, commands: Callable[[str], str | None]) -> BootLoaderPlan:
    """grubby --add-kernel ... --copy-default --make-default, as the kernel's own scriptlet runs it."""
    grubby = commands("grubby")
    if grubby is None:
        return BootLoaderPlan(step="", detail="", notes=(NO_GRUBBY_NOTE,))
    argv = (grubby, f"--add-kernel=/boot/vmlinuz-{request.uname_r}", f"--initrd=/boot/{request.initrd_name}",
            f"--title={request.distro_title} ({request.uname_r})", "--copy-default", "--make-default")
    return BootLoaderPlan(step="grub2", detail=" ".join(argv), commands=(argv,))
