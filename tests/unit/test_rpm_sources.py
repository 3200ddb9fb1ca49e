"""Tests for rescue.rpmsources: scanning files and directories for the kernel
RPM by its header, and yum repositories built by hand (repomd.xml and
primary.xml written here), read from a directory and over HTTP on
127.0.0.1."""
from __future__ import annotations

import bz2
import dataclasses
import gzip
import hashlib
import http.server
import lzma
import os
import shutil
import sys
import threading
import time
from functools import partial
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_rpm_header import OTHER, TARGET, needs_rpmbuild, rpm_query, shared_rpms  # noqa: E402

from rescue.errors import Exit, RescueError  # noqa: E402
from rescue.rpm.header import read_rpm_header  # noqa: E402
from rescue.rpm.sources import FoundRpm, scan_paths, select
from rescue.rpm.repodata import RepoPackage, find_in_repo, repo_candidates, repo_select

pytestmark = needs_rpmbuild


@pytest.fixture(scope="session")
def built_rpms(tmp_path_factory):
    return shared_rpms(tmp_path_factory)


# --- scanning files and directories --------------------------------------------------

@pytest.fixture
def tree(built_rpms, tmp_path):
    """A directory whose file names lie, with junk and links beside the packages."""
    d = tmp_path / "rpms"
    outside = tmp_path / "outside"
    (d / "a").mkdir(parents=True)
    (d / "b" / "c").mkdir(parents=True)
    outside.mkdir()
    # The i686 package under the x86_64 package's file name.
    shutil.copy(built_rpms["i686"], d / "a" / f"kernel-{TARGET}.x86_64.rpm")
    shutil.copy(built_rpms["good"], d / "b" / "c" / "renamed.rpm")
    shutil.copy(built_rpms["other_version"], d / "b" / "OLD.RPM")
    shutil.copy(built_rpms["devel"], d / "b" / "kernel-devel.rpm")
    (d / "garbage.rpm").write_bytes(b"this is not an rpm\n" * 10)
    (d / "empty.rpm").write_bytes(b"")
    (d / "readme.txt").write_text("not looked at")
    (d / "link-inside.rpm").symlink_to(d / "b" / "c" / "renamed.rpm")
    shutil.copy(built_rpms["noarch"], outside / "outside.rpm")
    (d / "link-outside.rpm").symlink_to(outside / "outside.rpm")
    (d / "dirlink").symlink_to(outside)
    (d / "broken.rpm").symlink_to(tmp_path / "nowhere.rpm")
    os.mkfifo(d / "fifo.rpm")
    return d, outside


def test_scan_reads_headers_not_names(tree):
    d, outside = tree
    notes: list[str] = []
    found = scan_paths([], [d], notes)
    by_path = {f.path.relative_to(d).as_posix(): f.header.nvra for f in found}
    assert by_path == {
        f"a/kernel-{TARGET}.x86_64.rpm": f"kernel-{TARGET}.i686",
        "b/OLD.RPM": f"kernel-{OTHER}.x86_64",
        "b/c/renamed.rpm": f"kernel-{TARGET}.x86_64",
        "b/kernel-devel.rpm": f"kernel-devel-{TARGET}.x86_64",
    }
    text = "\n".join(notes)
    assert f"{d}/garbage.rpm: not a valid RPM package (not an RPM file" in text
    assert f"{d}/empty.rpm: not a valid RPM package (the file is truncated" in text
    assert f"{d}/fifo.rpm: not a regular file, skipped" in text
    assert f"{d}/broken.rpm: a broken symbolic link, skipped" in text
    assert f"{d}/link-outside.rpm: a symbolic link out of {d} (to {outside}/outside.rpm), " \
           f"not followed" in text
    assert "readme" not in text and "dirlink" not in text
    assert len(notes) == 5


def test_scan_takes_named_files_anywhere_and_lists_each_once(tree):
    d, outside = tree
    notes: list[str] = []
    found = scan_paths([outside / "outside.rpm", d / "b" / "c" / "renamed.rpm", d / "none.rpm"],
                       [d / "b", d / "b" / "c", d / "missing"], notes)
    assert [f.path for f in found] == [outside / "outside.rpm", d / "b" / "c" / "renamed.rpm",
                                       d / "b" / "OLD.RPM", d / "b" / "kernel-devel.rpm"]
    assert notes == [f"{d}/none.rpm: cannot be read (No such file or directory), skipped",
                     f"{d}/missing: not a directory, skipped"]


