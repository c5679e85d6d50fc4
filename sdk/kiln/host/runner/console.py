"""Following a guest's serial console until the app reports its exit status.

The guest init prints ``KILN: app exited with status N`` when the app ends, then powers off
(QEMU exits and its stdout reaches EOF).  :func:`follow` streams the console to a sink while
watching for that line, and stops at EOF or at a deadline.
"""
from __future__ import annotations

import os
import re
import selectors
import time
from dataclasses import dataclass, field
from typing import Callable

EXIT_LINE_RE = re.compile(r"KILN: app exited with status (-?\d+)")


@dataclass
class ConsoleOutcome:
    """What the console showed.

    ``app_status``: the status from the exit line, None when the line never came.
    ``eof``: True when the console closed (QEMU exited); False when ``follow`` timed out.
    ``lines``: every complete line, without line endings, with its time (``clock()`` seconds).
    """

    app_status: int | None = None
    eof: bool = False
    lines: list[tuple[float, str]] = field(default_factory=list)

    def text(self) -> str:
        """All complete lines joined with newlines."""
        return "\n".join(line for _, line in self.lines)


def follow(fd: int, timeout_s: float | None, on_output: Callable[[bytes], None] | None = None,
           on_line: Callable[[float, str], bool | None] | None = None,
           clock: Callable[[], float] = time.monotonic) -> ConsoleOutcome:
    """Read console file descriptor ``fd`` until EOF or ``timeout_s`` seconds (None: no limit).

    Blocks.  ``on_output(chunk)`` receives raw bytes as they arrive (for streaming to a user);
    ``on_line(t, line)`` receives each complete line (decoded, ``\\r`` stripped) with its arrival
    time and may return True to stop following early.  Raises ``ValueError`` for a negative
    timeout.
    """
    if timeout_s is not None and timeout_s < 0:
        raise ValueError(f"console timeout must be >= 0 seconds, got {timeout_s}")
    outcome = ConsoleOutcome()
    deadline = None if timeout_s is None else clock() + timeout_s
    pending = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            remaining = None if deadline is None else deadline - clock()
            if remaining is not None and remaining <= 0:
                return outcome
            if not sel.select(remaining):
                continue
            chunk = os.read(fd, 65536)
            now = clock()
            if not chunk:
                outcome.eof = True
                if pending:
                    _take_line(outcome, now, pending)
                    if on_line:
                        on_line(now, outcome.lines[-1][1])
                return outcome
            if on_output:
                on_output(chunk)
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                line = _take_line(outcome, now, raw)
                if on_line and on_line(now, line):
                    return outcome


def _take_line(outcome: ConsoleOutcome, now: float, raw: bytes) -> str:
    line = raw.decode("utf-8", errors="replace").rstrip("\r")
    outcome.lines.append((now, line))
    match = EXIT_LINE_RE.search(line)
    if match:
        outcome.app_status = int(match.group(1))
    return line
