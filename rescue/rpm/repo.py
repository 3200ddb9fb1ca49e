"""Where a yum repository's files are read from: a local directory or an http(s) URL.

Paths inside a repository come from its own metadata, so each is checked to
stay inside it; redirects go only to http(s). Every read is capped in size and
in time, through one capped-read loop for both kinds of location.
"""
from __future__ import annotations

import posixpath
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

from rescue.errors import Exit, RescueError

__all__ = ["RepoLocation", "TIMEOUT", "MAX_PACKAGE", "capped_blocks"]

TIMEOUT = 60                     # seconds, per network operation
MAX_PACKAGE = 1024 * 1024 * 1024
_CHUNK = 256 * 1024


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s), never to ftp: or file: URLs."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to a {scheme}: URL refused",
                                         headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_RedirectHandler)


class RepoLocation:
    """A repository location: a local directory or an http(s) base URL.
    Paths inside it come from its own metadata, so each is checked to stay
    inside the repository."""

    def __init__(self, repo: str, timeout: float):
        self.text = repo
        self.timeout = timeout
        parts = urllib.parse.urlsplit(repo)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            self.url = repo if repo.endswith("/") else repo + "/"
            self.dir = None
        elif scheme == "file" or not scheme or len(scheme) == 1:   # "C:" is not a scheme here
            local = urllib.parse.unquote(parts.path) if scheme == "file" else repo
            self.url = None
            self.dir = Path(local)
            if not self.dir.is_dir():
                raise RescueError("REPO_NOT_FOUND", f"The repository {repo} is not a directory.",
                                  "Pass --repo a directory holding repodata/, or an http(s) URL.",
                                  Exit.USAGE)
            self.dir = self.dir.resolve()
        else:
            raise RescueError("REPO_BAD_LOCATION",
                              f"The repository {repo} is neither a local directory nor an "
                              f"http(s) URL ({scheme}: is not supported).",
                              "Pass --repo a directory or an http:// or https:// URL.", Exit.USAGE)

    def _relative(self, href: str) -> str:
        rel = posixpath.normpath(href.strip())
        if (not href.strip() or urllib.parse.urlsplit(href).scheme or rel.startswith("/")
                or rel == ".." or rel.startswith("../")):
            raise RescueError("REPO_BAD_METADATA",
                              f"The repository {self.text} names {href!r}, which lies outside it.",
                              "The repository metadata is damaged or hostile; use another mirror.",
                              Exit.REFUSED)
        return rel

    def where(self, href: str) -> str:
        rel = self._relative(href)
        if self.url:
            return urllib.parse.urljoin(self.url, urllib.parse.quote(rel))
        return str(self.dir / rel)

    def local_path(self, href: str) -> Path:
        assert self.dir is not None
        path = (self.dir / self._relative(href)).resolve()
        if not path.is_relative_to(self.dir):
            raise RescueError("REPO_BAD_METADATA",
                              f"The repository {self.text} names {href!r}, which leads out of "
                              f"it (to {path}).",
                              "Use a repository whose files lie inside it.", Exit.REFUSED)
        return path

    def stream(self, href: str, cap: int) -> Iterator[bytes]:
        """The bytes of `href`, in chunks; RescueError past `cap` bytes."""
        what = self.where(href)
        try:
            if self.url:
                with _OPENER.open(urllib.request.Request(what), timeout=self.timeout) as resp:
                    length = resp.headers.get("Content-Length")
                    if length and length.isdigit() and int(length) > cap:
                        self._too_large(what, cap)
                    yield from self._capped(resp, what, cap)
            else:
                path = self.local_path(href)
                if not path.is_file():
                    raise FileNotFoundError(2, "not a regular file", str(path))
                with open(path, "rb") as f:
                    yield from self._capped(f, what, cap)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
            code = "REPO_UNREACHABLE" if self.url else "REPO_UNREADABLE"
            raise RescueError(code, f"Cannot read {what}: {reason}.",
                              "Check the --repo location (and the network, for a URL).",
                              Exit.ENVIRONMENT if self.url else Exit.USAGE) from None

    def _capped(self, stream, what: str, cap: int) -> Iterator[bytes]:
        return capped_blocks(stream, cap, lambda: self._too_large(what, cap))

    def read(self, href: str, cap: int) -> bytes:
        return b"".join(self.stream(href, cap))

    @staticmethod
    def _too_large(what: str, cap: int):
        raise RescueError("REPO_TOO_LARGE", f"{what} is larger than {cap} bytes; refused.",
                          "The repository is damaged or hostile; use another mirror.",
                          Exit.REFUSED)


def capped_blocks(stream, cap: int, too_large: Callable[[], None]) -> Iterator[bytes]:
    """Blocks of `stream`; `too_large()` (which raises) once more than `cap` bytes have come."""
    total = 0
    while True:
        block = stream.read(_CHUNK)
        if not block:
            return
        total += len(block)
        if total > cap:
            too_large()
        yield block
