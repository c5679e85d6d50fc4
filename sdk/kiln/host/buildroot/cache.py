"""Where Kiln's Buildroot tooling keeps things: the per-machine cache and the checkout.

The cache lives outside any clone so that a fresh clone on a warm machine (CI) reuses it:
``$KILN_BUILDROOT_CACHE``, else ``$XDG_CACHE_HOME/kiln/buildroot``, else
``~/.cache/kiln/buildroot``.  A fresh machine rebuilds it.  Everything in it is either checked
(sources against sha256, the Buildroot tarball against its sha256) or keyed by the inputs that
made it (toolchain wrapper, builds), and writers take a file lock, so concurrent runs do not
step on each other.
"""
from __future__ import annotations

import os
from pathlib import Path

from kiln.host.filelock import locked  # noqa: F401 - the cache's writers lock with it


def repo_root() -> Path:
    """The Kiln checkout this module belongs to (``$KILN_SOURCE`` overrides)."""
    if os.environ.get("KILN_SOURCE"):
        return Path(os.environ["KILN_SOURCE"]).resolve()
    return Path(__file__).resolve().parents[4]


def cache_dir() -> Path:
    """The per-machine cache of Kiln's Buildroot tooling (created on demand)."""
    if os.environ.get("KILN_BUILDROOT_CACHE"):
        path = Path(os.environ["KILN_BUILDROOT_CACHE"])
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        path = base / "kiln" / "buildroot"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()
