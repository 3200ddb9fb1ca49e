"""Which kernel the guest should boot, from the evidence its own records leave. Pure.

The newest release the evidence points at (third-party modules built for it,
an RPM database entry whose files are gone, yum.log's erasures) unless a newer
complete kernel supersedes it; else what boots; else the newest complete kernel.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rescue.diagnose.rules.facts import default_kernel, is_bootable, is_complete, kernel_named
from rescue.distro import family_for, redhat_naming
from rescue.distro.yum import ERASE_ACTIONS, kernel_events, package_from_log, package_name_from_log
from rescue.kernel.inventory import newest_first
from rescue.model import Diagnosis, GuestFacts, RecommendedKernel, RpmPackage, ThirdPartyModule
from rescue.rpm.vercmp import compare_uname_r


@dataclass(frozen=True)
class ErasedKernel:
    when: str
    logged: str              # the package as the log wrote it
    name: str
    uname_r: str | None      # None when yum logged only the package name
    log: str = "yum.log"     # which log: yum.log or dnf.rpm.log


def erased_kernels(facts: GuestFacts) -> list[ErasedKernel]:
    """Kernel packages yum.log (or dnf.rpm.log) records as erased, oldest first."""
    family = family_for(facts.os)
    if family is None:
        return []
    found = []
    for ev in kernel_events(facts.yum_events):
        name = package_name_from_log(ev.package)
        if ev.action not in ERASE_ACTIONS or not family.is_kernel_package(name):
            continue
        parsed = package_from_log(ev.package)
        # yum 3.2 on EL5 may log an erasure by name only ("Erased: kernel").
        uname_r = family.uname_r_for(RpmPackage(*parsed)) if parsed else None
        same = next((i for i, e in enumerate(found) if uname_r and e.uname_r == uname_r), None)
        if same is None:
            found.append(ErasedKernel(ev.when, ev.package, name, uname_r, ev.log))
        elif name.endswith("-core"):
            # EL8+ erase kernel, kernel-core and kernel-modules together: one kernel, named by its image.
            found[same] = ErasedKernel(ev.when, ev.package, name, uname_r, ev.log)
    return found


def files_gone(facts: GuestFacts, release: str) -> bool:
    k = kernel_named(facts, release)
    return k is None or k.vmlinuz is None


def newest_complete(facts: GuestFacts) -> str | None:
    complete = [k.uname_r for k in facts.kernels if is_complete(facts, k)]
    ordered = newest_first(complete)
    return ordered[0] if ordered else None


def not_superseded(facts: GuestFacts, release: str) -> bool:
    """No complete kernel newer than `release` is left in the guest.

    Evidence for an older kernel is routine, not a loss: yum erases kernels past
    installonly_limit, and VMware Tools leave their misc/ modules behind in each
    erased kernel's /lib/modules. Only evidence at or above the newest complete
    kernel says which kernel the guest is missing.
    """
    best = newest_complete(facts)
    return best is None or compare_uname_r(release, best) >= 0


def module_names(modules: Iterable[ThirdPartyModule]) -> list[str]:
    return list(dict.fromkeys(m.name for m in modules))


def observed_release(facts: GuestFacts, computed: str, version: str, release: str) -> str:
    """The release a package really has, when the guest shows it under another name.

    A package's uname -r is computed from its name and EVR by the distro's rule;
    rebuilt or third-party kernels (6.1.0-56-amd64 packaged as kernel-6.1.0-56)
    break that rule. When exactly one release seen in the guest (module vermagic,
    /boot, /lib/modules) extends VERSION-RELEASE, that is the one.
    """
    seen = {m.vermagic_release for m in facts.third_party_modules if m.vermagic_release}
    seen |= {k.uname_r for k in facts.kernels if k.vmlinuz or k.modules}
    if computed in seen:
        return computed
    stem = f"{version}-{release}"
    hits = [r for r in seen if r == stem or r.startswith(stem + "-") or r.startswith(stem + ".")]
    return hits[0] if len(hits) == 1 else computed


def evidence_by_release(facts: GuestFacts) -> dict[str, list[str]]:
    """Every release the guest's own records point at, with the clauses saying why."""
    evidence: dict[str, list[str]] = {}
    for release, mods in third_party_by_vermagic(facts).items():
        evidence.setdefault(release, []).append(f"{', '.join(module_names(mods))} were built for it")
    for k in facts.kernels:
        if k.rpm is not None and k.vmlinuz is None:
            evidence.setdefault(k.uname_r, []).append(
                f"the RPM database lists {k.rpm.nvra} but its files are gone")
    for erased in erased_kernels(facts):
        if erased.uname_r is None:
            continue
        parsed = package_from_log(erased.logged)
        release = observed_release(facts, erased.uname_r, parsed[2], parsed[3]) if parsed else erased.uname_r
        if files_gone(facts, release):
            evidence.setdefault(release, []).append(
                f"{erased.log} shows {erased.logged} erased on {erased.when}")
    return {r: why for r, why in evidence.items() if not_superseded(facts, r)}


def third_party_by_vermagic(facts: GuestFacts) -> dict[str, list[ThirdPartyModule]]:
    grouped: dict[str, list[ThirdPartyModule]] = {}
    for m in facts.third_party_modules:
        if m.vermagic_release:
            grouped.setdefault(m.vermagic_release, []).append(m)
    return grouped


def recommend_kernel(facts: GuestFacts) -> RecommendedKernel | None:
    """The newest release the evidence points at; else what boots; else the newest complete one."""
    if facts.os is None:
        return None
    evidence = evidence_by_release(facts)
    if evidence:
        release = newest_first(evidence)[0]
        reason = "; ".join(evidence[release])
    elif is_bootable(facts):
        release, reason = default_kernel(facts), "the default entry boots it and nothing points at another kernel"
    else:
        release = newest_complete(facts)
        reason = "it is the newest kernel whose vmlinuz, initrd and modules are all present"
    if release is None:
        return None
    family = family_for(facts.os)
    if family is None:
        # the schema's "RPM file to look for": the Red Hat name, which a guest of no known family can
        # only be told about (its reinstall_action says vmrescue does not repair it)
        return RecommendedKernel(release, redhat_naming.package_file_for(release, facts.os.arch), reason)
    return RecommendedKernel(release, family.package_file_for(release, facts.os.arch), reason,
                             family.package_files_for(release, facts.os.arch))


def needs_repair(diagnosis: Diagnosis) -> bool:
    """False when the guest boots the recommended kernel by default already."""
    rec = diagnosis.recommended_kernel
    return not (diagnosis.bootable and (rec is None or rec.uname_r == diagnosis.default_kernel))
