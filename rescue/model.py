"""Plain data: what vmrescue observes in a guest and what it concludes.

Everything here is a frozen dataclass with no I/O, so the pure modules
(`grubconf`, `kernels`, `rules`, `report`) and their tests can build these
by hand. `gather` is the only producer of `GuestFacts` from a real image.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"      # the guest cannot boot (or cannot boot the right kernel)
    WARNING = "warning"  # it may boot, but something will bite later
    INFO = "info"        # evidence worth knowing (what happened, why)


@dataclass(frozen=True)
class Finding:
    code: str            # stable identifier, e.g. "ENTRY_KERNEL_MISSING"
    severity: Severity
    message: str         # one sentence naming the cause
    action: str          # the next command or step for the operator
    evidence: tuple["Evidence", ...] = ()   # where it was seen: file (or disk region), line, value


# --- what the guest holds ----------------------------------------------------

@dataclass(frozen=True)
class OsInfo:
    root: str                 # appliance device of the root filesystem, e.g. /dev/VolGroup00/LogVol00
    distro: str               # libguestfs name: "centos", "rhel", "debian", ...
    product: str              # e.g. "CentOS release 5.11 (Final)"
    major: int
    minor: int
    arch: str                 # x86_64, i386, ...
    package_format: str       # "rpm", "deb", ...
    mountpoints: tuple[tuple[str, str], ...] = ()   # (mountpoint, device), "/" first

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"


@dataclass(frozen=True)
class RpmPackage:
    name: str                 # "kernel", "kernel-PAE", "kernel-xen", "kernel-plus" ...
    epoch: int
    version: str
    release: str
    arch: str

    @property
    def nvra(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.{self.arch}"


@dataclass(frozen=True)
class VmlinuzFile:
    path: str                          # guest path, e.g. /boot/vmlinuz-2.6.18-274.el5
    name_release: str                  # release taken from the file name
    embedded_version: str | None       # full version string from the bzImage header
    embedded_release: str | None       # its first word, comparable to name_release


@dataclass(frozen=True)
class InitrdFile:
    path: str
    name_release: str
    size: int
    has_modules_for: bool | None = None   # image lists lib/modules/<release>; None = not checked


@dataclass(frozen=True)
class ModulesDir:
    release: str
    path: str                          # /lib/modules/<release>
    has_modules_dep: bool
    has_kernel_tree: bool              # kernel/ subtree present (not only misc/ leftovers)
    has_vmlinuz: bool = False          # /lib/modules/<release>/vmlinuz: EL8+ kernel-core's own copy


@dataclass(frozen=True)
class ThirdPartyModule:
    path: str                          # guest path of the .ko
    name: str
    vermagic_release: str | None       # first word of vermagic=
    installed_under: str               # the /lib/modules/<release> it sits in


@dataclass(frozen=True)
class YumEvent:
    when: str                          # as written in yum.log, e.g. "Sep 12 10:01:22"
    action: str                        # Installed, Updated, Erased
    package: str                       # as written, e.g. "kernel-2.6.18-274.3.1.el5.centos.plus.x86_64"
    log: str = "yum.log"               # the file that says so: yum.log (EL5-EL7) or dnf.rpm.log (EL8+)


@dataclass(frozen=True)
class YumRepo:
    file: str
    repo_id: str
    enabled: bool
    priority: int | None
    excludes: tuple[str, ...] = ()    # exclude= of this repository


@dataclass(frozen=True)
class YumConfig:
    repos: tuple[YumRepo, ...] = ()
    priorities_plugin_enabled: bool = False
    excludes: tuple[str, ...] = ()
    default_kernel: str | None = None  # /etc/sysconfig/kernel DEFAULTKERNEL


@dataclass(frozen=True)
class BootEntry:
    """One GRUB menu entry, resolved against the guest's filesystems."""
    index: int
    title: str
    kind: str                          # "linux", "xen", "chainloader", "other"
    grub_root: str | None              # "(hd0,0)" as written (or inherited)
    kernel: str | None                 # path as written on the kernel line (Xen: the dom0 vmlinuz module)
    kernel_args: str
    initrd: str | None
    guest_kernel: str | None = None    # resolved guest path, e.g. /boot/vmlinuz-...
    guest_initrd: str | None = None
    kernel_exists: bool = False
    initrd_exists: bool = False
    root_device: str | None = None     # root= as written
    root_resolved: str | None = None   # appliance device it names, None if unresolved
    id: str | None = None              # GRUB 2's --id; a BLS entry's file name without .conf
    source: str | None = None          # the BLS entry file it comes from
    unset: tuple[str, ...] = ()        # $variables of its command line that expanded to nothing ("kernelopts")
    machine_id: str | None = None      # a BLS entry's machine-id prefix


