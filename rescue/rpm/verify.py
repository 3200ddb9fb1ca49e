"""Decide whether an RPM may be installed into a guest, before anything is written.

Three independent checks, each naming both sides when it fails:

* `check_candidate` (pure): the package is a binary kernel package, the
  kernel release it installs (its `kernel-uname-r` provide, else its
  vmlinuz file) is the one the guest needs, it ships that vmlinuz, and its
  arch can run on the guest.
* `rescue.rpm.digests.verify_digests`: the header and payload digests the
  package records match its bytes.
* `verify_signature`: the package's OpenPGP signature verifies against the
  guest's own keys (/etc/pki/rpm-gpg/), using the host's `rpmkeys` with a
  throw-away database: a temporary `--root` holding only the guest's keys,
  so the host's rpm database and keyring are never read or written.

`verify_rpm` runs all three and raises `RescueError(..., Exit.REFUSED)` on
the first refusal; that is what the reinstall-kernel command calls.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rescue.errors import Exit, RescueError
from rescue.run import Completed, ToolError, run
from rescue.rpm.header import RpmFormatError, RpmHeader, header_span, kernel_uname_r, read_rpm_header
from rescue.rpm.digests import verify_digests
from rescue.distro.redhat_naming import is_kernel_package

__all__ = [
    "kernel_arches_for",
    "check_candidate",
    "check_member",
    "SignatureResult",
    "verify_signature",
    "split_armored_keys",
    "read_header_file",
    "VerifiedRpm",
    "verify_rpm",
]

# --- which kernel arches run on which guest --------------------------------------

# A 32-bit EL guest reports "i386" (the base arch of the distribution) but
# runs i686 kernels; EL5 also shipped i586 kernels for old CPUs, and very
# old releases i386 ones. Order = preference when several fit.
_X86_32 = ("i686", "i586", "i386")
_X86_32_GUEST = frozenset({"i386", "i486", "i586", "i686", "athlon"})


def kernel_arches_for(guest_arch: str) -> tuple[str, ...]:
    """The package arches whose kernels run on a guest of `guest_arch`,
    best first. Never "noarch": a kernel is always built for a CPU."""
    if guest_arch in _X86_32_GUEST:
        return _X86_32
    return (guest_arch,)


def check_candidate(path: str | os.PathLike, header: RpmHeader, target_uname_r: str,
                    guest_arch: str, image_name: str | None = None) -> list[str]:
    """Why the package at `path` (already parsed into `header`) must not be
    installed as kernel `target_uname_r` into a `guest_arch` guest; an
    empty list when it fits. Each reason is one sentence naming both sides.

    `image_name` (EL8+: kernel-core) is the one package name the image may
    come in on the guest's release; a monolithic `kernel` of the same release
    is another distribution's build."""
    what = f"{path} ({header.nvra})"
    problems: list[str] = []
    if header.is_source:
        problems.append(f"{what} is a source package; the guest needs the binary "
                        f"kernel package for {target_uname_r}")
        return problems
    if not is_kernel_package(header.name):
        problems.append(f"{what} is package {header.name!r}, not a kernel image package; "
                        f"the guest needs the kernel package that installs {target_uname_r}")
        return problems
    if image_name is not None and header.name != image_name:
        problems.append(f"{what} is package {header.name!r}, but on this guest's release the kernel image "
                        f"comes in {image_name!r}")
        return problems

    uname_r = kernel_uname_r(header)
    if uname_r is None:
        problems.append(f"{what} neither provides kernel-uname-r nor ships a "
                        f"/boot/vmlinuz-* file, so it installs no kernel image; "
                        f"the guest needs {target_uname_r}")
    elif uname_r != target_uname_r:
        problems.append(f"{what} installs kernel {uname_r}, but the guest needs "
                        f"{target_uname_r}")
    else:
        images = {f"/boot/vmlinuz-{target_uname_r}", f"/lib/modules/{target_uname_r}/vmlinuz"}
        if not images & set(header.file_paths):
            problems.append(f"{what} provides kernel-uname-r = {target_uname_r} but ships "
                            f"no /boot/vmlinuz-{target_uname_r}")

    allowed = kernel_arches_for(guest_arch)
    if header.arch == "noarch":
        problems.append(f"{what} is a noarch package, and a kernel never is; the "
                        f"{guest_arch} guest needs a {' or '.join(allowed)} kernel")
    elif header.arch not in allowed:
        problems.append(f"{what} is built for {header.arch or 'no arch'}, but the guest is "
                        f"{guest_arch} and runs {' or '.join(allowed)} kernels")
    if header.os and header.os.lower() != "linux":
        problems.append(f"{what} is built for OS {header.os!r}, not Linux")
    return problems


