"""Repairs: a plan value decided read-only (`plan`), then named steps that act (`steps`).

`reinstall` is reinstall-kernel: it finds and verifies the package (`packages`),
plans install, depmod, initrd and boot loader change against the guest mounted
read-only, shows the plan, and
applies it in the same appliance launch.
"""
