# Argument conversion for every public socket call, in one place.  Each converter takes the
# calling function's name and the argument's name and refuses a bad value with a message naming
# both and what is allowed:
#   TypeError      the value has the wrong type (a float where an int is needed, ...);
#   OverflowError  an int outside the range of a plain C int parameter (family, flags, ...);
#   ValueError     a value outside the parameter's documented range (negative size, port, ...).
from libc.stdint cimport int64_t
from libc.limits cimport INT_MIN, INT_MAX

cdef extern from "Python.h":
    bint PyLong_CheckExact(object o)

cdef extern from *:
    """
    /* An exact int of at most one digit (|v| < 2**30) read in place: the fast path of every int
       argument, as Cython's own conversion does it; anything else takes the full check. */
    static inline int kiln_small_int(PyObject *o, long *out) {
    #if PY_VERSION_HEX >= 0x030C0000
        if (PyLong_CheckExact(o) && PyUnstable_Long_IsCompact((PyLongObject *)o)) {
            *out = (long)PyUnstable_Long_CompactValue((PyLongObject *)o);
            return 1;
        }
    #else
        if (PyLong_CheckExact(o)) {
            Py_ssize_t size = Py_SIZE(o);
            if (size == 0) { *out = 0; return 1; }
            if (size == 1) { *out = (long)((PyLongObject *)o)->ob_digit[0]; return 1; }
            if (size == -1) { *out = -(long)((PyLongObject *)o)->ob_digit[0]; return 1; }
        }
    #endif
        return 0;
    }
    """
    bint kiln_small_int(object o, long *out)

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
    cdef long v
    if kiln_small_int(value, &v) and INT_MIN <= v <= INT_MAX:
        return <int>v
    return <int>int_arg(value, func, name, INT_MIN, INT_MAX, True)


cdef inline Py_ssize_t size_or_fail(object value, str func, str name) except? -1:
    """A byte count in 0..(the machine's memory)."""
    cdef long v
    if kiln_small_int(value, &v) and 0 <= v <= INLINE_SIZE_MAX:
        return <Py_ssize_t>v
    return size_arg(value, func, name, 0)


# A byte count for a buffer of ``buflen`` bytes: ``None`` (if ``none_is_all``) and -1 (if
# ``minus_one_is_all``) mean the whole buffer; otherwise 0..buflen.
cdef Py_ssize_t count_arg_slow(object value, Py_ssize_t buflen, str func, str name,
                               bint none_is_all, bint minus_one_is_all) except? -1


cdef inline Py_ssize_t count_arg(object value, Py_ssize_t buflen, str func, str name,
                                 bint none_is_all, bint minus_one_is_all) except? -1:
    cdef long v
    if value is None and none_is_all:
        return buflen
    if kiln_small_int(value, &v):
        if 0 <= v <= buflen:
            return <Py_ssize_t>v
        if v == -1 and minus_one_is_all:
            return buflen
    return count_arg_slow(value, buflen, func, name, none_is_all, minus_one_is_all)
# An int clamped into lo..hi (listen's backlog: MicroPython sets a negative backlog to 0); an int
# outside the C int range is refused (OverflowError), as CPython and MicroPython refuse it.
cdef int clamped_int_arg(object value, str func, str name, int lo, int hi) except? -1
# A byte count for a buffer region of ``avail`` bytes, as MicroPython's streams take it
# (py/stream.c: ``readinto(buf, nbytes)``, ``write(buf, off, max_len)``): None is the whole region,
# a larger count is clamped to ``avail``; negative counts are refused (ValueError).
cdef Py_ssize_t clamped_count_arg(object value, Py_ssize_t avail, str func, str name) except? -1


cdef inline Py_ssize_t clamped_count(object value, Py_ssize_t avail, str func,
                                     str name) except? -1:
    cdef long v
    if value is None:
        return avail
    if kiln_small_int(value, &v) and v >= 0:
        return avail if v > avail else <Py_ssize_t>v
    return clamped_count_arg(value, avail, func, name)
# An optional upper bound (``readline(limit)``, as io's ``size``): None or negative is -1 (no
# limit), a larger int than a Py_ssize_t holds is PY_SSIZE_T_MAX.
cdef Py_ssize_t limit_arg(object value, str func, str name) except? -2
