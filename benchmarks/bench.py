"""vmrescue's performance claims, measured on the fixture images (see docs/performance.md).

  (a) floor      bare appliance launch + shutdown in a fresh Python process (median)
  (b) diagnose   `vmrescue diagnose` on one image (median), and its ratio to the floor
  (c) batch      `vmrescue diagnose` on eight images in one run (one appliance,
                 --jobs 1; and the default --jobs), against `virt-inspector`
                 run on each of the eight
  (d) reinstall  `vmrescue reinstall-kernel` on the seed scenario (an overlay):
                 appliance launches and wall time against the floor
  (e) memory     peak RSS of the vmrescue process, and of the appliance's qemu

Appliance starts are counted by a qemu wrapper (LIBGUESTFS_HV) that notes
every invocation with -kernel (libguestfs's capability probes have none).
Every vmrescue run goes through benchmarks/measure.py, which runs the CLI
in-process and records its own peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import platform

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import fixtures  # noqa: E402
from rescue.diagnose.fleet import available_memory, default_jobs  # noqa: E402

ONE = "el5-seed"
# Eight scenarios, every layout; same-layout guests (one VG name) share the
# launch because diagnose lets LVM see one disk at a time.
EIGHT = ("el5-healthy", "el5-seed", "el5-pae", "el5-xen", "el6-healthy", "el6-seed", "el7-healthy", "el7-seed")
MEASURE = REPO / "benchmarks" / "measure.py"
PYTHON = REPO / ".venv" / "bin" / "python"


class Bench:
    def __init__(self, accel: str, work: Path, verbose: bool):
        self.work = work
        self.verbose = verbose
        self.accel = accel
        self.counter = work / "launches"
        self.env = dict(os.environ)
        self.env["VMRESCUE_ACCEL"] = accel
        self.env.setdefault("LIBGUESTFS_BACKEND", "direct")
        settings = [s for s in self.env.get("LIBGUESTFS_BACKEND_SETTINGS", "").split(":") if s and s != "force_tcg"]
        if accel == "tcg":
            settings.append("force_tcg")     # for virt-inspector; vmrescue sets its own
        self.env["LIBGUESTFS_BACKEND_SETTINGS"] = ":".join(settings)
        self.env["LIBGUESTFS_HV"] = self._wrapper(self.env.get("LIBGUESTFS_HV") or _default_hv())
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"

    def _wrapper(self, real_qemu: str) -> str:
        wrapper = self.work / "qemu-counting"
        wrapper.write_text(f"""#!/bin/sh
