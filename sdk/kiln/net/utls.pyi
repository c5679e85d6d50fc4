"""MicroPython's ``tls`` module on Kiln's TLS layer."""
from os import PathLike
from typing import Any
from typing_extensions import Buffer  # stubs only: no runtime dependency

from kiln.net import tls as _tls
from kiln.net.usocket import socket

PROTOCOL_TLS_CLIENT: int
PROTOCOL_TLS_SERVER: int
CERT_NONE: int
CERT_OPTIONAL: int
CERT_REQUIRED: int
OPENSSL_VERSION: str
SSLError = _tls.SSLError
SSLCertVerificationError = _tls.SSLCertVerificationError
TLSHandshakeError = _tls.TLSHandshakeError

class SSLSocket(socket):
    def getpeercert(self, binary_form: bool = False) -> bytes | None: ...
    def cipher(self) -> tuple[str, str] | None: ...
    def do_handshake(self) -> None: ...
    def ktls(self) -> tuple[bool, bool]: ...

class SSLContext:
    def __init__(self, protocol: int, /) -> None: ...
    @property
    def verify_mode(self) -> int: ...
    @verify_mode.setter
    def verify_mode(self, value: int) -> None: ...
    def load_cert_chain(self, certfile: str | PathLike[str] | Buffer,
                        keyfile: str | PathLike[str] | Buffer) -> None: ...
    def load_verify_locations(self, cafile: str | PathLike[str] | None = None,
                              cadata: str | Buffer | None = None) -> None: ...
    def get_ciphers(self) -> list[str]: ...
    def set_ciphers(self, ciphers: list[str]) -> None: ...
    def wrap_socket(self, sock: socket, *, server_side: bool = False,
                    do_handshake_on_connect: bool = True,
                    server_hostname: str | None = None) -> SSLSocket: ...

__all__: list[str]
