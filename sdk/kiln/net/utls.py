"""MicroPython's ``tls`` module (``import tls`` under ``--api micropython``), on Kiln's TLS layer.

As MicroPython documents (docs/library/ssl.rst, extmod/modtls_mbedtls.c):

- ``SSLContext(PROTOCOL_TLS_CLIENT | PROTOCOL_TLS_SERVER)``; a client context verifies the server
  (``verify_mode`` CERT_REQUIRED) and then needs ``server_hostname`` in ``wrap_socket``
  (ValueError "CERT_REQUIRED requires server_hostname"); a server context asks for no client
  certificate (CERT_NONE).  With no CA loaded, a verifying client trusts the image's CA bundle.
- ``load_cert_chain(certfile, keyfile)`` and ``load_verify_locations(cafile=None, cadata=None)``
  take paths, or the data itself as bytes (PEM or DER) -- MicroPython's extension.
- ``get_ciphers()`` / ``set_ciphers(list)`` use IANA names (``"TLS_AES_128_GCM_SHA256"``,
  ``"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"``).
- ``wrap_socket(sock, *, server_side=False, do_handshake_on_connect=True, server_hostname=None)``
  returns an :class:`SSLSocket`: a ``usocket`` stream (``read``, ``readinto``, ``readline``,
  ``write``, ``recv``, ``send``, ``setblocking``, ``settimeout``, ``close``...) plus
  ``getpeercert(True)`` (DER bytes) and ``cipher()`` (suite, version), and ``ktls()``.
- A failed verification raises ``ValueError`` (as MicroPython) -- the exception is
  :class:`SSLCertVerificationError`, also an ``OSError``; other failures raise ``OSError``
  (:class:`SSLError` and subclasses) whose message names the cause.

A client connection that does not verify the server prints one warning line (once per process)
naming the call; see docs/tls.md.
"""
import sys as _sys

from kiln.net.tlsload import tls_layer
from kiln.net.usocket import socket as _usocket

_tls = tls_layer("tls")

PROTOCOL_TLS_CLIENT = 0
PROTOCOL_TLS_SERVER = 1
CERT_NONE = _tls.CERT_NONE
CERT_OPTIONAL = _tls.CERT_OPTIONAL
CERT_REQUIRED = _tls.CERT_REQUIRED
OPENSSL_VERSION = _tls.OPENSSL_VERSION_TEXT
SSLError = _tls.SSLError
SSLCertVerificationError = _tls.SSLCertVerificationError
TLSHandshakeError = _tls.TLSHandshakeError

_warned = False


def warn_unverified(call):
    """Print, once per process, that a client TLS connection made by ``call`` does not verify
    the server, and how to verify."""
    global _warned
    if not _warned:
        _warned = True
        print(f"kiln: warning: {call} does not verify the server's certificate: anyone on the "
              f"path can read and change the traffic; verify with verify_mode=CERT_REQUIRED, "
              f"a CA (load_verify_locations, or the image's bundle) and server_hostname",
              file=_sys.stderr)


class SSLSocket(_usocket):
    """A TLS connection with usocket's stream methods (see the module docstring)."""

    def getpeercert(self, binary_form=False):
        """The peer's certificate as DER bytes (``binary_form=True``; None if it sent none).
        ``binary_form=False`` raises NotImplementedError, as MicroPython."""
        if not binary_form:
            raise NotImplementedError("getpeercert() supports binary_form=True only (DER "
                                      "bytes), as MicroPython")
        return _tls.peer_certificate(self)

    def cipher(self):
        """``(IANA suite name, protocol version)`` of the connection, as MicroPython."""
        info = _tls.cipher(self)
        return None if info is None else (info[0], info[2])

    def do_handshake(self):
        """Finish a deferred handshake (``do_handshake_on_connect=False``) per the socket's
        mode; reads and writes also finish it."""
        _tls.handshake(self)

    def ktls(self):
        """``(send, receive)``: whether kernel TLS carries each direction (docs/tls.md)."""
        return _tls.ktls(self)

    def want_write(self):
        """After BlockingIOError (or None) from a non-blocking call: True if the connection
        waits to write (a handshake message), False if it waits to read (event loops)."""
        return _tls.want_write(self)