@dataclass(frozen=True)
class Bootloader:
    kind: str | None                   # "grub-legacy", "grub2", "bls", None when nothing found
    config: str | None                 # guest path of the config file
    default: int | None                # default entry index as configured
    fallback: int | None = None
    entries: tuple[BootEntry, ...] = ()
    parse_errors: tuple[str, ...] = ()
    size: int | None = None            # bytes of the config file
    entries_total: int | None = None   # entries in the file when more than `entries` were checked
    damaged: str | None = None         # why the file is not a config at all: "is empty", "holds binary data ..."
    default_setting: str | None = None     # `set default=` as written ("${saved_entry}", "0", a title)
    default_request: str | None = None     # what names the default once resolved (saved_entry's value ...)
    default_source: str | None = None      # where the request comes from: "saved_entry", "next_entry", grub.cfg
    default_found: bool = True         # False: the request names no entry and GRUB boots entry 0 instead
    env: GrubEnv | None = None         # the grubenv the configuration loads
    dropped: tuple[str, ...] = ()      # BLS entries GRUB leaves out (their ids tie with another's)
    bls_problems: tuple[tuple[str, str], ...] = ()     # (BLS file, what GRUB trips over in it)


@dataclass(frozen=True)
class GrubEnv:
    """A GRUB 2 environment block (grubenv), its variables as GRUB reads them (rescue.bootloader.grubenv)."""
    variables: tuple[tuple[str, str], ...] = ()    # in the file's order
    size: int = 0                                  # bytes of the file
    problem: str | None = None                     # why GRUB (or its next save_env) trips on it; None when sound
    path: str = ""                                 # where it was read, when known

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.variables if key == name), None)

    def as_dict(self) -> dict[str, str]:
        return dict(self.variables)


@dataclass(frozen=True)
class BootSymlink:
    """A symlink under /boot that GRUB cannot follow (vmrescue does not follow it either)."""
    path: str                          # guest path, e.g. /boot/grub/grub.conf
    target: str                        # as the link says, e.g. /etc/shadow
    problem: str                       # "outside" (leaves /boot) or "absolute" (GRUB resolves it on the /boot filesystem)


@dataclass(frozen=True)
class Kernel:
    """Every fact about one kernel release, joined from all sources."""
    uname_r: str
    vmlinuz: VmlinuzFile | None = None
    initrd: InitrdFile | None = None
    modules: ModulesDir | None = None
    system_map: bool = False
    config: bool = False
    rpm: RpmPackage | None = None


@dataclass(frozen=True)
class GuestFacts:
    """All that `gather` reads from one guest: the only input of `rules.diagnose`."""
    image: str
    os: OsInfo | None
    bootloader: Bootloader = field(default_factory=lambda: Bootloader(None, None, None))
    kernels: tuple[Kernel, ...] = ()
    third_party_modules: tuple[ThirdPartyModule, ...] = ()
    kernel_packages: tuple[RpmPackage, ...] = ()
    yum_events: tuple[YumEvent, ...] = ()
    yum: YumConfig = field(default_factory=YumConfig)
    fstab: tuple[tuple[str, str, str], ...] = ()      # (spec, mountpoint, fstype)
    boot_is_separate: bool = False
    rpmdb_read: bool = True                           # False: the RPM database could not be read
    notes: tuple[str, ...] = ()                       # things gather could not read, said plainly
    volumes: tuple[tuple[str, str], ...] = ()          # ("partition 1" or an LV, fstype) of the disk
    unmounted: tuple[str, ...] = ()                   # mountpoints of the guest that could not be mounted
    boot_symlinks: tuple[BootSymlink, ...] = ()
    windows: str | None = None                        # device holding a Windows system (no Linux root found)
    in_use: str | None = None                         # why the image looks held by a running VM
    rpmdb_error: str | None = None                    # why the RPM database could not be read
    machine_id: str | None = None                     # /etc/machine-id
    default_grub: tuple[tuple[str, str], ...] = ()    # /etc/default/grub's GRUB_* settings, unquoted
    bls_entries: tuple[tuple[str, str], ...] = ()     # (id, linux) of every BLS entry, read or not by GRUB
    firmware: "FirmwareFacts | None" = None           # MBR boot code, the ESP and what is on it
    bootpath: "BootPathFacts | None" = None           # the rest of the boot path (rescue.diagnose.bootpath)


