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

from kiln.host.runner import qemutool

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
              extra_args: Sequence[str] = (), dtb: Path | None = None,
              sdcard: Path | None = None, uart_socket: Path | None = None,
              qmp_socket: Path | None = None, stopped: bool = False) -> QemuArgs:
    """QEMU booting ``kernel`` + ``initrd`` with ``cmdline`` on ``board``'s QEMU machine.

    The guest's NIC is attached to tap device ``tap``.  ``console``: ``"stdio"`` (QEMU's stdio
    is the console, QEMU exits at power-off) or ``"labgrid"`` (labgrid's QEMUDriver provides
    serial port and monitor).  ``pidfile``: QEMU writes its pid there.  ``extra_args`` are
    appended verbatim.

    SD-card boards (QEMU's raspi machines, see :mod:`kiln.host.runner.sdboot`): ``dtb`` is
    passed with ``-dtb`` and ``sdcard`` (a power-of-two sized copy of the image) becomes the
    SD card (``-drive if=sd``).  The board's console is QEMU serial port ``[qemu]
    console_serial``; the ports before it (the PL011 when the console is the mini UART) are
    attached too: to the same stdio console, or to nothing under labgrid, whose driver adds
    the console port last.  ``uart_socket``: the board's header UART (QEMU serial port
    ``[qemu] uart_serial``, the PL011 on the Pis) becomes a Unix socket QEMU listens on at
    that path (no wait: the guest runs whether or not a host program is connected), for
    host-side programs to talk to the board's UART; without it that port goes where the other
    ports before the console go.  The board's ``[qemu] test_devices`` (emulated I2C/SPI
    peripherals) are always attached.  ``qmp_socket``: QEMU's QMP monitor listens on that Unix
    socket (:mod:`kiln.host.runner.qmp`; under labgrid the driver has its own).  ``stopped``:
    QEMU starts with the CPUs stopped (``-S``) until QMP ``cont`` -- for the board's ``[qemu]
    wires`` (:meth:`kiln.boards.QemuSpec.wire_commands`), made before the guest runs; labgrid's
    driver always starts QEMU stopped.  The binary is
    :func:`kiln.host.runner.qemutool.binary` (the host's QEMU, or the private newer copy a
    board's ``min_version`` needs).

    Raises ``FileNotFoundError`` naming a missing kernel, initramfs, DTB or SD image,
    ``ValueError`` for an unknown console or a board without a ``[qemu]`` table,
    :class:`kiln.host.runner.qemutool.QemuToolError` when no QEMU is new enough.
    """
    if console not in CONSOLES:
        raise ValueError(f"console must be one of {', '.join(CONSOLES)}, got {console!r}")
    spec = board.qemu
    if spec is None:
        raise ValueError(f"board {board.name} has no [qemu] table: it runs on hardware only")
    for what, path in (("kernel", kernel), ("initramfs", initrd), ("DTB", dtb),
                       ("SD card", sdcard)):
        if path is not None and not Path(path).exists():     # (an SD card may be a device)
            raise FileNotFoundError(f"{what} image {path} does not exist")
    ports = spec.console_serial + 1           # the console and the serial ports before it
    if uart_socket is not None and spec.uart_serial < 0:
        raise ValueError(f"board {board.name} has no [qemu] uart_serial: no UART to connect")
    uart = uart_socket is not None
    uart_args = ["-chardev", f"socket,id=uart,path={uart_socket},server=on,wait=off"] \
        if uart_socket is not None else []
    if console == "stdio":
        mux = ",mux=on" if ports - uart > 1 else ""
        before = ["chardev:console"] * (ports - 1)
        console_args = ["-display", "none", "-monitor", "none",
                        "-chardev", f"stdio,id=console,signal=off{mux}"]
    else:
        before = ["null"] * (ports - 1)
        console_args = ["-no-shutdown"]
    if uart:
        before[spec.uart_serial] = "chardev:uart"
    console_args += uart_args
    for port in before:
        console_args += ["-serial", port]
    if console == "stdio":
        console_args += ["-serial", "chardev:console"]

    boot_media = [*(["-dtb", str(dtb)] if dtb is not None else []),
                  *(["-drive", f"if=sd,format=raw,file={sdcard}"] if sdcard is not None else [])]
    args = [
        "-smp", str(spec.smp),
        *console_args,
        "-no-reboot",
        "-netdev", f"tap,id={NETDEV_ID},ifname={tap},script=no,downscript=no",
        *spec.nic(NETDEV_ID),
        "-initrd", str(initrd),
        *boot_media,
        *(["-pidfile", str(pidfile)] if pidfile is not None else []),
        *(["-qmp", f"unix:{qmp_socket},server=on,wait=off"] if qmp_socket is not None else []),
        *(["-S"] if stopped else []),
        *spec.test_devices,
        *extra_args,
    ]
    return QemuArgs(binary=qemutool.binary(board), machine=spec.machine, cpu=spec.cpu,
                    memory=str(spec.memory_mb), kernel=Path(kernel), cmdline=cmdline,
                    args=tuple(args))


def command(board, kernel: Path, initrd: Path, cmdline: str, tap: str,
            extra_args: Sequence[str] = (), dtb: Path | None = None,
            sdcard: Path | None = None) -> list[str]:
    """argv booting ``kernel`` + ``initrd`` with ``cmdline`` on ``board``, console on stdio
    (``arguments(..., console="stdio").argv()``).  Raises like :func:`arguments`."""
    return arguments(board, kernel, initrd, cmdline, tap, extra_args=extra_args, dtb=dtb,
                     sdcard=sdcard).argv()
