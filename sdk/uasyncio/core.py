"""The scheduler: tasks, the run queue, the I/O queue and the run loop.

Adapted from MicroPython's ``extmod/asyncio/core.py`` (MIT license; Copyright (c) 2019-2022
Damien P. George; the license text is in ``uasyncio/__init__.py``).

A task is resumed with ``coro.send(None)`` (or ``coro.throw(exc)`` when ``task.data`` holds an
exception to inject, e.g. ``CancelledError``); before it yields, the code it awaits has put it on
the queue that will wake it (the run queue, a timer, the I/O queue, an ``Event``'s or a ``Lock``'s
waiters, another task) and set ``task.data`` to that queue, so ``Task.cancel`` can take it off.

One turn of the loop: wait (in ``poll(2)`` through :class:`kiln.poll.Poller`, without the GIL)
until a task is ready, a timer is due or I/O is ready -- without waiting when tasks are ready
already -- then run every task that was ready at that point once.
"""
import sys
import time
import types
from collections import deque
from heapq import heappop, heappush

from kiln.poll import POLLIN, POLLOUT, Poller
from uasyncio.task import Task, TaskQueue

_now = time.monotonic


class CancelledError(BaseException):
    """Injected into a task by :meth:`Task.cancel`.  ``value`` is its first argument (the
    attribute MicroPython gives exceptions), used by ``wait_for``."""

    @property
    def value(self):
        return self.args[0] if self.args else None


class TimeoutError(Exception):
    """``wait_for``/``wait_for_ms`` ran out of time (MicroPython's ``asyncio.TimeoutError``)."""


# Used when calling Loop.call_exception_handler.
_exc_context = {"message": "Task exception wasn't retrieved", "exception": None, "future": None}


class RunQueue:
    """Tasks to resume: ``now`` (a FIFO of tasks ready to run) and ``timers`` (a heap of
    ``[when, seq, task]``, ``when`` in monotonic seconds; a cancelled entry has ``task`` None).
    A task on a timer has that entry as ``ph_key``; a task in ``now`` has ``ph_key`` None."""

    __slots__ = ("now", "timers", "seq")

    def __init__(self):
        self.now = deque()
        self.timers = []
        self.seq = 0

    def peek(self):
        """The next task to run (ready or on the earliest timer), or None."""
        if self.now:
            return self.now[0]
        timers = self.timers
        while timers and timers[0][2] is None:
            heappop(timers)
        return timers[0][2] if timers else None

    def push(self, t, when=None):
        """Schedule ``t`` now, or at monotonic time ``when`` (seconds); clears ``t.data``."""
        t.data = None
        if when is None:
            t.ph_key = None
            self.now.append(t)
        else:
            self.seq += 1
            entry = [when, self.seq, t]
            t.ph_key = entry
            heappush(self.timers, entry)

    def pop(self):
        """Take the next task (see :meth:`peek`)."""
        if self.now:
            return self.now.popleft()
        entry = heappop(self.timers)
        while entry[2] is None:
            entry = heappop(self.timers)
        entry[2].ph_key = None
        return entry[2]

    def remove(self, t):
        """Take ``t`` off the queue (no-op when it is not on it)."""
        entry = t.ph_key
        if entry is not None:
            entry[2] = None
            t.ph_key = None
        else:
            try:
                self.now.remove(t)
            except ValueError:
                pass

    def delay(self):
        """Seconds until the earliest timer is due (<= 0: due now), None without timers."""
        timers = self.timers
        while timers:
            entry = timers[0]
            if entry[2] is not None:
                return entry[0] - _now()
            heappop(timers)
        return None

    def release_due(self):
        """Move the tasks whose timers are due to ``now``."""
        timers = self.timers
        if not timers:
            return
        now = _now()
        ready = self.now
        while timers and timers[0][0] <= now:
            t = heappop(timers)[2]
            if t is not None:
                t.ph_key = None
                ready.append(t)


################################################################################
# Sleep functions


def _delay_arg(t, func, unit):
    """A delay: an int or a float (not NaN); TypeError/ValueError naming ``func`` otherwise."""
    if t.__class__ is int:
        return t
    if t.__class__ is not float and (isinstance(t, bool) or not isinstance(t, (int, float))):
        raise TypeError(f"{func}() argument 't' must be a number of {unit}, not "
                        f"{type(t).__name__}")
    if t != t:
        raise ValueError(f"{func}() argument 't' must be a number of {unit}, got nan")
    return t


@types.coroutine
def _sleep_s(t):
    task = cur_task
    if task is None:
        raise RuntimeError("sleep: no running event loop (await it inside a task)")
    if t > 0:
        _task_queue.push(task, _now() + t)
    else:
        _task_queue.push(task)
    yield


def sleep_ms(t):
    """Pause the calling task for ``t`` milliseconds (a MicroPython extension); 0 or negative
    just lets the other ready tasks run.  A coroutine."""
    return _sleep_s(_delay_arg(t, "sleep_ms", "milliseconds") / 1000)


