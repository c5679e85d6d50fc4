"""kiln flash: write a board's SD-card image to a card, safely, with bmaptool.

    kiln flash --board rpi3b [--image out/rpi3b/sdcard.img] [--yes] /dev/sdX

Refused, before anything is written (:func:`refusals`, every reason at once):

* anything that is not a block device, and partitions (``/dev/sdb1``: name the whole card);
* a device that is not removable (``/sys/block/<dev>/removable`` is 0) -- except loop devices,
  whose backing file is what gets written (tests, and writing an image file through a loop);
* a device of which any partition is mounted or used as swap, or that another device sits on
  (device-mapper, LVM, RAID: ``holders/``);
* the device holding the running system (the disk under ``/``, or any of its partitions);
* a device smaller than the image.

Unless ``--yes``, the user confirms on a terminal (no terminal and no ``--yes``: refused).
bmaptool (Debian ``bmap-tools``) writes only the blocks the image's ``.bmap`` marks as mapped,
checks them against the bmap's checksums and shows progress; the partition table is read back
afterwards.
"""
from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kiln.errors import KilnError

SYSFS = Path("/sys")


class FlashError(KilnError):
    """The target is unsafe or the write failed."""


@dataclass(frozen=True)
class Target:
    """What is known about a block device, from ``/dev`` and sysfs."""

    path: Path
    name: str                 # kernel name, e.g. "sdb", "mmcblk0", "loop3"
    size: int                 # bytes
    removable: bool
    loop: bool
    partition: bool
    model: str


def describe(device: Path, sysfs: Path = SYSFS) -> Target:
    """Facts about block device ``device``; FlashError if it is not one."""
    device = Path(device)
    try:
        st = os.stat(device)
    except OSError as exc:
        raise FlashError(f"{device}: {exc.strerror}") from None
    if not stat.S_ISBLK(st.st_mode):
        raise FlashError(f"{device} is not a block device (an SD card is e.g. /dev/sdb or "
                         f"/dev/mmcblk0)")
    devno = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    node = (sysfs / "dev" / "block" / devno)
    if not node.exists():
        raise FlashError(f"{device} ({devno}) is not in {sysfs}/dev/block")
    node = node.resolve()
    name = node.name
    partition = (node / "partition").exists()
    disk = node.parent if partition else node
    size = int(_read(node / "size", "0")) * 512
    return Target(path=device, name=name, size=size,
                  removable=_read(disk / "removable", "0") == "1",
                  loop=(disk / "loop").is_dir() or name.startswith("loop"),
                  partition=partition,
                  model=" ".join(filter(None, (_read(disk / "device" / "vendor", ""),
                                               _read(disk / "device" / "model", "")))))


def _read(path: Path, default: str) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return default


def _family(name: str, sysfs: Path) -> set[str]:
    """The disk ``name`` and its partitions' kernel names."""
    names = {name}
    base = sysfs / "class" / "block" / name
    if base.exists():
        for child in base.resolve().iterdir():
            if (child / "partition").exists():
                names.add(child.name)
    return names


def _devnos(names: set[str], sysfs: Path) -> set[str]:
    return {_read(sysfs / "class" / "block" / n / "dev", "") for n in names} - {""}


def _mounted_devnos(mountinfo: str) -> set[str]:
    return {line.split()[2] for line in mountinfo.splitlines() if len(line.split()) > 2}


