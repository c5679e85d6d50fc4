# Argument conversion for every public socket call, in one place.  Each converter takes the
# calling function's name and the argument's name and refuses a bad value with a message naming
# both and what is allowed:
#   TypeError      the value has the wrong type (a float where an int is needed, ...);
#   OverflowError  an int outside the range of a plain C int parameter (family, flags, ...);
#   ValueError     a value outside the parameter's documented range (negative size, port, ...).
from libc.stdint cimport int64_t
from libc.limits cimport INT_MIN, INT_MAX
from cpython.long cimport PyLong_AsLongAndOverflow

cdef extern from "Python.h":
    bint PyLong_CheckExact(object o)

# Sizes up to this are taken inline; larger ones go through size_arg's full check against the
# machine's memory.
cdef enum:
    INLINE_SIZE_MAX = 1 << 24

# Slow paths (and their messages); the inline helpers below only handle the common case.
cdef long long int_arg(object value, str func, str name, long long lo, long long hi,
                       bint c_range) except? -1
cdef Py_ssize_t size_arg(object value, str func, str name, Py_ssize_t lo) except? -1
cdef int64_t timeout_arg(object value, str func, str name, int64_t unit_ns, str unit) except? -2
cdef bint bool_arg(object value, str func, str name) except -1


cdef inline int int_or_fail(object value, str func, str name) except? -1:
    """A C int from an int (or an object with ``__index__``); floats and other types refused."""
    cdef int overflow = 0
    cdef long v
    if PyLong_CheckExact(value):
        v = PyLong_AsLongAndOverflow(value, &overflow)
        if overflow == 0 and INT_MIN <= v <= INT_MAX:
            return <int>v
    return <int>int_arg(value, func, name, INT_MIN, INT_MAX, True)


cdef inline Py_ssize_t size_or_fail(object value, str func, str name) except? -1:
    """A byte count in 0..(the machine's memory)."""
    cdef int overflow = 0
    cdef long v
    if PyLong_CheckExact(value):
        v = PyLong_AsLongAndOverflow(value, &overflow)
        if overflow == 0 and 0 <= v <= INLINE_SIZE_MAX:
            return <Py_ssize_t>v
    return size_arg(value, func, name, 0)


# A byte count for a buffer of ``buflen`` bytes: ``None`` (if ``none_is_all``) and -1 (if
# ``minus_one_is_all``) mean the whole buffer; otherwise 0..buflen.
cdef Py_ssize_t count_arg_slow(object value, Py_ssize_t buflen, str func, str name,
                               bint none_is_all, bint minus_one_is_all) except? -1


cdef inline Py_ssize_t count_arg(object value, Py_ssize_t buflen, str func, str name,
                                 bint none_is_all, bint minus_one_is_all) except? -1:
    cdef int overflow = 0
    cdef long v
    if value is None and none_is_all:
        return buflen
    if PyLong_CheckExact(value):
        v = PyLong_AsLongAndOverflow(value, &overflow)
        if overflow == 0:
            if 0 <= v <= buflen:
                return <Py_ssize_t>v
            if v == -1 and minus_one_is_all:
                return buflen
    return count_arg_slow(value, buflen, func, name, none_is_all, minus_one_is_all)
# An int clamped into lo..hi (listen's backlog: MicroPython sets a negative backlog to 0).
cdef int clamped_int_arg(object value, str func, str name, int lo, int hi) except? -1
