"""A guest booted through labgrid, and what its console said.

:class:`Guest` powers a labgrid target on, waits for console lines with labgrid's ``expect``,
keeps the whole transcript and parses the ``KILN:`` lines of the guest init and the ``CHECK``
lines of the test app (``apps/lab_checks.py``).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from labgrid import Environment

from kiln.host.runner.console import EXIT_LINE_RE
from labgrid_env import TARGET, write_environment

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
    """One boot of ``image`` on ``board`` attached to ``lab``, driven by labgrid.

    ``cmdline`` is the complete kernel command line.  Call :meth:`start`, then :meth:`expect`
    / :meth:`wait_exit`; :meth:`close` powers off and releases labgrid (idempotent).
    """

    def __init__(self, board, image, lab, cmdline: str) -> None:
        self.board, self.image, self.lab, self.cmdline = board, image, lab, cmdline
        self.transcript = ""
        self.started_at: float | None = None
        self.pid: int | None = None
        self._env = None
        self._target = None
        self._driver = None

    def start(self) -> "Guest":
        """Write the labgrid environment, power the target on (QEMU starts and runs)."""
        path = write_environment(self.board, self.image, self.lab, self.cmdline,
                                 Path(self.lab.workdir) / "labgrid-env.yaml")
        self._env = Environment(config_file=str(path))
        self._target = self._env.get_target(TARGET)
        self._driver = self._target.get_driver("QEMUDriver")
        self.started_at = time.monotonic()
        self._driver.on()
        self.pid = self._driver._child.pid  # labgrid keeps the Popen; no public accessor
        return self

    def expect(self, pattern: str, timeout: float) -> re.Match:
        """Wait up to ``timeout`` s for regex ``pattern`` on the console; return its match.

        Raises ``AssertionError`` with the console transcript on timeout or QEMU exit.
        """
        import pexpect
        try:
            _, before, match, after = self._driver.expect(pattern, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            raise AssertionError(f"{pattern!r} not seen on the {self.board.name} console within "
                                 f"{timeout} s ({type(exc).__name__}); console so far:\n"
                                 f"{self.transcript}{_partial(self._driver)}") from None
        self.transcript += before.decode(errors="replace") + after.decode(errors="replace")
        return re.search(pattern, after.decode(errors="replace"))

    def wait_exit(self, timeout: float) -> int:
        """Wait for ``KILN: app exited with status N``; return N."""
        match = self.expect(EXIT_LINE_RE.pattern, timeout)
        return int(match.group(1))

    def checks(self, scenario: str | None = None) -> list[dict[str, str]]:
        """Parsed ``CHECK`` lines seen so far (see :func:`parse_checks`)."""
        return parse_checks(self.transcript.replace("\r", ""), scenario)

    def close(self) -> None:
        """Power off (quit QEMU) and deactivate labgrid; safe to call twice."""
        if self._target is not None:
            try:
                if self._driver is not None and self._driver.status:
                    if self._driver._child.poll() is None:
                        self._driver.off()
                    else:       # QEMU already gone (powered off, or its lab killed it)
                        self._driver.status = 0
            finally:
                self._target.deactivate_all_drivers()
                self._env.cleanup()
                self._target = self._driver = self._env = None


class GuestStarter:
    """Starts guests of ``board``/``image`` and powers every one off at :meth:`close_all`
    (asserting its QEMU is gone)."""

    def __init__(self, board, image, resources) -> None:
        self.board, self.image, self.resources = board, image, resources
        self.started: list[Guest] = []

    def start(self, lab, cmdline: str) -> Guest:
        g = Guest(self.board, self.image, lab, cmdline)
        self.started.append(g)
        g.start()
        self.resources.qemu_pids.add(g.pid)
        return g

    def close_all(self) -> None:
        for g in self.started:
            g.close()
            assert not running(g.pid), f"QEMU (pid {g.pid}) still running after power-off"


def running(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _partial(driver) -> str:
    try:
        return driver._expect.before.decode(errors="replace")
    except Exception:  # diagnostics only
        return ""
