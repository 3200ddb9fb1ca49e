"""Rules about what yum did to the kernels, and what its configuration will do next. Pure."""
from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from rescue.diagnose.rules.actions import fix_boot_action
from rescue.diagnose.rules.evidence import erased_kernels, files_gone, recommend_kernel
from rescue.diagnose.rules.facts import is_bootable
from rescue.distro import family_for
from rescue.model import Finding, GuestFacts, Severity

WARNING, INFO = Severity.WARNING, Severity.INFO


def rule_erased(facts: GuestFacts) -> Iterable[Finding]:
    rec = recommend_kernel(facts)
    for erased in erased_kernels(facts):
        if erased.uname_r is None:
            bootable = is_bootable(facts)
            yield Finding(
                "KERNEL_ERASED_BY_UPDATE", INFO if bootable else WARNING,
                f"{erased.log} shows a {erased.name} package erased on {erased.when}, without the version.",
                "None needed while the guest boots." if bootable else fix_boot_action(facts))
            continue
        if not files_gone(facts, erased.uname_r):
            continue
        wanted = rec is not None and rec.uname_r == erased.uname_r
        yield Finding(
            "KERNEL_ERASED_BY_UPDATE", WARNING if wanted else INFO,
            f"{erased.log} shows {erased.logged} erased on {erased.when}, and kernel {erased.uname_r} "
            "is no longer in /boot.",
            fix_boot_action(facts) if wanted
            else "None needed unless you want this kernel back (yum removes kernels past installonly_limit).")


def _kernels_excluded(excludes: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase("kernel", x.strip()) for x in excludes)


def rule_centosplus(facts: GuestFacts) -> Iterable[Finding]:
    yum = facts.yum
    if _kernels_excluded(yum.excludes):
        return
    for repo in yum.repos:
        if not (repo.enabled and "centosplus" in repo.repo_id.lower()):
            continue
        if _kernels_excluded(repo.excludes):
            continue
        if yum.priorities_plugin_enabled and repo.priority is not None:
            continue
        why = ("the priorities plugin is not enabled" if not yum.priorities_plugin_enabled
               else f"[{repo.repo_id}] sets no priority")
        yield Finding(
            "CENTOSPLUS_WITHOUT_PRIORITIES", WARNING,
            f"The {repo.repo_id} repository is enabled in {repo.file} and {why}, "
            "so yum update replaces base packages, the kernel included, with centosplus builds.",
            f"yum install {_priorities_package(facts)}, then set priority=1 on [base] and [updates] and "
            f"priority=2 on [{repo.repo_id}] in {repo.file} (or add exclude=kernel* to [{repo.repo_id}]).")


def _priorities_package(facts: GuestFacts) -> str:
    family = family_for(facts.os)
    return family.priorities_package() if family else "yum-plugin-priorities"
