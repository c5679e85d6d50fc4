"""The one helper that waits: ``poll(2)`` against a monotonic deadline.

``wait_ready`` releases the GIL while it sleeps, retries EINTR after running Python signal handlers
(PEP 475: a handler that raises aborts the wait with its exception) and recomputes the remaining
time from the deadline on every retry, so signals never stretch a timeout.
"""
from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int64_t, INT64_MAX
from libc.limits cimport INT_MAX

from kiln.net.libc cimport (clock_gettime, timespec, CLOCK_MONOTONIC, poll, pollfd,
                            errno, EINTR, EBADF, POLLNVAL)
from kiln.net.errors cimport raise_errno, raise_timeout


cdef int64_t now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef int64_t deadline_after(int64_t timeout_ns) noexcept nogil:
    cdef int64_t now
    if timeout_ns < 0:
        return -1
    now = now_ns()
    if timeout_ns > INT64_MAX - now:
        return INT64_MAX        # centuries away: saturate instead of overflowing
    return now + timeout_ns


cdef int wait_ready(int fd, short events, int64_t deadline) except -1:
    """Block until ``fd`` polls ready for ``events``; raise TimeoutError at ``deadline``.

    ``deadline`` is a monotonic time in ns, or -1 to wait without limit.  Readiness includes error
    and hang-up conditions: the caller's next syscall reports them.
    """
    cdef pollfd pfd
    cdef int r, err, timeout_ms
    cdef int64_t remaining
    pfd.fd = fd
    pfd.events = events
    while True:
        if deadline < 0:
            timeout_ms = -1
        else:
            remaining = deadline - now_ns()
            if remaining <= 0:
                return raise_timeout()
            # Round up so a sub-millisecond remainder does not spin with poll(0); cap at what an
            # int holds (about 24.8 days: poll returns then and the remainder is recomputed).
            if remaining > <int64_t>INT_MAX * 1000000 - 999999:
                timeout_ms = INT_MAX
            else:
                timeout_ms = <int>((remaining + 999999) // 1000000)
        pfd.revents = 0
        with nogil:
            r = poll(&pfd, 1, timeout_ms)
            err = errno
        if r > 0:
            if pfd.revents & POLLNVAL:
                return raise_errno(EBADF)
            return 0
        if r == 0:
            if deadline >= 0 and now_ns() >= deadline:
                return raise_timeout()
            continue  # woke early (clock granularity): recompute and wait again
        if err == EINTR:
            PyErr_CheckSignals()  # runs handlers; raises what they raise
            continue
        return raise_errno(err)
