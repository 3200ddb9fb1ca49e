"""rescue.bootloader.grub2, .bls and .grubenv: EL7–EL9's grub.cfg, grubenv and BLS entries, and the menu GRUB builds.

The samples are composed for these tests. Their shapes follow real files, named beside each:
rhboot/grubby's test/ folder (grub2.16, grub2.18, grub2-support_files/grubenv.1 and .4), the
grub2-mkconfig output of EL8 (Rocky 8.10) and EL9 (CentOS Stream 9) quoted in public bug reports,
and the BLS cases of open-power/petitboot's test/parser/ (test-grub2-blscfg-*.c), whose expected
results are re-checked here against RHEL's own blscfg order (petitboot's strverscmp order differs).
"""
from __future__ import annotations

import pytest

from rescue.bootloader.bls import blscfg_order, expand, parse_bls_entry, split_entry_name
from rescue.bootloader.grub2.menu import build_menu
from rescue.bootloader.grub2.script import default_grub, parse_grub2_cfg
from rescue.bootloader.grubenv import BLOCK_SIZE, SIGNATURE, read_grubenv, render_grubenv

MID = "3f1ed6c9a7b24c8e9d0f5a6b7c8d9e0f"      # this guest's /etc/machine-id
OLD_MID = "104a2be1c0d94f6e8a7b6c5d4e3f2a1b"  # a clone's
EL8 = "4.18.0-513.5.1.el8_9.x86_64"
EL8_OLD = "4.18.0-477.10.1.el8_8.x86_64"
EL9 = "5.14.0-362.8.1.el9_3.x86_64"


class Files:
    """The guest's files as a boot loader kind reads them: a dict of path → text or bytes."""

    def __init__(self, files: dict[str, str | bytes]):
        self.files = {p: (v.encode() if isinstance(v, str) else v) for p, v in files.items()}
        self.image = "/images/test.qcow2"

    def text(self, path):
        data = self.data(path)
        return None if data is None else data.decode("utf-8", "replace")

    def data(self, path):
        return self.files.get(path)

    def names(self, directory):
        prefix = directory.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/")[0] for p in self.files if p.startswith(prefix)})

    def is_file(self, path):
        return path in self.files

    def real_path(self, path):
        return path

    def size(self, path):
        return len(self.files[path]) if path in self.files else None


def grubenv(**variables: str) -> bytes:
    return render_grubenv(variables)


# --- grubenv (grubby's grubenv.1 and grubenv.4 shapes) ------------------------------------

def test_a_sound_block_is_read_in_order():
    env = read_grubenv(grubenv(saved_entry=f"{MID}-{EL8}", kernelopts="root=/dev/mapper/rhel-root ro ",
                               boot_success="0"))
    assert env.problem is None and env.size == BLOCK_SIZE
    assert env.variables == (("saved_entry", f"{MID}-{EL8}"), ("kernelopts", "root=/dev/mapper/rhel-root ro "),
                             ("boot_success", "0"))


def test_a_title_with_spaces_is_one_value():
    # grubenv.1: EL7's saved_entry is a menu title
    env = read_grubenv(grubenv(saved_entry="CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)"))
    assert env.get("saved_entry") == "CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)"


@pytest.mark.parametrize("data, says", [
    (b"saved_entry=x\n" + b"#" * 1010, "signature"),
    (SIGNATURE.encode() + b"saved_entry=x\nbroken line\n" + b"#" * 900, "no name=value"),
    (SIGNATURE.encode() + b"saved_entry=x", "no end of line"),
    (grubenv(saved_entry="x") + b"\n", "1025 bytes"),                  # grubenv.4: a stray newline after the padding
    (SIGNATURE.encode() + b"a=" + b"x" * 996 + b"\n", "no padding left"),
])
def test_damaged_blocks_are_named(data, says):
    assert says in read_grubenv(data).problem


def test_a_broken_record_keeps_what_came_before_it():
    env = read_grubenv(SIGNATURE.encode() + b"saved_entry=x\nbroken\nkernelopts=y\n" + b"#" * 900)
    assert env.as_dict() == {"saved_entry": "x"}


