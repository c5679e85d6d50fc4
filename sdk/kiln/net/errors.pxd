# errno / getaddrinfo codes -> Python exceptions.  Every exception the core raises for a failed
# syscall is built here.  All functions return -1 with the exception set (``except -1``).

cdef int raise_errno(int err) except -1
cdef int raise_errno_msg(int err, str detail) except -1
cdef int raise_timeout() except -1
cdef int raise_gai(int code) except -1
cdef int raise_address(int err, str detail) except -1
