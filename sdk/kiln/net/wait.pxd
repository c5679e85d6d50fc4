from libc.stdint cimport int64_t

# Monotonic time in nanoseconds.
cdef int64_t now_ns() noexcept nogil
# Deadline (monotonic ns) for a timeout in ns; -1 = no deadline (blocking).
cdef int64_t deadline_after(int64_t timeout_ns) noexcept nogil
# Wait until fd is ready for ``events`` (POLLIN/POLLOUT) or the deadline passes.
cdef int wait_ready(int fd, short events, int64_t deadline) except -1
