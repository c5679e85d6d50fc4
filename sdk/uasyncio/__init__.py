"""MicroPython's ``asyncio`` (importable as ``uasyncio``; an app's ``import asyncio`` and
``import uasyncio`` under ``--api micropython``), whose streams are Kiln sockets driven by one
event loop: non-blocking sockets and Kiln's readiness mechanism (:mod:`kiln.poll`), no thread
per socket.

The API is MicroPython's (docs/library/asyncio.rst): ``run``, ``create_task``, ``current_task``,
``sleep``, ``sleep_ms``, ``wait_for``, ``wait_for_ms``, ``gather``, ``Event``,
``ThreadSafeFlag``, ``Lock``, ``open_connection``, ``start_server``, ``Stream`` (also
``StreamReader``/``StreamWriter``), ``Server``, ``Task``, ``get_event_loop``,
``new_event_loop`` and ``Loop``.  What differs from MicroPython and from CPython's asyncio:
docs/asyncio.md.

The scheduler follows the design of MicroPython's ``extmod/asyncio`` (tasks resumed with
``coro.send``, a task's ``data``/``state`` fields, ``wait_for``/``gather`` as there), adapted to
CPython: awaitables are ``types.coroutine`` generators, the run queue is a FIFO plus a timer
heap, I/O waits go through :class:`kiln.poll.Poller`, stream reads are tried before waiting.

Parts adapted from MicroPython are under MicroPython's license:

    The MIT License (MIT)

    Copyright (c) 2013-2026 Damien P. George

    Permission is hereby granted, free of charge, to any person obtaining a copy
    of this software and associated documentation files (the "Software"), to deal
    in the Software without restriction, including without limitation the rights
    to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
    copies of the Software, and to permit persons to whom the Software is
    furnished to do so, subject to the following conditions:

    The above copyright notice and this permission notice shall be included in
    all copies or substantial portions of the Software.

    THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
    IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
    FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
    AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
    LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
    OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
    THE SOFTWARE.
"""
from uasyncio.core import (CancelledError, Loop, Task, TaskQueue, TimeoutError, create_task,
                           current_task, get_event_loop, new_event_loop, run,
                           run_until_complete, sleep, sleep_ms)
from uasyncio.event import Event, ThreadSafeFlag
from uasyncio.funcs import gather, wait_for, wait_for_ms
from uasyncio.lock import Lock
from uasyncio.stream import (Server, Stream, StreamReader, StreamWriter, open_connection,
                             start_server)

__version__ = (3, 0, 0)

__all__ = ["CancelledError", "TimeoutError", "Task", "TaskQueue", "Loop", "create_task",
           "current_task", "get_event_loop", "new_event_loop", "run", "run_until_complete",
           "sleep", "sleep_ms", "Event", "ThreadSafeFlag", "gather", "wait_for", "wait_for_ms",
           "Lock", "Stream", "StreamReader", "StreamWriter", "Server", "open_connection",
           "start_server"]