def sleep(t):
    """Pause the calling task for ``t`` seconds (int or float).  A coroutine."""
    return _sleep_s(_delay_arg(t, "sleep", "seconds"))


################################################################################
# Queue and poller for stream I/O


class IOQueue:
    """Tasks waiting for a stream to be readable or writable.

    ``map``: ``id(stream) -> [task waiting to read, task waiting to write, stream]``; each stream
    with a waiting task is registered in ``poller`` for the directions awaited.  Readiness
    includes the bytes a stream already holds (``pending()``, see :mod:`kiln.poll`)."""

    def __init__(self):
        self.poller = Poller()
        self.map = {}

    def _enqueue(self, s, idx):
        task = cur_task
        if task is None:
            raise RuntimeError("stream I/O: no running event loop (await it inside a task)")
        sm = self.map.get(id(s))
        if sm is None:
            self.poller.register(s, POLLIN if idx == 0 else POLLOUT)
            sm = [None, None, s]
            self.map[id(s)] = sm
        elif sm[idx] is not None:
            raise RuntimeError(f"{sm[idx]!r} is already waiting to "
                               f"{'read from' if idx == 0 else 'write to'} {s!r}")
        else:
            self.poller.modify(s, POLLIN | POLLOUT)
        sm[idx] = task
        # Link the task to this IOQueue so Task.cancel can take it off.
        task.data = self

    def _dequeue(self, s):
        del self.map[id(s)]
        self.poller.unregister(s)

    def queue_read(self, s):
        """Make the current task wait until ``s`` is readable (it must yield next)."""
        self._enqueue(s, 0)

    def queue_write(self, s):
        """Make the current task wait until ``s`` is writable (it must yield next)."""
        self._enqueue(s, 1)

    def remove(self, task):
        """Take ``task`` off every stream it waits on (Task.cancel)."""
        for sm in list(self.map.values()):
            if sm[0] is task:
                sm[0] = None
            elif sm[1] is task:
                sm[1] = None
            else:
                continue
            if sm[0] is None and sm[1] is None:
                self._dequeue(sm[2])
            else:
                self.poller.modify(sm[2], POLLIN if sm[0] is not None else POLLOUT)

    def discard(self, s):
        """Forget stream ``s`` (it is being closed); the tasks waiting on it are woken and see the
        closed stream when they retry."""
        sm = self.map.pop(id(s), None)
        if sm is None:
            return
        self.poller.unregister(s)
        if sm[0] is not None:
            _task_queue.push(sm[0])
        if sm[1] is not None:
            _task_queue.push(sm[1])

    def wait_io_event(self, dt):
        """Wait at most ``dt`` seconds (None: no limit, 0: not at all) for a stream to be ready and
        schedule the tasks waiting on the ready ones."""
        poller = self.poller
        for s, ev in poller.poll(-1 if dt is None else dt * 1000):
            sm = self.map[id(s)]
            if ev & ~POLLOUT and sm[0] is not None:
                # POLLIN, held bytes or an error
                _task_queue.push(sm[0])
                sm[0] = None
            if ev & ~POLLIN and sm[1] is not None:
                # POLLOUT or an error
                _task_queue.push(sm[1])
                sm[1] = None
            if sm[0] is None and sm[1] is None:
                del self.map[id(s)]
                poller.unregister(s)
            elif sm[0] is None:
                poller.modify(s, POLLOUT)
            else:
                poller.modify(s, POLLIN)


################################################################################
# Main run loop


def _promote_to_task(aw):
    """``aw`` itself if it is a Task, else a new task running it."""
    return aw if isinstance(aw, Task) else create_task(aw)


def create_task(coro):
    """Schedule the coroutine ``coro`` to run as a new task; return the :class:`Task`."""
    if not hasattr(coro, "send"):
        raise TypeError(f"create_task() argument 'coro' must be a coroutine, not "
                        f"{type(coro).__name__}")
    t = Task(coro, globals())
    _task_queue.push(t)
    return t


def _foreign_await(t, value):
    """A task yielded something other than None: it awaited an object of another event loop."""
    _task_queue.push(t)
    t.data = RuntimeError(
        f"task {t!r} awaited {value!r}, which is not from Kiln's MicroPython asyncio (await "
        f"only its coroutines, tasks, events, locks and streams)")