def test_scan_is_bounded(tree):
    d, _ = tree
    notes: list[str] = []
    found = scan_paths([], [d], notes, limit=3)
    assert f"stopped after 3 RPM files; the rest of {d} was not read" in notes
    # Three files were read: each either found or skipped with a note.
    read = [n for n in notes if n.startswith(str(d)) and ("not a valid" in n or "regular" in n)]
    assert len(found) + len(read) == 3


def test_select_from_a_scan_explains_every_rejection(tree):
    d, _ = tree
    found = scan_paths([], [d])
    best, rejected = select(found, TARGET, "x86_64")
    assert best is not None and best.path == d / "b" / "c" / "renamed.rpm"
    reasons = {f.path.name: why for f, why in rejected}
    assert set(reasons) == {f"kernel-{TARGET}.x86_64.rpm", "OLD.RPM", "kernel-devel.rpm"}
    assert "is built for i686, but the guest is x86_64" in reasons[f"kernel-{TARGET}.x86_64.rpm"]
    assert f"installs kernel {OTHER}, but the guest needs {TARGET}" in reasons["OLD.RPM"]
    assert "not a kernel image package" in reasons["kernel-devel.rpm"]


@pytest.mark.parametrize("keys,target,arch,best,rejections", [
    (["good", "i686", "other_version", "noarch"], TARGET, "x86_64", "good",
     {"i686": "built for i686", "other_version": "installs kernel", "noarch": "noarch"}),
    (["good", "i686", "noarch"], TARGET, "i386", "i686",
     {"good": "built for x86_64", "noarch": "noarch"}),
    (["good", "good"], TARGET, "x86_64", "good", {"good": "another copy of the same package"}),
    (["i686", "devel", "plain", "source"], TARGET, "x86_64", None,
     {"i686": "built for i686", "devel": "not a kernel image", "plain": "not a kernel image",
      "source": "source package"}),
    ([], TARGET, "x86_64", None, {}),
])
def test_select(built_rpms, keys, target, arch, best, rejections):
    found = [FoundRpm(built_rpms[k], read_rpm_header(built_rpms[k].read_bytes())) for k in keys]
    chosen, rejected = select(found, target, arch)
    assert (chosen.path if chosen else None) == (built_rpms[best] if best else None)
    got = {f.path: why for f, why in rejected}
    assert len(rejected) == len(rejections)
    for key, words in rejections.items():
        assert words in got[built_rpms[key]]


def test_select_prefers_i686_over_i586_on_a_32bit_guest(built_rpms):
    h = read_rpm_header(built_rpms["i686"].read_bytes())
    i586 = FoundRpm(Path("i586.rpm"), dataclasses.replace(h, arch="i586"))
    i686 = FoundRpm(Path("i686.rpm"), h)
    best, rejected = select([i586, i686], TARGET, "i386")
    assert best is i686
    assert rejected == [(i586, "i586.rpm (kernel-2.6.18-274.3.1.el5.centos.plus.i586) also fits, "
                               "but i686.rpm (i686) is preferred on a i386 guest")]


# --- yum repositories built by hand ---------------------------------------------------

def evr_attrs(evr: str) -> str:
    ver, _, rel = evr.rpartition("-") if "-" in evr else (evr, "", "")
    attrs = f'epoch="0" ver={quoteattr(ver)}'
    return attrs + (f" rel={quoteattr(rel)}" if rel else "")


def entry_for(path: Path, href: str, **override) -> dict:
    """What createrepo would write for the package at `path`, from rpm's own answers."""
    name, epoch, ver, rel, arch = rpm_query(
        path, "%{name}|%{epochnum}|%{version}|%{release}|%{arch}").split("|")
    provides = [ln.split("|") for ln in rpm_query(
        path, "[%{providename}|%{provideversion}\n]").splitlines()]
    data = path.read_bytes()
    e = {"name": name, "epoch": epoch, "ver": ver, "rel": rel, "arch": arch, "href": href,
         "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "provides": provides,
         "file": path}
    e.update(override)
    return e


