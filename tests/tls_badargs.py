"""Bad-input cases for every public callable of the TLS modules, generated from their stubs.

Modules: ``kiln.net.tls`` (contexts and the layer's functions), ``kiln.net.utls`` (MicroPython's
``tls``), ``kiln.net.ussl`` (MicroPython's ``ssl``), ``kiln.net.zssl`` (Zerynth's ``ssl``).  The
stubs (``sdk/kiln/net/*.pyi``) list every public function, class constructor, method and
property setter; ``test_tls_bad_args.py`` checks them against the modules.  The TLS socket
classes (``utls.SSLSocket``, ``zssl.sslsocket``) also get every case of the socket method they
inherit (``socket_badargs``), run on a handshaken TLS socket.

Each parameter gets a category (``SPECIAL``, else its inherited socket category), each category
bad values with the exception they must raise.  A case calls the callable with valid values for
the other arguments (``VALID``) and one bad value; two more cases per callable: the valid call
(must not be refused) and, for socket methods, the call on a closed socket (OSError EBADF).
``run_case`` runs one case in the worker process (``socket_worker.py tls_badargs``), which
makes a test PKI and a CPython TLS server (``WorkerEnv``) first.
"""
from __future__ import annotations

import ast
import gc
import importlib
import os
import shutil
import socket as std
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import socket_badargs
from socket_signatures import _parse, public_callables

STUBS = {"tls": "tls.pyi", "utls": "utls.pyi", "ussl": "ussl.pyi", "zssl": "zssl.pyi"}
MODULES = {"tls": "kiln.net.tls", "utls": "kiln.net.utls", "ussl": "kiln.net.ussl",
           "zssl": "kiln.net.zssl"}
#: TLS socket classes and the socket face whose methods they inherit.
SOCKET_CLASSES = {("utls", "SSLSocket"): "usocket", ("zssl", "sslsocket"): "zerynth"}


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str
    default: str | None         # source text of the default, None when required
    kw_only: bool = False


def _params(fn: ast.FunctionDef) -> tuple[Param, ...]:
    """Positional and keyword-only parameters of a stub function (``self`` left out)."""
    a = fn.args
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    params = [Param(arg.arg, ast.unparse(arg.annotation) if arg.annotation else "",
                    None if d is None else ast.unparse(d))
              for arg, d in zip(positional, defaults) if arg.arg != "self"]
    params += [Param(arg.arg, ast.unparse(arg.annotation) if arg.annotation else "",
                     None if d is None else ast.unparse(d), True)
               for arg, d in zip(a.kwonlyargs, a.kw_defaults)]
    return tuple(params)


def _from_socket(params) -> tuple[Param, ...]:
    return tuple(Param(p.name, p.annotation, p.default) for p in params)


@dataclass(frozen=True)
class Sig:
    module: str                 # key of MODULES
    owner: str                  # "module" or a class name
    name: str                   # function/method name; "__init__" (constructor); property name
    params: tuple[Param, ...]
    kind: str                   # function | constructor | method | setter | socket-method

    @property
    def id(self) -> str:
        if self.owner == "module":
            return self.name
        if self.name == "__init__":
            return self.owner
        if self.kind == "setter":
            return f"{self.owner}.{self.name}="
        return f"{self.owner}.{self.name}"

    @property
    def label(self) -> str:
        """What the refusal message must name: ``name()``, or the property for a setter."""
        if self.kind == "constructor":
            return f"{self.owner}()"
        if self.kind == "setter":
            return self.name
        return f"{self.name}()"


def _decorators(fn: ast.FunctionDef) -> list[str]:
    return [ast.unparse(d) for d in fn.decorator_list]


def _stub_classes(filename: str) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in _parse(filename).body if isinstance(n, ast.ClassDef)}


def _is_exception(cls: ast.ClassDef) -> bool:
    return any(ast.unparse(b).endswith(("Error", "OSError")) for b in cls.bases)


def _class_sigs(module: str, cls: ast.ClassDef) -> list[Sig]:
    sigs = []
    for fn in cls.body:
        if isinstance(fn, ast.AnnAssign) and isinstance(fn.target, ast.Name) \
                and not fn.target.id.startswith("_"):
            # A plain attribute of the stub (``check_hostname: bool``) is read-write.
            sigs.append(Sig(module, cls.name, fn.target.id,
                            (Param("value", ast.unparse(fn.annotation), None),), "setter"))
            continue
        if not isinstance(fn, ast.FunctionDef):
            continue
        decorators = _decorators(fn)
        if fn.name == "__init__":
            sigs.append(Sig(module, cls.name, "__init__", _params(fn), "constructor"))
        elif any(d.endswith(".setter") for d in decorators):
            sigs.append(Sig(module, cls.name, fn.name, _params(fn), "setter"))
        elif "property" in decorators or fn.name.startswith("_"):
            continue
        else:
            sigs.append(Sig(module, cls.name, fn.name, _params(fn), "method"))
    return sigs


