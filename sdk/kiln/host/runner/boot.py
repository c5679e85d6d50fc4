"""Booting one image in a running network lab and following it to the end.

Used by ``kiln run`` and by the boot benchmark: it starts QEMU inside the lab namespace,
follows the console (see :mod:`kiln.host.runner.console`) and makes sure QEMU is gone afterwards.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Callable

from kiln.host import proc as proc_mod
from kiln.host.image.cmdline import NetConfig
from kiln.host.runner import console, qemu, qmp, sdboot
from kiln.host.runner.bootimage import BootImage
from kiln.host.runner.netlab import NetLab

POWEROFF_GRACE_S = 15.0  # after the exit line, how long the guest gets to power off
QEMU_STOP_GRACE_S = 5.0  # after SIGTERM, how long QEMU gets to exit before SIGKILL
WIRE_WAIT_S = 30.0       # how long a QEMU started stopped gets to open its QMP socket


def from_artifacts(artifacts, board, workdir: Path | None = None) -> BootImage:
    """The :class:`BootImage` of ``kiln.host.image.build``'s result; the board's cmdline when
    it carries none.

    An SD-card image is booted from what its boot partition holds, prepared in ``workdir``
    (required then; private to this boot) by :func:`kiln.host.runner.sdboot.prepare`.
    Raises ValueError without ``workdir`` for an SD card, and what ``prepare`` raises.
    """
    if getattr(artifacts, "sdcard", None):
        if workdir is None:
            raise ValueError("an SD-card image needs a work directory to boot from")
        return sdboot.prepare(board, Path(artifacts.sdcard), Path(workdir))
    cmdline = getattr(artifacts, "cmdline", None) or board.cmdline
    if board.qemu is not None and board.qemu.append:
        cmdline = " ".join([cmdline, *board.qemu.append])
    return BootImage(Path(artifacts.kernel), Path(artifacts.initrd), cmdline)


def guest_cmdline(image: BootImage, lab: NetLab, static: bool, extra: str = "") -> str:
    """The image's command line plus the guest network configuration for ``lab``.

    ``static`` True gives the guest ``lab.addressing.static_guest``; False asks for DHCP.
    ``extra`` (kernel arguments) is appended last.
    """
    if static:
        net = NetConfig("static", lab.addressing.static_guest_interface, gateway=lab.host_address,
                        dns=lab.host_address).arg()
    else:
        net = NetConfig("dhcp").arg()
    return " ".join(part for part in (image.cmdline, net, extra) if part)


def boot(board, image: BootImage, lab: NetLab, *, static: bool, timeout_s: float | None,
         on_output: Callable[[bytes], None] | None = None,
         on_line: Callable[[float, str], bool | None] | None = None,
         on_spawn: Callable[[subprocess.Popen], None] | None = None,
         extra_cmdline: str = "", clock: Callable[[], float] = time.monotonic,
         qmp_socket: Path | None = None, uart_socket: Path | None = None,
         ) -> tuple[console.ConsoleOutcome, float]:
    """Boot ``image`` on ``board`` attached to ``lab``'s tap; follow the console to the end.

    Blocks until the guest powers off, ``on_line`` returns True, or ``timeout_s`` seconds pass
    (None: no limit);
    QEMU is stopped in every case before returning.  ``on_spawn(proc)`` is called with QEMU's
    ``Popen`` right after it starts (its pid is QEMU's).  Returns the console outcome and the
    ``clock()`` time QEMU was started at (line times in the outcome use the same clock).
    ``qmp_socket``/``uart_socket``: QEMU listens there for QMP (:mod:`kiln.host.runner.qmp`)
    and on the board's header UART.  A board with ``[qemu] wires`` gets them over QMP before
    the guest runs (QEMU starts stopped; its QMP socket is in the lab's directory unless
    ``qmp_socket`` is given).  Raises ``FileNotFoundError`` if the kernel or initramfs
    is missing.
    """
    cmdline = guest_cmdline(image, lab, static, extra_cmdline)
    wires = board.qemu.wire_commands() if board.qemu is not None else []
    if wires and qmp_socket is None:
        qmp_socket = Path(lab.workdir) / "qmp-wires.sock"
    argv = qemu.arguments(board, image.kernel, image.initrd, cmdline, lab.tap, dtb=image.dtb,
                          sdcard=image.sdcard, qmp_socket=qmp_socket,
                          uart_socket=uart_socket, stopped=bool(wires)).argv()
    started = clock()
    proc = lab.spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT)
    try:
        if wires:                 # QEMU waits stopped (-S) until its wires are made
            qmp.commands(qmp_socket, [*wires, ("cont", None)], connect_timeout=WIRE_WAIT_S)
        if on_spawn:
            on_spawn(proc)
        outcome = console.follow(proc.stdout.fileno(), timeout_s, on_output, on_line, clock)
        if outcome.app_status is not None and not outcome.eof:
            # The app is done: give the guest time to power off, then keep what it printed.
            tail = console.follow(proc.stdout.fileno(), POWEROFF_GRACE_S, on_output, None, clock)
            outcome.lines += tail.lines
            outcome.eof = tail.eof
    finally:
        proc_mod.stop(proc, QEMU_STOP_GRACE_S)
    return outcome, started


def qemu_exit_hint(outcome: console.ConsoleOutcome) -> str:
    """The last console lines, for error messages when the guest ended without a status."""
    return "\n".join(line for _, line in outcome.lines[-15:])

