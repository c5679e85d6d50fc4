"""Readiness of Kiln sockets, file descriptors and streams: the one mechanism behind MicroPython's
``select``/``uselect`` (``poll``, ``ipoll``, ``select``), the CPython-style ``kiln.select`` and
the event loop of ``uasyncio``.

An object is ready when ``poll(2)`` says its descriptor is, **or when it already holds bytes**:
a registered object with a ``pending()`` method is readable while ``pending() > 0`` (a Kiln
socket keeps the bytes a timed-out read took, see docs/sockets.md; a TLS socket its decrypted
bytes; CPython's ``ssl.SSLSocket`` has the same method).  The kernel cannot see those bytes, so
without this check a poll would sleep while a read would return at once.

What can be registered (the ``obj`` of :meth:`Poller.register`):

- an object with ``fileno()`` (every Kiln socket of both faces and any subclass, CPython sockets
  and files, :class:`uasyncio.ThreadSafeFlag`); its descriptor is read once, at registration;
  an optional ``pending()`` counts bytes held above the descriptor;
- a file descriptor (an ``int`` >= 0);
- an object without a descriptor but with MicroPython's stream ``ioctl(req, arg)``: it is asked
  ``ioctl(3, eventmask)`` (``MP_STREAM_POLL``) and answers the ready events; while such an
  object is registered, waiting is done in steps of 1 ms, as MicroPython does.

Objects are told apart by identity (as MicroPython's ``poll``), ints by value.  A poll object may
be used from one thread at a time; ``register``/``modify``/``unregister`` from another thread while
``poll`` waits are safe and apply to the next ``poll``.  Waits release the GIL, retry after
``EINTR`` with the remaining time (PEP 475) and run Python signal handlers (an exception from a
handler propagates).
"""
from cpython.exc cimport PyErr_CheckSignals
from libc.stdlib cimport realloc, free
from libc.stdint cimport int64_t, INT64_MAX
from libc.limits cimport INT_MAX

from kiln.net.libc cimport (poll as c_poll, pollfd, errno, EINTR, EBADF, EINVAL,
                            POLLIN as C_POLLIN, POLLOUT as C_POLLOUT, POLLPRI as C_POLLPRI,
                            POLLERR as C_POLLERR, POLLHUP as C_POLLHUP, POLLNVAL as C_POLLNVAL)
from kiln.net.wait cimport now_ns
from kiln.net.errors cimport raise_errno, raise_errno_msg
from libc.errno cimport ENOENT

import io as _io

POLLIN = C_POLLIN
POLLOUT = C_POLLOUT
POLLPRI = C_POLLPRI
POLLERR = C_POLLERR
POLLHUP = C_POLLHUP
POLLNVAL = C_POLLNVAL

#: ``ipoll`` flag: report an object once, then set its event mask to 0 (``modify(obj, 0)``).
IPOLL_ONESHOT = 1
#: MicroPython's ``MP_STREAM_POLL`` ioctl request.
MP_STREAM_POLL = 3

cdef enum:
    ONESHOT = 1
    # Waiting step while objects without a descriptor are registered (MicroPython's
    # MICROPY_PY_SELECT_IOCTL_CALL_PERIOD_MS).
    IOCTL_PERIOD_MS = 1
    NS_PER_MS = 1000000
    NS_PER_S = 1000000000

# How a closed object (fileno() == -1) is refused: OSError(EBADF) as every Kiln socket operation
# after close() (MicroPython face), or ValueError as CPython's select module.
cdef enum:
    CLOSED_OSERROR = 0
    CLOSED_VALUEERROR = 1


cdef str _type_name(object value):
    return type(value).__name__


cdef inline bint _is_fd(object obj):
    return isinstance(obj, int) and not isinstance(obj, bool)


cdef object _key(object obj):
    """Identity for objects, value for descriptors (negative keys never collide with ids)."""
    if _is_fd(obj):
        return -1 - <object>int(obj)
    return <Py_ssize_t><void*>obj


cdef int64_t timeout_ns_arg(object value, str func, str name, int64_t unit_ns, str unit,
                            bint negative_is_infinite) except? -2:
    """A timeout in ``unit`` as ns: -1 for None (wait without limit), 0 for 0, else >= 1 ns.
    A negative value waits without limit (MicroPython) or is a ValueError (CPython)."""
    cdef object ns
    if value is None:
        return -1
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{func}() argument '{name}' must be a number of {unit} or None, "
                        f"not {_type_name(value)}")
    if value != value:
        raise ValueError(f"{func}() argument '{name}' must be a number of {unit}, got nan")
    if value < 0:
        if negative_is_infinite:
            return -1
        raise ValueError(f"{func}() argument '{name}' must be >= 0 {unit} or None, "
                         f"got {value!r}")
    limit = INT64_MAX // unit_ns
    if value > limit:
        raise ValueError(f"{func}() argument '{name}' must be at most {limit} {unit}, "
                         f"got {value!r}")
    if isinstance(value, int):
        ns = value * unit_ns
    else:
        ns = round(<double>value * unit_ns)
        if ns > INT64_MAX:
            ns = INT64_MAX
    if ns == 0 and value > 0:
        ns = 1
    return <int64_t>ns


