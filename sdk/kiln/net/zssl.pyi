"""Zerynth's ``ssl`` module on Kiln's TLS layer."""
from typing import Any
from typing_extensions import Buffer  # stubs only: no runtime dependency

from kiln.net import tls as _tls
from kiln.net.zsocket import socket
from kiln.net.addr import Address

CERT_NONE: int
CERT_OPTIONAL: int
CERT_REQUIRED: int
CLIENT_AUTH: int
SERVER_AUTH: int
SSLError = _tls.SSLError
SSLCertVerificationError = _tls.SSLCertVerificationError
TLSHandshakeError = _tls.TLSHandshakeError

SslContext = tuple[bytes, bytes, bytes, str, int]

def create_ssl_context(cacert: str | Buffer | Any = "", clicert: str | Buffer | Any = "",
                       pkey: str | Buffer | Any = "", hostname: str = "",
                       options: int = ...) -> SslContext: ...

class sslsocket(socket):
    def __init__(self, family: int = ..., type: int = ..., proto: int = ...,
                 ctx: SslContext | tuple[()] = ()) -> None: ...
    def connect(self, address: Address) -> None: ...
    def accept(self) -> tuple[sslsocket, Any]: ...
    def getpeercert(self, binary_form: bool = True) -> bytes | None: ...
    def cipher(self) -> tuple[str, str, str, int] | None: ...
    def ktls(self) -> tuple[bool, bool]: ...

__all__: list[str]
