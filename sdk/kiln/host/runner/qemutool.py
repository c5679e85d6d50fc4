"""Which QEMU binary boots a board: the host's, or a private copy of a newer Debian QEMU.

A board file may ask for a minimum QEMU version (``[qemu] min_version``; ``raspi4b`` needs
QEMU >= 9, bookworm ships 7.2).  Installing bookworm-backports' ``qemu-system-arm`` would
replace the host's QEMU, which the ``virt`` boards (and everyone else on the machine) use, so
instead the backports package is downloaded through a private apt (``out/apt/<host
arch>-backports/``, the image builder's :class:`~kiln.host.image.apt.PrivateApt`) and unpacked
under ``out/cache/qemu/<package version>/``.  Its shared libraries are bookworm's own, so it
runs with the host's libraries; a missing one is named with the package to install.

:func:`binary` only looks (cheap, no network, never fails): the path to use; :func:`problem`
says what is missing and how to get it; :func:`ensure` fetches the private copy when needed
(network on first use only).
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

from kiln.errors import KilnError
from kiln.host.image import recipe as recipe_mod
from kiln.host.image.apt import PrivateApt
from kiln.host.image.layout import out_root
from kiln.host.image.progress import Progress

WRAPPER_DIR = "kiln-bin"     # scripts running the private QEMU with its own module directory
_VERSION_RE = re.compile(r"version (\d+)\.(\d+)(?:\.(\d+))?")


class QemuToolError(KilnError):
    """No QEMU new enough for the board, and the private copy cannot be made."""


def version(binary: str) -> tuple[int, ...] | None:
    """``(major, minor, micro)`` of QEMU ``binary`` (None when it does not run)."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = _VERSION_RE.search(out)
    return tuple(int(g or 0) for g in m.groups()) if m else None


def parse_version(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def _private_root() -> Path:
    return out_root() / "cache" / "qemu"


def _host_ok(spec) -> str | None:
    host = shutil.which(spec.binary)
    if host is None:
        return None
    if not spec.min_version:
        return host
    found = version(host)
    return host if found is not None and found >= parse_version(spec.min_version) else None


def _private_binaries(spec) -> list[Path]:
    """Private copies new enough for ``spec``, newest first."""
    root = _private_root()
    found = []
    for candidate in root.glob(f"*/{WRAPPER_DIR}/{spec.binary}"):
        v = version(str(candidate))
        if v is not None and v >= parse_version(spec.min_version or "0"):
            found.append((v, candidate))
    return [p for _v, p in sorted(found, reverse=True)]


def binary(board) -> str:
    """The QEMU binary to start for ``board``: the private copy when the board needs a newer
    QEMU than the host's and it has been fetched (:func:`ensure`), else ``[qemu] binary``.
    Never downloads, never raises (:func:`problem` says what is missing)."""
    spec = board.qemu
    if not spec.min_version or _host_ok(spec) is not None:
        return spec.binary
    private = _private_binaries(spec)
    return str(private[0]) if private else spec.binary


def problem(board) -> str | None:
    """Why no QEMU new enough for ``board`` is at hand (None when one is), naming the fix."""
    spec = board.qemu
    if not spec.min_version or _host_ok(spec) is not None or _private_binaries(spec):
        return None
    return (f"board {board.name} needs QEMU >= {spec.min_version} "
            f"({spec.binary} -M {spec.machine}); the host has "
            f"{_fmt(version(shutil.which(spec.binary) or spec.binary))}: run "
            f"`kiln run --board {board.name}` once with access to Debian's mirror "
            f"(it unpacks backports' {spec.package} under {_private_root()})")


def _fmt(v) -> str:
    return ".".join(map(str, v)) if v else "none"


def ensure(board, progress=None) -> str:
    """:func:`binary`, fetching the private copy from ``{release}-backports`` when the host's
    QEMU is too old.  Blocks on the network the first time (a ~10 MB package)."""
    if problem(board) is None:
        return binary(board)
    spec = board.qemu
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                          text=True).stdout.strip() or "amd64"
    recipe = recipe_mod.load()
    backports = dataclasses.replace(recipe, suites=(f"{recipe.release}-backports",),
                                    security_suites=(), components=("main",))
    root = out_root()
    apt = PrivateApt(root / "apt" / f"{arch}-backports", arch, backports,
                     root / "cache" / "debs" / arch)
    progress = progress or Progress(enabled=False)
    apt.update(progress)
    pkg = apt.load_index().newest(spec.package)
    deb, = apt.download([pkg], progress)
    dest = _private_root() / deb.stem
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    path = dest / "usr" / "bin" / spec.binary
    missing = _missing_libraries(path)
    if missing:
        raise QemuToolError(f"{pkg.name} {pkg.version} (unpacked in {dest}) needs shared "
                            f"libraries the host lacks: {', '.join(missing)}; install them "
                            f"(bookworm packages, see requirements/apt.txt)")
    # QEMU loads optional modules (UI, audio) from a compiled-in directory, which is the host
    # QEMU's: point it at the private copy's own (absent) module directory instead.
    wrapper = dest / WRAPPER_DIR / spec.binary
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\nQEMU_MODULE_DIR={dest}/usr/lib/qemu exec {path} \"$@\"\n")
    wrapper.chmod(0o755)
    v = version(str(wrapper))
    if v is None or v < parse_version(spec.min_version):
        raise QemuToolError(f"{pkg.name} {pkg.version} from {recipe.release}-backports gives "
                            f"QEMU {_fmt(v)}; board {board.name} needs >= {spec.min_version}")
    return str(wrapper)


def _missing_libraries(path: Path) -> list[str]:
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
    return sorted({line.split()[0] for line in out.splitlines() if "not found" in line})
