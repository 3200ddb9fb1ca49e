"""A built wheel, installed into a fresh venv outside the checkout, repairs a fixture guest (dry run, then for real).

The venv is made from /usr/bin/python3 with --system-site-packages (the guestfs
binding comes from the distribution); typer, jinja2 and rich come from PyPI as
the wheel's own dependencies. Nothing of the checkout is on the path: the
command runs in an empty directory, and the package it imports is the venv's.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fixtures

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PLUS = "2.6.18-274.3.1.el5.centos.plus"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    wheel = next((work / "dist").glob("vmrescue-*.whl"))
    venv = work / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=600)
    return venv


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(installed / "bin" / "python"), "-c",
                            "import rescue.bootloader.templates as t; print(t.__file__); print(t.TEMPLATES_DIR)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(installed) for p in where), where
    assert (Path(where[1]) / "grub.conf.j2").is_file()


def test_the_wheel_repairs_a_fixture_guest_on_a_dry_run(installed, tmp_path):
    image = fixtures.overlay("el5-seed", tmp_path)
    before = fixtures.file_sha256(image)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "COLUMNS": "200"}
    proc = subprocess.run([str(installed / "bin" / "vmrescue"), "--accel", "tcg", "reinstall-kernel", "--dry-run",
                           "--nosignature", "--allow-backing", "--from", str(fixtures.rpms_dir()), str(image)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"+title CentOS ({PLUS})" in proc.stdout          # grub.conf rendered from the shipped template
    assert f"Would be: {image}: BOOTABLE · default kernel: {PLUS}" in proc.stdout
    assert fixtures.file_sha256(image) == before


def test_the_wheel_repairs_a_fixture_guest(installed, tmp_path):
    image = fixtures.overlay("el5-seed", tmp_path)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "COLUMNS": "200"}
    proc = subprocess.run([str(installed / "bin" / "vmrescue"), "--accel", "tcg", "reinstall-kernel", "--yes",
                           "--nosignature", "--allow-backing", "--from", str(fixtures.rpms_dir()), str(image)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Repaired: {image} → kernel {PLUS}" in proc.stdout
    assert f"Now: {image}: BOOTABLE · default kernel: {PLUS}" in proc.stdout
