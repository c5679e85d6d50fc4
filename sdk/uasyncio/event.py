"""``Event`` (tasks wait until it is set) and ``ThreadSafeFlag`` (a flag other threads may set).

Adapted from MicroPython's ``extmod/asyncio/event.py`` (MIT license; Copyright (c) 2019-2020
Damien P. George; the license text is in ``uasyncio/__init__.py``).
"""
import os
import types

from uasyncio import core


class Event:
    """An event tasks can wait for; starts cleared.  ``set()`` must be called from the event
    loop's thread (use :class:`ThreadSafeFlag` from other threads)."""

    def __init__(self):
        self.state = False  # False=unset; True=set
        self.waiting = core.TaskQueue()  # Queue of Tasks waiting on completion of this event

    def is_set(self):
        """True if the event is set."""
        return self.state

    def set(self):
        """Set the event and schedule every task waiting on it."""
        # Note: This must not be called from anything except the thread running the asyncio
        # loop (i.e. neither a signal handler nor a different thread).
        while self.waiting.peek():
            core._task_queue.push(self.waiting.pop())
        self.state = True

    def clear(self):
        """Clear the event."""
        self.state = False

    @types.coroutine
    def wait(self):
        """Wait until the event is set (return at once if it is); returns True.  A coroutine."""
        if not self.state:
            # Event not set, put the calling task on the event's waiting queue
            self.waiting.push(core.cur_task)
            # Set calling task's data to the event's queue so it can be removed if needed
            core.cur_task.data = self.waiting
            yield
        return True


class ThreadSafeFlag:
    """A flag that code outside the event loop (another thread, a signal handler) may set to
    wake the task waiting on it; starts cleared and clears itself when ``wait()`` returns.  One
    task at a time may wait on it.

    The wake-up goes through an ``eventfd`` the flag opens on its first ``wait()`` and closes when
    it is garbage-collected; the loop polls it like a socket (``fileno()``, ``pending()``)."""

    def __init__(self):
        self.state = 0
        self._fd = -1

    def fileno(self):
        """The flag's eventfd (opened on first use): readable while the flag is set."""
        if self._fd < 0:
            self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        return self._fd

    def pending(self):
        """1 while the flag is set (the poller treats it as readable), else 0."""
        return self.state

    def set(self):
        """Set the flag and wake the task waiting on it (safe from any thread)."""
        self.state = 1
        fd = self._fd
        if fd >= 0:
            try:
                os.eventfd_write(fd, 1)
            except OSError:
                pass        # closed by a concurrent collection: nobody waits any more

    def clear(self):
        """Clear the flag."""
        self.state = 0
        self._drain()

    def _drain(self):
        if self._fd >= 0:
            try:
                os.eventfd_read(self._fd)
            except BlockingIOError:
                pass

    @types.coroutine
    def wait(self):
        """Wait until the flag is set (at once if it is), then clear it.  A coroutine."""
        if not self.state:
            yield core._io_queue.queue_read(self)
        self.state = 0
        self._drain()

    def __del__(self):
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
