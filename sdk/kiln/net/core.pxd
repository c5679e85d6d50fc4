from libc.stdint cimport int64_t


cdef class SocketCore:
    cdef int fd
    cdef int sock_family
    cdef int sock_type
    cdef int sock_proto
    # -1: blocking (fd blocking, syscalls run without the GIL); 0: non-blocking; >0: timeout in ns
    # (fd O_NONBLOCK, waits happen in wait_ready without the GIL).
    cdef int64_t timeout_ns
    # Bytes received before a timeout interrupted a filling read; returned first by the next read.
    cdef bytearray pending
    cdef object __weakref__

    cdef int _open(self, int family, int type, int proto, object fileno) except -1
    cdef int _adopt(self, int fd, int family, int type, int proto) except -1
    cdef int _check(self) except -1
    cdef int _set_timeout_ns(self, int64_t ns) except -1
    cdef int64_t _deadline(self) noexcept
    cdef Py_ssize_t _recv_raw(self, char *buf, Py_ssize_t n, int flags, int64_t deadline,
                              bint eagain_ok) except -2
    cdef Py_ssize_t _recv_fill(self, char *buf, Py_ssize_t n, int flags, bint fill,
                               bint eagain_ok) except -2
    cdef _keep_pending(self, const char *buf, Py_ssize_t got)
    cdef object _recv_object(self, Py_ssize_t n, int flags, bint fill, bint as_bytearray,
                             bint eagain_none)
    cdef Py_ssize_t _recv_into(self, object buffer, Py_ssize_t nbytes, int flags, bint fill,
                               bint eagain_ok) except -2
    cdef tuple _recvfrom(self, Py_ssize_t n, int flags, bint as_bytearray)
    cdef Py_ssize_t _send_raw(self, const char *buf, Py_ssize_t n, int flags, int64_t deadline,
                              bint eagain_ok) except -2
    cdef Py_ssize_t _send_all(self, object data, int flags, bint eagain_ok) except -2
    cdef int _bind(self, object address) except -1
    cdef int _listen(self, int backlog) except -1
