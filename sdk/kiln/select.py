"""CPython's ``select`` API over Kiln's readiness mechanism (:mod:`kiln.poll`): what a Zerynth
app's ``import select`` gives (``--api zerynth``); ``--api cpython`` apps may import it as
``kiln.select``.

Zerynth v3 documents no ``select`` module; this one follows CPython's, with one addition: a Kiln
socket that already holds received bytes (``pending() > 0``, see docs/sockets.md) is readable
at once, which CPython's own ``select`` cannot know.

- ``select(rlist, wlist, xlist[, timeout])``: timeout in **seconds** (None: no limit; negative:
  ValueError); returns three lists of the objects given; ``xlist`` reports urgent data.
- ``poll()``: ``register(fd, eventmask=POLLIN|POLLPRI|POLLOUT)``, ``modify`` (OSError ENOENT
  when not registered), ``unregister`` (KeyError when not registered), ``poll(timeout_ms=None)``
  returning ``[(fd, events), ...]`` (descriptors, as CPython).  ``fd`` is an int or any object
  with ``fileno()``; objects are keyed by their descriptor, as CPython.
- No ``epoll``/``devpoll``/``kqueue``: use ``poll``.
"""
import errno as _errno
import select as _std

from kiln.poll import (POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI, cpython_poller,
                       select_objects, timeout_ns)

POLLRDNORM = _std.POLLRDNORM
POLLRDBAND = _std.POLLRDBAND
POLLWRNORM = _std.POLLWRNORM
POLLWRBAND = _std.POLLWRBAND
POLLMSG = _std.POLLMSG
POLLRDHUP = _std.POLLRDHUP
PIPE_BUF = _std.PIPE_BUF
error = OSError

_NS_PER_S = 1_000_000_000
_NS_PER_MS = 1_000_000


def select(rlist, wlist, xlist, timeout=None):
    """Wait until an object of ``rlist`` is readable (data, bytes Kiln holds, EOF or an error),
    one of ``wlist`` writable or one of ``xlist`` has urgent data, at most ``timeout`` seconds
    (None: no limit).  Returns ``(readable, writable, exceptional)`` lists of the objects given.
    ValueError for a negative timeout or a closed object, OSError(EBADF) for a descriptor that
    is not open."""
    return select_objects(rlist, wlist, xlist,
                          timeout_ns(timeout, "select", "timeout", _NS_PER_S, "seconds", False),
                          True)


def _fd(fd, func):
    """The descriptor of ``fd`` (an int or an object with ``fileno()``), as CPython's
    ``PyObject_AsFileDescriptor``."""
    if isinstance(fd, int) and not isinstance(fd, bool):
        n = int(fd)
    else:
        fileno = getattr(fd, "fileno", None)
        if fileno is None:
            raise TypeError(f"{func}() argument 'fd' must be an int or have a fileno() method, "
                            f"not {type(fd).__name__}")
        n = fileno()
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"{func}() argument 'fd': fileno() returned {type(n).__name__}, "
                            f"not an int")
    if n < 0:
        raise ValueError(f"{func}() argument 'fd': file descriptor cannot be a negative integer "
                         f"({n})")
    return n


class _Poll:
    """CPython's poll object (``select.poll()``), counting bytes Kiln holds as readable."""

    def __init__(self):
        self._poller = cpython_poller()
        self._objs = {}     # fd -> the object registered for it
        self._fd_of = {}    # id(object) -> fd

    def register(self, fd, eventmask=POLLIN | POLLPRI | POLLOUT):
        """Watch ``fd`` (an int or an object with ``fileno()``) for ``eventmask``; registering
        the same descriptor again replaces its mask."""
        n = _fd(fd, "register")
        old = self._objs.get(n)
        if old is not None and old is not fd:
            self._poller.unregister(old)
            del self._fd_of[id(old)]
        self._poller.register(fd, eventmask)
        self._objs[n] = fd
        self._fd_of[id(fd)] = n

    def modify(self, fd, eventmask):
        """Change the mask of a registered descriptor; OSError(ENOENT) if it is not."""
        n = _fd(fd, "modify")
        if n not in self._objs:
            raise OSError(_errno.ENOENT, f"modify(): file descriptor {n} is not registered")
        self._poller.modify(self._objs[n], eventmask)

    def unregister(self, fd):
        """Stop watching ``fd``; KeyError if it is not registered."""
        n = _fd(fd, "unregister")
        obj = self._objs.pop(n)
        del self._fd_of[id(obj)]
        self._poller.unregister(obj)

    def poll(self, timeout=None):
        """Wait at most ``timeout`` ms (None or negative: no limit); return ``[(fd, events)]``."""
        ns = timeout_ns(timeout, "poll", "timeout", _NS_PER_MS, "milliseconds", True)
        ms = -1 if ns < 0 else ns / _NS_PER_MS
        return [(self._fd_of[id(obj)], events) for obj, events in self._poller.poll(ms)]


def poll():
    """Create a poll object (CPython's ``select.poll()``)."""
    return _Poll()


__all__ = ["select", "poll", "error", "POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP",
           "POLLNVAL", "POLLRDNORM", "POLLRDBAND", "POLLWRNORM", "POLLWRBAND", "POLLMSG",
           "POLLRDHUP", "PIPE_BUF"]