def test_escaped_values_round_trip():
    block = render_grubenv({"a": "back\\slash", "b": "two\nlines"})
    assert len(block) == BLOCK_SIZE
    assert read_grubenv(block).as_dict() == {"a": "back\\slash", "b": "two\nlines"}


def test_render_keeps_a_larger_block_size_and_refuses_overflow():
    assert len(render_grubenv({"a": "1"}, 2048)) == 2048
    with pytest.raises(ValueError):
        render_grubenv({"a": "x" * 2000})


# --- BLS entries ----------------------------------------------------------------------------

EL8_ENTRY = f"""\
title Red Hat Enterprise Linux ({EL8}) 8.9 (Ootpa)
version {EL8}
linux /vmlinuz-{EL8}
initrd /initramfs-{EL8}.img $tuned_initrd
options $kernelopts $tuned_params
id rhel-20231020143000-{EL8}
grub_users $grub_users
grub_arg --unrestricted
grub_class kernel
"""

EL9_ENTRY = f"""\
title Rocky Linux ({EL9}) 9.3 (Blue Onyx)
version {EL9}
linux /vmlinuz-{EL9}
initrd /initramfs-{EL9}.img $tuned_initrd
options root=/dev/mapper/rl-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap rhgb quiet $tuned_params
grub_users $grub_users
grub_arg --unrestricted
grub_class rocky
"""


def test_an_el9_entry_keeps_every_key():
    e = parse_bls_entry(EL9_ENTRY)
    assert e.linux == f"/vmlinuz-{EL9}" and e.initrds == (f"/initramfs-{EL9}.img $tuned_initrd",)
    assert e.grub_class == ("rocky",) and e.grub_arg == ("--unrestricted",) and e.grub_users == "$grub_users"
    assert e.stopped_at is None


def test_a_line_without_value_ends_grubs_reading():
    e = parse_bls_entry(f"title t\nlinux /vmlinuz-{EL9}\n\noptions root=/dev/sda2 ro\n")
    assert e.options == "" and e.stopped_at == 3


def test_several_initrd_lines_are_kept_in_order():
    e = parse_bls_entry("title t\nlinux /v\ninitrd /intel-ucode.img\ninitrd /initramfs.img\n")
    assert e.initrds == ("/intel-ucode.img", "/initramfs.img") and e.initrd == "/initramfs.img"


@pytest.mark.parametrize("value, variables, expanded, unset", [
    ("$kernelopts $tuned_params", {"kernelopts": "root=/dev/sda2 ro", "tuned_params": ""}, "root=/dev/sda2 ro", ()),
    ("$kernelopts", {}, "", ("kernelopts",)),
    ("$kernelopts debug", {"kernelopts": "ro"}, "ro debug", ()),          # petitboot test-grub2-blscfg-opts-grubenv
    ("root=/dev/sda2 ro quiet", {}, "root=/dev/sda2 ro quiet", ()),
])
def test_options_are_expanded_from_the_environment(value, variables, expanded, unset):
    assert expand(value, variables) == (expanded, unset)


def test_entry_names_split_like_rpm_names():
    assert split_entry_name(f"{MID}-{EL8}") == (MID, "4.18.0", "513.5.1.el8_9.x86_64")
    assert split_entry_name(f"{MID}-0-rescue") == (MID, "0", "rescue")
    assert split_entry_name("a-b") == ("a", "b", None)


def test_grub_lists_entries_newest_first():
    # petitboot test-grub2-blscfg-multiple-bls: two Fedora 28 kernels, the newer first
    ids = [f"{MID}-4.14.18-300.fc28.x86_64", f"{MID}-4.15.2-302.fc28.x86_64", f"{MID}-0-rescue"]
    ordered, dropped = blscfg_order(ids)
    assert ordered == [f"{MID}-4.15.2-302.fc28.x86_64", f"{MID}-4.14.18-300.fc28.x86_64", f"{MID}-0-rescue"]
    assert dropped == []


