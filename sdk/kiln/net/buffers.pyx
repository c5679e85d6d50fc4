"""Buffer acquisition for every call that sends data or receives into a buffer, in one place.

``data_view`` gives a read-only view of data to send (any C-contiguous bytes-like object, or a
``str`` as UTF-8); ``writable_view`` a view of a buffer to receive into (writable and
C-contiguous).  Refusals are ``TypeError`` (as in CPython, never ``BufferError``) naming the
function, the argument and what is allowed; the diagnosis only runs on the error path.
"""
from cpython.buffer cimport (PyObject_CheckBuffer, PyObject_GetBuffer, PyBuffer_Release,
                             PyBuffer_FillInfo, PyBUF_SIMPLE, PyBUF_WRITABLE, PyBUF_FULL_RO)
from cpython.exc cimport PyErr_ExceptionMatches, PyErr_Clear
from cpython.unicode cimport PyUnicode_AsUTF8AndSize

cdef extern from "Python.h":
    # The C API call without Cython's exception check: -1 leaves the exception set, so the error
    # path can replace it without a try/except on the hot path.
    int get_buffer_raw "PyObject_GetBuffer"(object obj, Py_buffer *view, int flags)


cdef str _why_not(object obj, bint writable):
    """Why ``obj`` cannot give a (writable) C-contiguous buffer, for the error message."""
    cdef Py_buffer view
    try:
        PyObject_GetBuffer(obj, &view, PyBUF_FULL_RO)
    except BufferError as exc:
        return f"its buffer cannot be exported ({exc})"
    try:
        if writable and view.readonly:
            return f"{type(obj).__name__} is read-only"
        return f"this {type(obj).__name__} is not C-contiguous"
    finally:
        PyBuffer_Release(&view)


cdef int _str_view(str data, Py_buffer *view, str func, str name) except -1:
    cdef const char *utf8
    cdef Py_ssize_t size
    try:
        utf8 = PyUnicode_AsUTF8AndSize(data, &size)   # cached in the str: no copy
    except UnicodeEncodeError as exc:
        # UnicodeEncodeError (a ValueError), as CPython raises for str.encode(): code that
        # catches the specific exception must see it.  Its reason names the call and argument.
        raise UnicodeEncodeError(
            exc.encoding, exc.object, exc.start, exc.end,
            f"{func}() argument '{name}' must be valid Unicode to be sent as UTF-8 "
            f"({exc.reason})") from None
    PyBuffer_FillInfo(view, data, <void*>utf8, size, 1, PyBUF_SIMPLE)
    return 0


cdef int data_view(object data, Py_buffer *view, str func, str name) except -1:
    if isinstance(data, str):
        return _str_view(<str>data, view, func, name)
    if not PyObject_CheckBuffer(data):
        raise TypeError(f"{func}() argument '{name}' must be a bytes-like object (bytes, "
                        f"bytearray, memoryview, array) or str, not {type(data).__name__}")
    if get_buffer_raw(data, view, PyBUF_SIMPLE) < 0:
        if not PyErr_ExceptionMatches(BufferError):
            return -1
        PyErr_Clear()
        raise TypeError(f"{func}() argument '{name}' must be a contiguous bytes-like object: "
                        f"{_why_not(data, False)}")
    return 0


cdef int writable_view(object buffer, Py_buffer *view, str func, str name) except -1:
    if not PyObject_CheckBuffer(buffer):
        raise TypeError(f"{func}() argument '{name}' must be a writable bytes-like object "
                        f"(bytearray, memoryview, array), not {type(buffer).__name__}")
    if get_buffer_raw(buffer, view, PyBUF_WRITABLE) < 0:
        if not PyErr_ExceptionMatches(BufferError):
            return -1
        PyErr_Clear()
        raise TypeError(f"{func}() argument '{name}' must be a writable, contiguous bytes-like "
                        f"object (bytearray, memoryview, array): {_why_not(buffer, True)}")
    return 0