def primary_xml(entries: list[dict], doctype: str = "") -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', doctype,
           '<metadata xmlns="http://linux.duke.edu/metadata/common" '
           'xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="%d">' % len(entries)]
    for e in entries:
        provides = "".join(
            f'<rpm:entry name={quoteattr(n)} flags="EQ" {evr_attrs(v)}/>' if v
            else f"<rpm:entry name={quoteattr(n)}/>" for n, v in e["provides"])
        out.append(f"""<package type="rpm">
  <name>{escape(e["name"])}</name>
  <arch>{e["arch"]}</arch>
  <version epoch="{e["epoch"]}" ver={quoteattr(e["ver"])} rel={quoteattr(e["rel"])}/>
  <checksum type="sha256" pkgid="YES">{e["sha256"]}</checksum>
  <summary>Fake &amp; small</summary>
  <description>A &lt;!DOCTYPE&gt; in text is only text. Name: kernel-uname-r</description>
  <packager/><url/>
  <time file="1" build="1"/>
  <size package="{e["size"]}" installed="1" archive="1"/>
  <location href={quoteattr(e["href"])}/>
  <format>
    <rpm:license>GPL</rpm:license>
    <rpm:provides>{provides}</rpm:provides>
    <rpm:requires><rpm:entry name="kernel-uname-r" flags="EQ" epoch="0" ver="9.9" rel="decoy"/></rpm:requires>
    <file>/etc/kernel.conf</file>
  </format>
</package>""")
    out.append("</metadata>\n")
    return "\n".join(out).encode()


COMPRESS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress, "xml": lambda b: b,
            "zst": lambda b: b"(\xb5/\xfd" + b}


