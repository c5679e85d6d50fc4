"""Fuzz targets for certificate and key loading in Kiln's TLS layer (OpenSSL's parsers behind
``kiln.net.tls.Context`` and the faces).

Each target builds its input from a real certificate or key of a small test PKI (made at import
with the ``openssl`` command, ``tls_pki``) mutated by the fuzzer's bytes -- flipped and replaced
bytes, truncations, insertions, repeated slices, lengths of the DER encoding changed -- and
encoded as DER, PEM bytes, PEM text (with Zerynth's trailing NUL), a file path, or concatenated
with others; or it takes the fuzzer's raw bytes.  A finding is (``AssertionError`` or anything
that escapes):

- any exception but ``ValueError``/``TypeError`` (which must name the call and the argument)
  or ``OSError`` (a file that cannot be read); a crash or a hang inside OpenSSL;
- a context that stops working: after every input a fresh context must still load the valid
  CA (nothing is left in OpenSSL's per-thread error queue to spoil the next call).

Targets:

- ``cadata``     ``Context.load_verify_locations(cadata=...)`` and ``tls.SSLContext``'s (MicroPython);
- ``cert-chain`` ``Context.load_cert_chain(certfile, keyfile)``, data or paths;
- ``zssl-context`` Zerynth's ``ssl.create_ssl_context(cacert=, clicert=, pkey=, hostname=,
  options=)``.
"""
from __future__ import annotations

import base64
import os
import re
import shutil
import sys
import tempfile
from typing import Any, Callable

import atheris

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tls_pki import make_pki  # noqa: E402

from kiln.net import tls, utls, zssl  # noqa: E402

# The PKI is read into memory and its directory removed at once: libFuzzer ends the process
# without running atexit handlers.
_DIR = tempfile.mkdtemp(prefix="kiln-fuzz-pki-")
try:
    _PKI = make_pki(_DIR)
    CERTS = [_PKI.der(n) for n in ("root", "inter", "server-ec", "server-rsa", "client-ec",
                                   "expired-ec")]
    KEYS = [_PKI.key_der(n) for n in ("server-ec", "server-rsa", "client-ec", "root")]
    PAIRS = [(_PKI.der("server-ec"), _PKI.key_der("server-ec")),
             (_PKI.der("server-rsa"), _PKI.key_der("server-rsa")),
             (_PKI.der("client-ec"), _PKI.key_der("client-ec"))]
    VALID_CA = _PKI.pem("root")
finally:
    shutil.rmtree(_DIR, ignore_errors=True)
PEM_LABELS = [b"CERTIFICATE", b"PRIVATE KEY", b"EC PRIVATE KEY", b"RSA PRIVATE KEY",
              b"TRUSTED CERTIFICATE", b"X509 CERTIFICATE", b"ENCRYPTED PRIVATE KEY",
              b"CERTIFICATE REQUEST", b"PUBLIC KEY", b"X"]


# ---- inputs ------------------------------------------------------------------------------------
def _mutate(fdp: atheris.FuzzedDataProvider, data: bytes) -> bytes:
    """``data`` with 0..4 structural mutations chosen by the fuzzer."""
    b = bytearray(data)
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        if not b:
            break
        pos = fdp.ConsumeIntInRange(0, len(b) - 1)
        op = fdp.ConsumeIntInRange(0, 6)
        if op == 0:
            b[pos] ^= 1 << fdp.ConsumeIntInRange(0, 7)
        elif op == 1:
            b[pos] = fdp.ConsumeIntInRange(0, 255)
        elif op == 2:
            del b[pos:]
        elif op == 3:
            b[pos:pos] = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 16))
        elif op == 4:
            end = min(len(b), pos + fdp.ConsumeIntInRange(1, 64))
            b[pos:pos] = b[pos:end] * fdp.ConsumeIntInRange(1, 3)
        elif op == 5:                       # a DER length byte: 0x81/0x82 forms, huge, zero
            b[pos] = fdp.PickValueInList([0x00, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0xff])
        else:
            del b[pos:pos + fdp.ConsumeIntInRange(1, 32)]
    return bytes(b)


def _pem(fdp: atheris.FuzzedDataProvider, der: bytes, label: bytes) -> bytes:
    if fdp.ConsumeProbability() < 0.2:
        label = fdp.PickValueInList(PEM_LABELS)
    body = base64.encodebytes(der)
    if fdp.ConsumeProbability() < 0.2:
        body = _mutate(fdp, body)
    text = b"-----BEGIN " + label + b"-----\n" + body + b"-----END " + label + b"-----\n"
    if fdp.ConsumeProbability() < 0.1:
        text = text.replace(b"-----END", b"-----END" + fdp.ConsumeBytes(2))
    return text


def _encoded(fdp: atheris.FuzzedDataProvider, der: bytes, label: bytes) -> Any:
    """``der`` as DER bytes, PEM bytes, PEM str (maybe with a trailing NUL), a bytearray or a
    memoryview."""
    form = fdp.ConsumeIntInRange(0, 5)
    if form == 0:
        return der
    if form == 1:
        return bytearray(der)
    if form == 2:
        return memoryview(der)
    pem = _pem(fdp, der, label)
    if form == 3:
        return pem
    text = pem.decode("latin-1")
    return text + "\0" if form == 4 else text


