"""The QEMU arguments for booting a Kiln image, built only from board data -- in one place.

:func:`arguments` is the only code that turns a board file's ``[qemu]`` table, an image, a
kernel command line and a tap device into QEMU arguments.  Its result is used two ways:

* ``kiln run`` (:mod:`kiln.host.runner.boot`) starts ``QemuArgs.argv()`` itself
  (``console="stdio"``): the console is the board's first serial port on QEMU's stdio (output
  only: stdin is not forwarded), so whoever starts QEMU reads the console from its stdout, and
  QEMU exits when the guest powers off.
* The system tests' labgrid environment (``tests/system/labgrid_env.py``) hands the same
  fields to labgrid's QEMUDriver (``console="labgrid"``): machine, CPU and memory become its
  ``machine``/``cpu``/``memory`` keys, the kernel its ``kernel`` image, the command line its
  ``boot_args``, and :attr:`QemuArgs.args` its ``extra_args``.  The driver adds the serial
  port and QMP itself; ``-no-shutdown`` keeps QEMU (stopped) after the guest powers off so
  that the driver can still quit it over QMP.

Nothing here knows a board by name.  The NIC is attached to an existing tap device
(``script=no``): QEMU must be started inside the namespace holding that tap (``NetLab.spawn``,
``NetLab.wrapper``).  A guest reboot or panic never boots again (``-no-reboot``): with
``stdio`` QEMU exits, with ``labgrid`` it stops.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

NETDEV_ID = "kilnnet"
CONSOLES = ("stdio", "labgrid")


@dataclass(frozen=True)
class QemuArgs:
    """One QEMU boot, split the way both consumers need it.

    ``args`` holds everything except the binary, machine, CPU, memory, kernel and command line.
    """

    binary: str
    machine: str
    cpu: str
    memory: str            # QEMU's -m value: MiB, e.g. "512"
    kernel: Path
    cmdline: str
    args: tuple[str, ...]

    def argv(self) -> list[str]:
        """The complete QEMU command line (for starting QEMU directly)."""
        return [self.binary, "-M", self.machine, "-cpu", self.cpu, "-m", self.memory,
                *self.args, "-kernel", str(self.kernel), "-append", self.cmdline]


def arguments(board, kernel: Path, initrd: Path, cmdline: str, tap: str, *,
              console: str = "stdio", pidfile: Path | None = None,
              extra_args: Sequence[str] = ()) -> QemuArgs:
    """QEMU booting ``kernel`` + ``initrd`` with ``cmdline`` on ``board``'s QEMU machine.

    The guest's NIC is attached to tap device ``tap``.  ``console``: ``"stdio"`` (QEMU's stdio
    is the console, QEMU exits at power-off) or ``"labgrid"`` (labgrid's QEMUDriver provides
    serial port and monitor).  ``pidfile``: QEMU writes its pid there.  ``extra_args`` are
    appended verbatim.  Raises ``FileNotFoundError`` naming a missing kernel or initramfs,
    ``ValueError`` for an unknown console or a board without a ``[qemu]`` table.
    """
    if console not in CONSOLES:
        raise ValueError(f"console must be one of {', '.join(CONSOLES)}, got {console!r}")
    spec = board.qemu
    if spec is None:
        raise ValueError(f"board {board.name} has no [qemu] table: it runs on hardware only")
    for what, path in (("kernel", kernel), ("initramfs", initrd)):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{what} image {path} does not exist")
    if console == "stdio":
        console_args = ["-display", "none", "-monitor", "none",
                        "-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console"]
    else:
        console_args = ["-no-shutdown"]
    args = [
        "-smp", str(spec.smp),
        *console_args,
        "-no-reboot",
        "-netdev", f"tap,id={NETDEV_ID},ifname={tap},script=no,downscript=no",
        *spec.nic(NETDEV_ID),
        "-initrd", str(initrd),
        *(["-pidfile", str(pidfile)] if pidfile is not None else []),
        *extra_args,
    ]
    return QemuArgs(binary=spec.binary, machine=spec.machine, cpu=spec.cpu,
                    memory=str(spec.memory_mb), kernel=Path(kernel), cmdline=cmdline,
                    args=tuple(args))


def command(board, kernel: Path, initrd: Path, cmdline: str, tap: str,
            extra_args: Sequence[str] = ()) -> list[str]:
    """argv booting ``kernel`` + ``initrd`` with ``cmdline`` on ``board``, console on stdio
    (``arguments(..., console="stdio").argv()``).  Raises like :func:`arguments`."""
    return arguments(board, kernel, initrd, cmdline, tap, extra_args=extra_args).argv()
