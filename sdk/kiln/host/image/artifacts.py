"""What an image build produces, and its on-disk record (``build.json``)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


_OPTIONAL_PATHS = ("sdcard", "bmap")


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
    # SD-card boards (kiln.host.image.sdcard): the card image, its block map, the image's
    # apparent size and the bytes its block map says are mapped (what a write copies).
    # ``kernel``/``initrd`` are then the files of the boot partition (kept in work/boot/).
    sdcard: Path | None = None
    bmap: Path | None = None
    image_bytes: int = 0
    mapped_bytes: int = 0
    rootfs: str = ""
    root_bytes: int = 0                     # the root filesystem image (squashfs / ext4)
    app_files: int = 0                      # the app under /app: files and their bytes
    app_bytes: int = 0
    tls: bool = False                       # the image carries TLS (recipe's [tls] part)
    tls_reason: str = ""                    # why (or why not), as the build printed it

    def save(self, path: Path) -> None:
        """Write this record as JSON to ``path``."""
        data = asdict(self)
        data["kernel"], data["initrd"] = str(self.kernel), str(self.initrd)
        for name in _OPTIONAL_PATHS:
            data[name] = str(data[name]) if data[name] is not None else None
        Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> "ImageArtifacts":
        """Read a record written by :meth:`save`; ValueError/OSError when unreadable."""
        data = json.loads(Path(path).read_text())
        data["kernel"], data["initrd"] = Path(data["kernel"]), Path(data["initrd"])
        data["packages"] = tuple(data.get("packages", ()))
        data["kiln_extensions"] = tuple(data.get("kiln_extensions", ()))
        for name in _OPTIONAL_PATHS:
            data[name] = Path(data[name]) if data.get(name) else None
        return cls(**data)

    def files(self) -> list[Path]:
        """Every output file the record names (all must exist for the image to be reused)."""
        return [self.kernel, self.initrd] + [p for p in (self.sdcard, self.bmap) if p]

    def summary(self) -> str:
        """Human-readable multi-line description (used by ``kiln image build/info``)."""
        return "\n".join([
            f"board        {self.board} (kernel {self.kernel_abi})",
            f"kernel       {self.kernel} ({self.kernel_bytes / 1e6:.1f} MB)",
            f"initramfs    {self.initrd} ({self.initrd_bytes / 1e6:.2f} MB {self.compression}, "
            f"{self.initrd_uncompressed_bytes / 1e6:.1f} MB unpacked)",
            f"cmdline      {self.cmdline}  (+ kiln.net=dhcp|static:ADDR/PREFIX,gw=..,dns=..)",
            f"app          {self.app_files} files, {self.app_bytes} bytes under /app",
            f"packages     {len(self.packages)} Debian packages, "
            f"{len(self.kiln_extensions)} Kiln extension modules",
            f"tls          {'yes' if self.tls else 'no'} ({self.tls_reason or 'not recorded'})",
            *([f"sdcard       {self.sdcard} ({self.image_bytes / 2**20:.0f} MiB, "
               f"{self.mapped_bytes / 1e6:.1f} MB mapped; root {self.rootfs} "
               f"{self.root_bytes / 1e6:.1f} MB)",
               f"bmap         {self.bmap}"] if self.sdcard else []),
            f"built in     {self.build_seconds:.1f} s",
        ])
