# An open device file, shared by every kiln.hw binding: opening (O_CLOEXEC), ioctl with EINTR
# handled as the socket core does (PEP 475), the closed check, close on every path.
from libc.stdint cimport int64_t

cdef int open_device(object path, int flags, str func) except -1
cdef int xioctl(int fd, unsigned long request, void *arg, str func, str what) except -1

cdef class Device:
    cdef int fd
    cdef readonly str path
    cdef int check(self, str func) except -1
    cdef int ioctl(self, unsigned long request, void *arg, str func) except -1
    cdef int _close(self) except -1
