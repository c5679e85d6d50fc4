"""The QEMU command line for booting a Kiln image, built only from board data.

Nothing here knows a board by name: binary, machine, CPU, memory, SMP and the NIC arguments
come from ``board.qemu`` (``board_configs/<board>.toml``).  The console is the board's first
serial port on QEMU's stdio (output only: stdin is not forwarded), so whoever starts QEMU reads
the console from its stdout.  The NIC is attached to an existing tap device (``script=no``):
QEMU must be started inside the namespace holding that tap (``NetLab.spawn``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

NETDEV_ID = "kilnnet"


def command(board, kernel: Path, initrd: Path, cmdline: str, tap: str,
            extra_args: Sequence[str] = ()) -> list[str]:
    """argv booting ``kernel`` + ``initrd`` with ``cmdline`` on ``board``'s QEMU machine.

    The guest's NIC is attached to tap device ``tap``; the console is on stdio; a guest
    reboot or panic makes QEMU exit (``-no-reboot``) instead of booting again.
    ``extra_args`` are appended verbatim.  Raises ``FileNotFoundError`` naming a missing
    kernel or initramfs.
    """
    for what, path in (("kernel", kernel), ("initramfs", initrd)):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{what} image {path} does not exist")
    spec = board.qemu
    return [
        spec.binary,
        "-M", spec.machine,
        "-cpu", spec.cpu,
        "-m", str(spec.memory_mb),
        "-smp", str(spec.smp),
        "-display", "none",
        "-monitor", "none",
        "-chardev", "stdio,id=console,signal=off",
        "-serial", "chardev:console",
        "-no-reboot",
        "-netdev", f"tap,id={NETDEV_ID},ifname={tap},script=no,downscript=no",
        *spec.nic(NETDEV_ID),
        "-kernel", str(kernel),
        "-initrd", str(initrd),
        "-append", cmdline,
        *extra_args,
    ]
