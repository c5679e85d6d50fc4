"""errno and getaddrinfo codes turned into Python exceptions, in one place.

Conventions (both faces rely on them):

- A failed syscall raises ``OSError(errno, strerror)``; CPython picks the matching subclass
  (``BlockingIOError`` for EAGAIN, ``ConnectionRefusedError`` for ECONNREFUSED, ...), and
  ``exc.args[0] == exc.errno`` is the positive errno, as MicroPython code expects.
- A timeout raises ``TimeoutError(ETIMEDOUT, "timed out")``: an ``OSError`` whose ``args[0]`` is
  ``errno.ETIMEDOUT`` (MicroPython) and an instance of the builtin ``TimeoutError`` (Zerynth).
- A getaddrinfo failure raises ``ResolveError(code, message)``, an ``OSError`` subclass whose
  ``args[0]`` is the (negative) ``EAI_*`` code, as MicroPython documents.
"""
from cpython.exc cimport PyErr_SetObject

from kiln.net.libc cimport strerror, gai_strerror, ETIMEDOUT, EAI_SYSTEM, errno as c_errno


class ResolveError(OSError):
    """A host name or service could not be resolved; ``args[0]`` is the negative EAI_* code."""


class AddressError(OSError, ValueError):
    """A socket address has a valid type but a bad value (IP text, port range, path length).

    It is an ``OSError`` (``args[0]`` is EINVAL or EAFNOSUPPORT, as MicroPython code expects) and a
    ``ValueError`` (the Python convention for a bad argument value), like ``io.UnsupportedOperation``.
    """


# strerror() texts decoded once per errno: building OSError is the whole cost of the error path
# (non-blocking sockets hit EAGAIN constantly), so keep it to one dict lookup and one call.
cdef dict _messages = {}


cdef inline str _strerror(int err):
    msg = _messages.get(err)
    if msg is None:
        msg = (<bytes>strerror(err)).decode("utf-8", "replace")
        _messages[err] = msg
    return msg


# These set the exception through the C API and return -1 instead of using ``raise``: a Cython
# ``raise`` adds a traceback frame for this helper (and one for every cdef level it crosses),
# which costs more than the syscall on hot error paths such as EAGAIN.  The core returns error
# codes up to the Python-visible method, which calls these once: one traceback entry, like a
# function written in Python.  OSError(errno, text) is turned into its subclass (BlockingIOError,
# ConnectionRefusedError, ...) when the exception is instantiated.

cdef int raise_errno(int err) except -1:
    PyErr_SetObject(OSError, (err, _strerror(err)))
    return -1


cdef int raise_errno_msg(int err, str detail) except -1:
    PyErr_SetObject(OSError, (err, f"{_strerror(err)}: {detail}"))
    return -1


cdef int raise_timeout() except -1:
    PyErr_SetObject(TimeoutError, (ETIMEDOUT, "timed out"))
    return -1


cdef int raise_address(int err, str detail) except -1:
    raise AddressError(err, detail)


cdef int raise_gai(int code) except -1:
    if code == EAI_SYSTEM:
        raise_errno(c_errno)
    raise ResolveError(code, (<bytes>gai_strerror(code)).decode("utf-8", "replace"))