def test_an_old_machine_id_sorts_first_when_it_starts_with_digits():
    # stackhpc-kayobe-config PR 878: "104a..." (numeric) beats "cd33..." (alpha), whatever the kernels
    ordered, _ = blscfg_order([f"cd33{MID[4:]}-{EL9}", f"{OLD_MID}-5.14.0-162.6.1.el9_1.x86_64"])
    assert ordered[0].startswith(OLD_MID)


def test_names_that_compare_equal_keep_only_the_first():
    ordered, dropped = blscfg_order(["x-1.0-1", "x-1_0-1"])
    assert ordered == ["x-1.0-1"] and dropped == ["x-1_0-1"]


def test_a_plus_suffix_sorts_after_its_base():
    ordered, _ = blscfg_order([f"{MID}-4.18.0-348.el8.x86_64+debug", f"{MID}-4.18.0-348.el8.x86_64"])
    assert ordered[0].endswith("+debug")


# --- grub.cfg, as grub2-mkconfig writes it on EL7, EL8, EL9 -----------------------------------

HEADER_EL8 = """\
### BEGIN /etc/grub.d/00_header ###
set pager=1

if [ -f ${config_directory}/grubenv ]; then
  load_env -f ${config_directory}/grubenv
elif [ -s $prefix/grubenv ]; then
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="${saved_entry}"
fi
### END /etc/grub.d/00_header ###
### BEGIN /etc/grub.d/00_tuned ###
set tuned_params=""
set tuned_initrd=""
### END /etc/grub.d/00_tuned ###
"""

LINUX_EL8 = """\
### BEGIN /etc/grub.d/10_linux ###
insmod part_msdos
insmod xfs
set root='hd0,msdos1'
if [ x$feature_platform_search_hint = xy ]; then
  search --no-floppy --fs-uuid --set=root --hint='hd0,msdos1'  4a7c1f3e-9b2d-4e5f-8a6b-0c1d2e3f4a5b
else
  search --no-floppy --fs-uuid --set=root 4a7c1f3e-9b2d-4e5f-8a6b-0c1d2e3f4a5b
fi
# This section was generated by a script. Do not modify the generated file - all changes
# will be lost the next time file is regenerated. Instead edit the BootLoaderSpec files.
if [ -z "${kernelopts}" ]; then
  set kernelopts="root=/dev/mapper/rhel-root ro crashkernel=auto resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet "
fi

insmod blscfg
blscfg
### END /etc/grub.d/10_linux ###
"""

GRUB_CFG_EL8 = HEADER_EL8 + LINUX_EL8
GRUB_CFG_EL9 = HEADER_EL8 + LINUX_EL8.replace(
    'if [ -z "${kernelopts}" ]; then\n  set kernelopts="root=/dev/mapper/rhel-root ro crashkernel=auto resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet "\nfi\n',
    'set default_kernelopts="root=/dev/mapper/rl-root ro resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap "\n')

