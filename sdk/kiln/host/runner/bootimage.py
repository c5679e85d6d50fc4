"""What QEMU boots: the kernel, the initramfs, the command line (and, for SD-card boards, the DTB
and the card), as the runner's pieces pass it around (host tooling)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BootImage:
    """The files QEMU boots and the kernel command line the image wants.  SD-card boards also
    have the DTB and the (padded copy of the) card image (:mod:`kiln.host.runner.sdboot`).
    Made by :func:`kiln.host.runner.boot.from_artifacts` from an image build's result."""

    kernel: Path
    initrd: Path
    cmdline: str
    dtb: Path | None = None
    sdcard: Path | None = None
