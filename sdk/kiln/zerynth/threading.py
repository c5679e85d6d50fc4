"""Zerynth's ``threading`` module: ``import threading`` in a Zerynth app.

:class:`Thread`, :class:`Lock`, :class:`Semaphore`, :class:`Event`, :class:`Condition` with
Zerynth's signatures: **timeouts are in milliseconds**, ``-1`` (any negative value) waits
without limit.  Built on CPython's threading (Linux threads); ``Thread.start(prio)`` sets the
thread's nice value as the ``thread()`` builtin does.  Differences from CPython's module that
programs see: ``Lock.release()`` of an unlocked lock does nothing (Zerynth's semaphore is
capped at one) instead of raising; ``Thread.join(timeout)`` takes milliseconds; a
``Thread``'s exception is kept in ``exc``.
"""
import threading as _t

from kiln.zerynth import builtins as _builtins
from kiln.zerynth.builtins import PRIO_NORMAL

__all__ = ["Thread", "Lock", "Semaphore", "Event", "Condition", "run_forever"]


def _seconds(func, timeout):
    """A Zerynth timeout in ms as CPython's seconds (None: no limit)."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{func}(): timeout must be a number of milliseconds, not "
                        f"{type(timeout).__name__}")
    if timeout != timeout or timeout == float("inf"):
        raise ValueError(f"{func}(): timeout must be a finite number of ms, got {timeout!r}")
    return None if timeout < 0 else timeout / 1000


def _acquire(lock, func, blocking, timeout):
    if not isinstance(blocking, bool):
        raise TypeError(f"{func}(): blocking must be True or False, not {blocking!r}")
    seconds = _seconds(func, timeout)
    if not blocking:
        if seconds is not None:
            raise ValueError(f"{func}(): can't specify a timeout for a non-blocking call")
        return lock.acquire(False)
    # No limit: acquire(True) -- CPython's Semaphore takes timeout=-1 as "already expired".
    return lock.acquire(True) if seconds is None else lock.acquire(True, seconds)


def run_forever(fun, *args):
    """Run ``fun(*args)`` over and over in a new thread (returned)."""
    def loop():
        while True:
            fun(*args)
    return _builtins.thread(loop)


class Thread:
    """Thread(target=None, name=None, args=()): ``run()`` (by default ``target(*args)``) in a
    thread of its own once :meth:`start` is called.  ``name`` defaults to ``"Thread-<ident>"``,
    ``ident`` is set when it runs, ``exc`` holds the exception that ended ``run()`` (or None)."""

    def __init__(self, target=None, name=None, args=()):
        if target is not None and not callable(target):
            raise TypeError(f"Thread(): target must be callable, not {type(target).__name__}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Thread(): name must be a str, not {type(name).__name__}")
        self.target, self.name, self.args = target, name, tuple(args)
        self.ident = None
        self.exc = None
        self.running = False
        self._started = False
        self._done = _t.Event()

    def start(self, prio=PRIO_NORMAL, size=512):
        """Start ``run()`` in a new thread with priority ``prio`` (see the ``thread`` builtin;
        ``size`` is checked, not applied).  RuntimeError if called twice."""
        if self._started:
            raise RuntimeError("Thread.start(): threads can only be started once")
        self._started = True
        self.running = True
        try:
            _builtins.thread(self._run, prio=prio, size=size)
        except BaseException:
            self._started = self.running = False
            raise

    def _run(self):
        self.ident = _t.get_native_id()
        if self.name is None:
            self.name = f"Thread-{self.ident}"
        try:
            self.run()
        except Exception as e:          # noqa: BLE001 - kept in exc, as Zerynth does
            self.exc = e
        finally:
            self.running = False
            self._done.set()

    def run(self):
        """The thread's activity: ``target(*args)``.  Subclasses may override it."""
        if self.target is not None:
            self.target(*self.args)

    def join(self, timeout=-1):
        """Wait until the thread ends, at most ``timeout`` ms (negative: no limit); check
        :meth:`is_alive` afterwards to know which."""
        seconds = _seconds("join", timeout)
        if self._started:
            self._done.wait(seconds)

    def is_alive(self):
        """True from just before ``run()`` starts until just after it ends."""
        return self.running

    def __str__(self):
        return str(self.name)


