from kiln.net.libc cimport sockaddr, sockaddr_storage, socklen_t


cdef class SockAddr:
    cdef sockaddr_storage storage
    cdef socklen_t length
    cdef object _tuple

    @staticmethod
    cdef SockAddr _from(const sockaddr *sa, socklen_t length)
    cdef tuple _as_tuple(self)


# Fill ``out``/``outlen`` from a Python address for ``family``: a SockAddr, an (ip, port[, flowinfo,
# scope_id]) tuple, or an AF_UNIX path.  TypeError for a wrong type, AddressError for a bad value;
# messages name ``func`` and its argument 'address'.
cdef int parse_address(object address, int family, sockaddr_storage *out, socklen_t *outlen,
                       str func) except -1
# The Python form of a kernel sockaddr: (ip, port), (ip, port, flowinfo, scope_id), or a path.
cdef object format_address(const sockaddr *sa, socklen_t length)
# A port number from an int; TypeError / AddressError naming ``func`` and ``name``.
cdef int parse_port(object port, str func, str name) except -1
# The wildcard address of ``family`` with ``port`` (Zerynth's ``bind(port)``).
cdef int wildcard_address(int family, int port, sockaddr_storage *out, socklen_t *outlen) except -1
