"""rescue.bootloader.grub2.plan: the BLS entry and saved_entry of EL8/EL9, the menuentry of EL7.

Planned from composed guests (the Files view of test_bootloader_grub2), checked by reading the
planned files back with the same readers GRUB's semantics are modelled in.
"""
from __future__ import annotations

import pytest

from rescue.bootloader.base import BootLayout, KernelEntryRequest
from rescue.bootloader.bls import parse_bls_entry
from rescue.bootloader.grub2 import Grub2
from rescue.bootloader.grub2.menu import build_menu
from rescue.bootloader.grub2.script import parse_grub2_cfg
from rescue.bootloader.grubenv import read_grubenv
from rescue.errors import RescueError
from rescue.guest.devices import Filesystem

from test_bootloader_grub2 import (
    EL8, EL8_OLD, EL9, EL9_ENTRY, GRUB_CFG_EL7, GRUB_CFG_EL8, MID, OLD_MID, Files, el8_entry, grubenv,
)

NEW = "4.18.0-553.el8_10.x86_64"
OS_RELEASE_EL8 = 'NAME="Red Hat Enterprise Linux"\nVERSION="8.10 (Ootpa)"\nID="rhel"\n'
OS_RELEASE_EL9 = 'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\n'
OS_RELEASE_EL7 = 'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\n'
LAYOUT = BootLayout("/dev/sda", (("/", "/dev/rhel/root"), ("/boot", "/dev/sda1")),
                    (Filesystem("/dev/sda1", "xfs", "", "4a7c1f3e-9b2d-4e5f-8a6b-0c1d2e3f4a5b"),
                     Filesystem("/dev/rhel/root", "xfs", "", "77aa")))


def request(release: str = NEW, major: int = 8, stamp: str | None = "20261201-120000") -> KernelEntryRequest:
    return KernelEntryRequest(uname_r=release, initrd_name=f"initramfs-{release}.img", distro_title="CentOS",
                              release_major=major, root_spec="/dev/mapper/rhel-root", written_by="vmrescue test",
                              backup_stamp=stamp)


def el8_guest(env=None, extra=None, **entries) -> Files:
    files = {"/boot/grub2/grub.cfg": GRUB_CFG_EL8, "/etc/machine-id": MID + "\n", "/etc/os-release": OS_RELEASE_EL8,
             f"/boot/vmlinuz-{EL8_OLD}": b"k", f"/boot/initramfs-{EL8_OLD}.img": b"i"}
    if env is not None:
        files["/boot/grub2/grubenv"] = grubenv(**env)
    files.update({f"/boot/loader/entries/{name}.conf": text for name, text in entries.items()})
    files.update(extra or {})
    return Files(files)


def plan(files: Files, req: KernelEntryRequest | None = None):
    return Grub2("/boot/grub2/grub.cfg").plan_kernel(req or request(), files, LAYOUT, lambda name: None)


def written(p, path: str) -> str:
    return next(w.new for w in p.writes if w.path == path)


def test_el8_entry_is_written_as_kernel_install_writes_it():
    files = el8_guest({"saved_entry": f"{MID}-{EL8}", "kernelopts": "root=/dev/mapper/rhel-root ro",
                       "boot_success": "1"}, **{f"{MID}-{EL8_OLD}": el8_entry(EL8_OLD)})
    p = plan(files)
    path = f"/boot/loader/entries/{MID}-{NEW}.conf"
    entry = parse_bls_entry(written(p, path))
    assert entry.title == f"Red Hat Enterprise Linux ({NEW}) 8.10 (Ootpa)" and entry.version == NEW
    assert entry.linux == f"/vmlinuz-{NEW}" and entry.initrds == (f"/initramfs-{NEW}.img $tuned_initrd",)
    assert entry.options == "$kernelopts $tuned_params"            # /etc/kernel/cmdline absent, kernelopts set
    assert entry.grub_class == ("kernel",) and entry.stopped_at is None
    env = read_grubenv(written(p, "/boot/grub2/grubenv").encode())
    assert env.as_dict() == {"saved_entry": f"{MID}-{NEW}", "kernelopts": "root=/dev/mapper/rhel-root ro",
                             "boot_success": "1"} and env.problem is None
    assert p.step == "bls" and f"saved_entry={MID}-{NEW}" in p.detail
    assert "+title Red Hat Enterprise Linux" in p.diff and "+saved_entry=" in p.diff and "-saved_entry=" in p.diff
    # GRUB's view of the result: the new entry is the default, its options expand
    after = Files({**files.files, **{w.path: w.new.encode() for w in p.writes}})
    menu = build_menu("/boot/grub2/grub.cfg", parse_grub2_cfg(GRUB_CFG_EL8), after)
    assert menu.entries[menu.default].id == f"{MID}-{NEW}" and menu.default_found
    assert menu.entries[menu.default].kernel_args == "root=/dev/mapper/rhel-root ro"


