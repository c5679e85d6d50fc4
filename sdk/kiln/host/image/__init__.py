"""Offline firmware-image builder (``kiln image build``).

From Debian's ARM packages only (private apt, ``dpkg-deb -x``) it stages a small root tree --
busybox, the Debian kernel and the board's modules, Python with the stdlib the app and Kiln
need, Kiln's board-side payload cross-compiled for the board (:mod:`kiln.host.image.stage`) --
and packs it in the board's format (:mod:`kiln.host.image.builder`: an initramfs for QEMU).
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


def build(board, app=None, out_dir=None, *, progress=True, refresh_index=False,
          labs=(), tls=None) -> ImageArtifacts:
    """Build the image of ``board`` (a name or :class:`kiln.boards.Board`) and return it.

    ``app`` is the path of the app's ``main.py`` (None: the demo app); outputs go to
    ``out_dir`` (default ``out/<board>/``).  ``progress`` prints each step on stderr.
    ``tls``: True/False build the image with/without TLS (``--with tls``/``--without tls``);
    None (default) gives it TLS when the app's code uses it (:mod:`kiln.host.image.tlsneed`).
    Blocks (about a minute warm, several minutes on a cold package cache).  Raises
    :class:`kiln.errors.KilnError` subclasses naming the fix (missing tools, unknown board,
    unreachable mirror without cached index, failing cross build, missing ``app`` -- the latter
    is also a FileNotFoundError).
    """
    from kiln.host.image import builder
    from kiln.host.image.progress import Progress
    return builder.build(_board(board), Path(app) if app else None,
                         Path(out_dir) if out_dir else None, Progress(progress),
                         refresh_index=refresh_index, labs=tuple(labs), tls=tls)


def cached(board, app=None, out_dir=None, labs=(), tls=None) -> ImageArtifacts | None:
    """The existing image of ``board`` when none of its inputs changed since it was built.

    Inputs are the board file, recipe, templates, app, Kiln's sources and the package index.
    Returns None when there is no image or it is stale (:func:`changed_inputs` says why).
    Never touches the network.
    """
    found = _check(board, app, out_dir, tuple(labs), tls)
    return found[0] if found and not found[1] else None


def changed_inputs(board, app=None, out_dir=None, labs=(), tls=None) -> list[str] | None:
    """Inputs that changed since ``board``'s image was built (``file:<path>``, ``text:app``,
    ``stat:<index>``...); [] when it is up to date, None when there is no image to compare."""
    found = _check(board, app, out_dir, tuple(labs), tls)
    return None if found is None else found[1]


def _check(board, app, out_dir, labs=(), tls=None):
    import json
    from kiln.host.image import cache, recipe, stage
    from kiln.host.image.layout import OutLayout
    b = _board(board)
    if app is not None and not Path(app).exists():
        return None  # build() reports the missing app
    r = recipe.load()
    layout = OutLayout.for_board(b.name, b.debian_arch, out_dir)
    try:
        artifacts = ImageArtifacts.load(layout.record)
        old = json.loads(layout.inputs.read_text())
    except (OSError, ValueError, TypeError):
        return None
    new = stage.input_manifest(b, r, Path(app).resolve() if app else None,
                               stage.private_apt(layout, r), labs, tls)
    diff = cache.changed(old, new)
    if not diff and (artifacts.key != cache.manifest_key(new)
                     or not all(p.is_file() for p in artifacts.files())):
        diff = ["output files"]
    return artifacts, diff


def ensure(board, app=None, out_dir=None, *, progress=True, labs=(),
           tls=None) -> ImageArtifacts:
    """:func:`cached` if it is up to date, otherwise :func:`build` (for tests and the runner);
    ``labs`` and ``tls`` as for :func:`build`."""
    return (cached(board, app, out_dir, labs, tls)
            or build(board, app, out_dir, progress=progress, labs=labs, tls=tls))
