"""Offline firmware-image builder for QEMU ARM boards (``kiln image build``).

From Debian's ARM packages only (private apt, ``dpkg-deb -x``) it assembles a small root
filesystem -- busybox, the Debian kernel and the board's modules, Python with the stdlib the app
and Kiln need, Kiln cross-compiled for the board -- and packs it as a compressed initramfs.
Pipeline and recipe: ``images/README.md``.  Submodules are imported lazily so that importing
``kiln.host.image`` (and ``kiln --help``) stays cheap.
"""
from __future__ import annotations

from pathlib import Path

from kiln.host.image.artifacts import ImageArtifacts

__all__ = ["ImageArtifacts", "build", "cached", "changed_inputs", "ensure"]


def _board(board):
    from kiln import boards
    return boards.load(board) if isinstance(board, str) else board


def build(board, app=None, out_dir=None, *, progress=True, refresh_index=False) -> ImageArtifacts:
    """Build the image of ``board`` (a name or :class:`kiln.boards.Board`) and return it.

    ``app`` is the path of the app's ``main.py`` (None: the demo app); outputs go to
    ``out_dir`` (default ``out/<board>/``).  ``progress`` prints each step on stderr.
    Blocks (about a minute warm, several minutes on a cold package cache).  Raises
    :class:`kiln.errors.KilnError` subclasses naming the fix (missing tools, unknown board,
    unreachable mirror without cached index, failing cross build, missing ``app`` -- the latter
    is also a FileNotFoundError).
    """
    from kiln.host.image import builder
    from kiln.host.image.progress import Progress
    return builder.build(_board(board), Path(app) if app else None,
                         Path(out_dir) if out_dir else None, Progress(progress),
                         refresh_index=refresh_index)


def cached(board, app=None, out_dir=None) -> ImageArtifacts | None:
    """The existing image of ``board`` when none of its inputs changed since it was built.

    Inputs are the board file, recipe, templates, app, Kiln's sources and the package index.
    Returns None when there is no image or it is stale (:func:`changed_inputs` says why).
    Never touches the network.
    """
    found = _check(board, app, out_dir)
    return found[0] if found and not found[1] else None


def changed_inputs(board, app=None, out_dir=None) -> list[str] | None:
    """Inputs that changed since ``board``'s image was built (``file:<path>``, ``text:app``,
    ``stat:<index>``...); [] when it is up to date, None when there is no image to compare."""
    found = _check(board, app, out_dir)
    return None if found is None else found[1]


def _check(board, app, out_dir):
    import json
    from kiln.host.image import builder, cache, recipe
    from kiln.host.image.apt import PrivateApt
    b = _board(board)
    if app is not None and not Path(app).exists():
        return None  # build() reports the missing app
    r = recipe.load()
    root = builder.out_root()
    out = Path(out_dir).resolve() if out_dir else root / b.name
    try:
        artifacts = ImageArtifacts.load(out / "build.json")
        old = json.loads((out / "inputs.json").read_text())
    except (OSError, ValueError, TypeError):
        return None
    apt = PrivateApt(root / "apt" / b.debian_arch, b.debian_arch, r,
                     root / "cache" / "debs" / b.debian_arch)
    new = builder.input_manifest(b, r, Path(app).resolve() if app else None, apt)
    diff = cache.changed(old, new)
    if not diff and (artifacts.key != cache.manifest_key(new) or not artifacts.kernel.is_file()
                     or not artifacts.initrd.is_file()):
        diff = ["output files"]
    return artifacts, diff


def ensure(board, app=None, out_dir=None, *, progress=True) -> ImageArtifacts:
    """:func:`cached` if it is up to date, otherwise :func:`build` (for tests and the runner)."""
    return cached(board, app, out_dir) or build(board, app, out_dir, progress=progress)
