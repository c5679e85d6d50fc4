"""Zerynth's ``ssl`` module (``import ssl`` under ``--api zerynth``), on Kiln's TLS layer.

As Zerynth's stdlib documents (core-zerynth-stdlib ``ssl.py``):

- ``create_ssl_context(cacert="", clicert="", pkey="", hostname="", options=CERT_NONE|SERVER_AUTH)``
  returns a tuple to pass as ``ctx`` when creating a secure socket.  ``cacert`` verifies the peer,
  ``clicert``/``pkey`` are this end's certificate and key (a client certificate for
  SERVER_AUTH contexts, the server's own for CLIENT_AUTH ones), ``hostname`` is checked against
  the server's certificate (and sent as SNI; "" skips the check).  Each may be bytes, bytearray,
  str (PEM; a trailing NUL byte is allowed, as Zerynth requires one) or an object with ``size()``
  and ``read(n)`` (an open resource).  ``options`` ORs ``CERT_NONE``/``CERT_OPTIONAL``/
  ``CERT_REQUIRED`` with ``SERVER_AUTH`` (client sockets) or ``CLIENT_AUTH`` (server sockets).
- ``sslsocket(family=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP, ctx=())``: a
  ``networking.socket`` whose ``connect()`` runs the TLS handshake after the TCP connection, and
  whose ``accept()`` (a CLIENT_AUTH context) returns TLS connections.  Every other method keeps
  the Zerynth socket's meaning (milliseconds, ``recv(n)`` waits for ``n`` bytes, bytearray).
- A failed handshake or verification raises ``ConnectionAbortedError`` as Zerynth documents: the
  exceptions are :class:`TLSHandshakeError` / :class:`SSLCertVerificationError`, subclasses of
  it, whose message names the cause.

``CERT_NONE`` (the default) does not verify the server: the first such connection prints one
warning line.  With CERT_REQUIRED and no ``cacert``, the image's CA bundle verifies.
"""
from kiln.net.tlsload import tls_layer
from kiln.net.zsocket import socket as _zsocket
from kiln.net.const import AF_INET, SOCK_STREAM, IPPROTO_TCP

_tls = tls_layer("ssl")

CERT_NONE = 1
CERT_OPTIONAL = 2
CERT_REQUIRED = 4
CLIENT_AUTH = 8
SERVER_AUTH = 16
SSLError = _tls.SSLError
SSLCertVerificationError = _tls.SSLCertVerificationError
TLSHandshakeError = _tls.TLSHandshakeError

_VERIFY = {CERT_NONE: _tls.CERT_NONE, CERT_OPTIONAL: _tls.CERT_OPTIONAL,
           CERT_REQUIRED: _tls.CERT_REQUIRED}
_warned = False


def _material(value, name):
    """The bytes of a certificate/key argument ("" / b"" : none)."""
    if hasattr(value, "read") and hasattr(value, "size"):
        value = value.read(value.size())
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"create_ssl_context() argument {name!r} must be bytes, bytearray, str "
                        f"or a resource with size() and read(), not {type(value).__name__}")
    value = bytes(value)
    # Zerynth's PEM strings end with a NUL byte; DER data may end with a zero byte of its own.
    return value.rstrip(b"\0") if b"-----BEGIN" in value or not value.strip(b"\0") else value


def create_ssl_context(cacert="", clicert="", pkey="", hostname="",
                       options=CERT_NONE | SERVER_AUTH):
    """The tuple ``(cacert, clicert, pkey, hostname, options)`` for ``sslsocket(ctx=...)``
    (validated now: TypeError/ValueError name the argument)."""
    cacert, clicert, pkey = (_material(cacert, "cacert"), _material(clicert, "clicert"),
                             _material(pkey, "pkey"))
    if not isinstance(hostname, str):
        raise TypeError(f"create_ssl_context() argument 'hostname' must be str, not "
                        f"{type(hostname).__name__}")
    if "\0" in hostname or len(hostname) > 253:
        raise ValueError(f"create_ssl_context() argument 'hostname' must be a host name or IP "
                         f"address (or \"\" not to check it), got {hostname!r}")
    try:
        hostname.encode("idna")
    except UnicodeError as exc:
        raise ValueError(f"create_ssl_context() argument 'hostname' is not a valid host name: "
                         f"{hostname!r} ({exc})") from None
    if isinstance(options, bool) or not isinstance(options, int):
        raise TypeError(f"create_ssl_context() argument 'options' must be an int (CERT_* | "
                        f"SERVER_AUTH or CLIENT_AUTH), not {type(options).__name__}")
    if options & ~(CERT_NONE | CERT_OPTIONAL | CERT_REQUIRED | CLIENT_AUTH | SERVER_AUTH):
        raise ValueError(f"create_ssl_context() argument 'options' has unknown bits: "
                         f"{options:#x}")
    if bin(options & (CERT_NONE | CERT_OPTIONAL | CERT_REQUIRED)).count("1") > 1:
        raise ValueError("create_ssl_context() argument 'options': choose one of CERT_NONE, "
                         "CERT_OPTIONAL, CERT_REQUIRED")
    if (options & CLIENT_AUTH) and (options & SERVER_AUTH):
        raise ValueError("create_ssl_context() argument 'options': SERVER_AUTH (client sockets) "
                         "and CLIENT_AUTH (server sockets) exclude each other")
    if bool(clicert) != bool(pkey):
        raise ValueError("create_ssl_context(): 'clicert' and 'pkey' go together (got only one)")
    if (options & CLIENT_AUTH) and not clicert:
        raise ValueError("create_ssl_context(): a CLIENT_AUTH (server) context needs the "
                         "server's certificate and key in 'clicert' and 'pkey'")
    ctx = (cacert, clicert, pkey, hostname, options)
    _context(ctx)                   # bad certificates and keys fail here, naming the argument
    return ctx


