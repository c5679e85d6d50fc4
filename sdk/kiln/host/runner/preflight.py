"""Host checks before booting a board under QEMU, each failure naming its fix.

:func:`problems_for_run` returns every problem found (so a user fixes them all in one go);
:func:`check_run` raises them as one :class:`PreflightError`.  The individual checks return
``None`` when fine and a one-line message otherwise, so tests can call them one by one.
"""
from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

from kiln.errors import KilnError
from kiln.host.runner import qemutool

TUN_DEVICE = Path("/dev/net/tun")
# Host programs the lab needs besides the board's QEMU binary: program -> Debian package.
LAB_PROGRAMS = {"ip": "iproute2", "dnsmasq": "dnsmasq-base"}


class PreflightError(KilnError):
    """The host lacks something ``kiln run`` needs; the message lists each fix."""


def root_problem(euid: int | None = None) -> str | None:
    """A message if the process is not root (namespaces and taps need CAP_NET_ADMIN)."""
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        return ("kiln run must run as root to create network namespaces and tap devices: "
                "run it with sudo (e.g. `sudo .venv/bin/kiln run ...`)")
    return None


def tun_problem(device: Path = TUN_DEVICE) -> str | None:
    """A message if ``device`` (normally /dev/net/tun) is missing or unusable."""
    fix = ("load the tun module with `modprobe tun`; inside a container, start it with "
           "`--device /dev/net/tun --cap-add NET_ADMIN`")
    try:
        mode = os.stat(device).st_mode
    except FileNotFoundError:
        return f"{device} does not exist: {fix}"
    if not stat.S_ISCHR(mode):
        return f"{device} is not a character device: {fix}"
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"cannot open {device} ({exc.strerror}): run kiln run as root"
        return f"cannot open {device} ({exc.strerror}): {fix}"
    os.close(fd)
    return None


def program_problem(program: str, package: str) -> str | None:
    """A message naming the Debian package to install if ``program`` is not on PATH."""
    if shutil.which(program) is None:
        return f"{program} not found: install it with `apt-get install {package}`"
    return None


def netns_problem(proc_ns: Path = Path("/proc/self/ns/net")) -> str | None:
    """A message if the kernel has no network namespace support."""
    if not proc_ns.exists():
        return (f"{proc_ns} is missing: the kernel lacks network namespaces "
                "(CONFIG_NET_NS); use a kernel with them enabled")
    return None


def problems_for_run(board) -> list[str]:
    """Every reason ``kiln run --board <board>`` cannot work on this host (empty when fine)."""
    if board.qemu is None:
        return [f"board {board.name} runs on hardware only (its board file has no [qemu] "
                f"table): kiln run boots QEMU boards ({', '.join(_qemu_boards())})"]
    checks = [root_problem(), netns_problem(), tun_problem(),
              program_problem(board.qemu.binary, board.qemu.package)]
    checks += [program_problem(prog, pkg) for prog, pkg in LAB_PROGRAMS.items()]
    if board.qemu.min_version and shutil.which(board.qemu.binary):
        checks.append(qemutool.problem(board))
    return [message for message in checks if message]


def _qemu_boards() -> list[str]:
    from kiln import boards
    return [name for name in boards.names() if boards.load(name).qemu is not None]


def check_run(board) -> None:
    """Raise :class:`PreflightError` listing every problem found by :func:`problems_for_run`."""
    problems = problems_for_run(board)
    if len(problems) == 1:
        raise PreflightError(problems[0])
    if problems:
        raise PreflightError("the host is not ready:\n  - " + "\n  - ".join(problems))