def signatures(module: str) -> tuple[Sig, ...]:
    """Every public callable of ``module`` (a key of MODULES) as its stub declares it."""
    stub = STUBS[module]
    tree = _parse(stub)
    sigs: list[Sig] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            sigs.append(Sig(module, "module", node.name, _params(node), "function"))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_") \
                and not _is_exception(node):
            own = _class_sigs(module, node)
            sigs += own
            base_face = SOCKET_CLASSES.get((module, node.name))
            if base_face is not None:
                mine = {s.name for s in own}
                for inherited in public_callables(base_face):
                    if inherited.owner == "module" and inherited.name == "socket":
                        if "__init__" not in mine:      # the face socket's constructor
                            sigs.append(Sig(module, node.name, "__init__",
                                            _from_socket(inherited.params), "socket-method"))
                    elif inherited.owner == "socket" and inherited.name not in mine:
                        sigs.append(Sig(module, node.name, inherited.name,
                                        _from_socket(inherited.params), "socket-method"))
            elif not any(s.kind == "constructor" for s in own) and \
                    not any(ast.unparse(b) == "_TlsContext" for b in node.bases):
                sigs.append(Sig(module, node.name, "__init__", (), "constructor"))
            for base in node.bases:        # ussl.SSLContext(utls.SSLContext): the inherited API
                if ast.unparse(base) == "_TlsContext":
                    mine = {s.name for s in own}
                    for s in _class_sigs("utls", _stub_classes("utls.pyi")["SSLContext"]):
                        if s.name not in mine:
                            sigs.append(Sig(module, node.name, s.name, s.params, s.kind))
    return tuple(sigs)


def runtime_callables(module: str) -> set[str]:
    """The same ids, read from the imported module (for the stub check)."""
    m = importlib.import_module(MODULES[module])
    names = getattr(m, "__all__", None) or [n for n in dir(m) if not n.startswith("_")]
    found = set()
    for name in names:
        obj = getattr(m, name)
        if getattr(obj, "__module__", None) != m.__name__:
            continue                    # re-exported from another module: tested there
        if isinstance(obj, type):
            if issubclass(obj, BaseException):
                continue
            found.add(name)
            instance = obj(0) if name == "SSLContext" else obj()
            try:
                for attr in dir(obj):
                    if attr.startswith("_"):
                        continue
                    raw = _lookup(obj, attr)
                    if isinstance(raw, property) or type(raw).__name__ == "getset_descriptor":
                        try:
                            setattr(instance, attr, getattr(instance, attr))
                            found.add(f"{name}.{attr}=")
                        except AttributeError:
                            pass                # read-only
                    elif callable(getattr(obj, attr)):
                        found.add(f"{name}.{attr}")
            finally:
                if hasattr(instance, "close"):
                    instance.close()
        elif callable(obj):
            found.add(name)
    return found


def _lookup(cls: type, attr: str) -> Any:
    for klass in cls.__mro__:
        if attr in vars(klass):
            return vars(klass)[attr]
    return None


# ---- bad values ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Bad:
    label: str
    make: Callable[["WorkerEnv"], Any]
    raises: type[BaseException]


def _bad(label: str, value: Any, raises: type[BaseException]) -> Bad:
    return Bad(label, lambda env: value, raises)


def _file(label: str, name: str, raises: type[BaseException]) -> Bad:
    return Bad(label, lambda env: env.path(name), raises)


def _data(label: str, name: str, raises: type[BaseException], transform=lambda b: b) -> Bad:
    return Bad(label, lambda env: transform(env.data(name)), raises)


NOT_A_SOCKET = [_bad("int", 3, TypeError), _bad("None", None, TypeError),
                _bad("str", "sock", TypeError),
                Bad("stdlib socket", lambda env: env.keep(std.socket()), TypeError)]
HOSTNAMES = [_bad("int", 1, TypeError), _bad("bytes", b"localhost", TypeError),
             _bad("empty", "", ValueError), _bad("NUL", "local\0host", ValueError),
             _bad("300 chars", "a" * 300, ValueError),
             _bad("lone surrogate", "local\udc80host", ValueError)]
PATH_VALUES = [_bad("missing file", "/nonexistent/kiln-test.pem", FileNotFoundError),
               Bad("a directory", lambda env: env.dir, IsADirectoryError),
               _bad("NUL in path", "/tmp/a\0b.pem", ValueError)]
