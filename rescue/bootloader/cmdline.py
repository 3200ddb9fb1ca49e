"""The kernel command line: reading its parameters, and the serial console boot-check puts on it. No I/O.

Words are split as the kernel's own next_arg() splits them (blanks separate,
double quotes group and are removed); boot loader configs hand over the
argument text as they store it.
"""
from __future__ import annotations

__all__ = ["kernel_arg", "kernel_words", "lvm_volume_from_args", "with_console", "console_changes", "CONSOLE_ARGS",
           "QUIET_ARGS", "MARK"]

# The kernel's console: the screen and the first serial port, the serial port
# last so that it is /dev/console (init's messages and prompts go there).
CONSOLE_ARGS = ("console=tty0", "console=ttyS0,115200")
# Arguments that hide the kernel and initramfs messages the stages are read from.
QUIET_ARGS = frozenset({"quiet", "rhgb", "splash"})
# The console log level that lets every message but debug reach the serial
# port: "disagrees about version of symbol" is a warning, which `quiet` (level
# 4) hides. Last on the line, it also wins over a `quiet` that a GRUB variable
# such as EL8's $kernelopts brings in.
LOGLEVEL_ARG = "loglevel=7"
MARK = "vmrescue boot-check"             # in comments of every line the overlay edit adds or disables


def kernel_words(args: str) -> list[str]:
    # The kernel's next_arg(): blanks separate words except inside double
    # quotes; the quotes themselves are removed.
    words, word, quoted, in_word = [], [], False, False
    for c in args:
        if c == '"':
            quoted = not quoted
            in_word = True
            continue
        if c.isspace() and not quoted:
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            continue
        word.append(c)
        in_word = True
    if in_word:
        words.append("".join(word))
    return words


def kernel_arg(args: str, name: str) -> str | None:
    """The value of kernel parameter `name` in a command line, e.g.
    kernel_arg("ro root=/dev/VolGroup00/LogVol00 rhgb", "root").

    The last occurrence wins, as in the kernel. A bare flag ("ro", "single")
    gives ""; an absent one None. Words after "--" belong to init, not the
    kernel, and are not searched.
    """
    name = name.rstrip("=")
    value = None
    for word in kernel_words(args or ""):
        if word == "--":
            break
        key, sep, val = word.partition("=")
        if key == name:
            value = val if sep else ""
    return value



def _replaced(word: str) -> bool:
    return word in QUIET_ARGS or word.startswith(("console=", "loglevel="))


def with_console(line: str) -> str:
    """A kernel (or dom0 module, or BLS options) line with the serial console, without quiet/rhgb,
    and with the console log level raised."""
    body = line.rstrip()
    indent = body[:len(body) - len(body.lstrip())]
    words = body.split()
    kept = words[:1] + [w for w in words[1:] if not _replaced(w)]
    return indent + " ".join(kept + [*CONSOLE_ARGS, LOGLEVEL_ARG])


def console_changes(args: str) -> tuple[list[str], list[str]]:
    """What with_console does to an entry's arguments: (removed, added), for the report."""
    words = kernel_words(args or "")
    return [w for w in words if _replaced(w)], [*CONSOLE_ARGS, LOGLEVEL_ARG]


def lvm_volume_from_args(args: str) -> list[str]:
    """LVs that dracut/mkinitrd are told to activate: rd_LVM_LV=VG/LV, rd.lvm.lv=VG/LV."""
    found = []
    for word in args.split():
        for key in ("rd_LVM_LV=", "rd.lvm.lv="):
            if word.startswith(key):
                found.append("/dev/" + word[len(key):])
    return found
