"""Kiln's labgrid parts: the strategy the system tests reach guest states through, and the one
QEMU-only driver a QEMU place lists in its environment file.

:class:`KilnStrategy` binds only what every place has -- a ``PowerProtocol`` and a
``ConsoleProtocol`` -- plus optional parts a real board's place has:

* ``sdmux`` + ``storage`` (labgrid's ``USBSDMuxDriver`` and ``USBStorageDriver``): before
  power-on the strategy switches the SD card to the host, copies the boot files and a
  ``cmdline.txt`` onto its boot partition and hands the card back to the board;
* ``cable`` (any ``DigitalOutputProtocol``): the board's Ethernet cable, for the link-loss
  tests (a relay on a real place; :class:`QEMUNetLinkDriver` under QEMU).

States, in order (``transition()`` walks forward through them; going back means ``off``)::

    off ──► booted ──► finished
     ▲                    │
     └────────────────────┘

``off``       power off, then the console is released (``target.deactivate``) so that no stale
              output of an earlier boot is read later.
``booted``    [SD place: boot media written,] console opened, [cable driver activated,] power
              on, and the guest init's ``KILN: board <name>`` line seen (``board`` checks the
              name).
``finished``  ``KILN: app exited with status N`` seen: :attr:`KilnStrategy.app_status` is N.
              (The init then powers the board off by itself.)

Console reads go through :meth:`KilnStrategy.expect`, which keeps the whole boot's console
text (:attr:`KilnStrategy.transcript`) whoever asked for a line: the strategy's own transitions
or the test.  Nothing here knows QEMU, except the two drivers a QEMU place's environment file
lists (``envs/qemu.yaml``): :class:`KilnQEMUDriver` (labgrid's QEMUDriver making the board's
``[qemu] wires`` before the guest runs) and :class:`QEMUNetLinkDriver`.

Environment files name this module in ``imports:`` (as ``kiln_labgrid``: imported once, so the
classes register with labgrid once); the system tests put ``tests/system`` on ``sys.path``.
"""
from __future__ import annotations

import codecs
import enum
import json
import re
import tempfile
import threading
import time
from pathlib import Path, PurePath

import attr
import pexpect
from labgrid.driver import Driver, ExecutionError, QEMUDriver
from labgrid.factory import target_factory
from labgrid.protocol import DigitalOutputProtocol
from labgrid.step import step
from labgrid.strategy import Strategy, StrategyError

from kiln.host.runner.console import EXIT_LINE_RE
from kiln.host.runner.qemu import NETDEV_ID

# Whole lines only: a serial console may deliver "KILN: board rp" and "i4b\r\n" separately.
BOARD_LINE_RE = re.compile(r"KILN: board (\S+)\r?\n")
EXIT_LINE = EXIT_LINE_RE.pattern + r"\r?\n"
_READ_CHUNK = 65536
_POLL_S = 0.5
_OPTIONAL_STR = attr.validators.optional(attr.validators.instance_of(str))
QUIT_TIMEOUT_S = 30.0     # KilnQEMUDriver.off(): QMP quit, then QEMU is killed


class Status(enum.Enum):
    unknown = 0
    off = 1
    booted = 2
    finished = 3


@attr.s(eq=False)
class ConsoleTimeout(StrategyError):
    """A console line did not come in time (``msg`` says which)."""


