"""``build()``: stage the board's root tree once, then pack it with the board's packer.

The packer is chosen by the board file's ``[image] format`` (data, never the board's name):
``initramfs`` (:mod:`kiln.host.image.initramfs`) for the QEMU boards, ``sdcard``
(:mod:`kiln.host.image.sdcard`) for the Raspberry Pi boards.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from kiln.boards import Board
from kiln.errors import KilnError
from kiln.host.image import hostcheck, initramfs, recipe as recipe_mod, sdcard
from kiln.host.image.artifacts import ImageArtifacts
from kiln.host.image.layout import OutLayout
from kiln.host.image.progress import Progress
from kiln.host.image.stage import app_tree, stage

#: Image format -> packer: ``pack(staged, board, layout) -> ImageArtifacts``.
PACKERS = {"initramfs": initramfs.pack, "sdcard": sdcard.pack}


def build(board: Board, app: Path | None, out_dir: Path | None, progress: Progress,
          refresh_index: bool = False, labs: tuple[str, ...] = (),
          tls: bool | None = None) -> ImageArtifacts:
    """Build ``board``'s image with ``app`` (None: the demo app) into ``out_dir`` (default
    ``out/<board>/``) and record it (``build.json``, ``inputs.json``).  ``labs``: test-lab parts
    of the recipe to add (``("wifi",)``); ``tls``: with (True) or without (False) TLS, None:
    as the app's code needs (:mod:`kiln.host.image.tlsneed`).

    Blocks for tens of seconds (minutes on a cold package cache).  Raises a
    :class:`kiln.errors.KilnError` subclass naming the fix for every expected failure.
    """
    t0 = time.monotonic()
    packer = PACKERS.get(board.image_format)
    if packer is None:
        raise KilnError(f"board {board.name} uses image format {board.image_format!r}, which "
                        f"this Kiln cannot pack yet (it packs: {', '.join(sorted(PACKERS))})")
    recipe = recipe_mod.load()
    app = Path(app).resolve() if app else None
    app_tree(app, recipe)           # fails early, naming every problem, before anything is written
    hostcheck.require(board)
    layout = OutLayout.for_board(board.name, board.debian_arch, out_dir)
    hostcheck.require_writable(layout.out_dir)
    staged = stage(board, app, layout, recipe, progress, refresh_index, labs, tls)
    with progress.step(f"packing {board.image_format}"):
        artifacts = packer(staged, board, layout)
    artifacts = dataclasses.replace(
        artifacts, build_seconds=round(time.monotonic() - t0, 2),
        app_files=staged.app_files, app_bytes=staged.app_bytes,
        tls=staged.tls, tls_reason=staged.tls_reason,
        step_seconds={k: round(v, 2) for k, v in progress.timings.items()})
    artifacts.save(layout.record)
    layout.inputs.write_text(json.dumps(staged.inputs, indent=1, sort_keys=True) + "\n")
    return artifacts
