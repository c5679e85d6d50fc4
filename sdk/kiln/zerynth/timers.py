"""Zerynth's ``timers`` module: ``import timers`` in a Zerynth app.

A :class:`timer` is two things, as in Zerynth: a stopwatch (``start``, ``get``, ``reset``, in
milliseconds) and an alarm (``one_shot``, ``interval``, ``clear``) calling ``fun(arg)`` on the
timers' thread.  All timers share one thread, as Zerynth's timer service does: a callback that
takes long delays the others.  An interval keeps its rhythm (it fires at start + n * period; a
callback longer than the period makes the next one run right after it, without a burst of
catch-up calls).  A callback's exception is printed, and an interval keeps running.  While an
alarm is armed the program keeps running (a board does not stop), and it stops with the
program when the main program ends with an exception.

``timers.now()``: milliseconds since the program started.  ``timer`` is Zerynth v2's name,
``Timer`` v3's.
"""
import heapq
import itertools
import threading as _threading
import time

from kiln.zerynth import builtins as _builtins

__all__ = ["timer", "Timer", "now"]


def now():
    """Milliseconds since the program started (an int)."""
    return (time.monotonic_ns() - _builtins.START_NS) // 1_000_000


def _as_ns(func, name, ms):
    _builtins._check_duration(func, name, ms)
    return int(ms * 1_000_000)


def _caller(fun, arg):
    """A no-argument callable running ``fun(arg)``.  With ``arg`` None, a ``fun`` that takes no
    argument is called as ``fun()``: Zerynth calls ``fun(None)`` and ignores the surplus
    argument, and its examples rely on that (``t.interval(1000, secondpassed)``)."""
    if not callable(fun):
        raise TypeError(f"timer: fun must be callable, not {type(fun).__name__}")
    if arg is not None:
        return lambda: fun(arg)
    import inspect
    try:
        inspect.signature(fun).bind(None)
    except TypeError:
        return fun
    except ValueError:                   # no signature (some builtins): Zerynth's call
        pass
    return lambda: fun(None)


class _Service:
    """The timers' thread and its queue of armed alarms (by deadline).  The thread runs while
    an alarm is armed and ends when none is."""

    def __init__(self):
        self._cv = _threading.Condition()
        self._queue = []                  # (deadline_ns, seq, timer, generation, period, call)
        self._seq = itertools.count()
        self._thread = None

    def arm(self, tm, delay_ns, period_ns, call):
        with self._cv:
            tm._generation += 1
            heapq.heappush(self._queue, (time.monotonic_ns() + delay_ns, next(self._seq), tm,
                                         tm._generation, period_ns, call))
            if self._thread is None:
                _builtins.exit_on_uncaught_main_exception()
                self._thread = _threading.Thread(target=self._run, name="zerynth-timers")
                self._thread.start()
            self._cv.notify()

    def disarm(self, tm):
        with self._cv:
            tm._generation += 1
            self._cv.notify()

    def _next(self):
        """Wait for the next due alarm; re-arm it if periodic; return its call (None: no alarm
        left, the thread ends)."""
        with self._cv:
            while True:
                while self._queue and self._queue[0][2]._generation != self._queue[0][3]:
                    heapq.heappop(self._queue)          # cleared or re-armed since
                if not self._queue:
                    self._thread = None
                    return None
                deadline = self._queue[0][0]
                wait_ns = deadline - time.monotonic_ns()
                if wait_ns <= 0:
                    break
                self._cv.wait(wait_ns / 1e9)
            _, _, tm, generation, period_ns, call = heapq.heappop(self._queue)
            if period_ns:
                following = max(deadline + period_ns, time.monotonic_ns())
                heapq.heappush(self._queue, (following, next(self._seq), tm, generation,
                                             period_ns, call))
            return call

    def _run(self):
        while (call := self._next()) is not None:
            try:
                call()
            except Exception:           # noqa: BLE001 - printed, as Zerynth prints it
                import traceback
                traceback.print_exc()


_service = _Service()


class timer:
    """timer(): a new timer, stopped, with no alarm."""

    def __init__(self):
        self._generation = 0
        self._started_ns = None
        self._destroyed = False

    # --- the stopwatch -------------------------------------------------------------------
    def start(self):
        """Start counting milliseconds from now (read them with :meth:`get`)."""
        self._started_ns = time.monotonic_ns()

    def _elapsed(self, func, now_ns):
        if self._started_ns is None:
            raise RuntimeError(f"timer.{func}(): the timer was not started (call start() first)")
        return (now_ns - self._started_ns) // 1_000_000

    def get(self):
        """Milliseconds since :meth:`start` or the last :meth:`reset` (an int)."""
        return self._elapsed("get", time.monotonic_ns())

    def reset(self):
        """Count again from zero; return the milliseconds counted until now."""
        now_ns = time.monotonic_ns()
        elapsed = self._elapsed("reset", now_ns)
        self._started_ns = now_ns
        return elapsed

    # --- the alarm -----------------------------------------------------------------------
    def _check_alive(self, func):
        if self._destroyed:
            raise RuntimeError(f"timer.{func}(): the timer was destroyed")

    def one_shot(self, delay, fun, arg=None):
        """Call ``fun(arg)`` once, ``delay`` milliseconds from now, on the timers' thread
        (replacing the alarm set before, if any)."""
        self._check_alive("one_shot")
        delay_ns = _as_ns("one_shot", "delay", delay)
        _service.arm(self, delay_ns, 0, _caller(fun, arg))

    def interval(self, period, fun, arg=None):
        """Call ``fun(arg)`` every ``period`` milliseconds (> 0) from now on, on the timers'
        thread (replacing the alarm set before, if any)."""
        self._check_alive("interval")
        period_ns = _as_ns("interval", "period", period)
        if period_ns <= 0:
            raise ValueError(f"interval(): period must be > 0 ms, got {period!r}")
        _service.arm(self, period_ns, period_ns, _caller(fun, arg))

    def clear(self):
        """Disarm the alarm (a callback already running finishes)."""
        _service.disarm(self)

    def destroy(self):
        """Disarm the alarm for good: later ``one_shot``/``interval`` raise RuntimeError."""
        _service.disarm(self)
        self._destroyed = True


#: Zerynth v3's name of :class:`timer`.
Timer = timer
