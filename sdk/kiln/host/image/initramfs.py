"""The ``initramfs`` packer: a staged root tree -> kernel + compressed initramfs (QEMU boards).

The archive is a deterministic ``newc`` cpio written in Python (root-owned entries, the
``/dev/console`` and ``/dev/null`` nodes without root), compressed as the board file says.
"""
from __future__ import annotations

import shutil

from kiln.boards import Board
from kiln.host.image import cpio
from kiln.host.image.artifacts import ImageArtifacts
from kiln.host.image.layout import OutLayout
from kiln.host.image.stage import StagedTree

SUFFIX = {"zstd": "zst", "xz": "xz", "gzip": "gz"}


def pack(staged: StagedTree, board: Board, layout: OutLayout) -> ImageArtifacts:
    """Write ``vmlinuz`` and ``initramfs.cpio.<ext>`` into ``layout.out_dir``; return the
    artifacts (timings are filled in by the builder).  Blocks for seconds (``zstd -19``)."""
    layout.out_dir.mkdir(parents=True, exist_ok=True)
    raw = layout.scratch("initramfs.cpio")
    entries = cpio.tree_entries(staged.root) + [cpio.char_device("dev/console", 5, 1),
                                                cpio.char_device("dev/null", 1, 3, 0o666)]
    with raw.open("wb") as f:
        raw_size = cpio.write_newc(entries, f)
    initrd = layout.artifact(f"initramfs.cpio.{SUFFIX[board.compression]}")
    cpio.compress(raw, initrd, board.compression)
    raw.unlink()
    kernel = layout.artifact("vmlinuz")
    shutil.copy(staged.kernel, kernel)
    return ImageArtifacts(
        board=board.name, kernel=kernel, initrd=initrd, cmdline=board.cmdline,
        kernel_abi=staged.kernel_abi, compression=board.compression,
        initrd_bytes=initrd.stat().st_size, initrd_uncompressed_bytes=raw_size,
        kernel_bytes=kernel.stat().st_size, packages=staged.packages,
        kiln_extensions=staged.kiln_extensions, key=staged.key)
