"""boot-check: boot the image on a throw-away overlay in qemu and read its serial console.

`check` runs it (overlay, hardware, boot); `overlay` readies the overlay in
one appliance launch (with the `probe`); `hardware` chooses what qemu
emulates; `qemu` boots and reads the console; `console` says from the console
text how far the boot got (the patterns in `evidence`, what each code means
in `codes`); `drivers` says which drivers loaded; `report` renders the
result. The names below are the package's interface.
"""
from rescue.bootcheck.check import (
    DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, BootCheck, BootOptions, boot_check, check_options, check_tools,
    create_overlay,
)
from rescue.bootcheck.hardware import Hardware, choose_hardware, module_names, qemu_command
from rescue.bootcheck.overlay import OverlayFacts, hardware_for, serial_inittab
from rescue.bootcheck.qemu import boot_overlay, run_qemu
from rescue.bootcheck.report import error_document, render_text, to_json_document

__all__ = ["DEFAULT_MEMORY_MB", "DEFAULT_TIMEOUT", "BootCheck", "BootOptions", "Hardware", "OverlayFacts",
           "boot_check", "boot_overlay", "check_options", "check_tools", "choose_hardware", "create_overlay",
           "error_document", "hardware_for", "module_names", "qemu_command", "render_text", "run_qemu",
           "serial_inittab", "to_json_document"]