class SSLContext:
    """SSLContext(protocol) -- PROTOCOL_TLS_CLIENT or PROTOCOL_TLS_SERVER."""

    def __init__(self, protocol, /):
        if isinstance(protocol, bool) or not isinstance(protocol, int):
            raise TypeError(f"SSLContext() argument 'protocol' must be PROTOCOL_TLS_CLIENT or "
                            f"PROTOCOL_TLS_SERVER (an int), not {type(protocol).__name__}")
        if protocol not in (PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER):
            raise ValueError(f"SSLContext() argument 'protocol' must be PROTOCOL_TLS_CLIENT "
                             f"({PROTOCOL_TLS_CLIENT}) or PROTOCOL_TLS_SERVER "
                             f"({PROTOCOL_TLS_SERVER}); DTLS is not supported, got {protocol}")
        self._context = _tls.Context(protocol == PROTOCOL_TLS_SERVER)

    @property
    def verify_mode(self):
        """CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED."""
        return self._context.verify_mode

    @verify_mode.setter
    def verify_mode(self, value):
        self._context.verify_mode = value

    @property
    def ktls(self):
        """Kiln extension: True (the default) lets connections of this context hand their
        records to kernel TLS where the kernel offers it; False keeps TLS in OpenSSL
        (docs/tls.md).  Set before ``wrap_socket``."""
        return self._context.ktls

    @ktls.setter
    def ktls(self, value):
        self._context.ktls = value

    def load_cert_chain(self, certfile, keyfile):
        """Own certificate (chain, leaf first) and private key: paths, or PEM/DER bytes."""
        self._context.load_cert_chain(certfile, keyfile)

    def load_verify_locations(self, cafile=None, cadata=None):
        """CA certificates that verify the peer: a file path and/or data (PEM or DER)."""
        self._context.load_verify_locations(cafile, cadata)

    def get_ciphers(self):
        """Enabled cipher suites, IANA names, in preference order (TLS 1.3 suites first): those
        of the protocol versions the context allows, so after ``set_ciphers`` exactly those."""
        tls13 = self._context.maximum_version in (0, _tls.TLS_1_3)
        tls12 = self._context.minimum_version == _tls.TLS_1_2
        return [iana for iana, _openssl, version in self._context.get_ciphers()
                if (tls13 if version == "TLSv1.3" else tls12)]

    def set_ciphers(self, ciphers):
        """Enable exactly ``ciphers`` (a list of IANA names, in preference order).  ValueError
        names an unknown suite."""
        if isinstance(ciphers, (str, bytes)) or not hasattr(ciphers, "__iter__"):
            raise TypeError(f"set_ciphers() argument 'ciphers' must be a list of IANA cipher "
                            f"suite names, not {type(ciphers).__name__}")
        names = list(ciphers)
        if not names:
            raise ValueError("set_ciphers() argument 'ciphers' is empty")
        known = {}
        probe = _tls.Context(self._context.server_side)
        probe.set_ciphers("ALL:@SECLEVEL=0")
        for iana, openssl, version in probe.get_ciphers():
            known[iana] = (openssl, version)
        tls13, tls12 = [], []
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"set_ciphers() argument 'ciphers': every cipher must be a "
                                f"str, not {type(name).__name__}")
            if name not in known:
                raise ValueError(f"set_ciphers() argument 'ciphers': unknown cipher suite "
                                 f"{name!r} (IANA names, e.g. 'TLS_AES_128_GCM_SHA256')")
            openssl, version = known[name]
            (tls13 if version == "TLSv1.3" else tls12).append(openssl)
        # A protocol version left with no suite is switched off (both are on again first: an
        # earlier call may have switched one off).
        self._context.minimum_version = _tls.TLS_1_2
        self._context.maximum_version = 0
        if tls13:
            self._context.set_ciphersuites(":".join(tls13))
        else:
            self._context.maximum_version = _tls.TLS_1_2
        if tls12:
            self._context.set_ciphers(":".join(tls12))
        else:
            self._context.minimum_version = _tls.TLS_1_3

    def wrap_socket(self, sock, *, server_side=False, do_handshake_on_connect=True,
                    server_hostname=None):
        """Wrap the connected stream socket ``sock`` (a ``usocket.socket``); return an
        :class:`SSLSocket` (``sock`` is consumed).  See the module docstring."""
        if not isinstance(sock, _usocket):
            raise TypeError(f"wrap_socket() argument 'sock' must be a usocket.socket, not "
                            f"{type(sock).__name__}")
        if not server_side and self._context.verify_mode == CERT_NONE:
            warn_unverified("tls.SSLContext.wrap_socket() with verify_mode CERT_NONE")
        blocking_handshake = do_handshake_on_connect and sock.gettimeout() == 0
        tls = _tls.wrap(sock, self._context, SSLSocket, server_side=server_side,
                        server_hostname=server_hostname,
                        do_handshake=do_handshake_on_connect and not blocking_handshake)
        if blocking_handshake:
            # MicroPython's wrap_socket finishes the handshake before it returns, also on a
            # non-blocking socket (it loops until done): so does Kiln, then the socket is
            # non-blocking again.  Pass do_handshake_on_connect=False to handshake in an
            # event loop instead.
            try:
                tls.settimeout(None)
                tls.do_handshake()
                tls.settimeout(0)
            except BaseException:
                tls.close()
                raise
        return tls


__all__ = ["SSLContext", "SSLSocket", "SSLError", "SSLCertVerificationError",
           "TLSHandshakeError", "PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER", "CERT_NONE",
           "CERT_OPTIONAL", "CERT_REQUIRED", "OPENSSL_VERSION"]
