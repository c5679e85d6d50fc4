"""Zerynth ``watchdog`` (docs: reference/libs/stdlib/watchdog.md) over /dev/watchdog.

``setup(millis)`` opens (starts) the watchdog with that timeout (rounded up to whole seconds:
the kernel's unit); ``kick()`` restarts its count.  It is never stopped (no magic close): the
board resets when the program stops kicking, ends or crashes.
"""
from kiln.hw import resolve
from kiln.hw.watchdog import Watchdog

_wd = None


def setup(millis):
    """Start (or re-time) the watchdog: the board resets ``millis`` ms after the last kick."""
    global _wd
    if isinstance(millis, bool) or not isinstance(millis, int) or millis < 1:
        raise ValueError(f"watchdog.setup(): millis must be an int >= 1, got {millis!r}")
    seconds = (millis + 999) // 1000
    if _wd is None or _wd.closed:
        _wd = Watchdog(resolve.watchdog_device(), seconds)
    else:
        _wd.timeout = seconds
    _wd.keepalive()


def kick():
    """Restart the watchdog's count; ValueError before ``setup``."""
    if _wd is None:
        raise ValueError("watchdog.kick(): call watchdog.setup(millis) first")
    _wd.keepalive()