cdef int events_arg(object value, str func) except -1:
    """An event mask: an int in 0..0xffff (POLLIN | POLLOUT | ...)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{func}() argument 'eventmask' must be an int (POLLIN, POLLOUT, ...), "
                        f"not {_type_name(value)}")
    if not (0 <= value <= 0xffff):
        raise ValueError(f"{func}() argument 'eventmask' must be a mask of POLL* flags "
                         f"(0..65535), got {value}")
    return value


cdef class _Entry:
    """One registered object."""
    cdef object obj
    cdef int fd             # -1: no descriptor, polled through ``ioctl``
    cdef int events
    cdef int revents
    cdef bint registered
    cdef object pending     # bound pending() or None
    cdef object ioctl       # bound ioctl() of an object without a descriptor, or None


cdef int _resolve(_Entry e, object obj, str func, int closed_mode) except -1:
    """Fill ``e``'s descriptor and readiness hooks from ``obj`` (see the module docstring)."""
    cdef object fd, fileno
    e.obj = obj
    e.fd = -1
    e.pending = None
    e.ioctl = None
    if _is_fd(obj):
        fd = int(obj)
        if fd < 0:
            raise ValueError(f"{func}() argument 'obj': a file descriptor must be >= 0, got {fd}")
        if fd > INT_MAX:
            raise OverflowError(f"{func}() argument 'obj': file descriptor {fd} is out of range")
        e.fd = fd
        return 0
    fileno = getattr(obj, "fileno", None)
    if fileno is not None:
        try:
            fd = fileno()
        except _io.UnsupportedOperation:
            fd = None        # a stream without a descriptor (io.BytesIO, ...): try ioctl
        if fd is not None:
            if not _is_fd(fd):
                raise TypeError(f"{func}() argument 'obj': {_type_name(obj)}.fileno() returned "
                                f"{_type_name(fd)}, not an int")
            if fd < 0:
                if closed_mode == CLOSED_VALUEERROR:
                    raise ValueError(f"{func}() argument 'obj': file descriptor cannot be a "
                                     f"negative integer ({fd}): the {_type_name(obj)} is closed")
                raise_errno_msg(EBADF, f"{func}() argument 'obj': the {_type_name(obj)} is "
                                       f"closed (fileno() returned {fd})")
            if fd > INT_MAX:
                raise OverflowError(f"{func}() argument 'obj': file descriptor {fd} is out of "
                                    f"range")
            e.fd = fd
    if e.fd < 0:
        e.ioctl = getattr(obj, "ioctl", None)
        if not callable(e.ioctl):
            raise TypeError(f"{func}() argument 'obj' must be a stream with fileno() (a socket), "
                            f"a file descriptor or an object with ioctl(), not "
                            f"{_type_name(obj)}")
    pending = getattr(obj, "pending", None)
    if callable(pending):
        e.pending = pending
    return 0


cdef int _ioctl_poll(_Entry e) except -1:
    """Ask an object without a descriptor for its ready events (``ioctl(MP_STREAM_POLL, mask)``)."""
    r = e.ioctl(MP_STREAM_POLL, e.events)
    if isinstance(r, bool) or not isinstance(r, int):
        raise TypeError(f"{_type_name(e.obj)}.ioctl(MP_STREAM_POLL) must return an int mask, "
                        f"not {_type_name(r)}")
    if r < 0:
        raise_errno_msg(EINVAL, f"{_type_name(e.obj)}.ioctl(MP_STREAM_POLL) failed ({r})")
    return r & 0xffff


