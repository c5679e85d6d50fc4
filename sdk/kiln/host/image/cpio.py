"""Initramfs packing: a deterministic ``newc`` cpio archive and its compression.

Written in Python so no root (or fakeroot) is needed: every entry is owned by root, has a fixed
timestamp, and device nodes such as ``/dev/console`` are archive entries, not host files.
"""
from __future__ import annotations

import gzip
import lzma
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable

from kiln.errors import KilnError

_TRAILER = "TRAILER!!!"


class PackError(KilnError):
    """The archive could not be written or compressed."""


@dataclass(frozen=True)
class Entry:
    """One archive member: ``path`` without leading ``/``; ``data`` for files, target for links."""

    path: str
    mode: int                 # full st_mode (type bits + permissions)
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def tree_entries(root: Path) -> list[Entry]:
    """Entries for every directory, file and symlink under ``root``, parents before children."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(dirnames) + sorted(filenames):
            path = base / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                entries.append(Entry(rel, stat.S_IFLNK | 0o777, os.readlink(path).encode()))
            elif stat.S_ISDIR(st.st_mode):
                entries.append(Entry(rel, st.st_mode))
            elif stat.S_ISREG(st.st_mode):
                entries.append(Entry(rel, st.st_mode, path.read_bytes()))
    return entries


def char_device(path: str, major: int, minor: int, perm: int = 0o600) -> Entry:
    """A character device entry (e.g. ``dev/console`` 5:1) created without root."""
    return Entry(path, stat.S_IFCHR | perm, rdev=(major, minor))


def write_newc(entries: Iterable[Entry], out: BinaryIO, mtime: int = 0) -> int:
    """Write ``entries`` as a ``newc`` (SVR4, no CRC) archive to ``out``; returns bytes written.

    Raises ValueError for a path that is absolute or empty.
    """
    written = 0

    def emit(ino: int, name: str, mode: int, data: bytes, rdev: tuple[int, int]) -> None:
        nonlocal written
        encoded = name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(mode) else 1
        header = ("070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)))
        chunk = header.encode() + encoded
        chunk += b"\0" * (-len(chunk) % 4)
        chunk += data + b"\0" * (-len(data) % 4)
        out.write(chunk)
        written += len(chunk)

    for ino, entry in enumerate(entries, start=1):
        if not entry.path or entry.path.startswith("/") or entry.path == _TRAILER:
            raise ValueError(f"bad archive path {entry.path!r}: must be relative and non-empty")
        emit(ino, entry.path, entry.mode, entry.data, entry.rdev)
    emit(0, _TRAILER, 0, b"", (0, 0))
    return written


def compress(raw: Path, dest: Path, method: str) -> None:
    """Compress ``raw`` into ``dest`` with ``method`` (zstd, xz or gzip) in a kernel-safe way.

    xz uses CRC32 checks (the kernel's decompressor supports no other); zstd is a single frame
    at level 19 with an 8 MiB window, compressed on every core (still one frame).  Blocks for
    a few seconds.  Raises :class:`PackError`.
    """
    if method == "gzip":
        with raw.open("rb") as src, dest.open("wb") as out, \
                gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as dst:
            shutil.copyfileobj(src, dst)
    elif method == "xz":
        with raw.open("rb") as src, lzma.open(dest, "wb", format=lzma.FORMAT_XZ,
                                             check=lzma.CHECK_CRC32, preset=9) as dst:
            shutil.copyfileobj(src, dst)
    elif method == "zstd":
        if not shutil.which("zstd"):
            raise PackError("zstd not found: install the Debian package zstd, or set "
                            "[image] compression = \"xz\" in the board file")
        result = subprocess.run(["zstd", "-q", "-f", "-19", "-T0", "--long=23", "-o", str(dest),
                                 str(raw)], capture_output=True, text=True)
        if result.returncode != 0:
            raise PackError(f"zstd failed: {result.stderr.strip()}")
    else:
        raise PackError(f"unknown compression {method!r}; expected zstd, xz or gzip")


def read_newc(data: bytes) -> list[Entry]:
    """Parse a ``newc`` archive (as written by :func:`write_newc`) back into entries.

    Stops at the trailer.  Raises ValueError on a bad magic number or a truncated archive.
    """
    entries = []
    offset = 0
    while True:
        header = data[offset:offset + 110]
        if len(header) < 110 or header[:6] not in (b"070701", b"070702"):
            raise ValueError(f"bad newc header at offset {offset}")
        fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, filesize, rmaj, rmin, namesize = fields[1], fields[6], fields[9], fields[10], fields[11]
        name_start = offset + 110
        name = data[name_start:name_start + namesize - 1].decode()
        data_start = name_start + namesize + (-(110 + namesize) % 4)
        body = data[data_start:data_start + filesize]
        if len(body) != filesize:
            raise ValueError(f"archive truncated in {name!r}")
        offset = data_start + filesize + (-filesize % 4)
        if name == _TRAILER:
            return entries
        entries.append(Entry(name, mode, body, (rmaj, rmin)))


def decompress(path: Path) -> bytes:
    """The raw cpio bytes of a compressed initramfs (zstd, xz or gzip, detected by magic)."""
    head = Path(path).read_bytes()[:6]
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return subprocess.run(["zstd", "-dc", str(path)], check=True, capture_output=True).stdout
    if head.startswith(b"\xfd7zXZ"):
        return lzma.decompress(Path(path).read_bytes())
    if head.startswith(b"\x1f\x8b"):
        return gzip.decompress(Path(path).read_bytes())
    raise PackError(f"{path}: unknown compression (not zstd, xz or gzip)")


def extract(entries: Iterable[Entry], dest: Path) -> None:
    """Recreate directories, regular files and symlinks of ``entries`` under ``dest``
    (device nodes are skipped: creating them needs root)."""
    for entry in entries:
        target = dest / entry.path
        kind = stat.S_IFMT(entry.mode)
        if kind == stat.S_IFDIR:
            target.mkdir(parents=True, exist_ok=True)
        elif kind == stat.S_IFLNK:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(entry.data.decode())
        elif kind == stat.S_IFREG:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(entry.data)
            target.chmod(stat.S_IMODE(entry.mode))
