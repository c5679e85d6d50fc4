"""Run the target's binaries at build time under qemu-user, without binfmt_misc or chroot.

The target's dynamic loader is started explicitly (``qemu-<arch>-static <root>/lib/ld-*.so
--library-path ...``), and Python gets ``PYTHONHOME=<root>/usr``, so every file the program
opens comes from the image root (no ``-L`` path remapping that could fall back to the host's
``/usr/lib/python3.X``), and nothing needs root or a registered binfmt handler.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from kiln.errors import KilnError
from kiln.host.image.rootfs import library_dirs


class QemuUserError(KilnError):
    """The target program could not be run or failed."""


def loader(root: Path) -> Path:
    """The target's ELF interpreter (``lib/ld-linux-*.so.*``) inside ``root``."""
    for pattern in ("lib/ld-linux*.so.*", "lib/*/ld-linux*.so.*", "usr/lib/*/ld-linux*.so.*"):
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
    raise QemuUserError(f"no dynamic loader (lib/ld-linux*.so.*) in {root}: libc6 is missing")


def python_command(root: Path, emulator: str, triplet: str, python: str,
                   args: list[str]) -> list[str]:
    """argv running the image's ``usr/bin/<python>`` with ``args`` under ``emulator``."""
    if not shutil.which(emulator):
        raise QemuUserError(f"{emulator} not found: install the Debian package qemu-user-static "
                            f"(apt-get install qemu-user-static)")
    libs = ":".join(str(root / d) for d in library_dirs(triplet))
    return [emulator, str(loader(root)), "--library-path", libs, str(root / "usr/bin" / python),
            *args]


def run_python(root: Path, emulator: str, triplet: str, python: str, args: list[str],
               extra_path: list[Path] = (), timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the target Python of ``root`` with ``args``; blocks; returns the completed process.

    stdout/stderr are captured as text.  ``extra_path`` goes on ``PYTHONPATH``.  Raises
    :class:`QemuUserError` when the emulator is missing; the caller checks ``returncode``.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHOME": str(root / "usr"),
           "PYTHONNOUSERSITE": "1", "LC_ALL": "C.UTF-8", "QEMU_LD_PREFIX": "/nonexistent"}
    if extra_path:
        env["PYTHONPATH"] = ":".join(map(str, extra_path))
    cmd = python_command(root, emulator, triplet, python, args)
    return subprocess.run(cmd, env=env, text=True, capture_output=True, timeout=timeout)


def run_binary(root: Path, emulator: str, binary: str,
               args: list[str]) -> subprocess.CompletedProcess:
    """Run a static target binary of ``root`` (e.g. ``bin/busybox``) with ``args``."""
    if not shutil.which(emulator):
        raise QemuUserError(f"{emulator} not found: install the Debian package qemu-user-static")
    return subprocess.run([emulator, str(root / binary), *args], text=True, capture_output=True,
                          timeout=120)