# grubby's grub2.18 shape (RHEL 7.2): ids cloned by grubby, a debug entry without initrd16, the rescue entry
GRUB_CFG_EL7 = """\
### BEGIN /etc/grub.d/00_header ###
if [ -s $prefix/grubenv ]; then
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="${saved_entry}"
fi
### END /etc/grub.d/00_header ###
### BEGIN /etc/grub.d/10_linux ###
menuentry 'Red Hat Enterprise Linux Server (3.10.0-327.el7.x86_64.debug) 7.2 (Maipo)' --class red --class gnu-linux --class gnu --class os --unrestricted $menuentry_id_option 'gnulinux-3.10.0-327.el7.x86_64-advanced-a1b2' {
	load_video
	insmod gzio
	insmod part_msdos
	insmod xfs
	set root='hd0,msdos1'
	linux16 /vmlinuz-3.10.0-327.el7.x86_64.debug root=/dev/mapper/rhel-root ro crashkernel=auto rhgb quiet
}
menuentry 'Red Hat Enterprise Linux Server (3.10.0-327.el7.x86_64) 7.2 (Maipo)' --class red --class gnu-linux --class gnu --class os --unrestricted $menuentry_id_option 'gnulinux-3.10.0-327.el7.x86_64-advanced-a1b2' {
	load_video
	set gfxpayload=keep
	insmod gzio
	insmod part_msdos
	insmod xfs
	set root='hd0,msdos1'
	if [ x$feature_platform_search_hint = xy ]; then
	  search --no-floppy --fs-uuid --set=root --hint-bios=hd0,msdos1 --hint-efi=hd0,msdos1 --hint-baremetal=ahci0,msdos1 --hint='hd0,msdos1'  9b8c
	else
	  search --no-floppy --fs-uuid --set=root 9b8c
	fi
	linux16 /vmlinuz-3.10.0-327.el7.x86_64 root=/dev/mapper/rhel-root ro crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet LANG=en_US.UTF-8
	initrd16 /initramfs-3.10.0-327.el7.x86_64.img
}
menuentry 'Red Hat Enterprise Linux Server (0-rescue-6f2d) 7.2 (Maipo)' --class red --class gnu-linux --class gnu --class os --unrestricted $menuentry_id_option 'gnulinux-0-rescue-6f2d-advanced-a1b2' {
	load_video
	insmod gzio
	linux16 /vmlinuz-0-rescue-6f2d root=/dev/mapper/rhel-root ro crashkernel=auto rhgb quiet
	initrd16 /initramfs-0-rescue-6f2d.img
}
### END /etc/grub.d/10_linux ###
"""

# grubby's grub2.16 shape: a quoted set, tuned_params in linux16, a serial terminal, the title-correction line
GRUB_CFG_TUNED = """\
set foo="bar=1,2"
serial --speed=115200
terminal_input serial console
terminal_output serial console
set default="${saved_entry}"
menuentry 'Linux (4.0.4)' $menuentry_id_option 'gnulinux-simple' {
	linux16 /vmlinuz-4.0.4 root=/dev/sda2 ro $tuned_params
	initrd16 /initramfs-4.0.4.img
}
if [ "x$default" = 'Linux (4.0.4)' ]; then default='Advanced options for Linux>Linux (4.0.4)'; fi;
"""

# the EL9 ESP stub (grub2-common's %posttrans, anaconda)
ESP_STUB = """\
search --no-floppy --fs-uuid --set=dev 4a7c1f3e-9b2d-4e5f-8a6b-0c1d2e3f4a5b
set prefix=($dev)/grub2

export $prefix
configfile $prefix/grub.cfg
"""


def test_el8_grub_cfg_reads_the_script_around_blscfg():
    cfg = parse_grub2_cfg(GRUB_CFG_EL8)
    assert cfg.default == "${saved_entry}" and cfg.next_entry and cfg.load_env
    assert cfg.blscfg_at == 0 and cfg.entries == () and cfg.errors == ()
    assert dict(cfg.fallbacks)["kernelopts"].startswith("root=/dev/mapper/rhel-root ro")
    assert dict(cfg.variables) == {"pager": "1", "tuned_params": "", "tuned_initrd": "", "root": "hd0,msdos1"}
    assert cfg.searches[-1].kind == "fs-uuid" and cfg.searches[-1].value == "4a7c1f3e-9b2d-4e5f-8a6b-0c1d2e3f4a5b"


def test_el9_grub_cfg_has_default_kernelopts():
    cfg = parse_grub2_cfg(GRUB_CFG_EL9)
    assert "kernelopts" not in dict(cfg.fallbacks)
    assert dict(cfg.variables)["default_kernelopts"].startswith("root=/dev/mapper/rl-root")


def test_el7_entries_keep_ids_lines_and_commands():
    cfg = parse_grub2_cfg(GRUB_CFG_EL7)
    debug, normal, rescue = cfg.entries
    assert debug.id == normal.id == "gnulinux-3.10.0-327.el7.x86_64-advanced-a1b2"     # grubby clones ids
    assert debug.initrd is None and debug.linux_command == "linux16"
    assert normal.search.value == "9b8c" and normal.root == "hd0,msdos1" and normal.initrds == (
        "/initramfs-3.10.0-327.el7.x86_64.img",)
    assert rescue.kernel == "/vmlinuz-0-rescue-6f2d"
    assert GRUB_CFG_EL7.split("\n")[normal.span[0] - 1].startswith("menuentry 'Red Hat Enterprise Linux Server (3.10.0-327.el7.x86_64) 7.2")
    assert GRUB_CFG_EL7.split("\n")[normal.span[1] - 1] == "}"


