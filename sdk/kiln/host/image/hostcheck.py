"""Checks that the build host has what an image build needs; each failure names its fix."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from kiln.boards import Board
from kiln.errors import KilnError


class HostError(KilnError):
    """The build host lacks a tool or permission."""


def problems(board: Board) -> list[str]:
    """Human-readable problems (with the fix) that would stop building ``board``'s image."""
    found = []
    cross = " ".join(board.cross_packages)
    tools = [
        (board.cross_cc, f"cross compiler {board.cross_cc} not found: "
                         f"apt-get install {cross}"),
        (board.qemu_user, f"{board.qemu_user} not found (runs target Python at build time): "
                          f"apt-get install qemu-user-static"),
        ("apt-get", "apt-get not found: the image builder needs a Debian/Ubuntu host"),
        ("dpkg-deb", "dpkg-deb not found: apt-get install dpkg"),
    ]
    if board.compression == "zstd":
        tools.append(("zstd", "zstd not found: apt-get install zstd"))
    for tool, message in tools:
        if not shutil.which(tool):
            found.append(message)
    libc_dev = Path("/usr") / board.triplet / "include" / "stdio.h"
    if shutil.which(board.cross_cc) and not libc_dev.exists():
        found.append(f"target C library headers missing ({libc_dev}): apt-get install {cross}")
    return found


def require(board: Board) -> None:
    """Raise :class:`HostError` listing every problem :func:`problems` finds."""
    found = problems(board)
    if found:
        raise HostError("cannot build the image:\n  - " + "\n  - ".join(found))


def require_writable(path: Path) -> None:
    """Raise :class:`HostError` when ``path`` (or its nearest existing parent) is not writable."""
    probe = Path(path)
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise HostError(f"{probe} is not writable: pass --out DIR or run as a user who can write it")
