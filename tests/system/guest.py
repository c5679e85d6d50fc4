"""A guest booted on a labgrid place, driven only through :class:`kiln_labgrid.KilnStrategy`.

:class:`Guest` opens the place's environment for one boot (``labgrid_env.py``), brings it to
the strategy's ``booted`` state, waits for console lines through the strategy, reaches
``finished`` for the app's exit status and ``off`` at the end.  It parses the ``KILN:`` lines
of the guest init and the ``CHECK`` lines of the test app (``apps/lab_checks.py``).
"""
from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

from labgrid.strategy import StrategyError

from labgrid_env import STRATEGY, TARGET, boot_variables, open_environment, place_file
from kiln.host.proc import alive

# Boot + app, generous for emulation on a loaded 2-core CI machine.
BOOT_TIMEOUT_S = 180.0
CHECK_RE = re.compile(r"^CHECK (\S+)((?: \S+=\S*)*)\s*$")


def parse_checks(text: str, scenario: str | None = None) -> list[dict[str, str]]:
    """The ``CHECK <scenario> k=v ...`` lines of ``text`` as dicts (``scenario`` filters)."""
    found = []
    for line in text.splitlines():
        m = CHECK_RE.match(line.strip())
        if not m or (scenario and m.group(1) != scenario):
            continue
        found.append(dict(kv.split("=", 1) for kv in m.group(2).split()))
    return found


class Guest:
    """One boot of ``image`` on ``board`` attached to ``lab``, on the place ``place_file()``.

    ``cmdline`` is the complete kernel command line.  Call :meth:`start`, then :meth:`expect`
    / :meth:`wait_exit`; :meth:`close` powers off and releases labgrid (idempotent).
    ``pid`` is the host process running the guest when the place has one (QEMU), else None.
    """

    def __init__(self, board, image, lab, cmdline: str) -> None:
        self.board, self.image, self.lab, self.cmdline = board, image, lab, cmdline
        self.started_at: float | None = None
        self.pid: int | None = None
        self.strategy = None
        self._env = None
        self._target = None
        self._pidfile: Path | None = None
        #: The Unix socket QEMU connects the board's header UART to ([qemu] uart_serial), for
        #: host-side programs to talk to the guest's UART (None: the board has none).
        self.uart_socket: Path | None = None

    @property
    def transcript(self) -> str:
        """The console text up to the last line waited for."""
        return self.strategy.transcript if self.strategy is not None else ""

    def start(self) -> "Guest":
        """Open the place's environment and bring it to ``booted``: power on, and the guest
        init reported the board.  Raises ``AssertionError`` with the console if it did not."""
        if self.board.qemu is not None:
            self._pidfile = Path(self.lab.workdir) / f"qemu-{secrets.token_hex(4)}.pid"
            if self.board.qemu.uart_serial >= 0:
                self.uart_socket = Path(self.lab.workdir) / f"uart-{secrets.token_hex(4)}.sock"
        variables = boot_variables(self.board, self.image, self.lab, self.cmdline, self._pidfile,
                                   self.uart_socket)
        self._env = open_environment(place_file(), variables)
        self._target = self._env.get_target(TARGET)
        self.strategy = self._target.get_driver(STRATEGY, activate=False)
        self.started_at = time.monotonic()
        try:
            self.strategy.transition("booted", timeout=BOOT_TIMEOUT_S)
        except StrategyError as exc:
            raise self._failure(exc) from None
        finally:
            self.pid = _read_pid(self._pidfile)
        assert self._pidfile is None or self.pid is not None, \
            f"QEMU booted but wrote no pid to {self._pidfile}"
        return self

    def expect(self, pattern: str, timeout: float) -> re.Match:
        """Wait up to ``timeout`` s for regex ``pattern`` on the console; return its match.

        Raises ``AssertionError`` with the console transcript on timeout.
        """
        try:
            return self.strategy.expect(pattern, timeout)
        except StrategyError as exc:
            raise self._failure(exc) from None

    def wait_exit(self, timeout: float) -> int:
        """Reach ``finished`` (``KILN: app exited with status N``) within ``timeout`` s;
        return N."""
        try:
            self.strategy.transition("finished", timeout=timeout)
        except StrategyError as exc:
            raise self._failure(exc) from None
        return self.strategy.app_status

    def qmp(self, command: str, **arguments):
        """Run QMP ``command`` with ``arguments`` on the guest's QEMU (labgrid's QEMUDriver
        holds the QMP connection; QEMU places only) and return its result: e.g.
        ``qmp("system_powerdown")`` presses the board's power button."""
        return self._target.get_driver("QEMUDriver").monitor_command(command, arguments)

    def set_cable(self, plugged: bool) -> None:
        """Plug or pull the guest's Ethernet cable (the place's cable switch)."""
        self.strategy.set_cable(plugged)

    def checks(self, scenario: str | None = None) -> list[dict[str, str]]:
        """Parsed ``CHECK`` lines seen so far (see :func:`parse_checks`)."""
        return parse_checks(self.transcript.replace("\r", ""), scenario)

    def close(self) -> None:
        """Reach ``off`` (QEMU quits) and release labgrid; safe to call twice."""
        if self._target is None:
            return
        try:
            self.strategy.transition("off")
        finally:
            self._target.deactivate_all_drivers()
            self._env.cleanup()
            self._target = self._env = None

    def _failure(self, exc: StrategyError) -> AssertionError:
        return AssertionError(f"{exc.msg} ({self.board.name}); console so far:\n"
                              f"{self.transcript}{self.strategy.unmatched}")


class GuestStarter:
    """Starts guests of ``board``/``image`` and powers every one off at :meth:`close_all`
    (asserting that its QEMU, if any, is gone)."""

    def __init__(self, board, image, resources) -> None:
        self.board, self.image, self.resources = board, image, resources
        self.started: list[Guest] = []

    def start(self, lab, cmdline: str) -> Guest:
        g = Guest(self.board, self.image, lab, cmdline)
        self.started.append(g)
        try:
            g.start()
        finally:
            if g.pid is not None:
                self.resources.qemu_pids.add(g.pid)
        return g

    def close_all(self) -> None:
        for g in self.started:
            g.close()
            assert g.pid is None or not running(g.pid), \
                f"QEMU (pid {g.pid}) still running after power-off"


#: True when a pid exists and is not a zombie (imported by the other system tests).
running = alive


def _read_pid(pidfile: Path | None) -> int | None:
    """The pid QEMU wrote to ``pidfile`` (None when there is none)."""
    try:
        return int(pidfile.read_text().split()[0]) if pidfile is not None else None
    except (OSError, ValueError, IndexError):
        return None