def run_until_complete(main_task=None):
    """Run tasks until ``main_task`` finishes (return its value or raise its exception), or --
    without ``main_task`` -- until no task is left."""
    global cur_task
    excs_all = (CancelledError, Exception)  # as MicroPython: no allocation in the loop
    excs_stop = (CancelledError, StopIteration)
    q = _task_queue
    ready = q.now
    io = _io_queue
    while True:
        # Wait until a task is ready to run.
        if ready:
            if io.map:
                io.wait_io_event(0)
        else:
            while True:
                dt = q.delay()
                if dt is not None and dt <= 0:
                    break
                if dt is None and not io.map:
                    # No task can be woken.
                    cur_task = None
                    if not main_task or not main_task.state:
                        # No main task, or it is done: finished running.
                        return
                    # The main task waits for something nothing here can do (MicroPython
                    # keeps running too); a signal handler may still end the wait.
                io.wait_io_event(dt)
                if ready:
                    break
        q.release_due()

        # Run each task that is ready now once.
        for _ in range(len(ready)):
            t = ready.popleft()
            cur_task = t
            try:
                # Continue running the coroutine; it is responsible for rescheduling itself.
                exc = t.data
                if not exc:
                    r = t.coro.send(None)
                else:
                    # If the task is finished and on the run queue and gets here, then it had an
                    # exception and was not awaited.  Throwing into it now raises that exception
                    # again and the code below calls the exception handler.
                    t.data = None
                    r = t.coro.throw(exc)
                if r is not None:
                    _foreign_await(t, r)
            except excs_all as er:
                # The task is not on any queue any more.
                # If it's the main task, it is considered as awaited by the caller.
                awaited = t is main_task
                if awaited:
                    cur_task = None
                    if not isinstance(er, StopIteration):
                        t.state = False
                        raise er
                    if t.state is None:
                        t.state = False
                if t.state:
                    # Task was running but is now finished.
                    if t.state is True:
                        # "None" indicates that the task is complete and not awaited on (yet).
                        t.state = False if awaited else None
                    elif callable(t.state):
                        # The task has a callback registered to be called on completion.
                        t.state(t, er)
                        t.state = False
                        awaited = True
                    else:
                        # Schedule any other tasks waiting on the completion of this task.
                        while t.state.peek():
                            q.push(t.state.pop())
                            awaited = True
                        # "False" indicates that the task is complete and has been awaited on.
                        t.state = False
                    if not awaited and not isinstance(er, excs_stop):
                        # An exception ended this detached task, so queue it for later
                        # execution to handle the uncaught exception if no other task retrieves
                        # the exception in the meantime (this is handled by Task.throw).
                        q.push(t)
                    # Save return value of coro to pass up to caller.
                    t.data = er
                elif t.state is None:
                    # Task is already finished and nothing awaited on the task, so call the
                    # exception handler.
                    t.data = exc
                    _exc_context["exception"] = exc
                    _exc_context["future"] = t
                    Loop.call_exception_handler(_exc_context)
                # If it's the main task then the loop should stop.
                if t is main_task:
                    cur_task = None
                    return er.value
        cur_task = None


def run(coro):
    """Run ``coro`` as a new task until it completes; return its value (or raise its
    exception).  Other tasks still pending stay scheduled (MicroPython)."""
    return run_until_complete(create_task(coro))


################################################################################
# Event loop wrapper


async def _stopper():
    pass


cur_task = None
_stop_task = None


class Loop:
    """The event loop (one per program, as in MicroPython): ``get_event_loop()`` returns this
    class, whose functions are called on the class itself (``loop.create_task(coro)``)."""

    _exc_handler = None

    def create_task(coro):
        """Create a task from ``coro`` (see :func:`create_task`)."""
        return create_task(coro)

    def run_forever():
        """Run the event loop until :meth:`stop` is called."""
        global _stop_task
        _stop_task = Task(_stopper(), globals())
        run_until_complete(_stop_task)

    def run_until_complete(aw):
        """Run until ``aw`` (a task, or a coroutine made a task) completes; return its value."""
        return run_until_complete(_promote_to_task(aw))

    def stop():
        """Make :meth:`run_forever` return."""
        global _stop_task
        if _stop_task is not None:
            _task_queue.push(_stop_task)
            # If stop() is called again, do nothing.
            _stop_task = None

    def close():
        """Close the event loop (nothing to release)."""

    def set_exception_handler(handler):
        """Call ``handler(loop, context)`` for an exception no task retrieved."""
        Loop._exc_handler = handler

    def get_exception_handler():
        """The handler set, or None."""
        return Loop._exc_handler

    def default_exception_handler(loop, context):
        """Print the context's message, task and traceback to stderr."""
        import traceback
        print(context["message"], file=sys.stderr)
        print("future:", context["future"], "coro=", context["future"].coro, file=sys.stderr)
        exc = context["exception"]
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)

    def call_exception_handler(context):
        """Call the handler set (or the default one) with ``context``: ``message``,
        ``exception``, ``future``."""
        (Loop._exc_handler or Loop.default_exception_handler)(Loop, context)


def get_event_loop(runq_len=0, waitq_len=0):
    """The event loop (:class:`Loop`); the arguments are for legacy uasyncio compatibility."""
    return Loop


def current_task():
    """The running :class:`Task`; RuntimeError outside a task."""
    if cur_task is None:
        raise RuntimeError("no running event loop")
    return cur_task


def new_event_loop():
    """Reset the event loop (drop every scheduled task and I/O wait) and return it."""
    global _task_queue, _io_queue
    _task_queue = RunQueue()
    _io_queue = IOQueue()
    return Loop


# Initialise default event loop
new_event_loop()

__all__ = ["CancelledError", "TimeoutError", "Task", "TaskQueue", "Loop", "create_task",
           "current_task", "get_event_loop", "new_event_loop", "run", "run_until_complete",
           "sleep", "sleep_ms"]
