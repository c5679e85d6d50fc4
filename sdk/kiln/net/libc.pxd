# C declarations of the libc calls the socket core makes (thin wrappers over Linux syscalls).
# Values of the constants come from the target's headers at compile time, so a cross-compiled core
# gets the target's numbers.
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint8_t

cdef extern from "<errno.h>" nogil:
    int errno
    enum:
        EINTR
        EAGAIN
        EWOULDBLOCK
        EINPROGRESS
        EALREADY
        EBADF
        EINVAL
        ETIMEDOUT
        ECONNRESET
        EISCONN
        ENOTCONN
        EAFNOSUPPORT
        ENOMEM
        EPIPE
        ENOTSOCK
        EMSGSIZE
        EPROTO
        ECONNABORTED

cdef extern from "<string.h>" nogil:
    char *strerror(int errnum)
    void *memcpy(void *dest, const void *src, size_t n)
    void *memset(void *s, int c, size_t n)
    void *memchr(const void *s, int c, size_t n)
    int memcmp(const void *s1, const void *s2, size_t n)
    size_t strlen(const char *s)

cdef extern from "<unistd.h>" nogil:
    int close(int fd)

cdef extern from "<fcntl.h>" nogil:
    int fcntl(int fd, int cmd, ...)
    enum:
        F_GETFL
        F_SETFL
        O_NONBLOCK

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    enum:
        CLOCK_MONOTONIC
    int clock_gettime(int clk_id, timespec *tp)

cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    ctypedef unsigned long nfds_t
    int poll(pollfd *fds, nfds_t nfds, int timeout)
    enum:
        POLLIN
        POLLOUT
        POLLPRI
        POLLERR
        POLLHUP
        POLLNVAL

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    ctypedef unsigned short sa_family_t
    struct sockaddr:
        sa_family_t sa_family
    struct sockaddr_storage:
        sa_family_t ss_family
    ctypedef long ssize_t

    int socket(int domain, int type, int protocol)
    int connect(int fd, const sockaddr *addr, socklen_t addrlen)
    int bind(int fd, const sockaddr *addr, socklen_t addrlen)
    int listen(int fd, int backlog)
    int accept4(int fd, sockaddr *addr, socklen_t *addrlen, int flags)
    ssize_t send(int fd, const void *buf, size_t len, int flags)
    ssize_t sendto(int fd, const void *buf, size_t len, int flags,
                   const sockaddr *dest_addr, socklen_t addrlen)
    ssize_t recv(int fd, void *buf, size_t len, int flags)
    ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
                     sockaddr *src_addr, socklen_t *addrlen)
    int shutdown(int fd, int how)
    int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
    int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)
    int getsockname(int fd, sockaddr *addr, socklen_t *addrlen)
    int getpeername(int fd, sockaddr *addr, socklen_t *addrlen)

    enum:
        AF_UNSPEC
        AF_INET
        AF_INET6
        AF_UNIX
        SOCK_STREAM
        SOCK_DGRAM
        SOCK_RAW
        SOCK_SEQPACKET
        SOCK_NONBLOCK
        SOCK_CLOEXEC
        SOL_SOCKET
        SO_REUSEADDR
        SO_REUSEPORT
        SO_KEEPALIVE
        SO_BROADCAST
        SO_LINGER
        SO_RCVBUF
        SO_SNDBUF
        SO_RCVLOWAT
        SO_SNDLOWAT
        SO_RCVTIMEO
        SO_SNDTIMEO
        SO_ERROR
        SO_TYPE
        SO_DOMAIN
        SO_PROTOCOL
        SO_ACCEPTCONN
        SO_BINDTODEVICE
        SO_OOBINLINE
        SO_PRIORITY
        SOMAXCONN
        MSG_PEEK
        MSG_OOB
        MSG_DONTWAIT
        MSG_WAITALL
        MSG_TRUNC
        MSG_NOSIGNAL
        MSG_DONTROUTE
        MSG_MORE
        SHUT_RD
        SHUT_WR
        SHUT_RDWR

cdef extern from "<netinet/in.h>" nogil:
    ctypedef uint32_t in_addr_t
    ctypedef uint16_t in_port_t
    struct in_addr:
        in_addr_t s_addr
    struct sockaddr_in:
        sa_family_t sin_family
        in_port_t sin_port
        in_addr sin_addr
    struct in6_addr:
        uint8_t s6_addr[16]
    struct sockaddr_in6:
        sa_family_t sin6_family
        in_port_t sin6_port
        uint32_t sin6_flowinfo
        in6_addr sin6_addr
        uint32_t sin6_scope_id
    uint16_t htons(uint16_t)
    uint16_t ntohs(uint16_t)
    uint32_t htonl(uint32_t)
    uint32_t ntohl(uint32_t)
    enum:
        INADDR_ANY
        INADDR_BROADCAST
        INADDR_LOOPBACK
        IPPROTO_IP
        IPPROTO_IPV6
        IPPROTO_TCP
        IPPROTO_UDP
        IPPROTO_ICMP
        IPPROTO_RAW
        IP_TOS
        IP_TTL
        IP_MULTICAST_TTL
        IP_MULTICAST_LOOP
        IP_MULTICAST_IF
        IP_ADD_MEMBERSHIP
        IP_DROP_MEMBERSHIP
        IPV6_V6ONLY
        IPV6_UNICAST_HOPS
        IPV6_MULTICAST_HOPS
        IPV6_MULTICAST_LOOP
        IPV6_JOIN_GROUP
        IPV6_LEAVE_GROUP

cdef extern from "<netinet/tcp.h>" nogil:
    enum:
        TCP_NODELAY
        TCP_MAXSEG
        TCP_KEEPIDLE
        TCP_KEEPINTVL
        TCP_KEEPCNT
        TCP_QUICKACK
        TCP_USER_TIMEOUT

cdef extern from "<sys/un.h>" nogil:
    struct sockaddr_un:
        sa_family_t sun_family
        char sun_path[108]

cdef extern from "<arpa/inet.h>" nogil:
    int c_inet_pton "inet_pton"(int af, const char *src, void *dst)
    const char *c_inet_ntop "inet_ntop"(int af, const void *src, char *dst, socklen_t size)
    enum:
        INET_ADDRSTRLEN
        INET6_ADDRSTRLEN

cdef extern from "<netdb.h>" nogil:
    struct addrinfo:
        int ai_flags
        int ai_family
        int ai_socktype
        int ai_protocol
        socklen_t ai_addrlen
        sockaddr *ai_addr
        char *ai_canonname
        addrinfo *ai_next
    int c_getaddrinfo "getaddrinfo"(const char *node, const char *service, const addrinfo *hints, addrinfo **res)
    void freeaddrinfo(addrinfo *res)
    const char *gai_strerror(int errcode)
    enum:
        AI_PASSIVE
        AI_CANONNAME
        AI_NUMERICHOST
        AI_NUMERICSERV
        AI_V4MAPPED
        AI_ALL
        AI_ADDRCONFIG
        EAI_AGAIN
        EAI_BADFLAGS
        EAI_FAIL
        EAI_FAMILY
        EAI_MEMORY
        EAI_NONAME
        EAI_SERVICE
        EAI_SOCKTYPE
        EAI_SYSTEM
        EAI_OVERFLOW

cdef extern from "<net/if.h>" nogil:
    unsigned int if_nametoindex(const char *ifname)