def _root_devnos() -> set[str]:
    """major:minor of the filesystems holding the running system (``/`` and ``/usr``)."""
    found = set()
    for path in ("/", "/usr", "/boot"):
        try:
            st = os.stat(path)
        except OSError:
            continue
        found.add(f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    return found


def refusals(target: Target, image_bytes: int, sysfs: Path = SYSFS,
             mountinfo: str | None = None, swaps: str | None = None,
             root_devnos: set[str] | None = None) -> list[str]:
    """Every reason not to write ``image_bytes`` to ``target`` (empty: safe to write).

    ``mountinfo``, ``swaps`` and ``root_devnos`` default to the running system's (tests pass
    their own)."""
    out = []
    if target.partition:
        out.append(f"{target.path} is a partition: name the whole card (e.g. /dev/sdb, "
                   f"/dev/mmcblk0), the image carries its own partition table")
    if not target.removable and not target.loop:
        out.append(f"{target.path} ({target.model or target.name}) is not a removable device: "
                   f"kiln flash writes SD cards and card readers only")
    family = _family(target.name, sysfs)
    devnos = _devnos(family, sysfs)
    mountinfo = Path("/proc/self/mountinfo").read_text() if mountinfo is None else mountinfo
    swaps = _read(Path("/proc/swaps"), "") if swaps is None else swaps
    root_devnos = _root_devnos() if root_devnos is None else root_devnos
    if devnos & root_devnos:
        out.append(f"{target.path} holds the running system")
    mounted = sorted(devnos & _mounted_devnos(mountinfo))
    if mounted:
        out.append(f"{target.path} is mounted (device {', '.join(mounted)}): unmount it first")
    swapped = [n for n in family if f"/dev/{n} " in swaps]
    if swapped:
        out.append(f"{target.path} is in use as swap ({', '.join(sorted(swapped))})")
    held = sorted(n for n in family if any((sysfs / "class" / "block" / n / "holders").glob("*")))
    if held:
        out.append(f"{target.path} is in use by another device (holders of {', '.join(held)})")
    if target.size and target.size < image_bytes:
        out.append(f"{target.path} holds {target.size / 1e6:.0f} MB, the image needs "
                   f"{image_bytes / 1e6:.0f} MB")
    return out


def default_image(board_name: str) -> Path:
    from kiln.host.image.layout import out_root
    return out_root() / board_name / "sdcard.img"


def flash(image: Path, device: Path, *, yes: bool, confirm=input, out=sys.stderr) -> None:
    """Check ``device`` (:func:`refusals`), ask (unless ``yes``), write ``image`` with
    bmaptool and read the partition table back.  Raises :class:`FlashError`."""
    from kiln.host.image import mbr
    image = Path(image)
    bmap = image.with_name(image.name + ".bmap")
    if not image.is_file():
        raise FlashError(f"no image at {image}: build it with `kiln image build --board ...`")
    if not bmap.is_file():
        raise FlashError(f"no block map at {bmap}: rebuild the image (kiln image build)")
    target = describe(device)
    problems = refusals(target, image.stat().st_size)
    if problems:
        raise FlashError(f"refusing to write {device}:\n  - " + "\n  - ".join(problems))
    what = f"{device} ({target.model or target.name}, {target.size / 1e9:.1f} GB)"
    if not yes:
        if not sys.stdin.isatty():
            raise FlashError(f"not writing {what} without confirmation: pass --yes")
        answer = confirm(f"Write {image.name} to {what}? Everything on it is erased. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise FlashError("not confirmed; nothing written")
    print(f"kiln: writing {image} to {what} (bmaptool, mapped blocks only)", file=out, flush=True)
    result = subprocess.run(["bmaptool", "copy", "--bmap", str(bmap), str(image), str(device)])
    if result.returncode != 0:
        raise FlashError(f"bmaptool copy failed with status {result.returncode}")
    written = mbr.read(device)
    expected = mbr.read(image)
    if written != expected:
        raise FlashError(f"{device}: the partition table read back differs from the image's")
    subprocess.run(["blockdev", "--rereadpt", str(device)], capture_output=True)
    print(f"kiln: {device} written; root=PARTUUID={written.partuuid(2)}", file=out, flush=True)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "flash", help="write a board's SD-card image to a card (bmaptool)",
        description="Write the board's SD-card image to DEVICE with bmaptool. Refuses "
                    "non-removable devices, partitions, mounted devices and the disk of the "
                    "running system; asks for confirmation unless --yes.")
    p.add_argument("--board", required=True, help="board name (a file in board_configs/)")
    p.add_argument("--image", type=Path,
                   help="image to write (default: out/<board>/sdcard.img from kiln image build)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("device", type=Path, help="the card, e.g. /dev/sdb or /dev/mmcblk0")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from kiln import boards
    board = boards.load(args.board)
    if board.sdcard is None:
        raise FlashError(f"board {board.name} has no SD-card image (its [image] format is "
                         f"{board.image_format!r})")
    flash(args.image or default_image(board.name), args.device, yes=args.yes)
    return 0
