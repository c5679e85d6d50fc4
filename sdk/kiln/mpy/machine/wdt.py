"""``machine.WDT`` (docs/library/machine.WDT.rst) over /dev/watchdog (kiln.hw.watchdog).

As on MicroPython, once started it cannot be stopped: the device is never closed with the
magic character, so the board resets ``timeout`` ms after the last ``feed()`` -- also when the
program ends or crashes.  The kernel counts whole seconds: the timeout is rounded up.
"""
from kiln.hw import resolve
from kiln.hw.watchdog import Watchdog

_active = None


class WDT:
    """``WDT(id=0, timeout=5000)``: start the watchdog with ``timeout`` ms (>= 1 ms; rounded up
    to whole seconds).  A second WDT re-sets the timeout of the same watchdog."""

    def __init__(self, id=0, timeout=5000):
        global _active
        if id != 0:
            raise ValueError(f"WDT(): id must be 0, got {id!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
            raise ValueError(f"WDT(): timeout must be an int >= 1 (ms), got {timeout!r}")
        seconds = (timeout + 999) // 1000
        if _active is None or _active.closed:
            _active = Watchdog(resolve.watchdog_device(), seconds)
        else:
            _active.timeout = seconds
        self._wd = _active
        self._wd.keepalive()

    def feed(self):
        """Restart the count."""
        self._wd.keepalive()