def test_el9_entry_takes_etc_kernel_cmdline_and_the_os_release_class():
    files = el8_guest({"saved_entry": f"{MID}-{EL9}"}, extra={"/etc/kernel/cmdline": "root=/dev/mapper/rl-root ro quiet\n",
                                                             "/etc/os-release": OS_RELEASE_EL9})
    p = plan(files, request(EL9.replace("362", "427"), major=9))
    entry = parse_bls_entry(p.writes[0].new)
    assert entry.options == "root=/dev/mapper/rl-root ro quiet" and entry.grub_class == ("rocky",)
    assert "from /etc/kernel/cmdline" in p.detail


def test_options_are_copied_from_the_entry_it_replaces():
    stale = EL9_ENTRY.replace(EL9, NEW).replace("rhgb quiet", "rhgb quiet nomodeset")
    p = plan(el8_guest({}, **{f"{MID}-{NEW}": stale}))
    assert "nomodeset" in parse_bls_entry(p.writes[0].new).options
    assert p.writes[0].old == stale                                # it is overwritten, not moved aside
    assert "from the entry it replaces" in p.detail


def test_without_any_source_the_options_are_fstabs_root():
    cfg = GRUB_CFG_EL8.replace('if [ -z "${kernelopts}" ]; then', "if false; then").replace("set kernelopts=", "set x=")
    files = el8_guest({}, extra={"/boot/grub2/grub.cfg": cfg})
    assert parse_bls_entry(plan(files).writes[0].new).options == "root=/dev/mapper/rhel-root ro"


def test_entries_whose_kernel_is_gone_are_put_aside():
    files = el8_guest({}, **{f"{MID}-{EL8}": el8_entry(EL8), f"{MID}-{EL8_OLD}": el8_entry(EL8_OLD)})
    p = plan(files)
    assert p.moves == ((f"/boot/loader/entries/{MID}-{EL8}.conf",
                        f"/boot/loader/entries/{MID}-{EL8}.conf.vmrescue-20261201-120000"),)
    assert "rename /boot/loader/entries" in p.diff


def test_a_damaged_grubenv_is_written_anew_with_what_was_readable():
    files = el8_guest(None, extra={"/boot/grub2/grubenv": b"# GRUB Environment Block\nkernelopts=root=/dev/sda2 ro\n"})
    p = plan(files)
    env = read_grubenv(written(p, "/boot/grub2/grubenv").encode())
    assert env.as_dict() == {"kernelopts": "root=/dev/sda2 ro", "saved_entry": f"{MID}-{NEW}"}
    assert len(written(p, "/boot/grub2/grubenv").encode()) == 1024
    assert any("damaged" in note for note in p.notes)


def test_without_a_machine_id_the_entries_one_is_used_else_refused():
    files = el8_guest({}, extra={"/etc/machine-id": ""}, **{f"{OLD_MID}-{EL8_OLD}": el8_entry(EL8_OLD)})
    assert plan(files).writes[0].path == f"/boot/loader/entries/{OLD_MID}-{NEW}.conf"
    files = el8_guest({}, extra={"/etc/machine-id": ""},
                      **{f"{OLD_MID}-{EL8_OLD}": el8_entry(EL8_OLD), f"{MID}-{EL8}": el8_entry(EL8)})
    with pytest.raises(RescueError) as caught:
        plan(files)
    assert caught.value.code == "NO_MACHINE_ID"


def test_values_with_line_breaks_are_refused():
    files = el8_guest({}, extra={"/etc/kernel/cmdline": "root=/dev/sda2\x1b[31m ro"})
    with pytest.raises(RescueError) as caught:
        plan(files)
    assert caught.value.code == "UNSAFE_GRUB_VALUE"


# --- EL7: a menuentry -----------------------------------------------------------------------

EL7_OLD = "3.10.0-1160.el7.x86_64"
EL7_NEW = "3.10.0-1160.119.1.el7.x86_64"
EL7_EMPTY = GRUB_CFG_EL7.split("### BEGIN /etc/grub.d/10_linux ###")[0] + (
    "### BEGIN /etc/grub.d/10_linux ###\n### END /etc/grub.d/10_linux ###\n")


def el7_guest(cfg: str, env=None, **extra) -> Files:
    files = {"/boot/grub2/grub.cfg": cfg, "/etc/os-release": OS_RELEASE_EL7,
             "/etc/default/grub": 'GRUB_DEFAULT=saved\nGRUB_CMDLINE_LINUX="crashkernel=auto rd.lvm.lv=centos/root rhgb quiet"\n'}
    if env is not None:
        files["/boot/grub2/grubenv"] = grubenv(**env)
    files.update(extra)
    return Files(files)


