"""The queue behind ``micropython.schedule``: functions run "very soon" in the main thread.

MicroPython runs scheduled functions in the main thread between opcodes, one at a time, and
in ``time.sleep``/``sleep_ms``/``poll``.  CPython has the same hook for signals: a Python signal
handler runs in the main thread between bytecodes, and a blocking system call the main thread
is in (socket wait, ``time.sleep``, lock acquire) is interrupted and retried after it (PEP 475).
So :func:`schedule` queues ``(func, arg)`` and sends the real-time signal :data:`SIGNAL` to the
main thread; its handler runs the queue.  The handler is installed from the main thread (at
``import micropython``, or by the first :func:`schedule` made there); until then the queue runs
only when the main thread calls :func:`run_pending` (the face's ``time.sleep*`` do).
"""
import collections
import signal
import threading

#: Queue length, as MicroPython's default ``MICROPY_SCHEDULER_DEPTH``.
DEPTH = 4
#: The signal that asks the main thread to run the queue (the app must leave it alone).
SIGNAL = signal.SIGRTMIN + 6

_queue = collections.deque()
_lock = threading.Lock()
_main = threading.main_thread()
_installed = False
_running = False


def install():
    """Install the handler of :data:`SIGNAL` if this is the main thread (``signal.signal``
    refuses any other); return whether it is installed.  Idempotent."""
    global _installed
    if not _installed and threading.current_thread() is _main:
        signal.signal(SIGNAL, _on_signal)
        _installed = True
    return _installed


def schedule(func, arg):
    """Queue ``func(arg)`` to run soon in the main thread; return at once (any thread).

    RuntimeError if :data:`DEPTH` calls are already waiting; TypeError if ``func`` is not
    callable."""
    if not callable(func):
        raise TypeError(f"schedule() argument 'func' must be callable, not "
                        f"{type(func).__name__}")
    with _lock:
        if len(_queue) >= DEPTH:
            raise RuntimeError("schedule queue full")
        _queue.append((func, arg))
    _wake()


def pending():
    """Number of queued calls not run yet."""
    return len(_queue)


def _wake():
    if install() and _main.is_alive():
        signal.pthread_kill(_main.ident, SIGNAL)


def _on_signal(signum, frame):
    run_pending()


def run_pending():
    """Run the queued calls now, in order, if this is the main thread and no scheduled call is
    running (a scheduled function never preempts another).  An exception from one propagates
    to the caller (as MicroPython raises it in the interrupted code); the calls after it stay
    queued and run at the next chance."""
    global _running
    if _running or not _queue or threading.current_thread() is not _main:
        return
    _running = True
    try:
        while _queue:
            func, arg = _queue.popleft()
            func(arg)
    finally:
        _running = False
        if _queue:              # left by an exception, or queued while the last one ran
            _wake()