def make_repo(root: Path, entries: list[dict], compression: str = "gz", *,
              repomd_doctype: str = "", primary_doctype: str = "",
              primary_checksum: str | None = None, with_primary: bool = True) -> Path:
    """Write Packages/ (copies of each entry's file) and repodata/ by hand."""
    (root / "repodata").mkdir(parents=True)
    for e in entries:
        if e.get("file") and not e.get("no_copy"):
            dest = root / e["href"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(e["file"], dest)
    raw = COMPRESS[compression](primary_xml(entries, primary_doctype))
    digest = hashlib.sha256(raw).hexdigest()
    suffix = "xml" if compression == "xml" else f"xml.{compression}"
    name = f"repodata/{digest}-primary.{suffix}"
    (root / name).write_bytes(raw)
    primary = f"""  <data type="primary">
    <checksum type="sha256">{primary_checksum or digest}</checksum>
    <open-checksum type="sha256">{'0' * 64}</open-checksum>
    <location href="{name}"/>
    <timestamp>1</timestamp><size>{len(raw)}</size>
  </data>""" if with_primary else ""
    (root / "repodata" / "repomd.xml").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
{repomd_doctype}
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1</revision>
  <data type="primary_db">
    <checksum type="sha256">{'1' * 64}</checksum>
    <location href="repodata/{'1' * 64}-primary.sqlite.bz2"/>
  </data>
{primary}
</repomd>
""")
    return root


@pytest.fixture(scope="session")
def standard_entries(built_rpms) -> list[dict]:
    return [entry_for(built_rpms[k], f"Packages/{built_rpms[k].name}")
            for k in ("other_version", "i686", "good", "noarch", "devel", "plain")]


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/redirect-to-file/"):
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        super().do_GET()


@pytest.fixture(scope="module")
def www(tmp_path_factory):
    """An HTTP server on 127.0.0.1 serving a temporary directory."""
    root = tmp_path_factory.mktemp("www")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz", "xml"])
def test_repo_candidates_lists_kernel_packages(tmp_path, standard_entries, compression):
    repo = make_repo(tmp_path / "repo", standard_entries, compression)
    got = repo_candidates(str(repo))
    # kernel-devel and hello are not kernel image packages and provide no kernel-uname-r.
    assert [(p.nvra, p.uname_r, p.href) for p in got] == [
        (f"kernel-{OTHER}.x86_64", OTHER, f"Packages/kernel-{OTHER}.x86_64.rpm"),
        (f"kernel-{TARGET}.i686", TARGET, f"Packages/kernel-{TARGET}.i686.rpm"),
        (f"kernel-{TARGET}.x86_64", TARGET, f"Packages/kernel-{TARGET}.x86_64.rpm"),
        (f"kernel-{TARGET}.noarch", TARGET, f"Packages/kernel-{TARGET}.noarch.rpm"),
    ]
    good = got[2]
    assert good.checksum_type == "sha256" and good.checksum == standard_entries[2]["sha256"]
    assert good.size == standard_entries[2]["size"] and good.epoch == 0
    assert f"kernel-uname-r = {TARGET}" in good.provides


@pytest.mark.parametrize("guest,target,expected", [
    ("x86_64", TARGET, f"kernel-{TARGET}.x86_64"),
    ("i386", TARGET, f"kernel-{TARGET}.i686"),
    ("x86_64", OTHER, f"kernel-{OTHER}.x86_64"),
    ("x86_64", "2.6.18-999.el5", None),
])
def test_find_in_local_repo(tmp_path, standard_entries, guest, target, expected):
    repo = make_repo(tmp_path / "repo", standard_entries)
    dest = tmp_path / "dest"
    dest.mkdir()
    found, passed = find_in_repo(str(repo), target, guest, dest)
    if expected is None:
        assert found is None
        assert len(passed) == 4
        assert all(f"but the guest needs {target}" in why for _, why in passed)
        return
    assert found.header.nvra == expected
    # A local repository's package is used where it lies: nothing is copied.
    assert found.path == (repo / "Packages" / f"{expected}.rpm").resolve()
    assert list(dest.iterdir()) == []
    reasons = dict(passed)
    assert len(passed) == 3 and expected not in reasons
    assert "noarch" in reasons[f"kernel-{TARGET}.noarch"]


def test_find_in_repo_over_http(www, standard_entries, tmp_path):
    root, url = www
    make_repo(root / "centos" / "5" / "os", standard_entries)
    dest = tmp_path / "dest"
    dest.mkdir()
    for location in (f"{url}/centos/5/os", f"{url}/centos/5/os/"):
        found, passed = find_in_repo(location, TARGET, "x86_64", dest)
        assert found.header.nvra == f"kernel-{TARGET}.x86_64"
        assert found.path.parent == dest and found.path.suffix == ".rpm"
        assert found.path.read_bytes() == standard_entries[2]["file"].read_bytes()
        assert [n for n, _ in passed] == [f"kernel-{OTHER}.x86_64", f"kernel-{TARGET}.i686",
                                          f"kernel-{TARGET}.noarch"]
    # Only the chosen package was downloaded, once per call.
    assert len(list(dest.iterdir())) == 2


def test_file_url_is_a_local_repo(tmp_path, standard_entries):
    repo = make_repo(tmp_path / "repo", standard_entries)
    assert len(repo_candidates(f"file://{repo}")) == 4


LAUGHS = """<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>"""
EXTERNAL = '<!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize("kind,where", [
    ("laughs", "repomd"), ("laughs", "primary"), ("external", "repomd"), ("external", "primary"),
])
def test_doctype_is_refused(tmp_path, standard_entries, kind, where):
    doctype = LAUGHS if kind == "laughs" else EXTERNAL
    repo = make_repo(tmp_path / "repo", standard_entries,
                     repomd_doctype=doctype if where == "repomd" else "",
                     primary_doctype=doctype if where == "primary" else "")
    start = time.monotonic()
    with pytest.raises(RescueError) as err:
        repo_candidates(str(repo))
    assert time.monotonic() - start < 2
    assert err.value.code == "REPO_BAD_METADATA" and err.value.exit_status == Exit.REFUSED
    assert "it has a DOCTYPE" in err.value.message
    assert ("repomd.xml" in err.value.message) == (where == "repomd")


@pytest.mark.parametrize("case,code,exit_status,words", [
    ("primary_checksum", "REPO_BAD_METADATA", Exit.REFUSED, "repomd.xml records " + "f" * 64),
    ("no_primary", "REPO_BAD_METADATA", Exit.REFUSED, "names no primary metadata"),
    ("zst", "REPO_BAD_METADATA", Exit.REFUSED, "not gzip, bzip2 or xz"),
    ("not_xml", "REPO_BAD_METADATA", Exit.REFUSED, "not well-formed XML"),
    ("no_repodata", "REPO_UNREADABLE", Exit.USAGE, "repomd.xml"),
    ("not_a_dir", "REPO_NOT_FOUND", Exit.USAGE, "is not a directory"),
    ("ftp", "REPO_BAD_LOCATION", Exit.USAGE, "ftp: is not supported"),
])
def test_unusable_repositories(tmp_path, standard_entries, case, code, exit_status, words):
    repo = tmp_path / "repo"
    location = str(repo)
    if case == "primary_checksum":
        make_repo(repo, standard_entries, primary_checksum="f" * 64)
    elif case == "no_primary":
        make_repo(repo, standard_entries, with_primary=False)
    elif case == "zst":
        make_repo(repo, standard_entries, compression="zst")
    elif case == "not_xml":
        make_repo(repo, standard_entries)
        (repo / "repodata" / "repomd.xml").write_text("<repomd><data type='primary'>")
    elif case == "no_repodata":
        repo.mkdir()
    elif case == "ftp":
        location = "ftp://127.0.0.1/repo"
    with pytest.raises(RescueError) as err:
        repo_candidates(location)
    assert err.value.code == code and err.value.exit_status == exit_status
    assert words in err.value.message


@pytest.mark.parametrize("href", ["../../../../../../etc/passwd", "/etc/passwd",
                                  "Packages/../../outside.rpm", "http://127.0.0.1:9/x.rpm"])
@pytest.mark.parametrize("over_http", [False, True])
def test_locations_outside_the_repo_are_refused(www, tmp_path, built_rpms, href, over_http):
    root, url = www
    base = (root if over_http else tmp_path) / f"escape-{abs(hash((href, over_http)))}"
    e = entry_for(built_rpms["good"], href, no_copy=True)
    make_repo(base, [e])
    location = f"{url}/{base.name}" if over_http else str(base)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(RescueError) as err:
        find_in_repo(location, TARGET, "x86_64", dest)
    assert err.value.code == "REPO_BAD_METADATA"
    assert "outside it" in err.value.message
    assert list(dest.iterdir()) == []


def test_symlink_out_of_a_local_repo_is_refused(tmp_path, built_rpms):
    e = entry_for(built_rpms["good"], "Packages/k.rpm", no_copy=True)
    repo = make_repo(tmp_path / "repo", [e])
    (repo / "Packages").mkdir()
    (repo / "Packages" / "k.rpm").symlink_to(built_rpms["good"])
    with pytest.raises(RescueError, match="leads out of it") as err:
        find_in_repo(str(repo), TARGET, "x86_64", tmp_path)
    assert err.value.code == "REPO_BAD_METADATA"


@pytest.mark.parametrize("over_http", [False, True])
def test_package_checksum_mismatch(www, tmp_path, built_rpms, over_http):
    root, url = www
    base = (root if over_http else tmp_path) / f"badsum-{over_http}"
    make_repo(base, [entry_for(built_rpms["good"], "Packages/k.rpm", sha256="e" * 64)])
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(RescueError) as err:
        find_in_repo(f"{url}/{base.name}" if over_http else str(base), TARGET, "x86_64", dest)
    assert err.value.code == "REPO_CHECKSUM_MISMATCH" and err.value.exit_status == Exit.REFUSED
    assert "records " + "e" * 64 in err.value.message
    assert list(dest.iterdir()) == []           # the bad download is removed


def test_download_is_capped_at_the_recorded_size(www, tmp_path, built_rpms):
    root, url = www
    make_repo(root / "small", [entry_for(built_rpms["good"], "Packages/k.rpm", size=1000)])
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(RescueError) as err:
        find_in_repo(f"{url}/small", TARGET, "x86_64", dest)
    assert err.value.code == "REPO_TOO_LARGE" and "larger than 1000 bytes" in err.value.message
    assert list(dest.iterdir()) == []


def test_metadata_that_lies_about_the_package(www, tmp_path, built_rpms):
    # The repository calls the i686 file an x86_64 kernel (checksum and all):
    # the downloaded header is what decides.
    root, url = www
    lie = entry_for(built_rpms["i686"], "Packages/k.rpm", arch="x86_64")
    make_repo(root / "liar", [lie])
    dest = tmp_path / "dest"
    dest.mkdir()
    found, passed = find_in_repo(f"{url}/liar", TARGET, "x86_64", dest)
    assert found is None
    (name, why), = passed
    assert name == f"kernel-{TARGET}.x86_64"
    assert why.startswith("the repository metadata lists it for the guest, but its own header "
                          "disagrees:")
    assert "is built for i686, but the guest is x86_64" in why


@pytest.mark.parametrize("case,code,exit_status", [
    ("missing", "REPO_UNREACHABLE", Exit.ENVIRONMENT),
    ("redirect", "REPO_UNREACHABLE", Exit.ENVIRONMENT),
    ("closed_port", "REPO_UNREACHABLE", Exit.ENVIRONMENT),
])
def test_unreachable_urls(www, case, code, exit_status):
    _root, url = www
    location = {"missing": f"{url}/no/such/repo", "redirect": f"{url}/redirect-to-file/x",
                "closed_port": "http://127.0.0.1:9/repo"}[case]
    with pytest.raises(RescueError) as err:
        repo_candidates(location, timeout=5)
    assert err.value.code == code and err.value.exit_status == exit_status
    assert "repodata/repomd.xml" in err.value.message
    if case == "redirect":
        # urllib itself refuses file: redirects; rpmsources also refuses ftp: ones.
        assert "file:///etc/passwd" in err.value.message and "not allowed" in err.value.message


def pkg(name, version, release, arch, uname_r=None):
    return RepoPackage(name, 0, version, release, arch, f"P/{name}.rpm", uname_r)


@pytest.mark.parametrize("packages,target,arch,best,why", [
    # EL5 names: the flavour is glued to the release, found without any provide
    ([pkg("kernel-PAE", "2.6.18", "274.el5", "i686"), pkg("kernel", "2.6.18", "274.el5", "i686")],
     "2.6.18-274.el5PAE", "i386", 0, ["installs kernel 2.6.18-274.el5, but the guest needs"]),
    ([pkg("kernel-xen", "2.6.18", "274.el5", "x86_64"), pkg("kernel", "2.6.18", "274.el5", "x86_64")],
     "2.6.18-274.el5", "x86_64", 1, ["installs kernel 2.6.18-274.el5xen"]),
    # EL6: the arch is part of the release
    ([pkg("kernel", "2.6.32", "754.el6", "i686"), pkg("kernel", "2.6.32", "754.el6", "x86_64")],
     "2.6.32-754.el6.x86_64", "x86_64", 1, ["installs kernel 2.6.32-754.el6.i686"]),
    # the provide wins over the name
    ([pkg("kernel-plus", "3.10.0", "1160.el7.centos.plus", "x86_64",
          uname_r="3.10.0-1160.el7.centos.plus.x86_64")],
     "3.10.0-1160.el7.centos.plus.x86_64", "x86_64", 0, []),
    # a package that provides kernel-uname-r but is no kernel image
    ([pkg("kernel-devel", "3.10.0", "1160.el7", "x86_64", uname_r="3.10.0-1160.el7.x86_64")],
     "3.10.0-1160.el7.x86_64", "x86_64", None, ["is not a kernel image package"]),
    ([pkg("kernel", "2.6.18", "274.el5", "i586"), pkg("kernel", "2.6.18", "274.el5", "i686")],
     "2.6.18-274.el5", "i386", 1, ["also fits, but kernel-2.6.18-274.el5.i686 is preferred"]),
])
def test_repo_select(packages, target, arch, best, why):
    chosen, rejected = repo_select(packages, target, arch)
    assert chosen is (packages[best] if best is not None else None)
    assert len(rejected) == len(why)
    for (_p, reason), words in zip(rejected, why):
        assert words in reason