def material(fdp: atheris.FuzzedDataProvider, kind: str) -> Any:
    """A certificate (``kind`` "cert"), key ("key") or CA list ("cas") made by the fuzzer."""
    if fdp.ConsumeProbability() < 0.08:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))
    if kind == "key":
        der = _mutate(fdp, fdp.PickValueInList(KEYS))
        return _encoded(fdp, der, b"PRIVATE KEY")
    count = fdp.ConsumeIntInRange(1, 3) if kind == "cas" else 1
    ders = [_mutate(fdp, fdp.PickValueInList(CERTS)) for _ in range(count)]
    if count == 1:
        return _encoded(fdp, ders[0], b"CERTIFICATE")
    pems = [_pem(fdp, d, b"CERTIFICATE") for d in ders]
    joined = b"".join(pems) if fdp.ConsumeBool() else b"".join(ders)
    return joined.decode("latin-1") if fdp.ConsumeBool() else joined


def maybe_path(fdp: atheris.FuzzedDataProvider, value: Any, written: list[str]) -> Any:
    """Sometimes write ``value`` to a temporary file and return its path instead; the path is
    added to ``written``, which the caller removes after the call."""
    if not fdp.ConsumeProbability() < 0.25:
        return value
    fd, path = tempfile.mkstemp(prefix="kiln-fuzz-", suffix=".pem")
    written.append(path)
    with os.fdopen(fd, "wb") as f:
        f.write(value.encode("latin-1") if isinstance(value, str) else bytes(value))
    return path


def _remove(paths: list[str]) -> None:
    for path in paths:
        os.unlink(path)


# ---- outcome checks ----------------------------------------------------------------------------
def refusal_or_ok(call: Callable[[], Any], what: str) -> str:
    """Run ``call``: "ok", "refused" (TypeError/ValueError naming ``what()`` and an argument)
    or "oserror"; anything else escapes as a finding."""
    try:
        call()
        return "ok"
    except (TypeError, ValueError) as exc:
        message = str(exc)
        assert f"{what}()" in message and re.search(r"'\w+'", message), (
            f"{type(exc).__name__} from {what}() does not name the call and argument: "
            f"{message!r}")
        return "refused"
    except OSError:
        return "oserror"


def still_works() -> None:
    """A fresh context loads the valid CA: nothing left over spoils the next call."""
    tls.Context(False).load_verify_locations(cadata=VALID_CA)


# ---- targets -----------------------------------------------------------------------------------
def cadata_target(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    cas = material(fdp, "cas")
    if fdp.ConsumeBool():
        ctx = tls.Context(fdp.ConsumeBool())
        refusal_or_ok(lambda: ctx.load_verify_locations(cadata=cas), "load_verify_locations")
    else:
        ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
        if isinstance(cas, (bytes, str)) and fdp.ConsumeBool():
            written: list[str] = []
            path = maybe_path(fdp, cas, written)
            if path is not cas:
                try:
                    refusal_or_ok(lambda: ctx.load_verify_locations(cafile=path),
                                  "load_verify_locations")
                finally:
                    _remove(written)
                still_works()
                return
        refusal_or_ok(lambda: ctx.load_verify_locations(cadata=cas), "load_verify_locations")
    still_works()


def cert_chain_target(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeProbability() < 0.5:
        cert_der, key_der = fdp.PickValueInList(PAIRS)
        cert = _encoded(fdp, _mutate(fdp, cert_der), b"CERTIFICATE")
        key = _encoded(fdp, _mutate(fdp, key_der), b"PRIVATE KEY")
    else:
        cert, key = material(fdp, "cert"), material(fdp, "key")
    if fdp.ConsumeProbability() < 0.2:
        chain = [_pem(fdp, _mutate(fdp, fdp.PickValueInList(CERTS)), b"CERTIFICATE")
                 for _ in range(fdp.ConsumeIntInRange(1, 2))]
        cert = (cert.encode("latin-1") if isinstance(cert, str) else bytes(cert)) + \
            b"".join(chain)
    written: list[str] = []
    cert = maybe_path(fdp, cert, written)
    key = None if fdp.ConsumeProbability() < 0.1 else maybe_path(fdp, key, written)
    ctx = tls.Context(fdp.ConsumeBool())
    try:
        refusal_or_ok(lambda: ctx.load_cert_chain(cert, key), "load_cert_chain")
    finally:
        _remove(written)
    still_works()


def zssl_context_target(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    cacert = material(fdp, "cas") if fdp.ConsumeBool() else ""
    if fdp.ConsumeBool():
        cert_der, key_der = fdp.PickValueInList(PAIRS)
        clicert = _encoded(fdp, _mutate(fdp, cert_der), b"CERTIFICATE")
        pkey = _encoded(fdp, _mutate(fdp, key_der), b"PRIVATE KEY")
        if isinstance(clicert, memoryview):
            clicert = bytes(clicert)
        if isinstance(pkey, memoryview):
            pkey = bytes(pkey)
    else:
        clicert = pkey = ""
    hostname = fdp.PickValueInList(["", "localhost", "127.0.0.1", "::1"]) \
        if fdp.ConsumeProbability() < 0.7 else fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 300))
    options = fdp.PickValueInList([1 | 16, 2 | 16, 4 | 16, 1 | 8, 4 | 8]) \
        if fdp.ConsumeProbability() < 0.9 else fdp.ConsumeIntInRange(-2, 64)
    if isinstance(cacert, memoryview):
        cacert = bytes(cacert)
    refusal_or_ok(lambda: zssl.create_ssl_context(cacert=cacert, clicert=clicert, pkey=pkey,
                                                  hostname=hostname, options=options),
                  "create_ssl_context")
    still_works()


TARGETS: dict[str, Callable[[bytes], None]] = {
    "cadata": cadata_target,
    "cert-chain": cert_chain_target,
    "zssl-context": zssl_context_target,
}