@dataclass(frozen=True)
class RecommendedKernel:
    uname_r: str
    package: str                       # file name to look for, e.g. kernel-2.6.18-274.el5.x86_64.rpm
    reason: str                        # which evidence chose it
    packages: tuple[str, ...] = ()     # every package file the kernel needs (EL8+: kernel-core, kernel-modules ...)


@dataclass(frozen=True)
class Diagnosis:
    facts: GuestFacts
    findings: tuple[Finding, ...]
    bootable: bool
    recommended_kernel: RecommendedKernel | None
    default_kernel: str | None = None  # uname_r the default entry would boot, if it can


@dataclass(frozen=True)
class EfiVendorDir:
    """One EFI/<vendor>/ directory of the ESP (rescue.bootloader.efi)."""
    directory: str                     # guest path, in the case found
    loaders: tuple[str, ...] = ()      # shimx64.efi, grubx64.efi
    grub_cfg: str | None = None
    grubenv: str | None = None
    stub_uuid: str | None = None       # EL9 stub: the filesystem it searches for
    stub_target: str | None = None     # ... and the file it loads there ("/grub2/grub.cfg")
    stub_target_path: str | None = None  # that file as a guest path, when the UUID is a guest filesystem's
    stub_target_exists: bool = False


@dataclass(frozen=True)
class FirmwareFacts:
    """What BIOS and UEFI firmware would find on the image."""
    partition_table: str | None = None     # "gpt", "msdos"
    bios_code: bool = False                # the MBR holds boot code (not zeros) and the 0x55AA signature
    bios_boot_partition: str | None = None  # GPT's BIOS boot partition (EF02), where GRUB 2's core.img lives
    esp: str | None = None                 # the EFI system partition's device
    esp_fstype: str | None = None
    esp_mounted: bool = False              # mounted at /boot/efi (fstab names it and it mounted)
    fstab_esp: str | None = None           # fstab's spec for /boot/efi
    fallback: str | None = None            # EFI/BOOT/BOOTX64.EFI
    fallback_helpers: tuple[str, ...] = ()
    vendors: tuple[EfiVendorDir, ...] = ()
    vendor: str | None = None              # the directory the guest's own packages write (os-release ID)
    vmx: str | None = None                 # a .vmx beside the image
    vmx_firmware: str | None = None        # "uefi" / "bios", as that .vmx says
    needs: str | None = None               # what starts the image: "bios", "uefi", "both", None


# --- the rest of the boot path (rescue.diagnose.bootpath) ----------------------

@dataclass(frozen=True)
class Evidence:
    """Where a finding was seen: a guest file (or a region of the disk), its line, the value there."""
    path: str
    line: int | None = None
    value: str = ""


@dataclass(frozen=True)
class DiskPartition:
    number: int
    start: int                         # first sector
    sectors: int
    type: str                          # "0x83", or a GPT type's name
    holds: str = ""                    # what its first sectors show: "xfs", "LVM2_member", "" unknown
    uuid: str = ""                     # the filesystem's UUID, or the PV's
    content_bytes: int = 0             # the size its filesystem or PV records; 0 unknown
    vg: str | None = None              # a PV's volume group


@dataclass(frozen=True)
class StrayVolume:
    """A filesystem or PV starting where no partition of the table begins or covers."""
    start: int
    fstype: str
    uuid: str = ""
    label: str = ""
    vg: str | None = None
    content_bytes: int = 0


@dataclass(frozen=True)
class DiskFacts:
    """The disk's first sectors: boot code, what it loads next, the partition table."""
    sectors: int
    loader: str                        # rescue.guest.bootcode.classify_mbr's name
    signature: bool
    next_sector: int | None = None
    next_stage: str | None = None      # "stage1.5", "stage2", "core.img"
    found: str | None = None           # what sits at next_sector
    problem: str | None = None         # why that is not what the boot code loads
    table: str = "msdos"               # "msdos", "gpt", "none"
    partitions: tuple[DiskPartition, ...] = ()
    stray: tuple[StrayVolume, ...] = ()
    bios_boot: bool = False            # GPT: a BIOS boot partition exists


