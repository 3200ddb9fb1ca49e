"""rescue.report: the JSON document (checked against docs/report-schema.json) and the rich text."""
from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from rescue.errors import RescueError
from rescue.diagnose.report import FailedImage, clean, render_error, render_text, safe, to_json_document
from rescue.diagnose.rules import diagnose

from test_diagnose_rules import ALL_SCENARIOS, CUR, IMAGE, OLD, PLUS, PLUS_RPM, entry, grub, healthy, kernel, pkg

jsonschema = pytest.importorskip("jsonschema")

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "report-schema.json"
HOSTILE = "\x1b[2J\x1b]0;owned\x07[bold red]pwn[/bold red] :warning: \u202eevil\\"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def valid(validator, document: dict) -> dict:
    # Through a JSON round trip, as a consumer of `--json` sees it.
    document = json.loads(json.dumps(document))
    errors = sorted(validator.iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    return document


@dataclasses.dataclass(frozen=True)
class FakeResult:
    """Shaped like operations.ImageResult, which the CLI passes."""
    path: str
    format: str | None
    diagnosis: object = None
    error: RescueError | None = None


# --- JSON ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ALL_SCENARIOS))
def test_every_scenario_validates(validator, name):
    doc = valid(validator, to_json_document([diagnose(ALL_SCENARIOS[name]())], ["vmdk"]))
    assert doc["schema"] == "vmrescue.report/1"
    (image,) = doc["images"]
    assert image["path"] == IMAGE and image["format"] == "vmdk"


def test_seed_document_contents(validator):
    doc = valid(validator, to_json_document([diagnose(ALL_SCENARIOS["seed_with_old_kernel"]())], ["vmdk"]))
    (image,) = doc["images"]
    assert image["os"] == {"distro": "centos", "version": "5.7", "arch": "x86_64",
                           "root": "/dev/VolGroup00/LogVol00", "product": "CentOS release 5.7 (Final)",
                           "package_format": "rpm"}
    assert image["bootable"] is True and image["default_kernel"] == OLD and image["needs_repair"] is True
    assert image["recommended_kernel"]["uname_r"] == PLUS
    assert image["recommended_kernel"]["package"] == PLUS_RPM
    assert [k["uname_r"] for k in image["kernels"]] == [PLUS, OLD]
    plus, old = image["kernels"]
    assert plus["vmlinuz"] is None and plus["modules_dir"] == f"/lib/modules/{PLUS}"
    assert plus["modules_kernel_tree"] is False
    assert old["rpm"] == f"kernel-{OLD}.x86_64" and old["initrd"] == f"/boot/initrd-{OLD}.img"
    assert {m["name"] for m in image["third_party_modules"]} == {"vmxnet", "vmhgfs", "vmmemctl"}
    assert all(m["vermagic_release"] == PLUS for m in image["third_party_modules"])
    (e,) = image["bootloader"]["entries"]
    assert e == {**e, "index": 0, "kernel": f"/vmlinuz-{OLD}", "kernel_exists": True,
                 "initrd_exists": True, "root_device": "/dev/VolGroup00/LogVol00"}
    assert image["bootloader"]["kind"] == "grub-legacy" and image["bootloader"]["default"] == 0
    assert [(f["code"], f["severity"]) for f in image["findings"]] == [
        ("THIRD_PARTY_MODULES_MISMATCH", "warning"),
        ("KERNEL_ERASED_BY_UPDATE", "warning"),
        ("CENTOSPLUS_WITHOUT_PRIORITIES", "warning"),
    ]


def test_no_os_document(validator):
    doc = valid(validator, to_json_document([diagnose(ALL_SCENARIOS["no_os"]())], ["raw"]))
    (image,) = doc["images"]
    assert image["os"] is None and image["recommended_kernel"] is None and image["bootable"] is False


def test_errors_and_results_in_order(validator):
    err = RescueError("IMAGE_NOT_FOUND", "/images/gone.vmdk: no such file.", "Check the path of the disk image.")
    items = [
        FakeResult("/images/gone.vmdk", None, error=err),
        FakeResult(IMAGE, "vmdk", diagnosis=diagnose(healthy())),
        FailedImage("/images/two.qcow2", "qcow2", RescueError("MULTIPLE_ROOTS", "two operating systems", "")),
    ]
    doc = valid(validator, to_json_document(items))
    gone, ok, two = doc["images"]
    assert gone == {"path": "/images/gone.vmdk", "format": None,
                    "error": {"code": "IMAGE_NOT_FOUND", "message": "/images/gone.vmdk: no such file.",
                              "hint": "Check the path of the disk image."}}
    assert ok["format"] == "vmdk" and ok["bootable"] is True and ok["needs_repair"] is False
    assert two["error"]["code"] == "MULTIPLE_ROOTS" and two["format"] == "qcow2"


def test_schema_rejects_a_broken_document(validator):
    doc = to_json_document([diagnose(healthy())], ["vmdk"])
    doc["images"][0]["findings"].append({"code": "X", "severity": "fatal", "message": "m", "action": "a"})
    assert list(validator.iter_errors(json.loads(json.dumps(doc))))
    del doc["images"][0]["findings"][-1]
    del doc["images"][0]["bootable"]
    assert list(validator.iter_errors(json.loads(json.dumps(doc))))


def test_guest_strings_stay_verbatim_in_json(validator):
    f = dataclasses.replace(healthy(), bootloader=grub(entry(0, CUR, title=HOSTILE), entry(1, OLD)))
    doc = valid(validator, to_json_document([diagnose(f)], ["vmdk"]))
    assert doc["images"][0]["bootloader"]["entries"][0]["title"] == HOSTILE
    assert "\x1b" not in json.dumps(doc)     # json escapes it as \u001b


# --- text -----------------------------------------------------------------------------

def render(d, width: int = 200) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system="truecolor")
    render_text(d, console)
    return out.getvalue()


