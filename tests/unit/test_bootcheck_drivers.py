"""The driver check: the probe boot-check adds to the overlay, and what the console says of each driver."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rescue.bootcheck import drivers, probe
from rescue.bootcheck.console import console_lines
from rescue.bootcheck.drivers import DISK, NIC, THIRD_PARTY, Expected
from rescue.model import ThirdPartyModule

R, R2 = "6.1.0-57-amd64", "6.1.0-56-cloud-amd64"


# --- where the probe goes ---------------------------------------------------------------

def test_systemd_guests_get_a_unit_wanted_by_multi_user():
    plan = probe.plan_probe("/usr/lib/systemd/systemd", {"/etc/rc.d/rc.local": "/etc/rc.d/rc.local"}, True, ["e1000"])
    assert plan.how == "systemd" and plan.rc_local is None
    paths = [path for path, _, _ in plan.creates]
    assert paths == [probe.SCRIPT, probe.UNIT]
    assert plan.links == ((probe.UNIT_WANTS, probe.UNIT),)
    unit = dict((path, text) for path, text, _ in plan.creates)[probe.UNIT]
    assert "Before=getty.target serial-getty@ttyS0.service" in unit and "Type=oneshot" in unit
    assert f"ExecStart=/bin/sh {probe.SCRIPT}" in unit


@pytest.mark.parametrize("init", ["/sbin/init", "/usr/sbin/init", None])   # sysvinit, upstart, a script
def test_other_inits_run_the_probe_from_rc_local(init):
    plan = probe.plan_probe(init, {"/etc/rc.d/rc.local": "/etc/rc.d/rc.local",
                                   "/etc/rc.local": "/etc/rc.d/rc.local"}, True, [])
    assert plan.how == "rc.local" and plan.rc_local == "/etc/rc.d/rc.local" and plan.note is None


def test_a_guest_without_rc_local_gets_one_and_a_note():
    plan = probe.plan_probe("/sbin/init", {}, False, [])
    assert plan.rc_local == "/etc/rc.local" and "may not run it" in plan.note


def test_busybox_init_gets_no_probe():
    plan = probe.plan_probe("/bin/busybox", {}, False, [])
    assert plan.how is None and plan.creates == () and "busybox" in plan.note


def test_the_rc_local_line_goes_before_a_final_exit():
    debian = "#!/bin/sh -e\n#\n# rc.local\n\nexit 0\n"
    assert probe.with_probe_line(debian) == f"#!/bin/sh -e\n#\n# rc.local\n\n{probe.RC_LOCAL_LINE}\nexit 0\n"
    el = "#!/bin/sh\ntouch /var/lock/subsys/local\n"
    assert probe.with_probe_line(el) == f"{el}{probe.RC_LOCAL_LINE}\n"
    assert probe.with_probe_line("") == f"#!/bin/sh\n{probe.RC_LOCAL_LINE}\n"


def test_the_probe_script_runs_and_its_report_is_read(tmp_path):
    # The probe itself, run by this host's sh, with files standing in for /dev/console and
    # /proc/modules (this machine's kernel may have no modules); /sys/class/net is the host's.
    console, modules = tmp_path / "console", tmp_path / "modules"
    modules.write_text("vmxnet 16384 0 - Live 0xffffffffc0375000 (OE)\n"
                       "ata_piix 45056 0 - Live 0xffffffffc035e000\n"
                       "dm_mod 184320 2 - Loading 0xffffffffc0300000\n")
    script = tmp_path / "probe.sh"
    script.write_text(probe.script(["e1000", "ata_piix", "no_such_driver"])
                      .replace("/dev/console", str(console)).replace("/proc/modules", str(modules)))
    subprocess.run(["sh", str(script)], check=True, timeout=30)
    report = drivers.probe_report(console.read_text().splitlines())
    assert report is not None and report.complete
    assert report.release == subprocess.run(["uname", "-r"], capture_output=True, text=True).stdout.strip()
    assert report.modules == {"vmxnet": "Live", "ata_piix": "Live", "dm_mod": "Loading"}
    assert "no_such_driver" not in report.builtin
    links = {p.name for p in Path("/sys/class/net").iterdir()} - {"lo"} if Path("/sys/class/net").is_dir() else set()
    assert {name for name, _, _ in report.links} == links


# --- what the console says --------------------------------------------------------------

REFUSED_BOOT = f"""\
[    0.000000] Linux version {R2} (debian-kernel@lists.debian.org) (gcc-12) #1 SMP PREEMPT_DYNAMIC Debian
[   21.201112] vmxnet: disagrees about version of symbol module_layout
insmod: ERROR: could not insert module /lib/modules/{R}/misc/vmxnet.ko: Invalid module format
{probe.BEGIN} {R2}
{probe.PREFIX} module dm_mod Live
[   21.512000] random: crng init done
{probe.PREFIX} module ata_piix Live
{probe.PREFIX} module libata Live
{probe.END}
"""

LOADED_BOOT = f"""\
[    0.000000] Linux version {R} (debian-kernel@lists.debian.org) (gcc-12) #1 SMP PREEMPT_DYNAMIC Debian
[   20.101112] vmxnet: loading out-of-tree module taints kernel.
[   20.102233] vmxnet: module verification failed: signature and/or required key missing - tainting kernel
{probe.BEGIN} {R}
{probe.PREFIX} module vmxnet3 Live
{probe.PREFIX} module vmxnet Live
{probe.PREFIX} module ata_piix Live
{probe.PREFIX} builtin sd_mod
{probe.PREFIX} link eth0 down vmxnet3
{probe.END}
"""


def expected():
    tools = ThirdPartyModule(f"/lib/modules/{R}/misc/vmxnet.ko", "vmxnet", R, f"/lib/modules/{R}")
    return drivers.expected_drivers((tools,), "ata_piix", "ide", "vmxnet3", "vmxnet3", R)


def test_what_is_expected_and_why():
    exp = expected()
    assert [(e.module, e.role) for e in exp] == [("vmxnet", THIRD_PARTY), ("ata_piix", DISK), ("vmxnet3", NIC)]
    assert exp[0].expected_by == f"third-party module /lib/modules/{R}/misc/vmxnet.ko, built for {R} (diagnose lists it)"
    assert exp[0].built_for == R
    assert exp[2].expected_by == "the driver of the emulated NIC (vmxnet3)"


def test_of_two_copies_the_booted_kernels_is_named():
    old = ThirdPartyModule("/lib/modules/2.6.18-238.el5/misc/vmxnet.ko", "vmxnet", "2.6.18-238.el5",
                           "/lib/modules/2.6.18-238.el5")
    new = ThirdPartyModule(f"/lib/modules/{R}/misc/vmxnet.ko", "vmxnet", R, f"/lib/modules/{R}")
    for order in ((old, new), (new, old)):
        (vmxnet,) = drivers.expected_drivers(order, None, "ide", None, "e1000", R)
        assert vmxnet.built_for == R


def test_a_module_the_booted_kernel_refuses():
    found, report = drivers.judge(expected(), console_lines(REFUSED_BOOT), R2, modules_dir_missing=True)
    vmxnet, ata_piix, vmxnet3 = found
    assert report.release == R2 and report.complete
    assert vmxnet.loaded is False
    assert vmxnet.evidence[:2] == ("[   21.201112] vmxnet: disagrees about version of symbol module_layout",
                                   f"insmod: ERROR: could not insert module /lib/modules/{R}/misc/vmxnet.ko: "
                                   "Invalid module format")
    code, message, hint = vmxnet.error
    assert code == "DRIVER_REFUSED"
    assert message == (f"vmxnet did not load under {R2}: vmxnet: disagrees about version of symbol module_layout; "
                       f"it was built for {R}.")
    assert f"`vmrescue reinstall-kernel` puts {R} back" in hint
    assert ata_piix.loaded is True and ata_piix.error is None
    assert ata_piix.evidence == (f"{probe.PREFIX} module ata_piix Live",)
    assert vmxnet3.loaded is False and vmxnet3.error[0] == "DRIVER_NOT_LOADED"
    assert f"no /lib/modules/{R2}" in vmxnet3.error[1] and "vmrescue reinstall-kernel" in vmxnet3.error[2]


def test_a_module_that_loads():
    found, _ = drivers.judge(expected(), console_lines(LOADED_BOOT), R)
    vmxnet, ata_piix, vmxnet3 = found
    assert [d.loaded for d in found] == [True, True, True]
    assert all(d.error is None for d in found)
    assert vmxnet.evidence == (f"{probe.PREFIX} module vmxnet Live",)
    assert vmxnet.notes[1].endswith("module verification failed: signature and/or required key missing - tainting kernel")
    assert vmxnet3.evidence == (f"{probe.PREFIX} module vmxnet3 Live", f"{probe.PREFIX} link eth0 down vmxnet3")


def test_a_builtin_driver_is_loaded():
    exp = [Expected("sd_mod", "the disk", DISK), Expected("ahci", "the disk", DISK), Expected("e1000", "the NIC", NIC)]
    (sd, ahci, e1000), _ = drivers.judge(exp, console_lines(LOADED_BOOT.replace("eth0 down vmxnet3", "eth0 up e1000")), R)
    assert sd.loaded is True and sd.evidence == (f"{probe.PREFIX} builtin sd_mod",)
    assert ahci.loaded is True and "the root filesystem was mounted from this disk" in ahci.evidence[0]
    assert e1000.loaded is True and e1000.evidence == (f"{probe.PREFIX} link eth0 up e1000",)


def test_without_the_probe_only_refusals_are_known():
    log = REFUSED_BOOT[:REFUSED_BOOT.index(probe.BEGIN)]
    found, report = drivers.judge(expected(), console_lines(log), R2)
    assert report is None
    assert [d.loaded for d in found] == [False, None, None]
    assert [d.error is None for d in found] == [False, True, True]


@pytest.mark.parametrize("line, module", [
    ("vmxnet: version magic '2.6.18-274.3.1.el5.centos.plus SMP mod_unload gcc-4.1' should be "
     "'2.6.18-238.el5 SMP mod_unload gcc-4.1'", "vmxnet"),
    ("FATAL: Error inserting vmhgfs (/lib/modules/2.6.18-238.el5/misc/vmhgfs.ko): Invalid module format", "vmhgfs"),
    ("modprobe: ERROR: could not insert 'vmw_balloon': Invalid module format", "vmw_balloon"),
    ("[    4.110000] vxlan: Unknown symbol udp_tun_rx_dst (err -2)", "vxlan"),
    ("FATAL: Module vmmemctl not found.", "vmmemctl"),
])
def test_refusal_lines(line, module):
    refused, _ = drivers.kernel_lines([line])
    assert list(refused) == [module]
