"""MicroPython's ``time`` module (``import time`` / ``import utime`` under ``--api micropython``).

CPython's :mod:`time` (``time()``, ``time_ns()``, ``monotonic()``, ``strftime``... are
CPython's own) plus what MicroPython adds or changes, as extmod/modtime.c does it:

- ``sleep_ms(ms)``, ``sleep_us(us)``: integer delays; a negative delay returns at once; they
  (and ``sleep``) run pending ``micropython.schedule`` calls first;
- ``ticks_ms()``, ``ticks_us()``, ``ticks_cpu()``: a monotonic counter (CLOCK_MONOTONIC, in
  ms, us and ns) modulo TICKS_PERIOD = 2**30, MicroPython's period on its 32-bit
  boards (``MICROPY_PY_TIME_TICKS_PERIOD``, a small int's range), so the counters wrap after
  about 12.4 days (ms), 17.9 minutes (us), 1.07 s (ns);
- ``ticks_add(ticks, delta)`` and ``ticks_diff(ticks1, ticks2)``: the modular arithmetic of
  those values (``ticks_diff`` is in ``-TICKS_PERIOD/2 .. TICKS_PERIOD/2 - 1``);
- ``gmtime``/``localtime`` return MicroPython's 8-tuple ``(year, month, mday, hour, minute,
  second, weekday, yearday)``; ``mktime`` takes an 8- or 9-tuple and returns an int.  The epoch
  is 1970 (as MicroPython's unix port).
"""
import operator as _operator
import time as _time

from kiln.mpy import forward as _forward
from kiln.mpy import scheduler as _scheduler

# The ticks period (not exposed, as in MicroPython: ticks_add(0, -1) is TICKS_MAX).
_TICKS_PERIOD = 1 << 30
_TICKS_MAX = _TICKS_PERIOD - 1
_TICKS_HALF = _TICKS_PERIOD // 2

#: The clock the ticks count (ns); a test may replace it to show the wrap-around.
_clock_ns = _time.monotonic_ns

# sleep_us sleeps in the kernel until this close to the deadline, then spins (ns).
_SPIN_NS = 100_000


def _int(value, func, name):
    try:
        return _operator.index(value)
    except TypeError:
        raise TypeError(f"{func}() argument '{name}' must be an int, not "
                        f"{type(value).__name__}") from None


def sleep(seconds):
    """Sleep ``seconds`` (int or float, >= 0; CPython's ``time.sleep``), after running pending
    scheduled calls."""
    _scheduler.run_pending()
    _time.sleep(seconds)


def sleep_ms(ms):
    """Sleep at least ``ms`` milliseconds (an int; negative: no delay), after running pending
    scheduled calls."""
    ms = _int(ms, "sleep_ms", "ms")
    _scheduler.run_pending()
    if ms > 0:
        _time.sleep(ms / 1000)


def sleep_us(us):
    """Delay at least ``us`` microseconds (an int; negative: no delay): the kernel sleeps the
    bulk, the last ~100 us are a busy wait on CLOCK_MONOTONIC for accuracy."""
    us = _int(us, "sleep_us", "us")
    _scheduler.run_pending()
    if us <= 0:
        return
    deadline = _time.monotonic_ns() + us * 1000
    if us * 1000 > _SPIN_NS:
        _time.sleep((us * 1000 - _SPIN_NS) / 1e9)
    while _time.monotonic_ns() < deadline:
        pass


def ticks_ms():
    """Milliseconds of a monotonic counter, modulo TICKS_PERIOD (use ticks_diff on them)."""
    return (_clock_ns() // 1_000_000) & _TICKS_MAX


def ticks_us():
    """Microseconds of a monotonic counter, modulo TICKS_PERIOD."""
    return (_clock_ns() // 1_000) & _TICKS_MAX


def ticks_cpu():
    """The finest counter there is: nanoseconds of CLOCK_MONOTONIC, modulo TICKS_PERIOD (wraps
    every 1.07 s: for very short intervals only)."""
    return _clock_ns() & _TICKS_MAX


def ticks_add(ticks, delta):
    """``ticks`` moved by ``delta`` (an int, negative allowed) in ticks arithmetic.  OverflowError
    ("ticks interval overflow") unless -TICKS_PERIOD/2 < delta < TICKS_PERIOD/2, so that
    ``ticks_diff(ticks_add(t, d), t) == d`` always holds."""
    ticks = _int(ticks, "ticks_add", "ticks")
    delta = _int(delta, "ticks_add", "delta")
    if not -_TICKS_HALF < delta < _TICKS_HALF:
        raise OverflowError("ticks interval overflow")
    return (ticks + delta) & _TICKS_MAX


def ticks_diff(ticks1, ticks2):
    """``ticks1 - ticks2`` for wrapping tick values: signed, in -TICKS_PERIOD/2 ..
    TICKS_PERIOD/2 - 1 (correct while the two are less than TICKS_PERIOD/2 apart)."""
    ticks1 = _int(ticks1, "ticks_diff", "ticks1")
    ticks2 = _int(ticks2, "ticks_diff", "ticks2")
    return ((ticks1 - ticks2 + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


def gmtime(secs=None):
    """UTC ``(year, month, mday, hour, minute, second, weekday, yearday)`` of ``secs`` seconds
    since 1970 (default: now); weekday 0-6 is Monday-Sunday, yearday 1-366."""
    return tuple(_time.gmtime(secs))[:8]


def localtime(secs=None):
    """As :func:`gmtime`, in local time."""
    return tuple(_time.localtime(secs))[:8]


def mktime(date_time_tuple):
    """Seconds since 1970 (int) of a local-time 8-tuple (as :func:`localtime` returns) or
    9-tuple; TypeError for another length."""
    try:
        fields = tuple(date_time_tuple)
    except TypeError:
        raise TypeError(f"mktime() argument must be a tuple, not "
                        f"{type(date_time_tuple).__name__}") from None
    if len(fields) not in (8, 9):
        raise TypeError("mktime needs a tuple of length 8 or 9")
    if len(fields) == 8:
        fields += (-1,)
    return int(_time.mktime(fields))


_forward.extend(__name__, _time)