class Lock:
    """Lock(): unlocked at creation.  ``acquire(blocking=True, timeout=-1)`` (ms),
    ``release()`` from any thread; usable in ``with``."""

    def __init__(self):
        self._lock = _t.Lock()

    def acquire(self, blocking=True, timeout=-1):
        """Lock it; block while another has it (at most ``timeout`` ms if >= 0) unless
        ``blocking`` is False.  True if locked, False if not (timeout, or busy)."""
        return _acquire(self._lock, "acquire", blocking, timeout)

    def release(self):
        """Unlock it (any thread may); letting one waiting thread take it.  Releasing an
        unlocked lock does nothing."""
        try:
            self._lock.release()
        except RuntimeError:
            pass

    def locked(self):
        """True while locked."""
        return self._lock.locked()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()


class Semaphore:
    """Semaphore(value=1): a counter ``acquire`` takes from (blocking at zero) and ``release``
    gives back to."""

    def __init__(self, value=1):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"Semaphore(): value must be an int, not {type(value).__name__}")
        if value < 0:
            raise ValueError(f"Semaphore(): value must be >= 0, got {value}")
        self._sem = _t.Semaphore(value)

    def acquire(self, blocking=True, timeout=-1):
        """Take one (blocking at zero, at most ``timeout`` ms if >= 0, unless ``blocking`` is
        False); True if taken."""
        return _acquire(self._sem, "acquire", blocking, timeout)

    def release(self):
        """Give one back, waking one waiting thread."""
        self._sem.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()


class Event:
    """Event(): a flag, initially false, threads can wait for."""

    def __init__(self):
        self._event = _t.Event()

    def set(self):
        """Set the flag; wake every waiting thread."""
        self._event.set()

    def is_set(self):
        """True if the flag is set."""
        return self._event.is_set()

    def clear(self):
        """Clear the flag."""
        self._event.clear()

    def wait(self, timeout=-1):
        """Wait until the flag is set, at most ``timeout`` ms (negative: no limit); True if it
        is set, False on timeout."""
        return self._event.wait(_seconds("wait", timeout))


class Condition:
    """Condition(lock=None): a condition variable over ``lock`` (a :class:`Lock`; a new one if
    None).  ``wait``, ``notify`` and ``notify_all`` need the lock held (RuntimeError if not)."""

    def __init__(self, lock=None):
        if lock is None:
            lock = Lock()
        if not isinstance(lock, Lock):
            raise TypeError(f"Condition(): lock must be a threading.Lock, not "
                            f"{type(lock).__name__}")
        self._lockobj = lock
        self._cond = _t.Condition(lock._lock)
        self._owner = None

    def acquire(self, blocking=True, timeout=-1):
        """Acquire the lock (as :meth:`Lock.acquire`); True if acquired."""
        got = _acquire(self._lockobj._lock, "acquire", blocking, timeout)
        if got:
            self._owner = _t.get_ident()
        return got

    def release(self):
        """Release the lock."""
        self._owner = None
        self._lockobj.release()

    def _check_owner(self, func):
        if self._owner != _t.get_ident():
            raise RuntimeError(f"Condition.{func}(): the lock must be acquired first")

    def wait(self, timeout=-1):
        """Release the lock, wait for a notify (at most ``timeout`` ms if >= 0), acquire the
        lock again; False if the timeout expired."""
        self._check_owner("wait")
        seconds = _seconds("wait", timeout)
        self._owner = None
        try:
            return self._cond.wait(seconds)
        finally:
            self._owner = _t.get_ident()

    def wait_for(self, predicate, timeout=-1):
        """:meth:`wait` until ``predicate()`` is true (each wait at most ``timeout`` ms);
        return the predicate's last value."""
        if not callable(predicate):
            raise TypeError(f"wait_for(): predicate must be callable, not "
                            f"{type(predicate).__name__}")
        result = predicate()
        while not result:
            if not self.wait(timeout):
                return predicate()
            result = predicate()
        return result

    def notify(self, n=1):
        """Wake at most ``n`` waiting threads (they run once the lock is released)."""
        self._check_owner("notify")
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"notify(): n must be an int, not {type(n).__name__}")
        self._cond.notify(n)

    def notify_all(self):
        """Wake every waiting thread."""
        self._check_owner("notify_all")
        self._cond.notify_all()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()