# --- reading a header from a file -------------------------------------------------

def read_header_file(path: str | os.PathLike) -> RpmHeader:
    """Read only as much of the file at `path` as its headers take, and
    parse it. Raises RpmFormatError for a file that is no RPM (and OSError
    when it cannot be read)."""
    if not stat.S_ISREG(os.stat(path).st_mode):      # a FIFO would block open()
        raise RpmFormatError(f"{path} is not a regular file")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = b""
        for _round in range(4):              # lead+signature, main header, done
            need = header_span(data)
            if need <= len(data):
                break
            if need > size:
                raise RpmFormatError(f"the file is truncated: its headers need {need} "
                                     f"bytes, the file has {size}")
            data += f.read(need - len(data))
        return read_rpm_header(data)


# --- signatures -------------------------------------------------------------------

@dataclass(frozen=True)
class SignatureResult:
    status: str              # "ok", "unsigned", "no-key", "bad"
    key_id: str | None       # signer key id (16 hex digits when the header names it, else 8)
    detail: str              # one sentence for the operator

    def acceptable(self, nosignature: bool = False) -> bool:
        """"ok" always; "unsigned" and "no-key" only with --nosignature;
        "bad" never (it means the package was altered or is corrupt)."""
        if self.status == "ok":
            return True
        if self.status in ("unsigned", "no-key"):
            return nosignature
        return False


_ARMOR_RE = re.compile(
    rb"-----BEGIN PGP PUBLIC KEY BLOCK-----.*?-----END PGP PUBLIC KEY BLOCK-----", re.S)


def split_armored_keys(blob: bytes) -> list[bytes]:
    """The ASCII-armoured key blocks in one key file (a file may hold
    several, which rpmkeys would read only the first of). A file with no
    armour is returned whole: it may be a binary key."""
    blocks = [m.group(0) + b"\n" for m in _ARMOR_RE.finditer(blob)]
    return blocks or ([blob] if blob.strip() else [])


# rpm 4.x `--checksig -v` prints one line per digest or signature:
#   "    Header V4 RSA/SHA256 Signature, key ID 171a62e4: OK"
#   "    V3 DSA/SHA1 Signature, key ID e8562897: NOKEY"
#   "    Header SHA256 digest: BAD (Expected ... != ...)"
#   "    RSA signature: NOTFOUND"   (no such signature in the package)
_SIG_LINE = re.compile(r"Signature, key ID ([0-9a-fA-F]+):\s*(\w+)")
_DIGEST_LINE = re.compile(r"^\s*(.*digest):\s*(\w+)(.*)$", re.I)


def _rpmkeys(args: list[str], env: dict[str, str], timeout: int = 300) -> Completed:
    try:
        return run(args, timeout=timeout, env=env)
    except ToolError as exc:
        raise RescueError("RPMKEYS_FAILED", f"The host's rpmkeys could not be run: {exc}.",
                          "Check the host's rpm installation, or pass --nosignature to skip "
                          "the signature check.", Exit.ENVIRONMENT) from None


def _longest_id(short: str | None, header: RpmHeader | None) -> str | None:
    """rpmkeys prints 8 hex digits; the header's own packet has 16."""
    if short and header:
        for sig in header.signatures:
            if sig.key_id and sig.key_id.endswith(short.lower()):
                return sig.key_id
    return short.lower() if short else None