def test_el7_entry_is_written_fresh_when_no_entry_is_left():
    files = el7_guest(EL7_EMPTY, {"saved_entry": f"CentOS Linux ({EL7_OLD}) 7 (Core)"})
    p = plan(files, request(EL7_NEW, major=7))
    cfg = parse_grub2_cfg(written(p, "/boot/grub2/grub.cfg"))
    (entry,) = cfg.entries
    title = f"CentOS Linux ({EL7_NEW}) 7 (Core)"
    assert entry.title == title and entry.linux_command == "linux16" and entry.kernel == f"/vmlinuz-{EL7_NEW}"
    assert entry.kernel_args == "root=/dev/mapper/rhel-root ro crashkernel=auto rd.lvm.lv=centos/root rhgb quiet"
    assert entry.initrd == f"/initramfs-{EL7_NEW}.img" and entry.search.value == "4a7c1f3e-9b2d-4e5f-8a6b-0c1d2e3f4a5b"
    assert entry.id == f"gnulinux-{EL7_NEW}-advanced-77aa"
    assert read_grubenv(written(p, "/boot/grub2/grubenv").encode()).get("saved_entry") == title
    assert any("10_linux" in note for note in p.notes)


def test_el7_entry_copies_a_working_entry_and_drops_the_dead():
    files = el7_guest(GRUB_CFG_EL7, {}, **{"/boot/vmlinuz-3.10.0-327.el7.x86_64": "k",
                                           "/boot/vmlinuz-0-rescue-6f2d": "k"})
    p = plan(files, request(EL7_NEW, major=7))
    text = written(p, "/boot/grub2/grub.cfg")
    cfg = parse_grub2_cfg(text)
    titles = [e.title for e in cfg.entries]
    assert titles[0] == f"CentOS Linux ({EL7_NEW}) 7 (Core)"
    assert not any("debug" in t for t in titles)                   # its vmlinuz is gone: dropped
    new = cfg.entries[0]
    assert new.id == f"gnulinux-{EL7_NEW}-advanced-a1b2" and new.search.value == "9b8c"
    block = text.split("\n")[new.span[0] - 1:new.span[1]]
    assert new.kernel_args.endswith("LANG=en_US.UTF-8") and "\tinsmod xfs" in block and "\tload_video" in block
    assert "dropped 'Red Hat Enterprise Linux Server (3.10.0-327.el7.x86_64.debug) 7.2 (Maipo)'" in p.detail


def test_el7_numeric_default_becomes_the_new_entry():
    cfg = EL7_EMPTY.replace('set default="${saved_entry}"', 'set default="2"')
    p = plan(el7_guest(cfg), request(EL7_NEW, major=7))
    new = written(p, "/boot/grub2/grub.cfg")
    assert parse_grub2_cfg(new).default == "0" and len(p.writes) == 1


def test_saved_entry_left_naming_the_entry_is_not_rewritten():
    # dnf's erase leaves saved_entry naming the removed entry; the reinstalled one has the same id.
    files = el8_guest({"saved_entry": f"{MID}-{NEW}", "kernelopts": "root=/dev/mapper/rhel-root ro"},
                      **{f"{MID}-{EL8_OLD}": el8_entry(EL8_OLD)})
    p = plan(files)
    assert [w.path for w in p.writes] == [f"/boot/loader/entries/{MID}-{NEW}.conf"]
    assert "saved_entry in /boot/grub2/grubenv already names it" in p.detail


def test_kernelopts_lost_the_options_come_from_default_grub_not_the_dead_variable():
    # grubenv without kernelopts and a grub.cfg without the fallback (EL8 before 8.3): the old
    # entry's "$kernelopts" would give the kernel no root=.
    fallback = ('if [ -z "${kernelopts}" ]; then\n  set kernelopts="root=/dev/mapper/rhel-root ro crashkernel=auto '
                'resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet "\nfi\n')
    assert fallback in GRUB_CFG_EL8
    cfg = GRUB_CFG_EL8.replace(fallback, "")
    files = el8_guest({"saved_entry": f"{MID}-{NEW}"}, extra={
        "/boot/grub2/grub.cfg": cfg,
        "/etc/default/grub": 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="crashkernel=auto rd.lvm.lv=rhel/root"\n'},
        **{f"{MID}-{NEW}": el8_entry(NEW)})
    p = plan(files)
    entry = parse_bls_entry(written(p, f"/boot/loader/entries/{MID}-{NEW}.conf"))
    assert entry.options == "root=/dev/mapper/rhel-root ro crashkernel=auto rd.lvm.lv=rhel/root"
    assert "GRUB_CMDLINE_LINUX from /etc/default/grub" in p.detail