_contexts = {}


def _context(ctx):
    """The Kiln TLS context for a Zerynth ctx tuple (cached: one per distinct tuple)."""
    if not isinstance(ctx, tuple) or len(ctx) != 5:
        raise TypeError(f"sslsocket() argument 'ctx' must be a tuple made by "
                        f"ssl.create_ssl_context(), not {type(ctx).__name__}"
                        f"{' of ' + str(len(ctx)) if isinstance(ctx, tuple) else ''}")
    if not (all(isinstance(m, bytes) for m in ctx[:3]) and isinstance(ctx[3], str) and
            isinstance(ctx[4], int)):
        raise TypeError("sslsocket() argument 'ctx' must be a tuple made by "
                        "ssl.create_ssl_context(): (bytes, bytes, bytes, str, int), not "
                        f"({', '.join(type(m).__name__ for m in ctx)})")
    context = _contexts.get(ctx)
    if context is not None:
        return context
    cacert, clicert, pkey, hostname, options = ctx
    server = bool(options & CLIENT_AUTH)
    context = _tls.Context(server)
    context.verify_mode = _VERIFY.get(options & (CERT_NONE | CERT_OPTIONAL | CERT_REQUIRED),
                                      _tls.CERT_NONE)
    context.check_hostname = bool(hostname)
    try:
        if cacert:
            context.load_verify_locations(cadata=cacert)
        if clicert:
            context.load_cert_chain(clicert, pkey)
    except ValueError as exc:
        raise ValueError(str(exc).replace("load_verify_locations() argument 'cadata'",
                                          "create_ssl_context() argument 'cacert'").replace(
            "load_cert_chain() argument 'certfile'", "create_ssl_context() argument 'clicert'"
        ).replace("load_cert_chain() argument 'keyfile'",
                  "create_ssl_context() argument 'pkey'")) from None
    if len(_contexts) < 64:
        _contexts[ctx] = context
    return context


class sslsocket(_zsocket):
    """sslsocket(family=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP, ctx=()) -- a TLS socket
    with Zerynth semantics (see the module docstring).  ``ctx=()`` is the default client
    context (no verification)."""

    def __init__(self, family=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP, ctx=()):
        self._ctx = create_ssl_context() if isinstance(ctx, tuple) and ctx == () else ctx
        self._tls = _context(self._ctx)
        super().__init__(family, type, proto)       # refuses what is not an int, naming it
        if self.type != SOCK_STREAM:
            self.close()
            raise ValueError("sslsocket() argument 'type' must be SOCK_STREAM (TLS runs over "
                             "TCP)")

    def connect(self, address):
        """Connect to ``address`` and run the TLS handshake (one timeout each, per the
        socket's timeout).  ConnectionAbortedError (TLSHandshakeError) names why a handshake
        failed.  A non-blocking socket raises BlockingIOError (EINPROGRESS) as a plain one
        does; TLS is in place already, and the handshake runs with its first reads and writes
        (nothing is ever sent in the clear)."""
        if self._tls.server_side:
            raise ValueError("connect() on an sslsocket made with a CLIENT_AUTH (server) "
                             "context")
        self._warn_unverified()
        if not _tls.is_tls(self):
            # TLS goes on before the connection: whatever connect() does (in progress, timed
            # out, called again), no byte can leave this socket in the clear.
            _tls.attach(self, self._tls, server_hostname=self._ctx[3] or None,
                        do_handshake=False)
        super().connect(address)
        try:
            _tls.handshake(self)
        except _tls.TLSHandshakeError:
            self.close()
            raise

    def _warn_unverified(self):
        global _warned
        if self._tls.verify_mode == _tls.CERT_NONE and not _warned:
            _warned = True
            import sys
            print("kiln: warning: ssl.sslsocket.connect() with options CERT_NONE (the default "
                  "of create_ssl_context) does not verify the server's certificate; pass "
                  "cacert=... and options=ssl.CERT_REQUIRED|ssl.SERVER_AUTH (and hostname=) "
                  "to verify", file=sys.stderr)

    def accept(self):
        """Wait for a connection and run the TLS handshake on it (a CLIENT_AUTH context);
        return ``(sslsocket, address)``.  A client whose handshake fails is dropped with the
        exception raised here."""
        if not self._tls.server_side:
            raise ValueError("accept() on an sslsocket needs a CLIENT_AUTH (server) context")
        conn, address = super().accept()
        conn._ctx, conn._tls = self._ctx, self._tls
        _tls.attach(conn, self._tls, server_side=True)
        return conn, address

    def getpeercert(self, binary_form=True):
        """The peer's certificate, DER bytes (None if it sent none)."""
        return _tls.peer_certificate(self)

    def cipher(self):
        """``(IANA suite name, OpenSSL name, protocol version, secret bits)``."""
        return _tls.cipher(self)

    def ktls(self):
        """``(send, receive)``: whether kernel TLS carries each direction (docs/tls.md)."""
        return _tls.ktls(self)


__all__ = ["sslsocket", "create_ssl_context", "CERT_NONE", "CERT_OPTIONAL", "CERT_REQUIRED",
           "CLIENT_AUTH", "SERVER_AUTH", "SSLError", "SSLCertVerificationError",
           "TLSHandshakeError"]
