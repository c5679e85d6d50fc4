"""TLS in the socket core: OpenSSL 3's libssl on the Kiln socket's own file descriptor.

A TLS socket is a socket of one of the faces with a record layer (:class:`TlsLayer`) installed in
its core: ``SSL_read``/``SSL_peek``/``SSL_write``/``SSL_do_handshake`` run as the core's
operations, so they go through the one retry/wait loop (``SocketCore._call``) -- WANT_READ waits
for readable, WANT_WRITE for writable -- and keep every rule of a plain socket: timeouts,
non-blocking mode, signals (PEP 475), the held-bytes rule, ``close()``.  Bytes OpenSSL has
decrypted but not yet returned count in ``pending()``, so poll/select see them.

Kernel TLS: contexts enable ``SSL_OP_ENABLE_KTLS``; after the handshake OpenSSL hands the record
layer of each direction to the kernel where the kernel (the ``tls`` module) and the cipher allow
it, and ``SSL_read``/``SSL_write`` then become one ``recvmsg``/``sendmsg`` each.
:func:`ktls` reports per direction whether it happened.

Errors: a failed handshake raises :class:`TLSHandshakeError` (an ``SSLError`` and a
``ConnectionAbortedError``), a failed verification :class:`SSLCertVerificationError` (also a
``ValueError``, as MicroPython raises); the message names the cause (unknown CA, expired, name
mismatch, handshake alert from the peer, protocol version).  A failure of the record layer after
the handshake raises :class:`SSLError` (errno EPROTO); syscall failures stay plain ``OSError``.
The faces (:mod:`kiln.net.utls` for MicroPython, :mod:`kiln.net.zssl` for Zerynth) build on the
functions here.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.buffer cimport PyBuffer_Release
from libc.limits cimport INT_MAX
from libc.stdint cimport uint64_t

from kiln.net.libssl cimport *
from kiln.net.libc cimport (errno, EAGAIN, EINTR, EBADF, ECONNABORTED, EPROTO, EINVAL,
                            ECONNRESET, EPIPE, POLLIN, POLLOUT, MSG_PEEK, MSG_DONTWAIT,
                            SOCK_STREAM, fcntl, F_GETFL, F_SETFL, O_NONBLOCK, recv)
from kiln.net.core cimport SocketCore, Layer, IoArgs, E_LAYER, sock_op
from kiln.net.errors cimport raise_errno
from kiln.net.buffers cimport data_view

import os as _os

CERT_NONE = 0
CERT_OPTIONAL = 1
CERT_REQUIRED = 2
TLS_1_2 = TLS1_2_VERSION
TLS_1_3 = TLS1_3_VERSION
OPENSSL_VERSION_TEXT = (<bytes>OpenSSL_version(OPENSSL_VERSION)).decode()

#: The CA bundle of a Kiln image (Debian's and Buildroot's ca-certificates put it here).
DEFAULT_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class SSLError(OSError):
    """A TLS failure.  ``reason`` is OpenSSL's short reason (``"CERTIFICATE_VERIFY_FAILED"``),
    ``library`` its library (``"SSL routines"``); ``args[0]`` the errno (EPROTO after the
    handshake, ECONNABORTED for a failed handshake), ``args[1]`` the message naming the cause."""
    reason = None
    library = None


class TLSHandshakeError(SSLError, ConnectionAbortedError):
    """The TLS handshake failed (alert from the peer, no common protocol version or cipher,
    a certificate the peer refused, the peer closing).  Zerynth documents ConnectionAbortedError
    for this; it is also an ``SSLError``."""


class SSLCertVerificationError(TLSHandshakeError, ValueError):
    """The peer's certificate did not verify.  ``verify_code`` is OpenSSL's X509_V_ERR_* number,
    ``verify_message`` its text; the message names the cause (unknown CA, expired, name
    mismatch).  A ``ValueError`` too, as MicroPython raises for a failed verification."""
    verify_code = 0
    verify_message = ""


class SSLEOFError(TLSHandshakeError):
    """The peer closed the connection during the handshake."""


# Causes the messages name, by X509_V_ERR_* code.
cdef dict _VERIFY_CAUSES = {
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unknown CA",
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: "unknown CA",
    X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: "unknown CA",
    X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: "unknown CA",
    X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unknown CA",
    X509_V_ERR_CERT_HAS_EXPIRED: "expired",
    X509_V_ERR_CERT_NOT_YET_VALID: "not yet valid",
    X509_V_ERR_HOSTNAME_MISMATCH: "name mismatch",
    X509_V_ERR_IP_ADDRESS_MISMATCH: "name mismatch",
    X509_V_ERR_CERT_REVOKED: "revoked",
    X509_V_ERR_INVALID_PURPOSE: "wrong purpose",
}


cdef str _text(const char *s):
    return "" if s == NULL else (<bytes>s).decode("utf-8", "replace")


# ---- the record layer's state and operations (run without the GIL) ---------------------------

cdef struct TlsState:
    SSL *ssl
    unsigned long err           # first OpenSSL error of the last failure
    int ssl_error               # SSL_get_error() of the last failure
    bint handshaking            # the failure happened during the handshake
    bint eof_in_handshake       # the peer closed during the handshake
    int alert                   # a plaintext alert the peer sent before resetting (-1: none)
    bint established            # the handshake completed once (sticky: OpenSSL's own
                                # SSL_is_init_finished turns false again after a fatal error)


cdef Py_ssize_t _fail(TlsState *st, int r, short *events, bint handshake) noexcept nogil:
    """Map an OpenSSL failure to the core's convention: EAGAIN + the events to wait for,
    EINTR (retry now), a syscall errno, 0 (EOF) or E_LAYER (ask ``raise_failure``)."""
    global errno
    cdef int saved = errno
    cdef int e = SSL_get_error(st.ssl, r)
    cdef unsigned long code
    if e == SSL_ERROR_WANT_READ or e == SSL_ERROR_WANT_WRITE:
        events[0] = POLLIN if e == SSL_ERROR_WANT_READ else POLLOUT
        # A non-blocking fd said EAGAIN: wait.  Anything else (EINTR on a blocking fd, a record
        # that carried no application data) is retried at once, after the signal handlers.
        errno = EAGAIN if saved == EAGAIN else EINTR
        return -1
    if e == SSL_ERROR_ZERO_RETURN and not handshake:
        return 0                            # close_notify: end of stream
    code = ERR_peek_error()
    st.alert = -1
    if e == SSL_ERROR_SYSCALL and code == 0:
        if (saved == ECONNRESET or saved == EPIPE) and _peer_alert(st, handshake):
            st.ssl_error = e                # the peer said why before it reset: report that
            st.handshaking = handshake
            st.eof_in_handshake = False
            errno = E_LAYER
            return -1
        if saved != 0:
            errno = saved                   # ECONNRESET, EPIPE, ...: a plain OSError
            return -1
        if not handshake:
            return 0                        # EOF without close_notify (see below)
    if (not handshake and ERR_GET_LIB(code) == ERR_LIB_SSL
            and ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING):
        # The peer closed without close_notify: end of stream, as CPython's default
        # (suppress_ragged_eofs) and MicroPython do; an application protocol with lengths
        # (HTTP, MQTT) sees the truncation itself.
        ERR_clear_error()
        return 0
    st.err = code
    st.ssl_error = e
    st.handshaking = handshake
    st.eof_in_handshake = handshake and (
        e == SSL_ERROR_ZERO_RETURN or (e == SSL_ERROR_SYSCALL and code == 0) or
        (ERR_GET_LIB(code) == ERR_LIB_SSL and
         ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING))
    ERR_clear_error()
    errno = E_LAYER
    return -1


cdef bint _peer_alert(TlsState *st, bint handshake) noexcept nogil:
    """After a send failed with ECONNRESET/EPIPE: did the peer send an alert first?  A peer
    that refuses us (no client certificate, ...) sends its alert and closes with our last flight
    unread, so the kernel resets the connection and our send fails -- while the alert waits in
    the receive queue.  During the handshake the alert is a plaintext record: peek at it and
    keep its description in ``st.alert``.  After the handshake it is encrypted: let OpenSSL peek
    with the fd non-blocking for the moment, and keep its error in ``st.err``.  Never blocks,
    consumes no application data; False when no alert is there."""
    cdef unsigned char head[7]
    cdef char byte
    cdef int fd = SSL_get_fd(st.ssl)
    cdef int flags, r
    cdef unsigned long code
    if fd < 0:
        return False
    if handshake:
        if recv(fd, head, 7, MSG_PEEK | MSG_DONTWAIT) == 7 and head[0] == 21 and \
                head[1] == 3 and head[3] == 0 and head[4] == 2:
            st.alert = head[6]
            st.err = 0
            return True
        return False
    flags = fcntl(fd, F_GETFL)
    if flags < 0:
        return False
    if not (flags & O_NONBLOCK):
        fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    ERR_clear_error()
    r = SSL_peek(st.ssl, &byte, 1)
    code = ERR_peek_error() if r <= 0 else 0
    ERR_clear_error()
    if not (flags & O_NONBLOCK):
        fcntl(fd, F_SETFL, flags)
    if ERR_GET_LIB(code) == ERR_LIB_SSL and ERR_GET_REASON(code) >= SSL_AD_REASON_OFFSET:
        st.err = code
        return True
    return False


cdef inline bint _established(TlsState *st) noexcept nogil:
    """Whether the handshake has completed (latched on first sight)."""
    if not st.established and SSL_is_init_finished(st.ssl):
        st.established = True
    return st.established


cdef Py_ssize_t _op_read(int fd, void *args, short *events) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    cdef TlsState *st = <TlsState*>a.ctx
    cdef int n = <int>a.n if a.n < <size_t>INT_MAX else INT_MAX
    cdef int r
    cdef bint handshaking = not _established(st)
    if n == 0:
        return 0
    ERR_clear_error()
    if a.flags & MSG_PEEK:
        r = SSL_peek(st.ssl, a.buf, n)
    else:
        r = SSL_read(st.ssl, a.buf, n)
    if r > 0:
        if handshaking:
            _established(st)
        return r
    return _fail(st, r, events, handshaking)


cdef Py_ssize_t _op_write(int fd, void *args, short *events) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    cdef TlsState *st = <TlsState*>a.ctx
    cdef int n = <int>a.n if a.n < <size_t>INT_MAX else INT_MAX
    cdef int r
    cdef bint handshaking = not _established(st)
    if n == 0:
        return 0
    ERR_clear_error()
    r = SSL_write(st.ssl, a.buf, n)
    if r > 0:
        if handshaking:
            _established(st)
        return r
    return _fail(st, r, events, handshaking)


cdef Py_ssize_t _op_handshake(int fd, void *args, short *events) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    cdef TlsState *st = <TlsState*>a.ctx
    cdef int r
    ERR_clear_error()
    r = SSL_do_handshake(st.ssl)
    if r == 1:
        _established(st)
        return 0
    return _fail(st, r, events, True)


# ---- contexts ---------------------------------------------------------------------------------

cdef bytes _path_or_data(object value, str func, str name):
    """The bytes of ``value``: bytes-like or PEM text is the data; a path (str or os.PathLike)
    is read."""
    if isinstance(value, str) and "-----BEGIN" in value:
        return value.encode("ascii", "replace")
    if isinstance(value, (str, _os.PathLike)):
        try:
            with open(value, "rb") as f:
                return f.read()
        except OSError as exc:
            raise type(exc)(exc.errno, f"{func}() argument {name!r}: cannot read "
                                       f"{_os.fspath(value)!r}: {exc.strerror}") from None
        except ValueError as exc:       # a NUL byte, a lone surrogate: no such path
            raise ValueError(f"{func}() argument {name!r}: {_os.fspath(value)!r} is not a "
                             f"valid path ({exc})") from None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{func}() argument {name!r} must be a path (str) or the data "
                    f"(bytes, PEM or DER), not {type(value).__name__}")


cdef bint _is_pem(bytes data):
    return b"-----BEGIN" in data


cdef list _load_certs(bytes data, str func, str name):
    """X509 pointers (as ints, caller frees) of every certificate in PEM ``data``, or of the one
    DER certificate.  ValueError naming the argument when there is none or one is malformed."""
    cdef BIO *bio
    cdef X509 *x
    cdef const unsigned char *p
    cdef list found = []
    if _is_pem(data):
        data = data.rstrip(b"\0")   # Zerynth's PEM strings end with a NUL byte (DER may too)
    if not data:
        raise ValueError(f"{func}() argument {name!r} is empty: expected a certificate "
                         f"(PEM or DER)")
    if _is_pem(data):
        bio = BIO_new_mem_buf(<const char*>data, len(data))
        if bio == NULL:
            raise MemoryError()
        try:
            while True:
                x = PEM_read_bio_X509(bio, NULL, NULL, NULL)
                if x == NULL:
                    break
                found.append(<size_t>x)
        finally:
            BIO_free(bio)
        ERR_clear_error()       # the end of the data reads as "no start line"
        if not found or data.count(b"-----BEGIN CERTIFICATE-----") + data.count(
                b"-----BEGIN TRUSTED CERTIFICATE-----") + data.count(
                b"-----BEGIN X509 CERTIFICATE-----") != len(found):
            for ptr in found:
                X509_free(<X509*><size_t>ptr)
            raise ValueError(f"{func}() argument {name!r}: invalid certificate: the PEM data "
                             f"holds no certificate, or one that OpenSSL cannot parse")
        return found
    p = <const unsigned char*><const char*>data
    x = d2i_X509(NULL, &p, len(data))
    ERR_clear_error()
    if x == NULL or p != <const unsigned char*><const char*>data + len(data):
        if x != NULL:
            X509_free(x)
        raise ValueError(f"{func}() argument {name!r}: invalid certificate: neither PEM nor "
                         f"one DER certificate")
    return [<size_t>x]


cdef EVP_PKEY *_load_key(bytes data, str func, str name) except NULL:
    cdef BIO *bio
    cdef EVP_PKEY *key = NULL
    cdef const unsigned char *p
    if _is_pem(data):
        data = data.rstrip(b"\0")
    if not data:
        raise ValueError(f"{func}() argument {name!r} is empty: expected a private key "
                         f"(PEM or DER)")
    if _is_pem(data):
        bio = BIO_new_mem_buf(<const char*>data, len(data))
        if bio == NULL:
            raise MemoryError()
        key = PEM_read_bio_PrivateKey(bio, NULL, NULL, <void*>b"")
        BIO_free(bio)
    else:
        p = <const unsigned char*><const char*>data
        key = d2i_AutoPrivateKey(NULL, &p, len(data))
    ERR_clear_error()
    if key == NULL:
        raise ValueError(f"{func}() argument {name!r}: invalid key: no unencrypted private key "
                         f"in the data (PEM or DER)")
    return key


cdef class Context:
    """Context(server_side) -- the configuration TLS sockets are made from (an ``SSL_CTX``).

    A client context verifies the server by default (``verify_mode`` CERT_REQUIRED, host name
    checked) against the CAs loaded with :meth:`load_verify_locations` or
    :meth:`load_default_certs`; a server context asks for no client certificate (CERT_NONE).
    TLS 1.2 and 1.3; kernel TLS enabled; renegotiation off.  The client's cipher preference comes
    from the board (``[tls]`` in the board file, exported as ``KILN_TLS_CIPHERSUITES`` /
    ``KILN_TLS_CIPHERS`` by the image's init), else OpenSSL's defaults.
    """
    cdef SSL_CTX *ctx
    cdef readonly bint server_side
    cdef int _verify_mode
    cdef public bint check_hostname
    cdef readonly bint has_ca
    cdef readonly bint has_cert
    cdef object __weakref__

    def __cinit__(self, *args, **kwargs):
        self.ctx = NULL

    def __init__(self, server_side=False):
        if self.ctx != NULL:
            raise RuntimeError("Context.__init__() called twice")
        if not isinstance(server_side, (bool, int)):
            raise TypeError(f"Context() argument 'server_side' must be a bool, not "
                            f"{type(server_side).__name__}")
        self.server_side = bool(server_side)
        self.ctx = SSL_CTX_new(TLS_method())
        if self.ctx == NULL:
            ERR_clear_error()
            raise MemoryError("SSL_CTX_new failed")
        SSL_CTX_set_min_proto_version(self.ctx, TLS1_2_VERSION)
        SSL_CTX_set_options(self.ctx, SSL_OP_ENABLE_KTLS | SSL_OP_NO_RENEGOTIATION |
                            SSL_OP_NO_COMPRESSION)
        SSL_CTX_set_mode(self.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                         SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY)
        if self.server_side:
            SSL_CTX_set_session_id_context(self.ctx, <const unsigned char*>b"kiln", 4)
            self.verify_mode = CERT_NONE
            self.check_hostname = False
        else:
            self.verify_mode = CERT_REQUIRED
            self.check_hostname = True
            suites = _os.environ.get("KILN_TLS_CIPHERSUITES")
            if suites:
                self.set_ciphersuites(suites)
            ciphers = _os.environ.get("KILN_TLS_CIPHERS")
            if ciphers:
                self.set_ciphers(ciphers)

    def __dealloc__(self):
        if self.ctx != NULL:
            SSL_CTX_free(self.ctx)
            self.ctx = NULL

    @property
    def verify_mode(self):
        """CERT_NONE (0), CERT_OPTIONAL (1: verify a certificate if the peer sends one) or
        CERT_REQUIRED (2)."""
        return self._verify_mode

    @verify_mode.setter
    def verify_mode(self, value):
        cdef int mode
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"verify_mode must be CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED "
                            f"(an int), not {type(value).__name__}")
        if value == CERT_NONE:
            mode = SSL_VERIFY_NONE
        elif value == CERT_OPTIONAL:
            mode = SSL_VERIFY_PEER
        elif value == CERT_REQUIRED:
            mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        else:
            raise ValueError(f"verify_mode must be CERT_NONE (0), CERT_OPTIONAL (1) or "
                             f"CERT_REQUIRED (2), got {value}")
        SSL_CTX_set_verify(self.ctx, mode, NULL)
        self._verify_mode = value

    def load_verify_locations(self, cafile=None, cadata=None):
        """Trust the CA certificates in ``cafile`` (a path) and/or ``cadata`` (PEM text, or PEM
        or DER bytes).  ValueError/TypeError naming the argument for bad input; OSError when
        the file cannot be read."""
        if cafile is None and cadata is None:
            raise TypeError("load_verify_locations() needs 'cafile' or 'cadata'")
        datas = []
        if cafile is not None:
            if not isinstance(cafile, (str, _os.PathLike)):
                raise TypeError(f"load_verify_locations() argument 'cafile' must be a path "
                                f"(str), not {type(cafile).__name__}")
            datas.append((_path_or_data(cafile, "load_verify_locations", "cafile"), "cafile"))
        if cadata is not None:
            if isinstance(cadata, str):
                cadata = cadata.encode("ascii", "replace")
            elif not isinstance(cadata, (bytes, bytearray, memoryview)):
                raise TypeError(f"load_verify_locations() argument 'cadata' must be str or "
                                f"bytes, not {type(cadata).__name__}")
            datas.append((bytes(cadata), "cadata"))
        for data, name in datas:
            self._add_cas(data, name)

    cdef int _add_cas(self, bytes data, str name) except -1:
        cdef X509_STORE *store = SSL_CTX_get_cert_store(self.ctx)
        certs = _load_certs(data, "load_verify_locations", name)
        try:
            for ptr in certs:
                X509_STORE_add_cert(store, <X509*><size_t>ptr)   # takes its own reference
            ERR_clear_error()       # "cert already in hash table" is harmless
        finally:
            for ptr in certs:
                X509_free(<X509*><size_t>ptr)
        self.has_ca = True
        return 0

    def load_default_certs(self):
        """Trust the image's CA bundle (:data:`DEFAULT_CA_BUNDLE`).  OSError naming the file
        when the image has none (build it with TLS: see docs/tls.md)."""
        path = _os.environ.get("KILN_TLS_CA_BUNDLE", DEFAULT_CA_BUNDLE)
        if not _os.path.exists(path):
            raise FileNotFoundError(2, f"no CA bundle at {path}: this image carries no CA "
                                       f"certificates; load your CA with "
                                       f"load_verify_locations(cadata=...) or build the image "
                                       f"with TLS (docs/tls.md)")
        if SSL_CTX_load_verify_locations(self.ctx, path.encode(), NULL) != 1:
            ERR_clear_error()
            raise ValueError(f"the CA bundle {path} holds no usable certificate")
        self.has_ca = True

    def load_cert_chain(self, certfile, keyfile=None):
        """Use the certificate chain ``certfile`` (leaf first) and its private key ``keyfile``
        (default: also in ``certfile``).  Each is a path or the data (PEM or DER bytes; PEM
        str).  ValueError naming the argument for bad data or a key that does not match."""
        cdef EVP_PKEY *key = NULL
        cert_data = _path_or_data(certfile, "load_cert_chain", "certfile")
        key_data = cert_data if keyfile is None else \
            _path_or_data(keyfile, "load_cert_chain", "keyfile")
        certs = _load_certs(cert_data, "load_cert_chain", "certfile")
        try:
            key = _load_key(key_data, "load_cert_chain", "keyfile")
            if SSL_CTX_use_certificate(self.ctx, <X509*><size_t>certs[0]) != 1:
                ERR_clear_error()
                raise ValueError("load_cert_chain() argument 'certfile': OpenSSL refused the "
                                 "certificate")
            SSL_CTX_clear_chain_certs(self.ctx)
            for ptr in certs[1:]:
                SSL_CTX_add1_chain_cert(self.ctx, <X509*><size_t>ptr)
            if SSL_CTX_use_PrivateKey(self.ctx, key) != 1 or \
                    SSL_CTX_check_private_key(self.ctx) != 1:
                ERR_clear_error()
                raise ValueError("load_cert_chain() argument 'keyfile': the private key does "
                                 "not match the certificate")
        finally:
            if key != NULL:
                EVP_PKEY_free(key)
            for ptr in certs:
                X509_free(<X509*><size_t>ptr)
        self.has_cert = True

    def set_ciphers(self, ciphers):
        """TLS 1.2 cipher suites, as an OpenSSL cipher string (``"ECDHE+AESGCM:ECDHE+CHACHA20"``).
        ValueError if it selects none."""
        if not isinstance(ciphers, str):
            raise TypeError(f"set_ciphers() argument 'ciphers' must be str, not "
                            f"{type(ciphers).__name__}")
        if "\0" in ciphers or SSL_CTX_set_cipher_list(self.ctx, ciphers.encode()) != 1:
            ERR_clear_error()
            raise ValueError(f"set_ciphers() argument 'ciphers': no cipher suite matches "
                             f"{ciphers!r}")

    def set_ciphersuites(self, suites):
        """TLS 1.3 cipher suites in preference order (``"TLS_CHACHA20_POLY1305_SHA256:..."``)."""
        if not isinstance(suites, str):
            raise TypeError(f"set_ciphersuites() argument 'suites' must be str, not "
                            f"{type(suites).__name__}")
        if "\0" in suites or SSL_CTX_set_ciphersuites(self.ctx, suites.encode()) != 1:
            ERR_clear_error()
            raise ValueError(f"set_ciphersuites() argument 'suites': no TLS 1.3 suite matches "
                             f"{suites!r}")

    def get_ciphers(self):
        """The enabled cipher suites in preference order: a list of
        ``(IANA name, OpenSSL name, protocol version)`` tuples."""
        cdef stack_st_SSL_CIPHER *sk = SSL_CTX_get_ciphers(self.ctx)
        cdef const SSL_CIPHER *c
        cdef int i
        found = []
        if sk == NULL:
            return found
        for i in range(sk_SSL_CIPHER_num(sk)):
            c = sk_SSL_CIPHER_value(sk, i)
            found.append((_text(SSL_CIPHER_standard_name(c)), _text(SSL_CIPHER_get_name(c)),
                          _text(SSL_CIPHER_get_version(c))))
        return found

    @property
    def minimum_version(self):
        """The lowest protocol version allowed (TLS_1_2 or TLS_1_3)."""
        return SSL_CTX_get_min_proto_version(self.ctx)

    @minimum_version.setter
    def minimum_version(self, value):
        self._proto_version(value, True)

    @property
    def maximum_version(self):
        """The highest protocol version allowed (0: the highest OpenSSL knows)."""
        return SSL_CTX_get_max_proto_version(self.ctx)

    @maximum_version.setter
    def maximum_version(self, value):
        self._proto_version(value, False)

    cdef _proto_version(self, value, bint minimum):
        # maximum_version also takes back the 0 ("the highest OpenSSL knows") it reads as.
        name = "minimum_version" if minimum else "maximum_version"
        highest = "" if minimum else ", or 0 for the highest OpenSSL knows"
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be TLS_1_2 or TLS_1_3 (an int){highest}, not "
                            f"{type(value).__name__}")
        if value not in (TLS1_2_VERSION, TLS1_3_VERSION) and (minimum or value != 0):
            raise ValueError(f"{name} must be TLS_1_2 ({TLS1_2_VERSION:#x}) or TLS_1_3 "
                             f"({TLS1_3_VERSION:#x}){highest}, got {value!r}")
        if minimum:
            SSL_CTX_set_min_proto_version(self.ctx, value)
        else:
            SSL_CTX_set_max_proto_version(self.ctx, value)

    @property
    def ktls(self):
        """True (default) when sockets of this context hand their record layer to the kernel
        after the handshake where it can take it; set False to keep it in OpenSSL."""
        return bool(SSL_CTX_get_options(self.ctx) & SSL_OP_ENABLE_KTLS)

    @ktls.setter
    def ktls(self, value):
        if value:
            SSL_CTX_set_options(self.ctx, SSL_OP_ENABLE_KTLS)
        else:
            SSL_CTX_clear_options(self.ctx, SSL_OP_ENABLE_KTLS)


# ---- the layer on a socket ------------------------------------------------------------------

cdef class TlsLayer(Layer):
    """One TLS connection (an ``SSL``) installed in a socket's core."""
    cdef TlsState st
    cdef Context context
    cdef bint done                  # the handshake completed
    cdef bint broken                # a fatal error happened: no close_notify

    def __cinit__(self):
        self.st.ssl = NULL
        self.st.alert = -1
        self.st.established = False
        self.recv_op = _op_read
        self.send_op = _op_write
        self.ctx = &self.st

    def __dealloc__(self):
        if self.st.ssl != NULL:
            SSL_free(self.st.ssl)
            self.st.ssl = NULL

    cdef Py_ssize_t buffered(self) noexcept:
        if self.st.ssl == NULL:
            return 0
        return SSL_pending(self.st.ssl)

    cdef int raise_failure(self) except -1:
        self.broken = True
        raise _exception(&self.st)

    cdef void release(self, int fd) noexcept:
        cdef int flags
        if self.st.ssl == NULL:
            return
        if fd >= 0 and _established(&self.st) and not self.broken:
            # close_notify, without blocking: the fd is about to be closed.
            flags = fcntl(fd, F_GETFL)
            if flags >= 0 and not (flags & O_NONBLOCK):
                fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            SSL_shutdown(self.st.ssl)
            ERR_clear_error()
        SSL_free(self.st.ssl)
        self.st.ssl = NULL


cdef object _exception(TlsState *st):
    """The exception for the failure recorded in ``st`` (see the module docstring)."""
    cdef unsigned long code = st.err
    cdef long verify = SSL_get_verify_result(st.ssl) if st.ssl != NULL else X509_V_OK
    cdef int reason = ERR_GET_REASON(code) if code else 0
    reason_text = _text(ERR_reason_error_string(code)) if code else ""
    library = _text(ERR_lib_error_string(code)) if code else ""
    if st.alert >= 0:
        # A plaintext alert the peer sent before resetting the connection (see _peer_alert).
        text = _text(SSL_alert_desc_string_long(st.alert))
        detail = (f"client certificate required by the peer (alert {text})" if st.alert == 116
                  else f"handshake alert from the peer: {text}")
        exc = (TLSHandshakeError(ECONNABORTED, f"TLS handshake failed: {detail}")
               if st.handshaking else SSLError(EPROTO, f"TLS failure: {detail}"))
        exc.reason = "ALERT_" + text.upper().replace(" ", "_")
        exc.library = "SSL routines"
        return exc
    if st.eof_in_handshake:
        exc = SSLEOFError(ECONNABORTED, "TLS handshake failed: the peer closed the connection "
                                        "(it may not speak TLS, or refused this client)")
        exc.reason = "UNEXPECTED_EOF_WHILE_READING"
        return exc
    if st.handshaking and verify != X509_V_OK and (
            reason == SSL_R_CERTIFICATE_VERIFY_FAILED or code == 0):
        message = _text(X509_verify_cert_error_string(verify))
        cause = _VERIFY_CAUSES.get(verify, "certificate refused")
        exc = SSLCertVerificationError(
            ECONNABORTED, f"TLS handshake failed: certificate verify failed ({cause}): {message}")
        exc.verify_code = verify
        exc.verify_message = message
        exc.reason = "CERTIFICATE_VERIFY_FAILED"
        exc.library = library
        return exc
    if reason >= SSL_AD_REASON_OFFSET:
        detail = f"handshake alert from the peer: {reason_text}"
    elif reason in (SSL_R_WRONG_VERSION_NUMBER, SSL_R_UNSUPPORTED_PROTOCOL,
                    SSL_R_NO_PROTOCOLS_AVAILABLE):
        detail = f"protocol version: {reason_text}"
    elif reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        detail = "client certificate required: the peer sent none"
    elif reason == SSL_R_NO_SHARED_CIPHER:
        detail = "no cipher suite in common with the peer"
    else:
        detail = reason_text or f"OpenSSL error {st.ssl_error}"
    if reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
        detail = f"protocol version: the peer refused it ({reason_text})"
    elif reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        detail = f"client certificate required by the peer ({reason_text})"
    if st.handshaking:
        exc = TLSHandshakeError(ECONNABORTED, f"TLS handshake failed: {detail}")
    else:
        exc = SSLError(EPROTO, f"TLS failure: {detail}")
    exc.reason = reason_text.upper().replace(" ", "_") if reason_text else None
    exc.library = library or None
    return exc


cdef TlsLayer _layer(SocketCore sock, str func):
    """The TLS layer of ``sock``: OSError(EBADF) once it is closed, ValueError naming ``func``
    when it never carried TLS."""
    sock._check()
    if sock.layer is None or not isinstance(sock.layer, TlsLayer):
        raise ValueError(f"{func}() argument 'sock' is not a TLS socket")
    return <TlsLayer>sock.layer


def _is_ip(str host):
    if ":" not in host and not host.replace(".", "").isdigit():
        return False            # a host name: no need for ipaddress (6 us per handshake)
    try:
        import ipaddress
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


cdef _check_wrap_args(Context context, bint server_side, server_hostname):
    if server_side != context.server_side:
        raise ValueError(f"wrap_socket() argument 'context': server_side={server_side} needs "
                         f"a {'server' if server_side else 'client'} context, got a "
                         f"{'server' if context.server_side else 'client'} one")
    if server_hostname is not None:
        if not isinstance(server_hostname, str):
            raise TypeError(f"wrap_socket() argument 'server_hostname' must be str or None, "
                            f"not {type(server_hostname).__name__}")
        if server_side:
            raise ValueError("wrap_socket() argument 'server_hostname' is for clients only")
        if not server_hostname or "\0" in server_hostname or len(server_hostname) > 253:
            raise ValueError(f"wrap_socket() argument 'server_hostname' must be a host name "
                             f"or IP address, got {server_hostname!r}")
        try:
            server_hostname.encode("idna")
        except UnicodeError as exc:
            raise ValueError(f"wrap_socket() argument 'server_hostname' is not a valid host "
                             f"name: {server_hostname!r} ({exc})") from None
    elif (not server_side and context._verify_mode == CERT_REQUIRED and
          context.check_hostname):
        raise ValueError("CERT_REQUIRED requires server_hostname (or set check_hostname to "
                         "False)")


cdef _check_socket(SocketCore sock):
    sock._check()
    if sock.sock_type != SOCK_STREAM:
        raise ValueError("wrap_socket() argument 'sock' must be a SOCK_STREAM socket (TLS "
                         "runs over TCP)")
    if sock.layer is not None:
        raise ValueError("wrap_socket() argument 'sock' already carries TLS")
    if sock.held is not None:
        raise ValueError("wrap_socket() argument 'sock' holds received bytes not yet read: "
                         "read them first (they would be lost to the TLS layer)")


def attach(SocketCore sock not None, Context context not None, *, server_side=False,
           server_hostname=None, do_handshake=True):
    """Make ``sock`` itself a TLS socket (its connection must be established, or be on the way
    for a deferred handshake) and, with ``do_handshake``, run the handshake per ``sock``'s mode
    (a timeout bounds the whole handshake).

    ``server_hostname`` (client side) is sent as SNI (a DNS name) and, when the context checks
    host names and verifies, checked against the certificate (a DNS name or an IP address).  A
    client context with CERT_REQUIRED and check_hostname needs it (ValueError otherwise).  A
    client context that verifies but trusts no CA yet loads the image's CA bundle, if any.
    Raises TLSHandshakeError / SSLCertVerificationError, TimeoutError, OSError; after a failed
    handshake the socket is closed."""
    cdef TlsLayer layer
    cdef SSL *ssl
    server_side = bool(server_side)
    _check_wrap_args(context, server_side, server_hostname)
    _check_socket(sock)
    if (not server_side and context._verify_mode != CERT_NONE and not context.has_ca and
            _os.path.exists(_os.environ.get("KILN_TLS_CA_BUNDLE", DEFAULT_CA_BUNDLE))):
        context.load_default_certs()
    ssl = SSL_new(context.ctx)
    if ssl == NULL:
        ERR_clear_error()
        raise MemoryError("SSL_new failed")
    layer = TlsLayer.__new__(TlsLayer)
    layer.st.ssl = ssl
    layer.context = context
    if SSL_set_fd(ssl, sock.fd) != 1:
        ERR_clear_error()
        raise OSError(EBADF, "SSL_set_fd failed")
    if server_side:
        SSL_set_accept_state(ssl)
    else:
        SSL_set_connect_state(ssl)
        if server_hostname is not None:
            host = server_hostname.encode("idna")
            is_ip = _is_ip(server_hostname)
            if not is_ip:
                SSL_set_tlsext_host_name(ssl, host)
            if context.check_hostname and context._verify_mode != CERT_NONE:
                if is_ip:
                    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
                else:
                    SSL_set1_host(ssl, host)
        ERR_clear_error()
    sock.layer = layer
    if do_handshake:
        try:
            handshake(sock)
        except TLSHandshakeError:
            sock.close()
            raise


def wrap(SocketCore sock not None, Context context not None, type cls not None, *,
         server_side=False, server_hostname=None, do_handshake=True):
    """Move ``sock``'s connection into a new socket of class ``cls`` (a face's TLS socket class)
    and :func:`attach` TLS to it; return it.  ``sock`` is left detached (its methods raise
    EBADF), also when the handshake fails (the new socket is then closed)."""
    cdef SocketCore new
    server_side = bool(server_side)
    _check_wrap_args(context, server_side, server_hostname)
    _check_socket(sock)
    if not issubclass(cls, SocketCore):
        raise TypeError(f"wrap() argument 'cls' must be a Kiln socket class, not "
                        f"{cls.__name__}")
    new = cls.__new__(cls)
    new._adopt(sock.fd, sock.sock_family, sock.sock_type, sock.sock_proto)
    new.timeout_ns = sock.timeout_ns
    sock.fd = -1                            # detached: the new socket owns the fd
    try:
        attach(new, context, server_side=server_side, server_hostname=server_hostname,
               do_handshake=do_handshake)
    except BaseException:
        new.close()             # a timeout, a reset, a signal: the caller never gets ``new``
        raise
    return new


def handshake(SocketCore sock not None):
    """Run (or finish) the TLS handshake of ``sock`` per its mode: blocking, timeout (one
    deadline for the whole handshake) or non-blocking (BlockingIOError when it must wait:
    call again when the socket polls ready).  Raises what :func:`wrap` raises."""
    cdef TlsLayer layer = _layer(sock, "handshake")
    cdef IoArgs args
    cdef Py_ssize_t r
    if layer.done:
        return
    args.ctx = &layer.st
    r = sock._call(_op_handshake, &args, POLLIN, 0, sock._deadline(), True, False)
    if r < 0:
        raise_errno(sock.err)
    layer.done = True


def established(SocketCore sock not None):
    """True once the handshake of the TLS socket ``sock`` completed."""
    cdef TlsLayer layer = _layer(sock, "established")
    return layer.st.ssl != NULL and _established(&layer.st)


def peer_certificate(SocketCore sock not None):
    """The peer's certificate as DER bytes, or None (none sent, or no handshake yet)."""
    cdef TlsLayer layer = _layer(sock, "peer_certificate")
    cdef X509 *x
    cdef unsigned char *der = NULL
    cdef int n
    sock._check()
    x = SSL_get1_peer_certificate(layer.st.ssl)
    if x == NULL:
        return None
    n = i2d_X509(x, &der)
    X509_free(x)
    if n < 0:
        ERR_clear_error()
        raise MemoryError()
    try:
        return PyBytes_FromStringAndSize(<char*>der, n)
    finally:
        OPENSSL_free(der)


def cipher(SocketCore sock not None):
    """``(IANA name, OpenSSL name, protocol version, secret bits)`` of the connection, or None
    before the handshake."""
    cdef TlsLayer layer = _layer(sock, "cipher")
    cdef const SSL_CIPHER *c
    sock._check()
    c = SSL_get_current_cipher(layer.st.ssl)
    if c == NULL:
        return None
    return (_text(SSL_CIPHER_standard_name(c)), _text(SSL_CIPHER_get_name(c)),
            _text(SSL_get_version(layer.st.ssl)), SSL_CIPHER_get_bits(c, NULL))


def ktls(SocketCore sock not None):
    """``(send, receive)``: whether the kernel carries each direction's record layer (kernel
    TLS).  Both False before the handshake, or where the kernel or the cipher cannot."""
    cdef TlsLayer layer = _layer(sock, "ktls")
    sock._check()
    return (bool(BIO_get_ktls_send(SSL_get_wbio(layer.st.ssl))),
            bool(BIO_get_ktls_recv(SSL_get_rbio(layer.st.ssl))))


def want_write(SocketCore sock not None):
    """After an operation of the non-blocking TLS socket ``sock`` raised BlockingIOError: True
    if it waits for the socket to be writable (a handshake message to send), False if for
    readable.  Event loops wait accordingly."""
    cdef TlsLayer layer = _layer(sock, "want_write")
    return SSL_want(layer.st.ssl) == SSL_WRITING


def is_tls(SocketCore sock not None):
    """True if ``sock`` carries TLS."""
    return isinstance(sock.layer, TlsLayer)
