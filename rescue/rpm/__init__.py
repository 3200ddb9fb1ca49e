"""RPM: the package format, the installed-package database, and finding a kernel package.

Format readers (no I/O, bounded against hostile input): `structure` (the file
layout and header structures), `header` (`read_rpm_header`), `openpgp`
(signature packets), `digests` (checking a file against its recorded digests),
`payload` (the cpio payload as a safe tar), `vercmp` (rpm's version order).
`database` reads a guest's rpmdb (sqlite or Berkeley DB) without the guest's rpm.
Finding the package: `sources` (files and directories, and the one selection
rule), `repo` and `repodata` (a yum repository, local or http), `verify` (a
candidate fits the guest: kernel, release, arch, digests, signature).
"""