def test_tuned_serial_and_title_correction_lines_parse():
    cfg = parse_grub2_cfg(GRUB_CFG_TUNED)
    assert dict(cfg.variables)["foo"] == "bar=1,2"
    assert [e.kernel_args for e in cfg.entries] == ["root=/dev/sda2 ro $tuned_params"]
    assert cfg.default == "${saved_entry}" and cfg.errors == ()


def test_the_esp_stub_names_the_config_it_loads():
    cfg = parse_grub2_cfg(ESP_STUB)
    assert cfg.configfile == "$prefix/grub.cfg" and cfg.prefix == "($dev)/grub2" and cfg.entries == ()
    assert (cfg.searches[0].sets, cfg.searches[0].value) == ("dev", "4a7c1f3e-9b2d-4e5f-8a6b-0c1d2e3f4a5b")


def test_default_grub_is_read_without_evaluating_it():
    values = default_grub('GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR="$(sed \'s, release .*$,,g\' /etc/system-release)"\n'
                          'GRUB_DEFAULT=saved\nGRUB_CMDLINE_LINUX="crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet"\n'
                          'GRUB_ENABLE_BLSCFG=true\n')
    assert values["GRUB_DEFAULT"] == "saved" and values["GRUB_ENABLE_BLSCFG"] == "true"
    assert values["GRUB_CMDLINE_LINUX"] == "crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet"


# --- the menu GRUB builds, and the entry it boots ------------------------------------------

def el8_files(env: dict[str, str] | None = None, cfg: str = GRUB_CFG_EL8, **entries: str) -> Files:
    files = {"/boot/grub2/grub.cfg": cfg}
    if env is not None:
        files["/boot/grub2/grubenv"] = grubenv(**env)
    files.update({f"/boot/loader/entries/{name}.conf": text for name, text in entries.items()})
    return Files(files)


def menu_of(files: Files):
    return build_menu("/boot/grub2/grub.cfg", parse_grub2_cfg(files.text("/boot/grub2/grub.cfg")), files)


def el8_entry(release: str) -> str:
    return EL8_ENTRY.replace(EL8, release)


def test_saved_entry_names_a_bls_entry_by_its_file_name():
    # petitboot test-grub2-blscfg-default-filename
    menu = menu_of(el8_files({"saved_entry": f"{MID}-{EL8_OLD}", "kernelopts": "root=/dev/mapper/rhel-root ro"},
                             **{f"{MID}-{EL8}": el8_entry(EL8), f"{MID}-{EL8_OLD}": el8_entry(EL8_OLD)}))
    assert [e.id for e in menu.entries] == [f"{MID}-{EL8}", f"{MID}-{EL8_OLD}"]
    assert menu.default == 1 and menu.default_found and menu.default_source == "saved_entry"
    assert menu.entries[1].kernel_args == "root=/dev/mapper/rhel-root ro"
    assert menu.entries[1].initrd == f"/initramfs-{EL8_OLD}.img" and menu.entries[1].machine_id == MID


def test_saved_entry_can_name_a_title_or_a_number():
    # petitboot test-grub2-blscfg-default-title; insights-core issue 1650's saved_entry=0
    entries = {f"{MID}-{EL8}": el8_entry(EL8), f"{MID}-{EL8_OLD}": el8_entry(EL8_OLD)}
    title = f"Red Hat Enterprise Linux ({EL8_OLD}) 8.9 (Ootpa)"
    assert menu_of(el8_files({"saved_entry": title}, **entries)).default == 1
    assert menu_of(el8_files({"saved_entry": "1"}, **entries)).default == 1


