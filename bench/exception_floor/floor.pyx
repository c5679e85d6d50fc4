# cython: language_level=3
"""Ways to raise EAGAIN's OSError from an extension, for bench/exception_floor/measure.py.

Each callable takes one argument (like ``recv(64)``) and raises BlockingIOError(EAGAIN, ...)
without doing any syscall, so the measured cost is the exception machinery alone.
"""
cdef str MSG = "Resource temporarily unavailable"
cdef object PREBUILT = BlockingIOError(11, MSG)


def none_returned(Py_ssize_t n):
    """No exception: the cost of the call and of the benchmark loop."""
    return None


def cython_oserror(Py_ssize_t n):
    """What the Kiln faces do: ``raise OSError(EAGAIN, msg)`` in a Cython ``def``."""
    raise OSError(11, MSG)


def cython_prebuilt(Py_ssize_t n):
    """Re-raise one cached instance (traceback cleared): no exception allocation."""
    PREBUILT.__traceback__ = None
    raise PREBUILT


cdef extern from *:
    """
    /* Raise BlockingIOError(EAGAIN, cached message) from plain C: Cython adds no fake frame. */
    static PyObject *kiln_floor_c_raise(PyObject *self, PyObject *arg) {
        static PyObject *msg = NULL;
        PyObject *exc;
        (void)self; (void)arg;
        if (msg == NULL && (msg = PyUnicode_FromString("Resource temporarily unavailable")) == NULL)
            return NULL;
        exc = PyObject_CallFunction(PyExc_BlockingIOError, "iO", 11, msg);
        if (exc == NULL)
            return NULL;
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
        return NULL;
    }
    static PyMethodDef kiln_floor_c_raise_def = {"c_oserror", kiln_floor_c_raise, METH_O, NULL};
    """
    ctypedef struct PyMethodDef:
        pass
    PyMethodDef kiln_floor_c_raise_def
    object PyCFunction_NewEx(PyMethodDef *, object, object)

c_oserror = PyCFunction_NewEx(&kiln_floor_c_raise_def, None, None)
