from libc.stdint cimport int64_t
from kiln.net.libc cimport sockaddr, socklen_t

# A syscall as an operation for SocketCore._call: fd + a pointer to its arguments, run without
# the GIL, returning the syscall's result (-1 + errno on failure).  ``events`` holds what a wait
# after EAGAIN polls for (POLLIN/POLLOUT); an op may change it (a TLS read that must first write
# a handshake message waits for POLLOUT).
ctypedef Py_ssize_t (*sock_op)(int fd, void *args, short *events) noexcept nogil

# errno an op of a record layer reports when the layer itself failed (not a syscall): _call asks
# the layer for the exception (``Layer.raise_failure``).  Outside the range of real errno values.
cdef enum:
    E_LAYER = 0x10000

# Arguments of the I/O operations.
cdef struct IoArgs:
    char *buf
    size_t n
    int flags
    sockaddr *addr          # recvfrom/accept: filled in; sendto/connect: the destination
    socklen_t addrlen
    bint started            # connect: connect(2) was called once already
    void *ctx               # a record layer's state (Layer.ctx)


cdef class Layer:
    """A record layer between the socket's byte stream and the fd (TLS: ``kiln.net.tls``).

    Its operations replace recv/send on the fd; everything else (modes, deadlines, signals,
    held bytes, closing) stays the core's.  Subclasses set the ops and ``ctx`` and override the
    methods."""
    cdef sock_op recv_op        # IoArgs: buf, n, flags (MSG_PEEK: look without taking)
    cdef sock_op send_op        # IoArgs: buf, n
    cdef void *ctx
    # Bytes the layer holds decrypted, ready for the next read without touching the fd.
    cdef Py_ssize_t buffered(self) noexcept
    # Raise the exception of the failure an op reported with E_LAYER; returns -1.
    cdef int raise_failure(self) except -1
    # The socket is closing: say goodbye on ``fd`` if the protocol wants it (best effort, must not
    # block), then release everything.  Called once.
    cdef void release(self, int fd) noexcept


cdef class SocketCore:
    cdef int fd
    cdef int sock_family
    cdef int sock_type
    cdef int sock_proto
    # -1: blocking (fd blocking, syscalls run without the GIL); 0: non-blocking; >0: timeout in ns
    # (fd O_NONBLOCK, waits happen in wait_ready without the GIL).
    cdef int64_t timeout_ns
    # errno of the last failed syscall, valid when an I/O primitive returned -1.
    cdef int err
    # Bytes a read took from the kernel but could not return (a timeout, an error or an exception
    # from a signal handler interrupted it); every read returns them first.
    cdef bytearray held
    # The record layer (TLS) or None: plain recv/send on the fd.
    cdef Layer layer
    cdef object __weakref__

    cdef int _open(self, int family, int stype, int proto, object fileno) except -1
    cdef int _adopt(self, int fd, int family, int stype, int proto) except -1
    cdef int _check(self) except -1
    cdef int _set_timeout_ns(self, int64_t ns) except -1
    cdef int64_t _deadline(self) noexcept

    # I/O primitives.  Return >= 0 on success; -1 when a syscall failed (errno in ``self.err``,
    # no exception set: the Python-visible method raises it with ``raise_errno``); -2 with a
    # Python exception set (timeout, exception from a signal handler, bad argument).
    cdef Py_ssize_t _call(self, sock_op op, void *args, short events, int flags,
                          int64_t deadline, bint release_gil, bint wait_first) except -2
    cdef Py_ssize_t _recv_raw(self, char *buf, Py_ssize_t n, int flags,
                              int64_t deadline) except -2
    cdef Py_ssize_t _recv_fill(self, char *buf, Py_ssize_t n, int flags, bint fill) except -2
    cdef Py_ssize_t _recv_into(self, object buffer, object nbytes, int flags, bint fill,
                               str func, str buf_name, str count_name,
                               bint none_is_all) except -2
    cdef Py_ssize_t _send_raw(self, const char *buf, Py_ssize_t n, int flags,
                              int64_t deadline) except -2
    cdef Py_ssize_t _send_all(self, object data, int flags, bint partial_ok,
                              str func, str name) except -2
    cdef Py_ssize_t _send_buf(self, const char *buf, Py_ssize_t n, int flags,
                              bint partial_ok) except -2
    cdef int _unread(self, const char *buf, Py_ssize_t n) except -1
    # A new bytes/bytearray of what was received; None when a syscall failed (``self.err``).
    cdef object _recv_object(self, Py_ssize_t n, int flags, bint fill, bint as_bytearray)
    cdef object _recvfrom(self, Py_ssize_t n, int flags, bint as_bytearray)
    # Stream reads of the MicroPython face; None when a syscall failed (``self.err``), with every
    # byte already taken back in ``held``.
    cdef object _read_to_eof(self)
    cdef object _read_line(self, Py_ssize_t limit)
    cdef int _bind(self, object address, str func) except -1
    cdef int _listen(self, int backlog) except -1
