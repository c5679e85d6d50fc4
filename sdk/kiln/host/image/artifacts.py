"""What an image build produces, and its on-disk record (``build.json``)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ImageArtifacts:
    """A built image.  Paths are absolute; sizes in bytes; ``cmdline`` is the board's base
    kernel command line (append ``kiln.net=...``, see :mod:`kiln.host.image.cmdline`)."""

    board: str
    kernel: Path
    initrd: Path
    cmdline: str
    kernel_abi: str
    compression: str
    initrd_bytes: int
    initrd_uncompressed_bytes: int
    kernel_bytes: int
    packages: tuple[str, ...] = ()          # "name=version" of every Debian package used
    kiln_extensions: tuple[str, ...] = ()   # image paths of Kiln's compiled modules
    build_seconds: float = 0.0
    step_seconds: dict = field(default_factory=dict)
    key: str = ""                           # hash of every input (see kiln.host.image.cache)

    def save(self, path: Path) -> None:
        """Write this record as JSON to ``path``."""
        data = asdict(self)
        data["kernel"], data["initrd"] = str(self.kernel), str(self.initrd)
        Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> "ImageArtifacts":
        """Read a record written by :meth:`save`; ValueError/OSError when unreadable."""
        data = json.loads(Path(path).read_text())
        data["kernel"], data["initrd"] = Path(data["kernel"]), Path(data["initrd"])
        data["packages"] = tuple(data.get("packages", ()))
        data["kiln_extensions"] = tuple(data.get("kiln_extensions", ()))
        return cls(**data)

    def summary(self) -> str:
        """Human-readable multi-line description (used by ``kiln image build/info``)."""
        return "\n".join([
            f"board        {self.board} (kernel {self.kernel_abi})",
            f"kernel       {self.kernel} ({self.kernel_bytes / 1e6:.1f} MB)",
            f"initramfs    {self.initrd} ({self.initrd_bytes / 1e6:.2f} MB {self.compression}, "
            f"{self.initrd_uncompressed_bytes / 1e6:.1f} MB unpacked)",
            f"cmdline      {self.cmdline}  (+ kiln.net=dhcp|static:ADDR/PREFIX,gw=..,dns=..)",
            f"packages     {len(self.packages)} Debian packages, "
            f"{len(self.kiln_extensions)} Kiln extension modules",
            f"built in     {self.build_seconds:.1f} s",
        ])
