"""The device file under every kiln.hw binding, in one place.

- :func:`open_device` opens with ``O_CLOEXEC`` (children never inherit a bus), retries EINTR
  after running Python's signal handlers (a handler that raises aborts the open), and raises
  ``OSError(errno, "<strerror>: <func>: <path>")`` -- ``FileNotFoundError`` for a device that is
  not there, ``PermissionError`` for one the user may not open.
- :func:`xioctl` is ``ioctl(2)`` with the same EINTR rule (the kernel restarts nothing the
  uAPIs here do twice: every request is idempotent or reports EINTR before doing anything).
- :class:`Device` owns one fd: ``close()`` (idempotent), ``closed``, ``fileno()``, context
  manager, and the fd is closed when the object goes away; every operation on a closed device
  raises ``ValueError("<func>(): <path> is closed")``.
"""
from cpython.exc cimport PyErr_CheckSignals

from kiln.hw.linux cimport open as c_open, close as c_close, ioctl as c_ioctl, O_CLOEXEC
from kiln.net.libc cimport errno, EINTR
from kiln.net.errors cimport raise_errno_msg


cdef int open_device(object path, int flags, str func) except -1:
    cdef bytes bpath
    cdef const char *cpath
    cdef int fd, err
    if not isinstance(path, str):
        raise TypeError(f"{func}() argument 'path' must be a str, not {type(path).__name__}")
    if not path or "\0" in path:
        raise ValueError(f"{func}() argument 'path' must be a device path, got {path!r}")
    bpath = path.encode()
    cpath = bpath
    while True:
        with nogil:
            fd = c_open(cpath, flags | O_CLOEXEC)
            err = errno
        if fd >= 0:
            return fd
        if err == EINTR:
            PyErr_CheckSignals()
            continue
        return raise_errno_msg(err, f"{func}: {path}")


cdef int xioctl(int fd, unsigned long request, void *arg, str func, str what) except -1:
    cdef int r, err
    while True:
        with nogil:
            r = c_ioctl(fd, request, arg)
            err = errno
        if r >= 0:
            return r
        if err == EINTR:
            PyErr_CheckSignals()
            continue
        return raise_errno_msg(err, f"{func}: {what}")


cdef class Device:
    """An open device file (base of every kiln.hw device)."""

    def __cinit__(self, *args, **kwargs):
        self.fd = -1
        self.path = ""

    def __dealloc__(self):
        if self.fd >= 0:
            c_close(self.fd)
            self.fd = -1

    cdef int check(self, str func) except -1:
        if self.fd < 0:
            raise ValueError(f"{func}(): {self.path or 'the device'} is closed")
        return 0

    cdef int ioctl(self, unsigned long request, void *arg, str func) except -1:
        self.check(func)
        return xioctl(self.fd, request, arg, func, self.path)

    cdef int _close(self) except -1:
        cdef int fd = self.fd
        if fd >= 0:
            self.fd = -1
            c_close(fd)       # EINTR on close: the fd is gone anyway (Linux), never retried
        return 0

    def close(self):
        """Close the device; idempotent.  Never blocks."""
        self._close()

    @property
    def closed(self):
        """True once ``close()`` ran."""
        return self.fd < 0

    def fileno(self):
        """The file descriptor (for ``select``/``poll``); ValueError when closed."""
        self.check("fileno")
        return self.fd

    def __enter__(self):
        self.check("__enter__")
        return self

    def __exit__(self, *exc):
        self._close()
        return False

    def __repr__(self):
        return f"<{type(self).__name__} {self.path}{' closed' if self.fd < 0 else ''}>"


def _ioctl_int(Device dev, unsigned long request, unsigned long value, str func):
    """ioctl whose third argument is an integer (I2C_SLAVE, I2C_TIMEOUT, TCFLSH, ...)."""
    dev.check(func)
    return xioctl(dev.fd, request, <void*>value, func, dev.path)


def _on_file(cls, str path):
    """For the argument tests of kiln.hw: an instance of device class ``cls`` on any file
    (``/dev/null``) without the constructor's checks; every ioctl then fails with ENOTTY, so a
    call whose arguments are accepted reaches the kernel and says so."""
    cdef Device dev = cls.__new__(cls)
    dev.fd = open_device(path, 2, "_on_file")      # O_RDWR
    dev.path = path
    return dev
