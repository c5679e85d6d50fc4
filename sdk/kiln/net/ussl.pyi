"""MicroPython's ``ssl`` module (micropython-lib's ``ssl`` over ``tls``)."""
from typing_extensions import Buffer  # stubs only: no runtime dependency

from kiln.net.usocket import socket
from kiln.net.utls import *
from kiln.net.utls import SSLContext as _TlsContext, SSLSocket

class SSLContext(_TlsContext):
    def __init__(self, protocol: int, /) -> None: ...

def wrap_socket(sock: socket, server_side: bool = False, key: str | Buffer | None = None,
                cert: str | Buffer | None = None, cert_reqs: int = ...,
                cadata: str | Buffer | None = None, server_hostname: str | None = None,
                do_handshake: bool = True) -> SSLSocket: ...

__all__: list[str]