def test_a_stale_saved_entry_boots_entry_0():
    menu = menu_of(el8_files({"saved_entry": f"{MID}-4.18.0-999.el8.x86_64"}, **{f"{MID}-{EL8_OLD}": el8_entry(EL8_OLD)}))
    assert menu.default == 0 and not menu.default_found
    assert menu.default_request == f"{MID}-4.18.0-999.el8.x86_64"


def test_next_entry_wins_once():
    entries = {f"{MID}-{EL8}": el8_entry(EL8), f"{MID}-{EL8_OLD}": el8_entry(EL8_OLD)}
    menu = menu_of(el8_files({"saved_entry": f"{MID}-{EL8}", "next_entry": f"{MID}-{EL8_OLD}"}, **entries))
    assert menu.default == 1 and menu.default_source == "next_entry"


def test_kernelopts_come_from_grubenv_else_from_grub_cfgs_fallback():
    entries = {f"{MID}-{EL8}": el8_entry(EL8)}
    assert menu_of(el8_files({"kernelopts": "root=UUID=abcd ro"}, **entries)).entries[0].kernel_args == "root=UUID=abcd ro"
    fallback = menu_of(el8_files({}, **entries)).entries[0]
    assert fallback.kernel_args.startswith("root=/dev/mapper/rhel-root ro crashkernel=auto") and fallback.unset == ()


def test_kernelopts_lost_everywhere_leaves_no_root():
    cfg = GRUB_CFG_EL8.replace('if [ -z "${kernelopts}" ]; then', "if false; then").replace("set kernelopts=", "set other=")
    entry = menu_of(el8_files({}, cfg=cfg, **{f"{MID}-{EL8}": el8_entry(EL8)})).entries[0]
    assert entry.kernel_args == "" and entry.unset == ("kernelopts",)


def test_bls_entries_come_after_static_ones():
    # petitboot test-grub2-blscfg-default-index: two static entries, then blscfg; set default=2
    cfg = ("menuentry 'static one' { linux /vmlinuz-a root=/dev/sda2 }\n"
           "menuentry 'static two' { linux /vmlinuz-b root=/dev/sda2 }\n"
           "set default=2\ninsmod blscfg\nblscfg\n")
    menu = menu_of(el8_files(None, cfg=cfg, **{f"{MID}-{EL8}": el8_entry(EL8), f"{MID}-{EL8_OLD}": el8_entry(EL8_OLD)}))
    assert [e.title for e in menu.entries][:2] == ["static one", "static two"]
    assert menu.default == 2 and menu.entries[2].id == f"{MID}-{EL8}"


def test_a_missing_grubenv_is_reported():
    menu = menu_of(el8_files(None, **{f"{MID}-{EL8}": el8_entry(EL8)}))
    assert menu.env is not None and "missing" in menu.env.problem and menu.default == 0


def test_el7_saved_entry_title_picks_its_entry_and_submenu_paths_count():
    files = Files({"/boot/grub2/grub.cfg": GRUB_CFG_EL7,
                   "/boot/grub2/grubenv": grubenv(saved_entry="Red Hat Enterprise Linux Server (3.10.0-327.el7.x86_64) 7.2 (Maipo)")})
    menu = menu_of(files)
    assert menu.default == 1 and menu.default_found
    cfg = "set default='1>0'\nmenuentry 'a' { linux /va }\nsubmenu 's' {\n menuentry 'b' { linux /vb }\n}\n"
    assert menu_of(Files({"/boot/grub2/grub.cfg": cfg})).entries[1].title == "b"
    assert menu_of(Files({"/boot/grub2/grub.cfg": cfg})).default == 1


def test_machine_id_of_an_entry_whose_release_has_dashes():
    from rescue.bootloader.bls import entry_machine_id
    # kernel-install names the file <machine-id>-<version>; a Debian-style release carries dashes.
    assert entry_machine_id(f"{MID}-6.1.0-57-amd64", "6.1.0-57-amd64") == MID
    assert entry_machine_id(f"{MID}-0-rescue-{MID}", None) == MID
    assert entry_machine_id(f"{MID}-{EL8}", EL8) == MID
    assert entry_machine_id("custom-4.18.0-1.x86_64", "4.18.0-1.x86_64") == "custom"
