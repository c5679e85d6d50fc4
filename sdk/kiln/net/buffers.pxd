# Buffer acquisition for every call that takes data or a buffer to fill, in one place.  Both
# return 0 with ``view`` filled (release it with PyBuffer_Release), or raise with a message naming
# the function and the argument: TypeError for anything that is not a C-contiguous bytes-like
# object (or, for ``writable_view``, that is read-only), UnicodeEncodeError (a ValueError) for a
# str that is not valid Unicode (lone surrogates).

# Data to send: any C-contiguous buffer, or a str (sent as UTF-8).
cdef int data_view(object data, Py_buffer *view, str func, str name) except -1
# A buffer to receive into: writable and C-contiguous.
cdef int writable_view(object buffer, Py_buffer *view, str func, str name) except -1
