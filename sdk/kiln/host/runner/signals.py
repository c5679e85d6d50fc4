"""Signal handling that lets ``finally`` blocks tear a lab down.

Python turns SIGINT (Ctrl-C) into ``KeyboardInterrupt`` but dies on SIGTERM and SIGHUP without
running ``finally``.  :func:`terminate_raises` makes those raise ``SystemExit(128 + signum)``
instead (the shell's convention for "killed by signal"), and :func:`deferred` holds all three
back while a teardown must not be interrupted.  Main thread only.
"""
from __future__ import annotations

import contextlib
import signal
from typing import Iterator

_TERMINATING = (signal.SIGTERM, signal.SIGHUP)
_ALL = (signal.SIGINT, *_TERMINATING)


def _raise_exit(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``SystemExit(128 + signum)``."""
    previous = {sig: signal.signal(sig, _raise_exit) for sig in _TERMINATING}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP are blocked; pending ones arrive after."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _ALL)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
