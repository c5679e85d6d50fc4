"""Every path the image builder reads or writes under ``out/``, in one object.

::

    out/                              $KILN_OUT; else <checkout>/out; else ./out
      apt/<arch>/                     private apt (config, lists, parsed index)
      cache/debs/<arch>/              downloaded .debs (checked against the index's SHA256)
      cache/kernel/<arch>/<deb>/      unpacked kernel package
      cache/kiln/<arch>/<key>/lib     last cross build of the payload
      cache/openssl/<arch>/<key>/     Kiln's static OpenSSL (kiln.host.image.openssl)
      <board>/                        one board's image (or the --out directory)
        build.json  inputs.json       the record and the per-input digests
        <artifacts>                   what the board's packer writes (vmlinuz, initramfs, ...)
        work/rootfs/                  the staged root tree (kept for inspection)
        work/<scratch>/               removed after packing
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def out_root() -> Path:
    """Where builds and caches go: ``$KILN_OUT``; in a checkout (editable install), its
    git-ignored ``out/``; otherwise ``./out`` in the current directory."""
    if os.environ.get("KILN_OUT"):
        return Path(os.environ["KILN_OUT"]).resolve()
    checkout = Path(__file__).resolve().parents[4]
    if (checkout / "setup.py").is_file() and (checkout / "sdk" / "kiln").is_dir():
        return checkout / "out"
    return Path.cwd().resolve() / "out"


@dataclass(frozen=True)
class OutLayout:
    """The paths of one board's build.  ``out_dir`` defaults to ``<root>/<board>``."""

    root: Path
    board: str
    arch: str
    out_dir: Path

    @classmethod
    def for_board(cls, board: str, arch: str, out_dir: Path | str | None = None) -> "OutLayout":
        """The layout of ``board`` (Debian architecture ``arch``) under :func:`out_root`."""
        root = out_root()
        return cls(root, board, arch, Path(out_dir).resolve() if out_dir else root / board)

    # shared caches
    @property
    def apt(self) -> Path:
        return self.root / "apt" / self.arch

    @property
    def debs(self) -> Path:
        return self.root / "cache" / "debs" / self.arch

    def kernel_cache(self, deb_stem: str) -> Path:
        return self.root / "cache" / "kernel" / self.arch / deb_stem

    def kiln_cache(self, key: str) -> Path:
        return self.root / "cache" / "kiln" / self.arch / key[:16]

    def openssl_cache(self) -> Path:
        return self.root / "cache" / "openssl" / self.arch

    # this board's build
    @property
    def work(self) -> Path:
        return self.out_dir / "work"

    @property
    def rootfs(self) -> Path:
        return self.work / "rootfs"

    def scratch(self, name: str) -> Path:
        """A work directory removed once the image is packed."""
        return self.work / name

    @property
    def record(self) -> Path:
        return self.out_dir / "build.json"

    @property
    def inputs(self) -> Path:
        return self.out_dir / "inputs.json"

    def artifact(self, name: str) -> Path:
        return self.out_dir / name
