"""Find the kernel RPM a guest needs among files and directories, and choose one.

Packages are recognised by their headers, never by their file names: a
file called kernel-2.6.18-274.el5.x86_64.rpm may hold anything. Only the
header part of each file is read (`rescue.rpm.verify.read_header_file`), and
`select` explains why every other package found was not taken, so an
operator who pointed at the wrong directory sees what was there.

`choose` is the one selection rule, for files found here and for packages a
yum repository lists (`rescue.rpm.repodata`): drop what does not fit, prefer
the arch the guest runs best, and say why each other package was passed over.
Everything read is bounded: the number of files scanned and of directory
entries walked.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from rescue.rpm.header import RpmFormatError, RpmHeader
from rescue.rpm.verify import check_candidate, kernel_arches_for, read_header_file

__all__ = ["FoundRpm", "scan_paths", "choose", "select"]

MAX_RPM_FILES = 5000             # *.rpm files examined per scan
MAX_WALK_ENTRIES = 200_000       # directory entries looked at per scan

Candidate = TypeVar("Candidate")



@dataclass(frozen=True)
class FoundRpm:
    path: Path
    header: RpmHeader


def scan_paths(files: list[Path], dirs: list[Path], notes: list[str] | None = None,
               limit: int = MAX_RPM_FILES) -> list[FoundRpm]:
    """Read the header of each file in `files` and of every *.rpm file under
    `dirs` (recursively, in name order).

    Files that cannot be read or are no valid RPM are skipped, with a note
    appended to `notes` when given. Inside `dirs`, symbolic links to
    directories are not entered and symbolic links to files outside the
    directory's own tree are not followed. At most `limit` *.rpm files are
    examined. The same file reached twice is listed once.
    """
    if notes is None:
        notes = []
    found: list[FoundRpm] = []
    seen: set[Path] = set()
    examined = 0

    def consider(path: Path) -> None:
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            notes.append(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc}), skipped")
            return
        if real in seen:
            return
        seen.add(real)
        if not real.is_file():          # also keeps FIFOs and devices from blocking open()
            notes.append(f"{path}: not a regular file, skipped")
            return
        try:
            header = read_header_file(real)
        except OSError as exc:
            notes.append(f"{path}: cannot be read ({exc.strerror or exc}), skipped")
        except RpmFormatError as exc:
            notes.append(f"{path}: not a valid RPM package ({exc}), skipped")
        else:
            found.append(FoundRpm(path, header))

    for f in files:
        if examined >= limit:
            notes.append(f"stopped after {limit} RPM files; {f} and the rest were not read")
            return found
        examined += 1
        consider(Path(f))

    for d in dirs:
        top = Path(d)
        if not top.is_dir():
            notes.append(f"{top}: not a directory, skipped")
            continue
        real_top = top.resolve()
        plain: list[Path] = []
        links: list[Path] = []
        entries = 0
        stopped = False
        for dirpath, dirnames, filenames in os.walk(
                top, followlinks=False,
                onerror=lambda e: notes.append(f"{e.filename}: cannot be listed ({e.strerror}), skipped")):
            dirnames.sort()
            entries += len(dirnames) + len(filenames)
            if entries > MAX_WALK_ENTRIES:
                notes.append(f"{top}: stopped after {MAX_WALK_ENTRIES} directory entries; "
                             f"point --from at the directory that holds the packages")
                break
            for name in sorted(filenames):
                if not name.lower().endswith(".rpm"):
                    continue
                path = Path(dirpath, name)
                if path.is_symlink():
                    try:
                        target = path.resolve(strict=True)
                    except (OSError, RuntimeError):
                        notes.append(f"{path}: a broken symbolic link, skipped")
                        continue
                    if not target.is_relative_to(real_top):
                        notes.append(f"{path}: a symbolic link out of {top} (to {target}), "
                                     f"not followed")
                        continue
                    links.append(path)
                else:
                    plain.append(path)
                if examined + len(plain) + len(links) >= limit:
                    notes.append(f"stopped after {limit} RPM files; the rest of {top} was not read")
                    stopped = True
                    break
            if stopped:
                break
        # Real files first, so a package reached both directly and through a
        # link inside the tree is listed under its own name.
        for path in plain + links:
            examined += 1
            consider(path)
        if stopped:
            return found
    return found



def choose(candidates: Sequence[Candidate], guest_arch: str, *,
           problems: Callable[[Candidate], str | None], arch: Callable[[Candidate], str],
           also_fits: Callable[[Candidate, Candidate], str]) -> tuple[Candidate | None, list[tuple[Candidate, str]]]:
    """The candidate to install on a `guest_arch` guest, and every other one with why it was not taken.

    `problems(c)` says why `c` does not fit (None when it does); among those that
    fit the guest's preferred kernel arch wins (i686 over i586 on a 32-bit guest),
    then the first found; `also_fits(other, best)` words why a fitting one lost.
    """
    fitting: list[Candidate] = []
    rejected: list[tuple[Candidate, str]] = []
    for c in candidates:
        why = problems(c)
        if why:
            rejected.append((c, why))
        else:
            fitting.append(c)
    if not fitting:
        return None, rejected
    prefs = kernel_arches_for(guest_arch)
    fitting.sort(key=lambda c: prefs.index(arch(c)))
    best = fitting[0]
    rejected.extend((other, also_fits(other, best)) for other in fitting[1:])
    return best, rejected


def select(found: list[FoundRpm], target_uname_r: str, guest_arch: str,
           image_name: str | None = None) -> tuple[FoundRpm | None, list[tuple[FoundRpm, str]]]:
    """The one package to install kernel `target_uname_r` into a
    `guest_arch` guest, and every other package with the reason it was not
    taken. When several fit, the preferred arch wins (i686 over i586 on a
    32-bit guest), then the first found."""
    def also_fits(other: FoundRpm, best: FoundRpm) -> str:
        if other.header.arch != best.header.arch:
            return (f"{other.path} ({other.header.nvra}) also fits, but {best.path} "
                    f"({best.header.arch}) is preferred on a {guest_arch} guest")
        return (f"{other.path} ({other.header.nvra}) is another copy of the same "
                f"package; {best.path} is used")

    return choose(found, guest_arch,
                  problems=lambda f: " ".join(check_candidate(f.path, f.header, target_uname_r, guest_arch, image_name)),
                  arch=lambda f: f.header.arch, also_fits=also_fits)
