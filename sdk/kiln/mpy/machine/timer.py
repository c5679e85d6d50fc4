"""``machine.Timer`` (docs/library/machine.Timer.rst) as a software timer.

Linux gives user space no hardware timer interrupt; like MicroPython's "virtual" timers
(id -1) each Timer is a thread that sleeps until the next monotonic deadline (no drift: period
n fires at start + n * period) and calls ``callback(timer)`` there, holding the GIL like any
thread.  ``hard=True`` is accepted and means the same.  ``deinit()`` stops it (a callback
running then finishes first).
"""
import threading
import time


class Timer:
    """``Timer(id=-1, *, mode=Timer.PERIODIC, period=-1, freq=-1, callback=None, hard=True)``;
    ``period`` in ms, ``freq`` in Hz (one of them)."""

    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kwargs):
        self._id = id
        self._stop = None
        self._thread = None
        if kwargs:
            self.init(**kwargs)

    def init(self, *, mode=PERIODIC, period=-1, tick_hz=1000, freq=-1, callback=None,
             hard=True):
        """(Re)start the timer."""
        if mode not in (self.ONE_SHOT, self.PERIODIC):
            raise ValueError(f"Timer.init(): mode must be Timer.ONE_SHOT or Timer.PERIODIC, "
                             f"got {mode!r}")
        if callback is not None and not callable(callback):
            raise TypeError(f"Timer.init(): callback must be callable, not "
                            f"{type(callback).__name__}")
        if freq != -1:
            if isinstance(freq, bool) or not isinstance(freq, (int, float)) or freq <= 0:
                raise ValueError(f"Timer.init(): freq must be > 0 Hz, got {freq!r}")
            interval = 1 / freq
        else:
            if isinstance(period, bool) or not isinstance(period, (int, float)) or period <= 0:
                raise ValueError(f"Timer.init(): period must be > 0 (ms), got {period!r}")
            if isinstance(tick_hz, bool) or not isinstance(tick_hz, int) or tick_hz <= 0:
                raise ValueError(f"Timer.init(): tick_hz must be a positive int, got "
                                 f"{tick_hz!r}")
            interval = period / tick_hz
        self.deinit()
        stop = threading.Event()
        self._stop = stop
        self._thread = threading.Thread(target=self._run, args=(stop, interval, mode, callback),
                                        name=f"machine.Timer({self._id})", daemon=True)
        self._thread.start()

    def _run(self, stop, interval, mode, callback):
        start = time.monotonic()
        n = 1
        while not stop.wait(max(0.0, start + n * interval - time.monotonic())):
            if callback is not None:
                callback(self)
            if mode == self.ONE_SHOT:
                return
            n += 1

    def deinit(self):
        """Stop the timer (idempotent)."""
        if self._stop is not None:
            self._stop.set()
            if self._thread is not threading.current_thread():
                self._thread.join()
            self._stop = self._thread = None

    def __repr__(self):
        return f"Timer({self._id})"
