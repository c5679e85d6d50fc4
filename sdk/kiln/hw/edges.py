"""Edge-event delivery for every GPIO line request, from one thread.

One thread (``kiln-gpio-edges``) sleeps in ``epoll_wait`` over the fds of all
registered line requests plus a wake pipe; when a request's fd turns readable it reads the
queued events (non-blocking) and calls that request's handler once per event, in kernel order.
No thread per pin, no polling: an idle board costs nothing.

Delivery context (what a handler may assume): it runs in the ``kiln-gpio-edges`` thread,
holding the GIL like any Python thread, never concurrently with another edge handler, and
while it runs further events queue in the kernel (a request's buffer holds 16 per line by
default; beyond that the kernel drops the oldest and ``line_seqno`` shows the gap).  An
exception from a handler is printed (``threading.excepthook``) and delivery goes on.
:func:`unregister` returns only when no handler of that request is running any more (unless
called from a handler), so closing the request after it is safe.

The thread runs while at least one handler is registered and is not a daemon: a program whose
main code has ended keeps serving its pin callbacks, as a Zerynth or MicroPython board does
(``Interrupts``-style programs register a callback and end).  When the last handler is
unregistered the thread ends, and with it such a program.
"""
from __future__ import annotations

import os
import select
import sys
import threading

_lock = threading.RLock()
_handlers: dict[int, tuple] = {}      # fd -> (request, handler)
_epoll = None
_wake_r = _wake_w = -1
_thread = None


def _start() -> None:
    """Start the delivery thread if none runs (caller holds ``_lock``)."""
    global _epoll, _wake_r, _wake_w, _thread
    if _thread is not None:
        return
    _epoll = select.epoll()
    _wake_r, _wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    _epoll.register(_wake_r, select.EPOLLIN)
    _thread = threading.Thread(target=_run, args=(_epoll, _wake_r, _wake_w),
                               name="kiln-gpio-edges")
    _thread.start()


def _wake() -> None:
    try:
        os.write(_wake_w, b"w")
    except (BlockingIOError, OSError):
        pass


def register(request, handler) -> None:
    """Deliver the edge events of ``request`` (a ``kiln.hw.gpio.LineRequest`` with edge
    detection) to ``handler(event)`` (event: ``kiln.hw.gpio.EdgeEvent``).  Replaces an earlier
    handler of the same request.  TypeError when ``handler`` is not callable."""
    if not callable(handler):
        raise TypeError(f"register() argument 'handler' must be callable, not "
                        f"{type(handler).__name__}")
    fd = request.fileno()
    with _lock:
        _start()
        if fd in _handlers:
            _handlers[fd] = (request, handler)
            return
        _handlers[fd] = (request, handler)
        _epoll.register(fd, select.EPOLLIN)


def unregister(request) -> None:
    """Stop delivering ``request``'s events; no-op when it was not registered."""
    with _lock:
        for fd, (req, _h) in list(_handlers.items()):
            if req is request:
                del _handlers[fd]
                try:
                    _epoll.unregister(fd)
                except (OSError, ValueError):
                    pass
        if not _handlers and _thread is not None:
            _wake()                           # let the thread end


def registered() -> int:
    """Number of requests whose events are delivered."""
    return len(_handlers)


def _run(epoll, wake_r, wake_w) -> None:
    global _epoll, _thread
    try:
        while True:
            try:
                ready = epoll.poll()
            except InterruptedError:
                continue
            for fd, _mask in ready:
                if fd == wake_r:
                    try:
                        os.read(wake_r, 64)
                    except BlockingIOError:
                        pass
                    with _lock:
                        if not _handlers:
                            _thread = None
                            _epoll = None
                            return
                    continue
                with _lock:
                    entry = _handlers.get(fd)
                    if entry is None:
                        continue
                    request, handler = entry
                    try:
                        events = request.read_edge_events(timeout=0)
                    except (OSError, ValueError):
                        # closed under us without unregister: drop it
                        _handlers.pop(fd, None)
                        try:
                            epoll.unregister(fd)
                        except (OSError, ValueError):
                            pass
                        continue
                    for event in events:
                        try:
                            handler(event)
                        except BaseException:
                            threading.excepthook(threading.ExceptHookArgs(
                                (*sys.exc_info(), threading.current_thread())))
    finally:
        epoll.close()
        os.close(wake_r)
        os.close(wake_w)