def verify_signature(rpm_path: str | os.PathLike, guest_keys: list[bytes]) -> SignatureResult:
    """Verify the package's signature against the guest's keys only.

    `guest_keys` are the contents of the guest's /etc/pki/rpm-gpg/ files.
    They are imported into a private rpm database under a temporary
    directory (`rpmkeys --root TMP --dbpath /rpmdb --import`), the package
    is checked there (`rpmkeys --root TMP --dbpath /rpmdb --checksig -v`),
    and the directory is removed. HOME points into it too, so no
    ~/.rpmmacros of the host changes the outcome.

    Raises RescueError (Exit.ENVIRONMENT) when the host has no rpmkeys.
    """
    rpmkeys = shutil.which("rpmkeys")
    if rpmkeys is None:
        raise RescueError("RPMKEYS_MISSING",
                          "The host has no 'rpmkeys', so the package signature cannot be checked.",
                          "Install the host's rpm package (Debian: apt-get install rpm), "
                          "or pass --nosignature to skip the signature check.",
                          Exit.ENVIRONMENT)
    rpm_path = os.path.abspath(rpm_path)
    try:
        header = read_header_file(rpm_path)
    except (OSError, RpmFormatError):
        header = None

    with tempfile.TemporaryDirectory(prefix="vmrescue-rpmkeys-") as tmp:
        root = os.path.join(tmp, "root")
        os.makedirs(os.path.join(root, "rpmdb"), mode=0o700)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "LC_ALL": "C"}
        base = [rpmkeys, "--root", root, "--dbpath", "/rpmdb"]

        imported, import_errors = 0, []
        blocks = [b for key in guest_keys for b in split_armored_keys(key)]
        for i, block in enumerate(blocks):
            keyfile = os.path.join(tmp, f"key-{i}.asc")
            with open(keyfile, "wb") as f:
                f.write(block)
            res = _rpmkeys([*base, "--import", keyfile], env)
            if res.returncode == 0:
                imported += 1
            else:
                said = (res.stderr or res.stdout).strip().splitlines()
                import_errors.append(said[-1] if said else f"exit status {res.returncode}")

        res = _rpmkeys([*base, "--checksig", "-v", "--", rpm_path], env)
    out = res.stdout + "\n" + res.stderr

    sigs = _SIG_LINE.findall(out)
    bad_digests = [f"{m.group(1)} {m.group(2)}{m.group(3)}".strip()
                   for m in map(_DIGEST_LINE.match, out.splitlines())
                   if m and m.group(2).upper() != "OK"]
    if imported:
        no_key = f"which is not among the guest's {imported} key(s) in /etc/pki/rpm-gpg/"
    else:
        no_key = "but the guest has no usable key in /etc/pki/rpm-gpg/ to check it against"
    if import_errors:
        no_key += (f" ({len(import_errors)} key block(s) from the guest could not be "
                   f"imported: {import_errors[0]})")

    bad = [(k, s) for k, s in sigs if s.upper() not in ("OK", "NOKEY")]
    if bad or bad_digests:
        signer = bad[0][0] if bad else (sigs[0][0] if sigs else None)
        key = _longest_id(signer, header)
        what = "; ".join([f"signature by key {_longest_id(k, header)}: {s}" for k, s in bad]
                         + bad_digests)
        return SignatureResult("bad", key, f"{rpm_path} failed verification ({what}): it was "
                               f"altered or is corrupt, and must not be installed.")
    ok = [k for k, s in sigs if s.upper() == "OK"]
    if ok:
        key = _longest_id(ok[0], header)
        return SignatureResult("ok", key, f"{rpm_path} is signed by key {key}, one of the "
                               f"guest's own keys, and the signature verifies.")
    nokey = [k for k, s in sigs if s.upper() == "NOKEY"]
    if nokey:
        key = _longest_id(nokey[0], header)
        return SignatureResult("no-key", key, f"{rpm_path} is signed by key {key}, {no_key}; "
                               f"the signature cannot be checked.")
    if not any(map(_DIGEST_LINE.match, out.splitlines())):
        # Not one digest verdict: rpmkeys could not read the package at all.
        said = [ln.strip() for ln in out.strip().splitlines() if ln.strip()]
        last = said[-1] if said else f"exit status {res.returncode}"
        return SignatureResult("bad", None, f"rpmkeys could not read {rpm_path} as a "
                               f"package ({last}), so it must not be installed.")
    if header and header.signatures:
        # Signed, yet rpmkeys printed no verdict line: do not call it unsigned.
        key = header.signatures[0].key_id
        return SignatureResult("no-key", key, f"{rpm_path} is signed by key {key}, but this "
                               f"host's rpmkeys could not check that signature.")
    return SignatureResult("unsigned", None, f"{rpm_path} is not signed at all, so nothing "
                           f"vouches for where it came from.")


