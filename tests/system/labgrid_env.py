"""The target half of the system tests: a labgrid environment file (a *place*) plus one boot's
variables.

A place is a labgrid environment file whose target ``main`` has a :class:`KilnStrategy`
(``kiln_labgrid.py``) and whatever power, console and boot-media drivers the place has.  The
default is ``envs/qemu.yaml``; ``--lg-env FILE`` (labgrid's pytest option) or ``$KILN_LG_ENV``
names another one (a board farm's place: ``envs/farm-qemu.yaml``, ``envs/farm-rpi4.yaml``).

What changes from boot to boot -- board, kernel, initramfs, kernel command line, and for a QEMU
board the QEMU arguments and the lab's QEMU wrapper -- is handed to the file as ``LG_KILN_*``
variables, which labgrid substitutes into ``!template`` values while it reads the file
(:func:`open_environment`).  The QEMU arguments come from
:func:`kiln.host.runner.qemu.arguments`, the function ``kiln run`` starts QEMU with
(``console="labgrid"``: the driver brings serial port and QMP; ``-no-shutdown`` keeps QEMU
after the guest powers off so that the strategy's ``off`` can quit it over QMP).  labgrid's
QEMUDriver takes the QEMU binary as a path, not an argv, so ``LG_KILN_QEMU`` is a
:meth:`NetLab.wrapper` script that runs it inside the lab's namespace, where the tap lives.
"""
from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from labgrid import Environment

from kiln.host.farm.envcheck import labgrid_variables
from kiln.host.runner import qemu
from kiln.host.runner.boot import BootImage
from kiln.host.runner.netlab import NetLab

HERE = Path(__file__).resolve().parent
QEMU_PLACE = HERE / "envs" / "qemu.yaml"
PLACE_ENV_VAR = "KILN_LG_ENV"
TARGET = "main"
STRATEGY = "KilnStrategy"


def place_file() -> Path:
    """The environment file of the place the tests boot on (``$KILN_LG_ENV`` or the QEMU one)."""
    return Path(os.environ.get(PLACE_ENV_VAR) or QEMU_PLACE)


def take_labgrid_options(config) -> None:
    """Make labgrid's pytest options choose the place: ``--lg-env FILE`` (or ``$LG_ENV``) as
    ``$KILN_LG_ENV`` does, ``--lg-coordinator`` as ``$LG_COORDINATOR`` does.

    Called from ``pytest_configure`` before labgrid's plugin, which would otherwise open the
    file once without the per-boot ``LG_KILN_*`` variables and fail; it is opened per boot
    here instead (the plugin's ``env``/``target`` fixtures stay unused).
    """
    path = getattr(config.option, "lg_env", None) or os.environ.pop("LG_ENV", None)
    if path:
        os.environ[PLACE_ENV_VAR] = str(Path(path).resolve())
        config.option.lg_env = None
    coordinator = getattr(config.option, "lg_coordinator", None)
    if coordinator:
        os.environ["LG_COORDINATOR"] = coordinator
        config.option.lg_coordinator = None


def boot_variables(board, image: BootImage, lab: NetLab, cmdline: str,
                   pidfile: Path | None = None,
                   uart_socket: Path | None = None) -> dict[str, str]:
    """The ``LG_KILN_*`` variables of one boot of ``image`` on ``board`` with ``cmdline``.

    Every place gets ``LG_KILN_BOARD``, ``LG_KILN_KERNEL``, ``LG_KILN_INITRD``,
    ``LG_KILN_CMDLINE``, ``LG_KILN_LAB`` (the lab's namespace: where a farm place plugs the
    board's cable) and ``LG_KILN_PIDFILE`` (``pidfile`` or empty: where the board's QEMU, on
    whichever host runs it, writes its pid); a QEMU board also ``LG_KILN_QEMU`` (the lab's
    wrapper script), ``LG_KILN_QEMU_MACHINE``, ``_CPU``, ``_MEMORY`` and ``_ARGS`` (its NIC on
    ``lab``'s tap; ``pidfile``: where QEMU writes its pid; ``uart_socket``: the Unix socket
    QEMU listens on for the board's header UART, ``[qemu] uart_serial``) and
    ``LG_KILN_QEMU_WIRES`` (the board's ``[qemu] wires`` as QMP commands, JSON).
    """
    variables = {"LG_KILN_BOARD": board.name, "LG_KILN_KERNEL": str(image.kernel),
                 "LG_KILN_INITRD": str(image.initrd), "LG_KILN_CMDLINE": cmdline,
                 "LG_KILN_LAB": lab.name, "LG_KILN_PIDFILE": str(pidfile or "")}
    if board.qemu is not None:
        # SD-card boards also boot a DTB and the card (fields of the runner's BootImage).
        media = {name: getattr(image, name) for name in ("dtb", "sdcard")
                 if getattr(image, name, None) is not None}
        args = qemu.arguments(board, image.kernel, image.initrd, cmdline, lab.tap,
                              console="labgrid", pidfile=pidfile, uart_socket=uart_socket,
                              **media)
        variables.update({
            "LG_KILN_QEMU": str(lab.wrapper(args.binary)),
            "LG_KILN_QEMU_MACHINE": args.machine,
            "LG_KILN_QEMU_CPU": args.cpu,
            "LG_KILN_QEMU_MEMORY": args.memory,
            "LG_KILN_QEMU_ARGS": shlex.join(args.args),
            "LG_KILN_QEMU_WIRES": json.dumps(board.qemu.wire_commands()),
        })
    return variables


def open_environment(path: Path, variables: dict[str, str]) -> Environment:
    """labgrid's :class:`Environment` for file ``path`` with ``variables`` substituted.

    labgrid reads ``LG_*`` substitutions from the process environment, and only while it parses
    the file: the variables are set for exactly that long (so QEMU and other children never
    inherit them).  Raises labgrid's ``InvalidConfigError`` when the file uses a variable that
    is not given.
    """
    with labgrid_variables(variables):
        return Environment(config_file=str(path))
