"""``Task`` (a coroutine being run, awaitable and cancellable) and ``TaskQueue`` (tasks waiting
for something, in arrival order).

Adapted from MicroPython's ``extmod/asyncio/task.py`` (MIT license; Copyright (c) 2019-2020
Damien P. George; the license text is in ``uasyncio/__init__.py``).  MicroPython keeps every
queue in a pairing heap keyed by ticks; here a waiting queue is a FIFO and the run queue
(``core.RunQueue``) a FIFO plus a timer heap.
"""
from collections import deque

from uasyncio import core


class TaskQueue:
    """Tasks waiting on an ``Event``, a ``Lock`` or another task, first come first served.
    (Deliberately without ``__len__``: a task's ``state`` holding one must stay true.)"""

    __slots__ = ("q",)

    def __init__(self):
        self.q = deque()

    def peek(self):
        """The first task, or None."""
        return self.q[0] if self.q else None

    def push(self, v, key=None):
        """Append task ``v`` (clears ``v.data``; ``key`` is ignored: arrival order)."""
        v.data = None
        self.q.append(v)

    def pop(self):
        """Take the first task."""
        return self.q.popleft()

    def remove(self, v):
        """Take ``v`` off the queue (no-op when it is not on it)."""
        try:
            self.q.remove(v)
        except ValueError:
            pass


class Task:
    """A coroutine wrapped into a running task (create it with ``create_task``).

    ``await task`` waits for it and returns its value (or raises its exception); ``cancel()``
    injects ``CancelledError``.  ``state``: True while running with no waiter, a ``TaskQueue`` of
    waiters, a callable to call on completion (``gather``), None when finished and not awaited
    yet, False when finished and awaited.  ``data``: what the task waits on (a queue with
    ``remove``, another task), or the exception to inject, or its result once finished."""

    __slots__ = ("coro", "data", "state", "ph_key", "__weakref__")

    def __init__(self, coro, globals=None):
        self.coro = coro  # Coroutine of this Task
        self.data = None  # General data for queue it is waiting on
        self.state = True  # None, False, True, a callable, or a TaskQueue instance
        self.ph_key = None  # The run queue's timer entry while sleeping

    def __iter__(self):
        if not self.state:
            # Task finished, signal that it has been awaited on.
            self.state = False
        elif self.state is True:
            # Allocated head of linked list of Tasks waiting on completion of this task.
            self.state = TaskQueue()
        elif type(self.state) is not TaskQueue:
            # Task has state used for another purpose, so can't also wait on it.
            raise RuntimeError("can't wait")
        return self

    __await__ = __iter__

    def __next__(self):
        if not self.state:
            # Task finished, raise return value to caller so it can continue.
            raise self.data
        else:
            # Put calling task on waiting queue.
            self.state.push(core.cur_task)
            # Set calling task's data to this task that it waits on, to double-link it.
            core.cur_task.data = self

    def done(self):
        """True once the task has finished."""
        return not self.state

    def cancel(self):
        """Inject ``CancelledError`` into the task; False if it had finished already.
        RuntimeError when a task cancels itself (as MicroPython)."""
        # Check if task is already finished.
        if not self.state:
            return False
        # Can't cancel self (not supported yet).
        if self is core.cur_task:
            raise RuntimeError("can't cancel self")
        # If Task waits on another task then forward the cancel to the one it's waiting on.
        while isinstance(self.data, Task):
            self = self.data
        # Reschedule Task as a cancelled task.
        if hasattr(self.data, "remove"):
            # Not on the main running queue, remove the task from the queue it's on.
            self.data.remove(self)
            core._task_queue.push(self)
        elif self.ph_key is not None:
            # On the main running queue but scheduled in the future, so bring it forward to now.
            core._task_queue.remove(self)
            core._task_queue.push(self)
        self.data = core.CancelledError
        return True

    def __repr__(self):
        name = getattr(self.coro, "__qualname__", None) or type(self.coro).__name__
        status = "done" if not self.state else "pending"
        return f"<Task {name} {status}>"