@dataclass(frozen=True)
class Program:
    """A program the boot runs (init, /bin/sh), as the kernel would find it."""
    path: str
    role: str                          # "init", "init=", "shell"
    state: str                         # "ok", "missing", "dangling", "not-executable", "interpreter-missing", "empty"
    resolved: str | None = None        # where its links lead
    interpreter: str | None = None


@dataclass(frozen=True)
class InitrdFacts:
    """The default entry's initrd, unpacked whole."""
    path: str
    release: str                       # the kernel the entry boots
    size: int
    formats: tuple[str, ...] = ()
    problem: str | None = None         # why the kernel would fail to unpack it
    unchecked: str | None = None
    init: str = "ok"                   # /init: "ok", "missing", "not-executable", "dangling"
    module_releases: tuple[str, ...] = ()
    missing: tuple[tuple[str, str], ...] = ()      # (driver, why the root needs it) the initrd lacks
    missing_tools: tuple[tuple[str, str], ...] = ()  # (program, why) the initrd lacks
    lvm_conf: str | None = None        # its etc/lvm/lvm.conf
    devices_file: str | None = None    # its etc/lvm/devices/system.devices


@dataclass(frozen=True)
class EntryLines:
    """Where a boot entry's kernel and initrd lines are, as written."""
    entry: int
    path: str
    kernel_line: int | None = None
    kernel_text: str = ""
    initrd_line: int | None = None
    initrd_text: str = ""


@dataclass(frozen=True)
class FstabLine:
    line: int
    spec: str
    mountpoint: str
    fstype: str
    options: str
    passno: int
    found: bool                        # the spec names a device of this disk


@dataclass(frozen=True)
class SelinuxFacts:
    """/etc/selinux/config as libselinux reads it (rescue.guest.selinux), and the policy it names."""
    mode: str | None                   # enforcing/permissive/disabled; None: unset or not a valid value
    mode_value: str | None             # SELINUX= as written
    mode_line: int | None
    policy_type: str
    type_line: int | None
    policies: tuple[str, ...] = ()     # loadable /etc/selinux/<type>/policy/policy.N files
    autorelabel: bool = False          # /.autorelabel is there: the next boot relabels every file


@dataclass(frozen=True)
class BootPathFacts:
    disk: DiskFacts | None = None
    stage2: tuple[str, str] | None = None          # (GRUB legacy stage2, why it would not load)
    stage15_version: str | None = None              # the version of the stage1.5 in the gap
    stage2_version: str | None = None
    leftovers: tuple[str, ...] = ()                 # renamed boot loader configurations (grub.conf.old ...)
    dangling: tuple[tuple[str, str], ...] = ()      # (link, target) of configuration links leading nowhere
    boot_files: tuple[str, ...] = ()                # guest paths of the files in /boot (and /), for near misses
    entry_lines: tuple[EntryLines, ...] = ()
    specs: tuple[tuple[str, str], ...] = ()         # (device spec, fstype it names) of every spec that resolved
    lvs: tuple[str, ...] = ()                       # /dev/VG/LV of the disk
    programs: tuple[Program, ...] = ()
    initrd: InitrdFacts | None = None
    selinux: SelinuxFacts | None = None
    fstab: tuple[FstabLine, ...] = ()
    lvm_conf: str | None = None                     # /etc/lvm/lvm.conf
    devices_file: str | None = None                 # /etc/lvm/devices/system.devices
    devices_file_default: bool = False              # the release turns use_devicesfile on by default (EL9+)
    root_pv: tuple[str, str, str] | None = None     # (partition as the guest names it, PV uuid, disk signature)
    boot_space: tuple[int, int, int, int] | None = None   # /boot: free bytes, free inodes, bytes, inodes
    kernel_bytes: int = 0                           # what one more kernel takes in /boot (the largest installed)
    controller: tuple[str, str, int | None, str] | None = None   # (driver, file, line, setting)
    kernel_modules: tuple[str, ...] = ()            # modules the default kernel ships (names)
    builtin: tuple[str, ...] = ()                   # its built-in modules
    default_args: str = ""                          # the default entry's kernel command line
