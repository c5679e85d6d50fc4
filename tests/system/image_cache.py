"""Test images shared between test sessions without one session pulling files from under another.

Developers run the system tests concurrently on one machine; a session that finds the image
stale rebuilds it in place.  :func:`session_image` therefore builds (or reuses) the image under
an exclusive lock and boots a private copy of its kernel and initramfs.
"""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from kiln.host.filelock import locked  # noqa: F401 - also for tests running `kiln run --out-dir`
from kiln.host.runner.boot import BootImage, from_artifacts


def session_image(board, app: Path, out_dir: Path, copy_dir: Path,
                  labs: tuple[str, ...] = ()) -> BootImage:
    """``board``'s image with ``app``, built or reused in ``out_dir``, copied to ``copy_dir``.

    The :class:`BootImage` is the runner's (``kiln.host.runner.boot.from_artifacts``), so the
    tests boot what ``kiln run`` boots; an SD-card image is prepared from its card in ``copy_dir``.
    Blocks while another process holds the lock (its build finishes first).  Raises what
    ``kiln.host.image.ensure`` raises when the build fails.  ``labs``: test-lab parts of the
    recipe (``("wifi",)``).
    """
    from kiln.host import image as image_builder
    with locked(out_dir):
        artifacts = image_builder.ensure(board, app=app, out_dir=out_dir, progress=True,
                                         labs=labs)
        copy_dir.mkdir(parents=True, exist_ok=True)
        if getattr(artifacts, "sdcard", None):      # the runner copies what it boots from
            return from_artifacts(artifacts, board, copy_dir)
        kernel = Path(shutil.copy2(artifacts.kernel, copy_dir / Path(artifacts.kernel).name))
        initrd = Path(shutil.copy2(artifacts.initrd, copy_dir / Path(artifacts.initrd).name))
    return from_artifacts(dataclasses.replace(artifacts, kernel=kernel, initrd=initrd),
                                    board)