# --- everything, before anything is written ---------------------------------------

@dataclass(frozen=True)
class VerifiedRpm:
    path: Path
    header: RpmHeader
    uname_r: str
    signature: SignatureResult | None     # None when --nosignature skipped the check


def check_member(path: str | os.PathLike, header: RpmHeader, name: str, image: RpmHeader) -> list[str]:
    """Why the package at `path` is not the `name` package built with the kernel image `image` (EL8+'s
    kernel-modules, kernel-modules-core, kernel beside kernel-core); [] when it is."""
    what = f"{path} ({header.nvra})"
    if header.is_source:
        return [f"{what} is a source package; the guest needs the binary {name} package"]
    problems = []
    if header.name != name:
        problems.append(f"{what} is package {header.name!r}, not {name!r}")
    if not name.endswith(("-core", "-modules")) and any(
            path.startswith("/boot/vmlinuz-") or path.endswith("/vmlinuz") for path in header.file_paths):
        problems.append(f"{what} carries a kernel image: it is a one-package kernel (EL7 and older), not the "
                        f"empty {name!r} package that comes with {image.name}")
    if (header.version, header.release, header.arch) != (image.version, image.release, image.arch):
        problems.append(f"{what} is {header.version}-{header.release}.{header.arch}, but the kernel is "
                        f"{image.version}-{image.release}.{image.arch} ({image.nvra})")
    return problems


def verify_rpm(path: str | os.PathLike, target_uname_r: str, guest_arch: str,
               guest_keys: list[bytes], nosignature: bool = False,
               fits: Callable[[Path, RpmHeader], list[str]] | None = None) -> VerifiedRpm:
    """Run every check on the RPM at `path`; raise RescueError(Exit.REFUSED)
    on the first that fails, naming the package and what the guest needs.

    `fits` says why the package is not the one wanted (default: not the kernel
    image of `target_uname_r` for a `guest_arch` guest, `check_candidate`).

    With `nosignature`, an unsigned package or one signed by a key the
    guest lacks is accepted, but a signature that fails (BAD) never is:
    that means the bytes were changed.
    """
    path = Path(path)
    hint_other = ("Pass the right package with --rpm, or a directory or repository "
                  "that holds it with --from / --repo.")
    try:
        header = read_header_file(path)
    except OSError as exc:
        raise RescueError("RPM_UNREADABLE", f"Cannot read {path}: {exc.strerror or exc}.",
                          hint_other, Exit.REFUSED) from None
    except RpmFormatError as exc:
        raise RescueError("RPM_MALFORMED", f"{path} is not a valid RPM package: {exc}.",
                          hint_other, Exit.REFUSED) from None

    problems = (fits(path, header) if fits is not None
                else check_candidate(path, header, target_uname_r, guest_arch))
    if problems:
        raise RescueError("RPM_WRONG_PACKAGE", " ".join(problems), hint_other, Exit.REFUSED)

    with open(path, "rb") as f:
        problems = verify_digests(header, f)
    if problems:
        raise RescueError("RPM_DIGEST_MISMATCH",
                          f"{path} ({header.nvra}) is damaged or was altered: "
                          + "; ".join(problems) + ".",
                          "Download the package again from a trusted mirror.", Exit.REFUSED)

    try:
        signature = verify_signature(path, guest_keys)
    except RescueError:
        if not nosignature:
            raise
        return VerifiedRpm(path, header, target_uname_r, None)
    if not signature.acceptable(nosignature):
        if signature.status == "bad":
            hint = "Download the package again from a trusted mirror; --nosignature does not accept this."
        else:
            hint = ("Use the distribution's own signed package, or pass --nosignature "
                    "to install it without a verified signature.")
        raise RescueError(f"RPM_SIGNATURE_{signature.status.upper().replace('-', '_')}",
                          signature.detail, hint, Exit.REFUSED)
    return VerifiedRpm(path, header, target_uname_r, signature)
