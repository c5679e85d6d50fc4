"""Reading an SD-card image's MBR partition table (the runner takes the boot files out of the
image's boot partition; ``kiln flash`` and the tests check what they wrote)."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from kiln.errors import KilnError

SECTOR = 512


class PartitionTableError(KilnError):
    """The file or device holds no valid MBR partition table."""


@dataclass(frozen=True)
class Partition:
    """One primary partition.  ``number`` counts from 1, as Linux names partitions."""

    number: int
    type: int            # MBR partition type, e.g. 0x0C (FAT32 LBA), 0x83 (Linux)
    bootable: bool
    start: int           # bytes from the start of the disk
    size: int            # bytes

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class PartitionTable:
    disk_signature: int              # the "SSSSSSSS" of PARTUUID=SSSSSSSS-NN
    partitions: tuple[Partition, ...]

    def partuuid(self, number: int) -> str:
        """Linux's PARTUUID of partition ``number`` on an MBR disk (``root=PARTUUID=...``)."""
        return f"{self.disk_signature:08x}-{number:02d}"

    def get(self, number: int) -> Partition:
        for part in self.partitions:
            if part.number == number:
                return part
        raise PartitionTableError(f"no partition {number} (partitions: "
                                  f"{[p.number for p in self.partitions]})")


def parse(sector0: bytes) -> PartitionTable:
    """The primary partitions of the MBR in ``sector0`` (its first 512 bytes).

    Raises :class:`PartitionTableError` when the boot signature 0x55AA is missing.
    """
    if len(sector0) < SECTOR or sector0[510:512] != b"\x55\xaa":
        raise PartitionTableError("no MBR partition table (boot signature 0x55AA missing)")
    signature = struct.unpack_from("<I", sector0, 440)[0]
    parts = []
    for i in range(4):
        status, ptype, lba, count = struct.unpack_from("<B3xB3xII", sector0, 446 + 16 * i)
        if ptype and count:
            parts.append(Partition(i + 1, ptype, status == 0x80, lba * SECTOR, count * SECTOR))
    return PartitionTable(signature, tuple(parts))


def read(path: Path) -> PartitionTable:
    """The partition table of image or block device ``path``."""
    with open(path, "rb") as f:
        return parse(f.read(SECTOR))
