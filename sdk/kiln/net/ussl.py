"""MicroPython's ``ssl`` module (``import ssl`` under ``--api micropython``): micropython-lib's
``ssl`` over :mod:`kiln.net.utls` (MicroPython's ``tls``).

As MicroPython documents: ``ssl.SSLContext(protocol)`` starts with ``verify_mode`` CERT_NONE
(unlike ``tls.SSLContext``), ``load_cert_chain``/``load_verify_locations`` take paths or data,
and ``ssl.wrap_socket(sock, server_side=False, key=None, cert=None, cert_reqs=CERT_NONE,
cadata=None, server_hostname=None, do_handshake=True)`` makes a context and wraps ``sock``.
Its default does not verify the server: the first such connection prints one warning line.
"""
from kiln.net.tlsload import tls_layer as _tls_layer

_tls_layer("ssl")       # on an image without TLS: ImportError naming `ssl` and the fix
from kiln.net import utls as _utls  # noqa: E402
from kiln.net.utls import *  # noqa: E402,F401,F403  (constants, SSLError, SSLSocket, ...)
from kiln.net.utls import PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER, CERT_NONE  # noqa: E402


class SSLContext(_utls.SSLContext):
    """SSLContext(protocol): as ``tls.SSLContext`` but with ``verify_mode`` CERT_NONE."""

    def __init__(self, protocol, /):
        super().__init__(protocol)
        self.verify_mode = CERT_NONE


def wrap_socket(sock, server_side=False, key=None, cert=None, cert_reqs=CERT_NONE,
                cadata=None, server_hostname=None, do_handshake=True):
    """Wrap ``sock`` in TLS (see the module docstring); return an ``SSLSocket``.  ``key`` and
    ``cert`` (paths or PEM/DER bytes) are the own certificate; ``cadata`` the CAs that verify
    the peer when ``cert_reqs`` is CERT_OPTIONAL or CERT_REQUIRED."""
    context = SSLContext(PROTOCOL_TLS_SERVER if server_side else PROTOCOL_TLS_CLIENT)
    try:
        if cert is not None or key is not None:
            if cert is None or key is None:
                raise ValueError("wrap_socket(): 'key' and 'cert' go together (got only one)")
            context.load_cert_chain(cert, key)
        if cadata is not None:
            context.load_verify_locations(cadata=cadata)
        try:
            context.verify_mode = cert_reqs
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"wrap_socket() argument 'cert_reqs': {exc}") from None
    except (TypeError, ValueError, OSError) as exc:
        raise _renamed(exc) from None
    if not server_side and cert_reqs == CERT_NONE:
        _utls.warn_unverified("ssl.wrap_socket() with cert_reqs=CERT_NONE (its default)")
    return context.wrap_socket(sock, server_side=server_side,
                               do_handshake_on_connect=do_handshake,
                               server_hostname=server_hostname)


def secure_connected(sock, call):
    """Run the TLS handshake on the connected ``usocket.socket`` ``sock`` in place, with the
    default client context of :func:`wrap_socket` (no verification: one warning line names
    ``call``).  For ``usocket.IPPROTO_SEC`` sockets."""
    global _default_client
    if _default_client is None:
        _default_client = SSLContext(PROTOCOL_TLS_CLIENT)
    _utls.warn_unverified(call)
    _utls._tls.attach(sock, _default_client._context)


_default_client = None


# What the context's calls name, as wrap_socket's own arguments.
_RENAMES = (("load_cert_chain() argument 'certfile'", "wrap_socket() argument 'cert'"),
            ("load_cert_chain() argument 'keyfile'", "wrap_socket() argument 'key'"),
            ("load_verify_locations() argument 'cadata'", "wrap_socket() argument 'cadata'"))


def _renamed(exc):
    """``exc`` with its message naming wrap_socket's arguments (same type, same errno)."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    for old, new in _RENAMES:
        text = text.replace(old, new)
    if isinstance(exc, OSError) and exc.errno is not None:
        return type(exc)(exc.errno, text)
    return type(exc)(text)


__all__ = _utls.__all__ + ["wrap_socket"]