def plain(d, width: int = 200) -> str:
    out = io.StringIO()
    render_text(d, Console(file=out, width=width, color_system=None))
    return out.getvalue()


def test_text_verdict_table_and_findings():
    text = plain(diagnose(ALL_SCENARIOS["copied_kernel"]()))
    first = text.splitlines()[0]
    assert first.startswith(f"{IMAGE}: BOOTABLE")   # boots, but the wrong kernel: see findings
    assert f"default kernel: {OLD}" in first and f"recommended: {PLUS} ({PLUS_RPM})" in first
    for column in ("release", "vmlinuz", "initrd", "modules", "rpmdb", "grub entry", "third-party modules"):
        assert column in text
    rows = text.split("Kernels (", 1)[1].splitlines()
    row = next(line for line in rows if line.strip().startswith(OLD))
    assert "✓" in row and "✗" in row and "0*" in row
    plus_row = next(line for line in rows if line.strip().startswith(PLUS))
    assert "←" in plus_row and "vmxnet, vmhgfs, vmmemctl" in plus_row and "leftovers only" in plus_row
    assert "MODULES_MISSING" in text and f"→ vmrescue reinstall-kernel {IMAGE} --kernel {PLUS}" in text


def test_text_lists_errors_before_warnings():
    text = plain(diagnose(ALL_SCENARIOS["seed_only_plus"]()))
    assert text.splitlines()[0].startswith(f"{IMAGE}: NOT BOOTABLE")
    assert text.index("ERROR") < text.index("WARNING")


def test_text_healthy_says_no_repair():
    first = plain(diagnose(healthy())).splitlines()[0]
    assert "BOOTABLE" in first and "NOT BOOTABLE" not in first
    assert f"default kernel: {CUR}" in first and "no repair needed" in first


def test_text_no_os():
    text = plain(diagnose(ALL_SCENARIOS["no_os"]()))
    assert "NOT BOOTABLE" in text and "NO_OS" in text and "release" not in text


def test_text_renders_a_renamed_kernel():
    text = plain(diagnose(ALL_SCENARIOS["renamed_kernel"]()))
    assert f"is {PLUS}" in text


def _hostile_guest():
    # The default entry's kernel is missing, so its title is quoted in a finding.
    return dataclasses.replace(healthy(), bootloader=grub(entry(0, CUR, title=HOSTILE, kernel_exists=False)),
                               kernels=(kernel(OLD, rpm=pkg(OLD)),), image="/images/[red]x[/red].vmdk")


def test_hostile_guest_strings_cannot_drive_the_terminal():
    d = diagnose(_hostile_guest())
    assert any(HOSTILE in f.message for f in d.findings)
    out = render(d)
    assert "\x1b[2J" not in out and "\x1b]0;" not in out and "\x07" not in out and "\u202e" not in out
    text = plain(d)
    assert "\\x1b[2J\\x1b]0;owned\\x07[bold red]pwn[/bold red] :warning: \\u202eevil\\" in text
    assert "/images/[red]x[/red].vmdk" in text


def test_clean_and_safe():
    assert clean("a\tb\x00c\x7f\x9b\u200bd") == "a\\x09b\\x00c\\x7f\\x9b\\u200bd"
    assert clean("CentOS (2.6.18-274.el5) é") == "CentOS (2.6.18-274.el5) é"
    assert safe("[bold]x[/bold]") == "\\[bold]x\\[/bold]"


def test_render_error():
    out = io.StringIO()
    err = RescueError("IMAGE_EMPTY", "/images/a.vmdk: is an empty file.", "Copy it again.")
    render_error("/images/a.vmdk", err, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert "ERROR IMAGE_EMPTY" in text and "hint: Copy it again." in text