@target_factory.reg_driver
@attr.s(eq=False)
class KilnStrategy(Strategy):
    """off -> booted -> finished for a board running a Kiln image (see the module docstring).

    Environment keys: ``board`` (the name the image must report; checked when set),
    ``boot_timeout`` (seconds from power-on to the board line, default 180), and for SD-card
    places ``cmdline`` (written as ``cmdline.txt``), ``boot_files`` (``images:`` keys copied to
    the card) and ``boot_partition`` (default 1).
    """

    bindings = {
        "power": "PowerProtocol",
        "console": "ConsoleProtocol",
        "sdmux": {"USBSDMuxDriver", None},
        "storage": {"USBStorageDriver", None},
        "cable": {"DigitalOutputProtocol", None},
    }

    board = attr.ib(default=None, validator=_OPTIONAL_STR)
    boot_timeout = attr.ib(default=180.0, converter=float)
    cmdline = attr.ib(default=None, validator=_OPTIONAL_STR)
    boot_files = attr.ib(default=attr.Factory(list), converter=list)
    boot_partition = attr.ib(default=1, converter=int)

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self.status = Status.unknown
        self.app_status: int | None = None
        self.transcript = ""
        self._pending = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    # -- states ----------------------------------------------------------------------------

    @step(args=["status"])
    def transition(self, status, *, timeout: float | None = None):
        """Bring the target to ``status`` (a :class:`Status` or its name).

        ``timeout`` (seconds) limits the wait for the line that ends the last step (default:
        ``boot_timeout``).  Blocks; raises :class:`ConsoleTimeout` when a line does not come,
        :class:`labgrid.strategy.StrategyError` for an impossible request or the wrong board.
        """
        if not isinstance(status, Status):
            status = Status[status]
        if status == Status.unknown:
            raise StrategyError(f"can not transition to {status}")
        if status == self.status:
            return
        if status == Status.off:
            self.target.activate(self.power)
            self.power.off()
            self.target.deactivate(self.console)
        elif status == Status.booted:
            self.transition(Status.off)
            self._write_boot_media()
            self._reset_transcript()
            self.target.activate(self.console)
            if self.cable is not None:      # cabled before power-on (a farm place: to the lab)
                self.target.activate(self.cable)
            self.target.activate(self.power)
            self.power.on()
            match = self.expect(BOARD_LINE_RE.pattern,
                                self.boot_timeout if timeout is None else timeout)
            if self.board and match.group(1) != self.board:
                raise StrategyError(f"the console says board {match.group(1)}, the environment "
                                    f"expects {self.board}: wrong image for this place")
        elif status == Status.finished:
            if self.status != Status.booted:
                self.transition(Status.booted)
            match = self.expect(EXIT_LINE,
                                self.boot_timeout if timeout is None else timeout)
            self.app_status = int(match.group(1))
        else:
            raise StrategyError(f"no transition found from {self.status} to {status}")
        self.status = status

    def force(self, status):
        """Declare the target to be in ``status`` without acting (labgrid's contract)."""
        if not isinstance(status, Status):
            status = Status[status]
        if status == Status.unknown:
            raise StrategyError(f"can not force state {status}")
        self.target.activate(self.power)
        if status != Status.off:
            self.target.activate(self.console)
        self.status = status

    # -- console ---------------------------------------------------------------------------

    def expect(self, pattern: str, timeout: float) -> re.Match:
        """Wait up to ``timeout`` s for regex ``pattern`` in the console text not yet matched.

        Returns the match (on text); everything up to its end joins :attr:`transcript`.  Raises
        :class:`ConsoleTimeout`.  Uses only ``ConsoleProtocol.read``.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self._pending)
            if match:
                self.transcript += self._pending[:match.end()]
                self._pending = self._pending[match.end():]
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConsoleTimeout(f"{pattern!r} not seen on the console within {timeout} s")
            try:
                data = self.console.read(size=1, timeout=min(remaining, _POLL_S),
                                         max_size=_READ_CHUNK)
            except pexpect.TIMEOUT:   # labgrid's console drivers: nothing arrived in time
                continue
            if not data:
                time.sleep(min(remaining, 0.05))
                continue
            self._pending += self._decoder.decode(data)

    @property
    def unmatched(self) -> str:
        """Console text read after the last match (diagnostics when a line does not come)."""
        return self._pending

    # -- other parts of the place ----------------------------------------------------------

    def set_cable(self, plugged: bool) -> None:
        """Plug or pull the board's Ethernet cable (the place's ``cable`` output)."""
        if self.cable is None:
            raise StrategyError("this place has no cable switch (a DigitalOutputProtocol bound "
                                "as 'cable'): link-loss tests need one")
        self.target.activate(self.cable)
        self.cable.set(plugged)

    # -- internals -------------------------------------------------------------------------

    def _reset_transcript(self) -> None:
        self.app_status = None
        self.transcript = ""
        self._pending = ""
        self._decoder.reset()

    def _write_boot_media(self) -> None:
        """SD-card places: boot files and cmdline.txt onto the card, then the card to the board."""
        if self.sdmux is None or self.storage is None:
            if self.boot_files or self.cmdline is not None:
                raise StrategyError("boot_files/cmdline are set but the place has no SD mux and "
                                    "USB storage to write them with")
            return
        self.target.activate(self.sdmux)
        self.target.activate(self.storage)
        self.sdmux.set_mode("host")
        sources = [self.target.env.config.get_image_path(key) for key in self.boot_files]
        with tempfile.TemporaryDirectory(prefix="kiln-boot-") as tmp:
            if self.cmdline is not None:
                cmdline_txt = Path(tmp) / "cmdline.txt"
                cmdline_txt.write_text(self.cmdline + "\n")
                sources.append(str(cmdline_txt))
            if sources:
                self.storage.write_files(sources, PurePath("/"), self.boot_partition)
        self.sdmux.set_mode("dut")


@target_factory.reg_driver
@attr.s(eq=False)
class QEMUNetLinkDriver(Driver, DigitalOutputProtocol):
    """The QEMU guest's NIC link as a digital output: ``set(False)`` pulls the virtual cable,
    ``set(True)`` plugs it back (QMP ``set_link`` on the ``-netdev`` ``netdev``)."""

    bindings = {"qemu": "QEMUDriver"}
    netdev = attr.ib(default=NETDEV_ID, validator=attr.validators.instance_of(str))

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self._up = True

    @Driver.check_active
    @step(args=["status"])
    def set(self, status):
        self.qemu.monitor_command("set_link", {"name": self.netdev, "up": bool(status)})
        self._up = bool(status)

    @Driver.check_active
    def get(self):
        return self._up


@target_factory.reg_driver
@attr.s(eq=False)
class KilnQEMUDriver(QEMUDriver):
    """labgrid's QEMUDriver, plus the board's ``[qemu] wires``: ``wires`` is the JSON list of
    ``[execute, arguments]`` QMP commands (:meth:`kiln.boards.QemuSpec.wire_commands`), run
    after QEMU started stopped and before the driver's ``cont`` lets the guest run (what
    ``kiln run`` does on its own QMP socket).  A real board's wires are wires."""

    wires = attr.ib(default="[]", validator=attr.validators.instance_of(str))

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self._wire_commands = [(c, a) for c, a in json.loads(self.wires)]
        self._wired = False

    def on(self):
        self._wired = False
        super().on()

    def off(self):
        """labgrid's off (QMP ``quit``), except that a QEMU whose main loop hangs -- it then
        answers neither QMP nor SIGTERM -- is killed after :data:`QUIT_TIMEOUT_S` instead of
        blocking the test run forever (labgrid's QMP reads have no timeout); that raises."""
        child = self._child
        if not self.status or child is None:
            return super().off()
        killed = threading.Event()

        def kill():
            killed.set()
            child.kill()

        killer = threading.Timer(QUIT_TIMEOUT_S, kill)
        killer.start()
        try:
            super().off()
        except Exception:
            # The kill shows as whatever labgrid's blocked QMP read makes of the closed pipe
            # (an empty response, a broken pipe), possibly before the child can be reaped.
            if not killed.is_set():
                raise
            child.wait()
            self._child, self.status = None, 0
            raise ExecutionError(f"QEMU did not quit within {QUIT_TIMEOUT_S} s (its main loop "
                                 f"hung): killed") from None
        finally:
            killer.cancel()

    def monitor_command(self, command, arguments={}):
        if command == "cont" and not self._wired:
            self._wired = True
            for execute, args in self._wire_commands:
                super().monitor_command(execute, args)
        return super().monitor_command(command, arguments)
