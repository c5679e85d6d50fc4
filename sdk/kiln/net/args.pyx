"""Argument conversion for every public socket call, in one place.

Each converter is given the calling function's name and the argument's name, and refuses a bad
value with a message naming both and what is allowed, as CPython's best messages do::

    recv() argument 'bufsize' must be an int, not float
    socket() argument 'family' must be an int in -2147483648..2147483647, got 4294967296

Exception types: ``TypeError`` for a wrong type, ``OverflowError`` for an int that does not fit a
plain C int parameter, ``ValueError`` for a value outside the parameter's documented range.
The common case (an exact ``int`` in range) is handled inline in ``args.pxd``; these are the
complete checks behind it.
"""
from libc.stdint cimport int64_t
from libc.limits cimport INT_MIN, INT_MAX
from cpython.pyport cimport PY_SSIZE_T_MAX

import math
import operator
import os

cdef extern from "Python.h":
    bint PyIndex_Check(object o)


cdef Py_ssize_t _physical_memory():
    # Clamped to what a Py_ssize_t holds: a 32-bit board (or qemu-user on a 64-bit host, which
    # reports the host's memory) may have more memory than its address space.
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        total = 0
    if total <= 0 or total > PY_SSIZE_T_MAX:
        total = PY_SSIZE_T_MAX
    return <Py_ssize_t>total


cdef Py_ssize_t MAX_SIZE = _physical_memory()
cdef int64_t INT64_MAX = 2**63 - 1
#: The largest byte count a read accepts (the machine's physical memory).
MAX_READ_SIZE = MAX_SIZE


cdef str _type_name(object value):
    return type(value).__name__


cdef object _index(object value, str func, str name, str what):
    """``operator.index(value)``, or TypeError naming the argument."""
    if not PyIndex_Check(value):
        raise TypeError(f"{func}() argument '{name}' must be {what}, not {_type_name(value)}")
    return operator.index(value)


cdef long long int_arg(object value, str func, str name, long long lo, long long hi,
                       bint c_range) except? -1:
    """An int in ``lo..hi``: OverflowError outside it when it is the C type's range
    (``c_range``), ValueError when it is the parameter's own range."""
    v = _index(value, func, name, "an int")
    if not (lo <= v <= hi):
        error = OverflowError if c_range else ValueError
        raise error(f"{func}() argument '{name}' must be an int in {lo}..{hi}, got {v}")
    return v


cdef Py_ssize_t size_arg(object value, str func, str name, Py_ssize_t lo) except? -1:
    """A byte count in ``lo..MAX_SIZE``: larger is impossible (more than the machine's memory)
    and is refused before anything is allocated."""
    v = _index(value, func, name, "an int")
    if v < lo:
        raise ValueError(f"{func}() argument '{name}' must be >= {lo}, got {v}")
    if v > MAX_SIZE:
        raise ValueError(f"{func}() argument '{name}' must be at most {MAX_SIZE} "
                         f"(this machine's memory), got {v}")
    return v


cdef int64_t timeout_arg(object value, str func, str name, int64_t unit_ns,
                         str unit) except? -2:
    """A timeout in ``unit`` (``unit_ns`` nanoseconds each) as ns: -1 for None (blocking), 0 for
    0 (non-blocking), else at least 1 ns (a tiny positive timeout stays a timeout)."""
    cdef object ns
    if value is None:
        return -1
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{func}() argument '{name}' must be a number of {unit} or None, "
                        f"not {_type_name(value)}")
    limit = INT64_MAX // unit_ns
    if not (value >= 0):
        raise ValueError(f"{func}() argument '{name}' must be >= 0 {unit} or None, got {value!r}")
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


cdef bint bool_arg(object value, str func, str name) except -1:
    """A flag: a bool or an int (as CPython's ``setblocking``)."""
    if isinstance(value, bool):
        return value
    return _index(value, func, name, "a bool") != 0


cdef Py_ssize_t count_arg_slow(object value, Py_ssize_t buflen, str func, str name,
                               bint none_is_all, bint minus_one_is_all) except? -1:
    if value is None and none_is_all:
        return buflen
    what = "an int or None" if none_is_all else "an int"
    v = _index(value, func, name, what)
    if v == -1 and minus_one_is_all:
        return buflen
    if v < 0:
        whole = " (or -1 for the whole buffer)" if minus_one_is_all else ""
        raise ValueError(f"{func}() argument '{name}' must be >= 0{whole}, got {v}")
    if v > buflen:
        raise ValueError(f"{func}() argument '{name}' must be at most the buffer's size "
                         f"({buflen} bytes), got {v}")
    return v


cdef int clamped_int_arg(object value, str func, str name, int lo, int hi) except? -1:
    """An int clamped into ``lo..hi`` once it fits a C int: outside the C int range it is
    OverflowError naming the argument (as CPython refuses ``listen(2**64)``), never clamped."""
    v = _index(value, func, name, "an int")
    if not (INT_MIN <= v <= INT_MAX):
        raise OverflowError(f"{func}() argument '{name}' must be an int in {INT_MIN}..{INT_MAX}, "
                            f"got {v}")
    return lo if v < lo else hi if v > hi else v


cdef Py_ssize_t clamped_count_arg(object value, Py_ssize_t avail, str func, str name) except? -1:
    v = _index(value, func, name, "an int or None")
    if v < 0:
        raise ValueError(f"{func}() argument '{name}' must be >= 0, got {v}")
    return avail if v > avail else v


cdef Py_ssize_t limit_arg(object value, str func, str name) except? -2:
    if value is None:
        return -1
    v = _index(value, func, name, "an int or None")
    if v < 0:
        return -1
    return PY_SSIZE_T_MAX if v > PY_SSIZE_T_MAX else v
