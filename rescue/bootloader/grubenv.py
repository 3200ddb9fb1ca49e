"""The GRUB 2 environment block (/boot/grub2/grubenv): saved_entry, next_entry, kernelopts ... No I/O.

What GRUB itself does with the file (grub-core/lib/envblk.c, util/grub-editenv.c):

* it must start with the 25-byte signature "# GRUB Environment Block\\n", or
  `load_env` refuses it ("invalid environment block") and sets nothing;
* then "name=value\\n" records, a backslash escaping a backslash or a newline
  in a value; lines that start with "#" are skipped (the padding);
* a record without "=", or a value not ended by a newline, ends the reading
  ("broken"): the variables before it still count;
* grub-editenv writes the block as exactly 1024 bytes, padded with "#", and
  `save_env` (which every EL8+ boot runs) rewrites it in place, so a block of
  another size or without room left is one GRUB may fail to write.

`render_grubenv` writes a block the way grub-editenv does: the same size as the
one it replaces (1024 for a new one), variables in their order, "#" padding.
"""
from __future__ import annotations

from rescue.model import GrubEnv

__all__ = ["BLOCK_SIZE", "SIGNATURE", "GrubEnv", "parse_grubenv", "read_grubenv", "render_grubenv"]

SIGNATURE = "# GRUB Environment Block\n"
BLOCK_SIZE = 1024


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        out.append(value[i])
        i += 1
    return "".join(out)


def read_grubenv(data: bytes) -> GrubEnv:
    """The block as GRUB reads it, and what is wrong with it. Never raises."""
    size = len(data)
    text = data.decode("utf-8", errors="replace")
    if not text.startswith(SIGNATURE):
        return GrubEnv((), size, "it does not start with GRUB's signature \"# GRUB Environment Block\", "
                                 "so GRUB's load_env reads no variable from it")
    variables: list[tuple[str, str]] = []
    problem = None
    rest = text[len(SIGNATURE):]
    pos = 0
    while pos < len(rest):
        if rest[pos] == "#":                      # padding, or a comment line
            end = rest.find("\n", pos)
            pos = len(rest) if end < 0 else end + 1
            continue
        end = pos
        while end < len(rest) and rest[end] != "\n":
            end += 1 if rest[end] != "\\" else 2
        if end >= len(rest):
            problem = (f"its record {rest[pos:pos + 40]!r} has no end of line, so GRUB stops reading there"
                       if "=" in rest[pos:] else f"it holds {rest[pos:pos + 40]!r}, which is no name=value "
                       "record, so GRUB stops reading there")
            break
        line = rest[pos:end]
        pos = end + 1
        name, sep, value = line.partition("=")
        if not sep or not name:
            problem = f"its line {line[:40]!r} is no name=value record, so GRUB stops reading there"
            break
        variables.append((name, _unescape(value)))
    if problem is None and size != BLOCK_SIZE:
        problem = (f"it is {size} bytes, not the {BLOCK_SIZE} that grub-editenv writes; GRUB's save_env, which "
                   "runs at every boot, rewrites the block in place and may fail on it")
    if problem is None and "#" not in rest:
        problem = "it has no padding left, so GRUB's save_env has no room to write a variable"
    return GrubEnv(tuple(variables), size, problem)


def parse_grubenv(text: str) -> dict[str, str]:
    """The variables of an environment block given as text (what `read_grubenv` reads)."""
    if not isinstance(text, str):
        return {}
    return read_grubenv(text.encode("utf-8", "surrogateescape")).as_dict()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\\n")


def render_grubenv(variables: dict[str, str] | tuple[tuple[str, str], ...], size: int = BLOCK_SIZE) -> bytes:
    """A block holding `variables`, padded with "#" to `size` bytes (at least 1024, as grub-editenv)."""
    pairs = variables.items() if isinstance(variables, dict) else variables
    body = SIGNATURE + "".join(f"{name}={_escape(value)}\n" for name, value in pairs)
    data = body.encode()
    size = max(size, BLOCK_SIZE)
    if len(data) > size:
        raise ValueError(f"the variables take {len(data)} bytes, more than the {size}-byte block")
    return data + b"#" * (size - len(data))