case " $* " in *" -kernel "*) echo start >> '{self.counter}';; esac
exec '{real_qemu}' "$@"
""")
        wrapper.chmod(0o755)
        return str(wrapper)

    def _launches(self) -> int:
        return len(self.counter.read_text().splitlines()) if self.counter.exists() else 0

    def run(self, what: str, argv: list[str], *, ok=(0, 1)) -> dict:
        """Run a command, return wall time, exit status, launches, RSS (for measure.py runs), stdout."""
        result = self.work / "result.json"
        result.unlink(missing_ok=True)
        before = self._launches()
        started = time.monotonic()
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True)
        wall = time.monotonic() - started
        if proc.returncode not in ok:
            raise SystemExit(f"benchmark: {what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        out = {"what": what, "seconds": wall, "exit": proc.returncode, "launches": self._launches() - before,
               "stdout": proc.stdout}
        if result.exists():
            out.update({k: v for k, v in json.loads(result.read_text()).items() if k.endswith("_kib")})
        if self.verbose:
            print(f"    {what}: {wall:.1f} s, exit {proc.returncode}, {out['launches']} launch(es)", flush=True)
        return out

    def measured(self, what: str, mode: str, args: list[str], **kw) -> dict:
        return self.run(what, [str(PYTHON), str(MEASURE), str(self.work / "result.json"), mode, *args], **kw)


def _default_hv() -> str:
    try:
        import guestfs  # noqa: PLC0415
        return guestfs.GuestFS(python_return_dict=True).get_hv()
    except Exception:   # noqa: BLE001 - any failure: the usual name
        return shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"


def _median(runs: list[dict]) -> float:
    return statistics.median(r["seconds"] for r in runs)


def _machine(accel: str) -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name, argv in (("libguestfs", ["guestfish", "--version"]), ("qemu", [_default_hv(), "--version"])):
        try:
            versions[name] = subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            versions[name] = "?"
    return {"cpus": os.cpu_count(), "cpu": cpu, "accel": accel, "kernel": platform.release(),
            "python": platform.python_version(), "load_at_start": os.getloadavg(), **versions}


def bench(b: Bench, runs: int, image_format: str, parts: str, virt_inspector: bool,
          save=lambda partial: None) -> dict:
    one = str(fixtures.image(ONE, image_format))
    eight = [str(fixtures.image(name, image_format)) for name in EIGHT]
    rpms = str(fixtures.rpms_dir())
    res: dict = {}

    print(f"(a) floor: bare appliance launch + shutdown, {runs} runs", flush=True)
    res["floor"] = [b.measured("floor", "floor", [one], ok=(0,)) for _ in range(runs)]
    res["floor_median"] = _median(res["floor"])
    save(res)

    if "b" in parts:
        print(f"(b) vmrescue diagnose {ONE}, {runs} runs", flush=True)
        res["diagnose_one"] = [b.measured(f"diagnose {ONE}", "cli", ["diagnose", "--json", one]) for _ in range(runs)]
        save(res)

    if "c" in parts:
        print(f"(c) vmrescue diagnose on {len(EIGHT)} images, one run, --jobs 1", flush=True)
        res["diagnose_eight"] = b.measured("diagnose x8", "cli", ["diagnose", "--json", "--jobs", "1", *eight])
        save(res)
        jobs = default_jobs(len(EIGHT), os.cpu_count(), available_memory())
        if jobs > 1:
            print(f"(c) vmrescue diagnose on {len(EIGHT)} images, one run, default --jobs ({jobs} here)", flush=True)
            res["diagnose_eight_jobs"] = b.measured(f"diagnose x8 --jobs {jobs}", "cli", ["diagnose", "--json", *eight])
            res["diagnose_eight_jobs"]["jobs"] = jobs
            save(res)
        if virt_inspector:
            print(f"(c) virt-inspector on each of the {len(EIGHT)} images", flush=True)
            res["virt_inspector"] = [b.run(f"virt-inspector {Path(p).name}", ["virt-inspector",
                                           f"--format={_qemu_format(image_format)}", "-a", p], ok=(0,))
                                     for p in eight]
            save(res)

    if "d" in parts:
        print(f"(d) vmrescue reinstall-kernel on an overlay of {ONE}", flush=True)
        overlay = fixtures.overlay(ONE, b.work / "reinstall")
        res["reinstall"] = b.measured("reinstall-kernel", "cli", ["reinstall-kernel", "--allow-backing",
                                                                 "--nosignature", "--yes", "--from", rpms,
                                                                 str(overlay)], ok=(0,))
        save(res)
    return res


def _qemu_format(fixture_format: str) -> str:
    return {"vmdk-flat": "vmdk"}.get(fixture_format, fixture_format)


def report(res: dict, virt: list[dict] | None) -> list[str]:
    floor = res["floor_median"]
    lines = [f"(a) floor: appliance launch + shutdown   median {floor:6.1f} s   runs "
             + ", ".join(f"{r['seconds']:.1f}" for r in res["floor"])]
    if "diagnose_one" in res:
        one = _median(res["diagnose_one"])
        lines.append(f"(b) diagnose 1 image                     median {one:6.1f} s   ratio to floor {one / floor:.2f} "
                     f"(goal <= 1.30)   runs " + ", ".join(f"{r['seconds']:.1f}" for r in res["diagnose_one"])
                     + f"   launches {res['diagnose_one'][0]['launches']}")
    if "diagnose_eight" in res:
        eight = res["diagnose_eight"]["seconds"]
        if virt:
            total = sum(r["seconds"] for r in virt)
            lines.append(f"(c) diagnose {len(EIGHT)} images, one run          {eight:6.1f} s   virt-inspector "
                         f"x{len(virt)} {total:.1f} s   ratio {eight / total:.2f} (goal <= 0.25)   launches "
                         f"{res['diagnose_eight']['launches']} vs {sum(r['launches'] for r in virt)}")
        else:
            lines.append(f"(c) diagnose {len(EIGHT)} images, one run          {eight:6.1f} s   (no virt-inspector run)")
        par = res.get("diagnose_eight_jobs")
        if par:
            ratio = f"   ratio {par['seconds'] / sum(r['seconds'] for r in virt):.2f}" if virt else ""
            lines.append(f"(c) the same, --jobs {par['jobs']}                  {par['seconds']:6.1f} s{ratio}   "
                         f"launches {par['launches']}   speed-up over --jobs 1 {eight / par['seconds']:.2f}")
    if "reinstall" in res:
        rein = res["reinstall"]
        lines.append(f"(d) reinstall-kernel on the seed         {rein['seconds']:6.1f} s   ratio to floor "
                     f"{rein['seconds'] / floor:.2f}   appliance launches {rein['launches']}")
    rss = [r for r in (*res.get("diagnose_one", ()), res.get("diagnose_eight"), res.get("diagnose_eight_jobs"),
                       res.get("reinstall"))
           if r and "maxrss_kib" in r]
    if rss:
        lines.append("(e) peak RSS of vmrescue (python)        "
                     + ", ".join(f"{r['what']} {r['maxrss_kib'] / 1024:.0f} MiB" for r in rss)
                     + f"; appliance qemu up to {max(r.get('children_maxrss_kib', 0) for r in rss) / 1024:.0f} MiB")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of (a) and (b), whose medians count (>= 3)")
    parser.add_argument("--accel", choices=("tcg", "kvm", "auto"), default=os.environ.get("VMRESCUE_ACCEL", "tcg"))
    parser.add_argument("--format", default="qcow2", help="fixture image format (qcow2, raw, vmdk ...)")
    parser.add_argument("--only", default="bcd", help="parts to run besides the floor (a): any of b, c, d")
    parser.add_argument("--no-virt-inspector", action="store_true", help="skip the virt-inspector comparison")
    parser.add_argument("--json", metavar="FILE", help="write every measurement to FILE")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every run")
    args = parser.parse_args()
    if not PYTHON.exists():
        raise SystemExit("benchmark: run ./scripts/setup first (no .venv)")

    started = time.monotonic()
    machine = _machine(args.accel)
    print(f"machine: {machine['cpus']} CPUs ({machine['cpu']}), accel {args.accel}, load {machine['load_at_start']}, "
          f"{machine['libguestfs']}, {machine['qemu']}", flush=True)
    results: dict = {}

    def save(partial: dict | None = None) -> None:
        if partial:
            results.update(partial)
        if args.json:
            Path(args.json).write_text(json.dumps({"machine": machine, "results": results}, indent=1, default=str))

    with tempfile.TemporaryDirectory(prefix="vmrescue-bench-") as tmp:
        b = Bench(args.accel, Path(tmp), args.verbose)
        bench(b, max(args.runs, 1), args.format, args.only, not args.no_virt_inspector, save=save)
    machine["load_at_end"] = os.getloadavg()
    print()
    print("\n".join(report(results, results.get("virt_inspector"))))
    print(f"load average at end {machine['load_at_end']}; benchmark took {time.monotonic() - started:.0f} s")
    save()


if __name__ == "__main__":
    main()