cdef class Poller:
    """poll()

    A set of objects polled for readiness: MicroPython's ``select.poll`` object.  ``register``,
    ``modify``, ``unregister``, ``poll(timeout_ms)`` and ``ipoll(timeout_ms, flags)``; results
    name the registered object itself (not its descriptor).
    """
    cdef dict entries       # key -> _Entry, in registration order
    cdef pollfd *buf        # poll(2)'s array, owned by the running poll
    cdef Py_ssize_t cap
    cdef bint busy          # a poll is running (possibly in another thread, without the GIL)
    cdef list ready         # entries reported by the last poll, for ipoll's iteration
    cdef Py_ssize_t pos
    cdef bint oneshot
    cdef int closed_mode

    def __cinit__(self):
        self.entries = {}
        self.ready = []

    def __dealloc__(self):
        free(self.buf)

    def register(self, obj, eventmask=C_POLLIN | C_POLLOUT):
        """Watch ``obj`` for ``eventmask`` (POLLIN | POLLOUT by default; POLLERR and POLLHUP are
        always reported).  Registering a registered object changes its mask (as ``modify``).
        Raises TypeError for an object that cannot be polled, OSError(EBADF) for a closed one."""
        cdef int events = events_arg(eventmask, "register")
        cdef _Entry e
        key = _key(obj)
        e = self.entries.get(key)
        if e is not None:
            e.events = events
            return None
        e = _Entry.__new__(_Entry)
        _resolve(e, obj, "register", self.closed_mode)
        e.events = events
        e.registered = True
        self.entries[key] = e

    def unregister(self, obj):
        """Stop watching ``obj``; an object that is not registered is ignored (MicroPython)."""
        cdef _Entry e = self.entries.pop(_key(obj), None)
        if e is not None:
            e.registered = False

    def modify(self, obj, eventmask):
        """Change the event mask of a registered ``obj``; OSError(ENOENT) if it is not
        registered."""
        cdef int events = events_arg(eventmask, "modify")
        cdef _Entry e = self.entries.get(_key(obj))
        if e is None:
            raise_errno_msg(ENOENT, f"modify(): {_type_name(obj)} object is not registered")
        e.events = events

    def poll(self, timeout=-1):
        """Wait until a registered object is ready, at most ``timeout`` ms (-1, a negative value
        or None: no limit; 0: do not wait).  Returns a list of ``(obj, events)`` tuples; an
        empty list at the timeout."""
        cdef _Entry e
        self._poll(timeout_ns_arg(timeout, "poll", "timeout", NS_PER_MS, "milliseconds", True))
        self.oneshot = False
        result = []
        for e in self.ready:
            result.append((e.obj, e.revents))
        self.ready = []
        return result

    def ipoll(self, timeout=-1, flags=0):
        """As :meth:`poll`, but returns an iterator of ``(obj, events)`` tuples (the poll object
        itself).  ``flags`` 1 (one-shot): each object reported gets event mask 0 until
        ``modify`` sets a new one."""
        cdef int64_t ns = timeout_ns_arg(timeout, "ipoll", "timeout", NS_PER_MS,
                                         "milliseconds", True)
        if isinstance(flags, bool) or not isinstance(flags, int):
            raise TypeError(f"ipoll() argument 'flags' must be an int, not {_type_name(flags)}")
        self._poll(ns)
        self.oneshot = (flags & ONESHOT) != 0
        self.pos = 0
        return self

    def __iter__(self):
        return self

    def __next__(self):
        cdef _Entry e
        while self.pos < len(self.ready):
            e = self.ready[self.pos]
            self.pos += 1
            if not e.registered:
                continue            # unregistered while the caller iterated
            if self.oneshot:
                e.events = 0
            return (e.obj, e.revents)
        self.ready = []
        self.pos = 0
        raise StopIteration

    def __len__(self):
        """The number of registered objects."""
        return len(self.entries)

    def __repr__(self):
        return f"<poll: {len(self.entries)} registered>"

    cdef int _poll(self, int64_t timeout_ns) except -1:
        """Wait up to ``timeout_ns`` (-1: no limit) until an entry is ready; leave the ready
        entries, with their ``revents``, in ``self.ready``."""
        cdef Py_ssize_t n, i, nready
        cdef int64_t deadline = -1, remaining
        cdef int t, r, err
        cdef bint others
        cdef _Entry e
        cdef pollfd *fds
        cdef void *grown
        PyErr_CheckSignals()    # "pending callbacks run before polling" (MicroPython)
        if self.busy:
            raise RuntimeError("poll(): this poll object is already polling in another thread")
        self.busy = True
        try:
            snap = list(self.entries.values())
            n = len(snap)
            if n > self.cap:
                grown = realloc(self.buf, n * sizeof(pollfd))
                if grown == NULL:
                    raise MemoryError()
                self.buf = <pollfd*>grown
                self.cap = n
            fds = self.buf
            if timeout_ns >= 0:
                deadline = now_ns()
                deadline = INT64_MAX if timeout_ns > INT64_MAX - deadline else deadline + timeout_ns
            while True:
                nready = 0
                others = False
                for i in range(n):
                    e = snap[i]
                    e.revents = 0
                    fds[i].revents = 0
                    if e.fd >= 0:
                        fds[i].fd = e.fd
                        fds[i].events = <short>e.events
                    else:
                        fds[i].fd = -1      # ignored by poll(2)
                        others = True
                        e.revents = _ioctl_poll(e)
                    if e.pending is not None and (e.events & C_POLLIN) and \
                            not (e.revents & C_POLLIN) and e.pending() > 0:
                        e.revents |= C_POLLIN
                    if e.revents:
                        nready += 1
                if nready or timeout_ns == 0:
                    t = 0
                elif deadline < 0:
                    t = IOCTL_PERIOD_MS if others else -1
                else:
                    remaining = deadline - now_ns()
                    if remaining <= 0:
                        t = 0
                    elif remaining > <int64_t>INT_MAX * NS_PER_MS - (NS_PER_MS - 1):
                        t = INT_MAX
                    else:
                        t = <int>((remaining + NS_PER_MS - 1) // NS_PER_MS)
                    if others and t > IOCTL_PERIOD_MS:
                        t = IOCTL_PERIOD_MS
                if t == 0:
                    r = c_poll(fds, n, 0)
                    err = errno
                else:
                    with nogil:
                        r = c_poll(fds, n, t)
                        err = errno
                if r < 0:
                    if err != EINTR:
                        raise_errno(err)
                    PyErr_CheckSignals()        # a handler's exception propagates
                elif r > 0:
                    for i in range(n):
                        if fds[i].revents:
                            e = snap[i]
                            if not e.revents:
                                nready += 1
                            e.revents |= fds[i].revents
                if nready or timeout_ns == 0:
                    break
                if deadline >= 0 and now_ns() >= deadline:
                    break
            self.ready = []
            if nready:
                for i in range(n):
                    e = snap[i]
                    if e.revents and e.registered:
                        self.ready.append(e)
            self.pos = 0
        finally:
            self.busy = False
        return 0


def poll():
    """Create a poll object (MicroPython's ``select.poll()``)."""
    return Poller()


cdef Poller _cpython_poller():
    cdef Poller p = Poller()
    p.closed_mode = CLOSED_VALUEERROR
    return p


def cpython_poller():
    """A :class:`Poller` that refuses a closed object with ValueError, as CPython's ``select``
    does (for ``kiln.select``)."""
    return _cpython_poller()


cdef list _objects(object seq, str name):
    try:
        return list(seq)
    except TypeError:
        raise TypeError(f"select() argument '{name}' must be an iterable of streams or file "
                        f"descriptors, not {_type_name(seq)}") from None


def select(rlist, wlist, xlist, timeout=None):
    """select(rlist, wlist, xlist[, timeout])

    Wait until an object of ``rlist`` is readable (data, held bytes, EOF or an error), one of
    ``wlist`` writable, or one of ``xlist`` has an exceptional condition (urgent data, an error
    or a hang-up), at most ``timeout`` seconds (None or negative: no limit).  Returns three
    lists of the objects given.  A descriptor that is not open raises OSError(EBADF).
    (MicroPython's ``select.select``; ``kiln.select.select`` is CPython's.)"""
    return select_objects(rlist, wlist, xlist,
                          timeout_ns_arg(timeout, "select", "timeout", NS_PER_S, "seconds",
                                         True),
                          False)


def select_objects(rlist, wlist, xlist, int64_t timeout_ns, bint cpython):
    """The body of both ``select`` faces: ``timeout_ns`` -1 waits without limit.  ``cpython``:
    a closed object is a ValueError and ``xlist`` reports urgent data only (select(2)); else
    OSError(EBADF) and ``xlist`` also reports errors and hang-ups (MicroPython)."""
    cdef Poller p = _cpython_poller() if cpython else Poller()
    cdef _Entry e
    cdef int xmask = C_POLLPRI if cpython else (C_POLLPRI | C_POLLERR | C_POLLHUP)
    lists = (_objects(rlist, "rlist"), _objects(wlist, "wlist"), _objects(xlist, "xlist"))
    masks = (C_POLLIN, C_POLLOUT, C_POLLPRI)
    for objs, mask in zip(lists, masks):
        for obj in objs:
            key = _key(obj)
            e = p.entries.get(key)
            if e is None:
                e = _Entry.__new__(_Entry)
                _resolve(e, obj, "select", p.closed_mode)
                e.registered = True
                p.entries[key] = e
            e.events |= mask
    p._poll(timeout_ns)
    for e in p.ready:
        if e.revents & C_POLLNVAL:
            raise_errno_msg(EBADF, f"select(): file descriptor {e.fd} is not open")
    found = ([], [], [])
    wants = (C_POLLIN | C_POLLHUP | C_POLLERR, C_POLLOUT | C_POLLERR, xmask)
    for objs, want, out in zip(lists, wants, found):
        for obj in objs:
            e = p.entries[_key(obj)]
            if e.revents & want:
                out.append(obj)
    return found


def timeout_ns(value, str func, str name, int64_t unit_ns, str unit, bint negative_is_infinite):
    """A timeout argument in ``unit`` (``unit_ns`` ns each) as ns, -1 for no limit (None, or a
    negative value when ``negative_is_infinite``); TypeError/ValueError naming ``func`` and
    ``name`` for anything else.  For the Python faces over this module."""
    return timeout_ns_arg(value, func, name, unit_ns, unit, negative_is_infinite)
