"""Booting an SD-card image under QEMU's raspi machines: what QEMU needs, taken out of the image.

QEMU does not run the Raspberry Pi's GPU firmware, so it cannot read ``config.txt`` and load the
kernel itself.  :func:`prepare` does the firmware's job from the image's own boot partition
(read with mtools, no loop device, no root): ``config.txt`` names the kernel and the
initramfs, ``cmdline.txt`` gives the kernel command line, and the board file's ``[qemu] dtb`` is
the DTB the firmware would pick.  The result is a :class:`~kiln.host.runner.bootimage.BootImage`
for :func:`kiln.host.runner.qemu.arguments`:

* the image becomes ``-drive if=sd`` -- a *copy*, padded to a power of two (QEMU's SD card
  model wants one), so the artifact stays byte for byte what ``kiln flash`` writes;
* the DTB gets the board file's test-only edits (``[qemu] dtb_disable``, ``dtb_delete``:
  nodes QEMU does not emulate, regulators and power sequences on firmware GPIOs QEMU lacks),
  again on a copy, with ``fdtput``;
* the command line gets the board file's ``[qemu] append`` (e.g. ``kiln.eth=usb0``: QEMU's
  usb-net stands in for the board's own NIC).

What this proves and what it cannot: everything after the GPU firmware (kernel, DTB, boot
initramfs, root partition, modules, init, app, network stack) runs from the image's bytes; the
firmware stage (``config.txt`` parsing, DTB choice) and the boards' own Ethernet/Wi-Fi chips are
not emulated (images/README.md lists the one-time hardware check per board).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from kiln.errors import KilnError
from kiln.host.image import mbr
from kiln.host.runner.bootimage import BootImage

BOOT_PARTITION = 1


class SdBootError(KilnError):
    """The image's boot partition lacks a file QEMU needs, or a tool is missing."""


def read_boot_file(image: Path, name: str, dest: Path, table: mbr.PartitionTable | None = None) -> Path:
    """Copy file ``name`` from the image's FAT boot partition to ``dest`` (mtools)."""
    if shutil.which("mcopy") is None:
        raise SdBootError("mcopy not found: apt-get install mtools")
    table = table or mbr.read(image)
    offset = table.get(BOOT_PARTITION).start
    result = subprocess.run(["mcopy", "-n", "-i", f"{image}@@{offset}", f"::{name}", str(dest)],
                            capture_output=True, text=True,
                            env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))
    if result.returncode != 0:
        raise SdBootError(f"{name} is not on the boot partition of {image}: "
                          f"{result.stderr.strip()}")
    return dest


def config_txt_files(text: str) -> tuple[str, str]:
    """(kernel, initramfs) file names named by ``config.txt`` (``kernel=``, ``initramfs``)."""
    kernel = initramfs = None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("kernel="):
            kernel = line.split("=", 1)[1].strip()
        elif line.startswith("initramfs "):
            initramfs = line.split()[1]
    if not kernel or not initramfs:
        raise SdBootError("config.txt names no kernel= or no initramfs: not a Kiln SD image")
    return kernel, initramfs


def padded_size(size: int) -> int:
    """The smallest power of two >= ``size`` (QEMU's SD card model needs one)."""
    return 1 << max(0, (size - 1).bit_length())


def pad_copy(image: Path, dest: Path) -> Path:
    """A sparse copy of ``image`` at ``dest``, grown to a power-of-two size."""
    subprocess.run(["cp", "--sparse=always", str(image), str(dest)], check=True)
    with open(dest, "r+b") as f:
        f.truncate(padded_size(dest.stat().st_size))
    return dest


def edit_dtb(dtb: Path, disable: tuple[str, ...], delete: tuple[str, ...]) -> None:
    """Set ``status = "disabled"`` on each node of ``disable`` and delete each ``node:prop``
    of ``delete``, in place (call it on a copy).  Raises :class:`SdBootError`."""
    from kiln.host.image import dtedit
    what = "fix [qemu] dtb_disable/dtb_delete in the board file"
    try:
        dtedit.set_status(dtb, disable, "disabled", what)
        dtedit.delete_properties(dtb, delete, what)
    except dtedit.DtEditError as exc:
        raise SdBootError(str(exc)) from None


def prepare(board, image: Path, workdir: Path):
    """Everything QEMU needs to boot SD-card ``image`` of ``board``, as files in ``workdir``
    (which must be private to this boot); returns a :class:`BootImage`.  Blocks for about a
    second.  Raises :class:`SdBootError`, :class:`kiln.host.image.mbr.PartitionTableError`."""
    spec = board.qemu
    if spec is None or not spec.dtb:
        raise SdBootError(f"board {board.name} has no [qemu] dtb: it cannot boot under QEMU")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    table = mbr.read(image)
    config = read_boot_file(image, "config.txt", workdir / "config.txt", table).read_text()
    kernel_name, initrd_name = config_txt_files(config)
    kernel = read_boot_file(image, kernel_name, workdir / kernel_name, table)
    initrd = read_boot_file(image, initrd_name, workdir / initrd_name, table)
    dtb = read_boot_file(image, spec.dtb, workdir / spec.dtb, table)
    edit_dtb(dtb, spec.dtb_disable, spec.dtb_delete)
    cmdline = read_boot_file(image, "cmdline.txt", workdir / "cmdline.txt", table)
    cmdline_text = " ".join(cmdline.read_text().split() + list(spec.append))
    sdcard = pad_copy(image, workdir / "sdcard.img")
    return BootImage(kernel, initrd, cmdline_text, dtb=dtb, sdcard=sdcard)