CERT_DATA = [_file("empty file", "empty", ValueError),
             _file("garbage file", "garbage", ValueError),
             _data("empty bytes", "empty", ValueError), _data("garbage bytes", "garbage", ValueError),
             _data("broken PEM", "broken-pem", ValueError),
             _data("a key, not a certificate", "server-ec.key", ValueError),
             _data("truncated DER", "root.der", ValueError, lambda b: b[:len(b) // 2]),
             _data("DER + trailing bytes", "root.der", ValueError, lambda b: b + b"\0\1\2"),
             _data("second PEM broken", "root.pem", ValueError,
                   lambda b: b + b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")]
KEY_DATA = [_file("empty file", "empty", ValueError),
            _file("garbage file", "garbage", ValueError),
            _data("garbage bytes", "garbage", ValueError),
            _data("a certificate, not a key", "server-ec.pem", ValueError),
            _data("another key", "client-ec.key", ValueError),
            _file("encrypted key", "encrypted.key", ValueError),
            _data("truncated DER key", "server-ec.key.der", ValueError, lambda b: b[:40])]
NOT_INT = [_bad("float", 1.5, TypeError), _bad("str", "1", TypeError),
           _bad("bytes", b"1", TypeError), _bad("None", None, TypeError),
           _bad("bool", True, TypeError)]
VERIFY_MODES = NOT_INT + [_bad("3", 3, ValueError), _bad("-1", -1, ValueError),
                          _bad("2**64", 2**64, ValueError)]

CATEGORIES: dict[str, list[Bad]] = {
    "flag": [],            # any object: its truth value, as CPython's ssl (no bad value)
    "tls-socket": NOT_A_SOCKET + [
        Bad("plain TCP socket", lambda env: env.plain_tcp(), ValueError),
        Bad("closed TLS socket", lambda env: env.closed_tls(), OSError)],
    "any-socket": NOT_A_SOCKET,
    "plain-socket": NOT_A_SOCKET + [
        Bad("UDP socket", lambda env: env.udp(), ValueError),
        Bad("closed socket", lambda env: env.closed_plain(), OSError),
        Bad("TLS socket", lambda env: env.tls("utls"), ValueError)],
    "context": [_bad("int", 1, TypeError), _bad("None", None, TypeError),
                Bad("a face's SSLContext", lambda env: env.utls_context(), TypeError),
                Bad("server context for a client", lambda env: env.server_context(),
                    ValueError)],
    "cls": [_bad("int", 1, TypeError), _bad("None", None, TypeError),
            _bad("not a socket class", str, TypeError)],
    "hostname": HOSTNAMES,
    "verify-mode": VERIFY_MODES,
    "version": NOT_INT + [_bad("TLS 1.1", 0x302, ValueError), _bad("0x305", 0x305, ValueError),
                          _bad("-1", -1, ValueError), _bad("2**64", 2**64, ValueError)],
    "cafile": [_bad("int", 1, TypeError), _bad("list", ["a"], TypeError)] + PATH_VALUES +
              [_file("empty file", "empty", ValueError),
               _file("garbage file", "garbage", ValueError),
               _file("a key file", "server-ec.key", ValueError)],
    "cadata": [_bad("int", 1, TypeError), _bad("list", [b"x"], TypeError),
               _bad("dict", {}, TypeError)] + [b for b in CERT_DATA if "file" not in b.label],
    "certfile": [_bad("int", 1, TypeError), _bad("None", None, TypeError),
                 _bad("list", [], TypeError)] + PATH_VALUES + CERT_DATA,
    "keyfile": [_bad("int", 1, TypeError), _bad("list", [], TypeError)] + PATH_VALUES + KEY_DATA,
    "cipher-string": [_bad("int", 1, TypeError), _bad("None", None, TypeError),
                      _bad("bytes", b"ECDHE+AESGCM", TypeError),
                      _bad("unknown", "NOPE-NOT-A-CIPHER", ValueError),
                      _bad("empty", "", ValueError), _bad("NUL", "ECDHE+AESGCM\0", ValueError)],
    "suite-string": [_bad("int", 1, TypeError), _bad("None", None, TypeError),
                     _bad("bytes", b"TLS_AES_128_GCM_SHA256", TypeError),
                     _bad("unknown", "TLS_NOT_A_SUITE", ValueError),
                     _bad("NUL", "TLS_AES_128_GCM_SHA256\0", ValueError)],
    "cipher-list": [_bad("str", "TLS_AES_128_GCM_SHA256", TypeError),
                    _bad("bytes", b"TLS_AES_128_GCM_SHA256", TypeError),
                    _bad("int", 1, TypeError), _bad("None", None, TypeError),
                    _bad("empty list", [], ValueError), _bad("unknown name", ["NOPE"], ValueError),
                    _bad("int item", [1], TypeError),
                    _bad("NUL in name", ["TLS_AES_128_GCM_SHA256\0"], ValueError)],
    "protocol": NOT_INT + [_bad("2", 2, ValueError), _bad("-1", -1, ValueError),
                           _bad("2**64", 2**64, ValueError)],
    "usocket": NOT_A_SOCKET + [
        Bad("Zerynth socket", lambda env: env.keep(env.zsocket_tcp()), TypeError),
        Bad("UDP socket", lambda env: env.udp(), ValueError),
        Bad("closed socket", lambda env: env.closed_plain(), OSError),
        Bad("TLS socket", lambda env: env.tls("utls"), ValueError)],
    "material": [_bad("int", 1, TypeError), _bad("None", None, TypeError),
                 _bad("list", [], TypeError), _data("garbage bytes", "garbage", ValueError),
                 _bad("garbage str", "-----BEGIN CERTIFICATE-----\nxx\n", ValueError)],
    "key-material": [_bad("int", 1, TypeError), _bad("None", None, TypeError),
                     _data("garbage bytes", "garbage", ValueError),
                     _data("another key", "server-ec.key", ValueError),
                     _data("a certificate", "server-ec.pem", ValueError)],
    "zhostname": [_bad("int", 1, TypeError), _bad("None", None, TypeError),
                  _bad("bytes", b"localhost", TypeError), _bad("NUL", "local\0host", ValueError),
                  _bad("300 chars", "a" * 300, ValueError),
                  _bad("lone surrogate", "local\udc80host", ValueError)],
    "zoptions": NOT_INT + [_bad("unknown bit", 32, ValueError), _bad("-1", -1, ValueError),
                           _bad("2**64", 2**64, ValueError),
                           _bad("two CERT_ modes", 1 | 4, ValueError),
                           _bad("SERVER_AUTH|CLIENT_AUTH", 8 | 16, ValueError)],
    "zctx": [_bad("int", 1, TypeError), _bad("str", "ctx", TypeError),
             _bad("list", [b"", b"", b"", "", 17], TypeError),
             _bad("4-tuple", (b"", b"", b"", ""), TypeError),
             _bad("5-tuple of wrong types", (1, 2, 3, 4, 5), TypeError),
             _bad("dict", {}, TypeError)],
    "ztype": socket_badargs.NOT_INT + socket_badargs.C_INT_RANGE +
             [_bad("SOCK_DGRAM", std.SOCK_DGRAM, ValueError)],
    "cint": socket_badargs.NOT_INT + socket_badargs.C_INT_RANGE,
}
# socket_badargs' bad values take no argument: adapt them.
for _name in ("ztype", "cint"):
    CATEGORIES[_name] = [b if isinstance(b, Bad) else
                         Bad(b.label, (lambda make: lambda env: make())(b.make), b.raises)
                         for b in CATEGORIES[_name]]

SPECIAL = {
    ("Context", "server_side"): "flag",
    ("Context.verify_mode=", "value"): "verify-mode",
    ("Context.load_verify_locations", "cafile"): "cafile",
    ("Context.load_verify_locations", "cadata"): "cadata",
    ("Context.load_cert_chain", "certfile"): "certfile",
    ("Context.load_cert_chain", "keyfile"): "keyfile",
    ("Context.set_ciphers", "ciphers"): "cipher-string",
    ("Context.set_ciphersuites", "suites"): "suite-string",
    ("Context.minimum_version=", "value"): "version",
    ("Context.maximum_version=", "value"): "version",
    ("Context.ktls=", "value"): "flag",
    ("Context.check_hostname=", "value"): "flag",
    ("attach", "sock"): "plain-socket", ("wrap", "sock"): "plain-socket",
    ("attach", "context"): "context", ("wrap", "context"): "context",
    ("wrap", "cls"): "cls",
    ("attach", "server_side"): "flag", ("wrap", "server_side"): "flag",
    ("attach", "do_handshake"): "flag", ("wrap", "do_handshake"): "flag",
    ("attach", "server_hostname"): "hostname", ("wrap", "server_hostname"): "hostname",
    ("handshake", "sock"): "tls-socket", ("established", "sock"): "tls-socket",
    ("peer_certificate", "sock"): "tls-socket", ("cipher", "sock"): "tls-socket",
    ("ktls", "sock"): "tls-socket", ("is_tls", "sock"): "any-socket",
    ("want_write", "sock"): "tls-socket",
    # utls / ussl
    ("SSLSocket.getpeercert", "binary_form"): "flag",
    ("SSLContext", "protocol"): "protocol",
    ("SSLContext.verify_mode=", "value"): "verify-mode",
    ("SSLContext.ktls=", "value"): "flag",
    ("SSLContext.load_cert_chain", "certfile"): "certfile",
    ("SSLContext.load_cert_chain", "keyfile"): "keyfile",
    ("SSLContext.load_verify_locations", "cafile"): "cafile",
    ("SSLContext.load_verify_locations", "cadata"): "cadata",
    ("SSLContext.set_ciphers", "ciphers"): "cipher-list",
    ("SSLContext.wrap_socket", "sock"): "usocket",
    ("SSLContext.wrap_socket", "server_side"): "flag",
    ("SSLContext.wrap_socket", "do_handshake_on_connect"): "flag",
    ("SSLContext.wrap_socket", "server_hostname"): "hostname",
    ("wrap_socket", "sock"): "usocket", ("wrap_socket", "server_side"): "flag",
    ("wrap_socket", "key"): "keyfile", ("wrap_socket", "cert"): "certfile",
    ("wrap_socket", "cert_reqs"): "verify-mode", ("wrap_socket", "cadata"): "cadata",
    ("wrap_socket", "server_hostname"): "hostname", ("wrap_socket", "do_handshake"): "flag",
    # zssl
    ("create_ssl_context", "cacert"): "material", ("create_ssl_context", "clicert"): "material",
    ("create_ssl_context", "pkey"): "key-material",
    ("create_ssl_context", "hostname"): "zhostname",
    ("create_ssl_context", "options"): "zoptions",
    ("sslsocket", "family"): "cint",     # AF_INET, AF_INET6 (and AF_UNIX: TLS runs there too)
    ("sslsocket", "type"): "ztype",
    ("sslsocket", "proto"): "cint", ("sslsocket", "ctx"): "zctx",
    ("sslsocket.connect", "address"): "address",
    ("sslsocket.getpeercert", "binary_form"): "flag",
}

# Valid arguments (by parameter name) and what the callable runs on: None (a module function or
# constructor), "context" / "server-context" (a tls.Context), "utls-context", "ussl-context",
# "tls" (a handshaken, non-blocking TLS socket of the class's face), "zssl-fresh" (an
# unconnected sslsocket), "zssl-listener" (a listening server sslsocket).
VALID: dict[str, tuple[dict[str, Callable[["WorkerEnv"], Any]], str | None]] = {
    "Context": ({"server_side": lambda env: False}, None),
    "Context.verify_mode=": ({"value": lambda env: 2}, "context"),
    "Context.load_verify_locations": ({"cafile": lambda env: env.path("root.pem"),
                                       "cadata": lambda env: env.data("root.der")}, "context"),
    "Context.load_default_certs": ({}, "context"),
    "Context.load_cert_chain": ({"certfile": lambda env: env.path("server-ec-chain.pem"),
                                 "keyfile": lambda env: env.data("server-ec.key")}, "context"),
    "Context.set_ciphers": ({"ciphers": lambda env: "ECDHE+AESGCM"}, "context"),
    "Context.set_ciphersuites": ({"suites": lambda env: "TLS_AES_128_GCM_SHA256"}, "context"),
    "Context.get_ciphers": ({}, "context"),
    "Context.minimum_version=": ({"value": lambda env: 0x303}, "context"),
    "Context.maximum_version=": ({"value": lambda env: 0x304}, "context"),
    "Context.ktls=": ({"value": lambda env: False}, "context"),
    "Context.check_hostname=": ({"value": lambda env: True}, "context"),
    "TlsLayer": ({}, None),
    "attach": ({"sock": lambda env: env.plain_tcp_to_tls(), "context": lambda env:
                env.client_context(), "server_side": lambda env: False,
                "server_hostname": lambda env: "localhost",
                "do_handshake": lambda env: True}, None),
    "wrap": ({"sock": lambda env: env.plain_tcp_to_tls(), "context": lambda env:
              env.client_context(), "cls": lambda env: importlib.import_module(
                  "kiln.net.utls").SSLSocket, "server_side": lambda env: False,
              "server_hostname": lambda env: "localhost", "do_handshake": lambda env: True},
             None),
    "handshake": ({"sock": lambda env: env.tls("utls")}, None),
    "established": ({"sock": lambda env: env.tls("utls")}, None),
    "peer_certificate": ({"sock": lambda env: env.tls("utls")}, None),
    "cipher": ({"sock": lambda env: env.tls("utls")}, None),
    "ktls": ({"sock": lambda env: env.tls("utls")}, None),
    "want_write": ({"sock": lambda env: env.tls("utls")}, None),
    "is_tls": ({"sock": lambda env: env.tls("utls")}, None),
    # utls / ussl
    "SSLContext": ({"protocol": lambda env: 0}, None),
    "SSLContext.verify_mode=": ({"value": lambda env: 2}, "face-context"),
    "SSLContext.ktls=": ({"value": lambda env: False}, "face-context"),
    "SSLContext.load_cert_chain": ({"certfile": lambda env: env.path("server-ec-chain.pem"),
                                    "keyfile": lambda env: env.path("server-ec.key")},
                                   "face-context"),
    "SSLContext.load_verify_locations": ({"cafile": lambda env: env.path("root.pem"),
                                          "cadata": lambda env: env.data("root.pem")},
                                         "face-context"),
    "SSLContext.get_ciphers": ({}, "face-context"),
    "SSLContext.set_ciphers": ({"ciphers": lambda env: ["TLS_AES_128_GCM_SHA256",
                                                        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]},
                               "face-context"),
    "SSLContext.wrap_socket": ({"sock": lambda env: env.plain_tcp_to_tls(),
                                "server_side": lambda env: False,
                                "do_handshake_on_connect": lambda env: True,
                                "server_hostname": lambda env: "localhost"}, "face-context"),
    "SSLSocket.getpeercert": ({"binary_form": lambda env: True}, "tls"),
    "SSLSocket.cipher": ({}, "tls"),
    "SSLSocket.do_handshake": ({}, "tls"),
    "SSLSocket.ktls": ({}, "tls"),
    "SSLSocket.want_write": ({}, "tls"),
    "wrap_socket": ({"sock": lambda env: env.plain_tcp_to_tls(),
                     "server_side": lambda env: False, "key": lambda env: None,
                     "cert": lambda env: None, "cert_reqs": lambda env: 2,
                     "cadata": lambda env: env.data("root.pem"),
                     "server_hostname": lambda env: "localhost",
                     "do_handshake": lambda env: True}, None),
    # zssl
    "create_ssl_context": ({"cacert": lambda env: env.data("root.pem"),
                            "clicert": lambda env: env.data("client-ec.pem"),
                            "pkey": lambda env: env.data("client-ec.key"),
                            "hostname": lambda env: "localhost",
                            "options": lambda env: 4 | 16}, None),
    "sslsocket": ({"family": lambda env: std.AF_INET, "type": lambda env: std.SOCK_STREAM,
                   "proto": lambda env: 0, "ctx": lambda env: ()}, None),
    "sslsocket.connect": ({"address": lambda env: env.tls_server_address()}, "zssl-fresh"),
    "sslsocket.accept": ({}, "zssl-listener"),
    "sslsocket.getpeercert": ({"binary_form": lambda env: True}, "tls"),
    "sslsocket.cipher": ({}, "tls"),
    "sslsocket.ktls": ({}, "tls"),
}

#: Valid calls that a TLS socket refuses on purpose, with the exception.
REFUSED_ON_TLS = {"sendto": ValueError}
#: ussl's valid keyword for ``key``/``cert`` when the other one is given.
PAIRED = {("wrap_socket", "key"): ("cert", "server-ec-chain.pem"),
          ("wrap_socket", "cert"): ("key", "server-ec.key")}


@dataclass(frozen=True)
class Case:
    id: str
    sig: Sig
    param: str | None
    bad: Bad | None
    closed: bool = False


def category(sig: Sig, param: Param) -> str:
    special = SPECIAL.get((sig.id, param.name))
    if special is not None:
        return special
    if sig.kind == "socket-method":
        return socket_badargs.category(_socket_sig(sig), param)
    raise KeyError((sig.id, param.name))


def _socket_sig(sig: Sig):
    """The face socket's signature a TLS socket class inherits."""
    face = SOCKET_CLASSES[(sig.module, sig.owner)]
    wanted = "socket" if sig.name == "__init__" else f"socket.{sig.name}"
    for s in public_callables(face):
        if s.id == wanted:
            return s
    raise KeyError(sig.id)


def _bad_values(sig: Sig, param: Param) -> list[Bad]:
    cat = category(sig, param)
    if sig.kind == "socket-method" or cat == "address":
        bads = []
        for b in socket_badargs.CATEGORIES[cat]:
            if b.family != "inet":
                continue            # TLS sockets are AF_INET here
            bads.append(Bad(b.label, (lambda make: lambda env: make())(b.make), b.raises))
        return bads
    return CATEGORIES[cat]


def all_signatures() -> list[Sig]:
    return [s for module in MODULES for s in signatures(module)]


def unclassified() -> list[str]:
    missing = []
    for sig in all_signatures():
        if sig.kind == "socket-method":
            if _socket_sig(sig).id not in socket_badargs.VALID:
                missing.append(f"{sig.module}: {sig.id} has no VALID entry")
            continue
        if sig.id not in VALID:
            missing.append(f"{sig.module}: {sig.id} has no VALID entry")
        for p in sig.params:
            try:
                category(sig, p)
            except KeyError:
                missing.append(f"{sig.module}: {sig.id}({p.name}: {p.annotation})")
            if p.name not in VALID.get(sig.id, ({}, None))[0]:
                missing.append(f"{sig.module}: {sig.id}({p.name}) has no valid value")
    return missing


def build_cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}

    def add(case: Case) -> None:
        assert case.id not in cases, case.id
        cases[case.id] = case

    for sig in all_signatures():
        base = f"{sig.module}-{sig.id}"
        add(Case(f"{base}-valid", sig, None, None))
        if (sig.kind == "socket-method" and sig.name != "__init__") or \
                (sig.kind == "method" and _runs_on(sig) == "tls"):
            add(Case(f"{base}-closed", sig, None, None, closed=True))
        for p in sig.params:
            for bad in _bad_values(sig, p):
                if p.annotation.endswith("| None") and bad.label == "None":
                    continue
                add(Case(f"{base}-{p.name}-{bad.label}", sig, p.name, bad))
    return cases


def _runs_on(sig: Sig) -> str | None:
    if sig.kind == "socket-method":
        kind = socket_badargs.VALID[_socket_sig(sig).id][1]
        if kind is None:
            return None                         # the constructor
        if sig.module == "zssl" and kind == "fresh":
            return "zssl-fresh"
        if sig.module == "zssl" and kind == "listener":
            return "zssl-listener"
        return "tls"
    kind = VALID[sig.id][1]
    if kind == "face-context":
        return f"{sig.module}-context"
    return kind


def _valid_value(sig: Sig, name: str, env: "WorkerEnv") -> Any:
    if sig.kind == "socket-method":
        value = socket_badargs.VALID[_socket_sig(sig).id][0][name]
        if sig.name == "connect" and name == "address":
            return env.plain_address            # EISCONN on a connected TLS socket
        return bytearray(value) if isinstance(value, bytearray) else value
    return VALID[sig.id][0][name](env)


# ---- execution (in the worker process) -------------------------------------------------------------
class WorkerEnv:
    """What the cases run against, made once per worker: a test PKI (``tls_pki``) and a few
    more files, a CPython TLS server (every connection handshakes, then is read until EOF) and
    a plain listener; per case, the sockets made (closed by :meth:`close_case`)."""

    def __init__(self) -> None:
        from tls_pki import make_pki
        self.dir = tempfile.mkdtemp(prefix="kiln-tls-badargs-")
        self.pki = make_pki(self.dir)
        with open(os.path.join(self.dir, "empty"), "wb"):
            pass
        with open(os.path.join(self.dir, "garbage"), "wb") as f:
            f.write(b"\x30\x82\x01\x00 this is not a certificate \xff\xfe" * 8)
        with open(os.path.join(self.dir, "broken-pem"), "wb") as f:
            f.write(b"-----BEGIN CERTIFICATE-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n"
                    b"-----END CERTIFICATE-----\n")
        subprocess.run(["openssl", "pkey", "-in", self.path("server-ec.key"), "-aes128",
                        "-passout", "pass:secret", "-out", self.path("encrypted.key")],
                       check=True, capture_output=True)
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(self.path("server-ec-chain.pem"), self.path("server-ec.key"))
        self._server_ctx = server_ctx
        self._tls_listener = std.socket()
        self._tls_listener.bind(("127.0.0.1", 0))
        self._tls_listener.listen(64)
        self.tls_address = self._tls_listener.getsockname()
        self._active = 0
        self._accepted = 0
        self.connects = 0           # connections the cases opened to the TLS server
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()
        self._plain_listener = std.socket()
        self._plain_listener.bind(("127.0.0.1", 0))
        self._plain_listener.listen(64)
        self.plain_address = self._plain_listener.getsockname()
        self.opened: list[Any] = []

    # -- the CPython TLS server
    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._tls_listener.accept()
            except OSError:
                return
            with self._lock:
                self._active += 1
                self._accepted += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: std.socket) -> None:
        try:
            conn.settimeout(30)
            with self._server_ctx.wrap_socket(conn, server_side=True) as tls:
                while tls.recv(65536):
                    pass
        except (OSError, ValueError):
            pass
        finally:
            conn.close()
            with self._lock:
                self._active -= 1

    def wait_idle(self, timeout: float = 3.0) -> None:
        """Wait until the server accepted every connection the cases made and closed each
        (so descriptors can be counted)."""
        deadline = time.monotonic() + timeout
        while (self._active or self._accepted < self.connects) and time.monotonic() < deadline:
            time.sleep(0.005)

    def tls_server_address(self) -> tuple:
        """The TLS server's address, for a connection a case makes itself (counted, so that
        :meth:`wait_idle` waits for the server to accept and close it)."""
        self.connects += 1
        return self.tls_address

    # -- files
    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def data(self, name: str) -> bytes:
        with open(self.path(name), "rb") as f:
            return f.read()

    # -- objects for one case
    def keep(self, obj: Any) -> Any:
        self.opened.append(obj)
        return obj

    def client_context(self) -> Any:
        from kiln.net import tls
        ctx = tls.Context(False)
        ctx.load_verify_locations(cadata=self.data("root.pem"))
        return ctx

    def server_context(self) -> Any:
        from kiln.net import tls
        ctx = tls.Context(True)
        ctx.load_cert_chain(self.path("server-ec-chain.pem"), self.path("server-ec.key"))
        return ctx

    def utls_context(self) -> Any:
        from kiln.net import utls
        ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=self.path("root.pem"))
        return ctx

    def face_context(self, module: str) -> Any:
        if module == "ussl":
            from kiln.net import ussl
            return ussl.SSLContext(ussl.PROTOCOL_TLS_CLIENT)
        return self.utls_context()

    def plain_tcp(self) -> Any:
        """A connected usocket (no TLS) to the plain listener."""
        import usocket
        s = self.keep(usocket.socket())
        s.connect(self.plain_address)
        self.keep(self._plain_listener.accept()[0])
        return s

    def plain_tcp_to_tls(self) -> Any:
        """A connected usocket (no TLS yet) to the TLS server, with a 5 s timeout."""
        import usocket
        s = self.keep(usocket.socket())
        s.settimeout(5)
        s.connect(self.tls_address)
        self.connects += 1
        return s

    def udp(self) -> Any:
        import usocket
        return self.keep(usocket.socket(usocket.AF_INET, usocket.SOCK_DGRAM))

    def closed_plain(self) -> Any:
        s = self.plain_tcp_to_tls()
        s.close()
        return s

    def zsocket_tcp(self) -> Any:
        import networking.socket as zsocket
        s = zsocket.socket()
        s.connect(self.plain_address)
        self.keep(self._plain_listener.accept()[0])
        return s

    def tls(self, module: str) -> Any:
        """A handshaken, non-blocking TLS socket of ``module``'s face."""
        if module in ("utls", "ussl", "tls"):
            from kiln.net import utls
            ctx = self.utls_context()
            s = ctx.wrap_socket(self.plain_tcp_to_tls(), server_hostname="localhost")
        else:
            from kiln.net import zssl
            ctx = zssl.create_ssl_context(cacert=self.data("root.pem"), hostname="localhost",
                                          options=zssl.CERT_REQUIRED | zssl.SERVER_AUTH)
            s = zssl.sslsocket(ctx=ctx)
            s.settimeout(5000)
            self.connects += 1
            s.connect(self.tls_address)
        self.keep(s)
        s.setblocking(False)
        return s

    def closed_tls(self) -> Any:
        s = self.tls("utls")
        s.close()
        return s

    def zssl_fresh(self) -> Any:
        from kiln.net import zssl
        s = self.keep(zssl.sslsocket())
        s.setblocking(False)
        return s

    def zssl_listener(self) -> Any:
        from kiln.net import zssl
        ctx = zssl.create_ssl_context(clicert=self.data("server-ec-chain.pem"),
                                      pkey=self.data("server-ec.key"),
                                      options=zssl.CERT_NONE | zssl.CLIENT_AUTH)
        s = self.keep(zssl.sslsocket(ctx=ctx))
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        s.setblocking(False)
        return s

    def target_object(self, kind: str | None, module: str) -> Any:
        if kind == "context":
            return self.client_context()
        if kind in ("utls-context", "ussl-context"):
            return self.face_context(kind.split("-")[0])
        if kind == "tls":
            return self.tls(module)
        if kind == "zssl-fresh":
            return self.zssl_fresh()
        if kind == "zssl-listener":
            return self.zssl_listener()
        raise ValueError(kind)

    def close_case(self) -> None:
        for obj in reversed(self.opened):
            try:
                obj.close()
            except OSError:
                pass
        self.opened.clear()
        gc.collect()
        self.wait_idle()

    def cleanup(self) -> None:
        self._tls_listener.close()
        self._plain_listener.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def worker_env() -> WorkerEnv:
    """The worker's environment (``socket_worker.py`` calls this once)."""
    return WorkerEnv()


def run_case(case: Case, env: WorkerEnv) -> dict[str, Any]:
    """Run ``case``; its outcome as plain data (see ``socket_badargs.run_case``)."""
    module = importlib.import_module(MODULES[case.sig.module])
    before = _fd_count()
    outcome: dict[str, Any] = {"id": case.id}
    sig = case.sig
    try:
        kind = _runs_on(sig)
        kwargs = {}
        args = []
        for p in sig.params:
            if p.name == case.param:
                value = case.bad.make(env)
            else:
                value = _valid_value(sig, p.name, env)
                pair = PAIRED.get((sig.id, case.param)) if case.param else None
                if pair and p.name == pair[0]:
                    value = env.path(pair[1])
            if p.kw_only:
                kwargs[p.name] = value
            else:
                args.append(value)
        if sig.owner == "module":
            target = getattr(module, sig.name)
        elif sig.name == "__init__":
            target = getattr(module, sig.owner)
        else:
            obj = env.target_object(kind, sig.module)
            if case.closed:
                obj.close()
            if sig.kind == "setter":
                target = lambda value: setattr(obj, sig.name, value)  # noqa: E731
            else:
                target = getattr(obj, sig.name)
        try:
            result = target(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - the outcome is the point
            outcome.update(raised=True, mro=[c.__name__ for c in type(exc).__mro__],
                           message=str(exc), errno=getattr(exc, "errno", None))
        else:
            outcome.update(raised=False, result=socket_badargs._describe(result))
            if sig.name == "detach" and isinstance(result, int) and result >= 0:
                os.close(result)
            elif hasattr(result, "close") and not isinstance(result, type):
                env.keep(result)
            elif isinstance(result, tuple) and result and hasattr(result[0], "close"):
                env.keep(result[0])
    finally:
        env.close_case()
    outcome["leaked_fds"] = _fd_count() - before
    return outcome
