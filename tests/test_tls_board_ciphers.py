"""The client's TLS cipher preference is board data: every board file's ``[tls]`` reaches Kiln's
TLS layer through ``/etc/kiln/board.env`` (what the image's init exports) and decides what a
server that honours the client's order negotiates -- ChaCha20-Poly1305 on the Raspberry Pi
boards (no ARMv8 AES instructions), OpenSSL's default (AES-GCM first) on the QEMU boards.

Host tier: Kiln's TLS layer built for the host, a CPython ``ssl`` server on loopback that
follows the client's preference, a test CA made here.
"""
from __future__ import annotations

import socket
import ssl
import threading
import tomllib

import pytest

from kiln import boards
from kiln.net import usocket, utls
from tls_pki import TestPki

CHACHA13 = "TLS_CHACHA20_POLY1305_SHA256"
CHACHA12 = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
# OpenSSL's defaults, what a board without [tls] keeps.
DEFAULT13 = "TLS_AES_256_GCM_SHA384"
DEFAULT12 = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = TestPki(tmp_path_factory.mktemp("pki"))
    return ca.ca, ca.issue("localhost", dns=("localhost",), ips=("127.0.0.1",))


def env_of(board) -> dict[str, str]:
    """The board.env an image of ``board`` exports, as the init's ``set -a; .`` would."""
    return dict(line.split("=", 1) for line in board.env_text(False).splitlines())


def negotiate(pki, max_version: ssl.TLSVersion) -> str:
    """Handshake a Kiln client (its context made now, from the environment) with a server that
    follows the client's order (up to ``max_version``); the IANA name of the suite chosen."""
    ca, leaf = pki
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(leaf.cert, leaf.key)
    server.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    server.maximum_version = max_version
    listener = socket.create_server(("127.0.0.1", 0))
    errors = []

    def serve():
        try:
            conn, _ = listener.accept()
            with server.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except Exception as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        context = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile=str(ca.cert))
        sock = usocket.socket()
        sock.settimeout(10)
        sock.connect(("127.0.0.1", listener.getsockname()[1]))
        tls = context.wrap_socket(sock, server_hostname="localhost")
        suite, _version = tls.cipher()
        tls.write(b"x")
        tls.close()
    finally:
        thread.join(10)
        listener.close()
    assert not errors, errors
    return suite


@pytest.mark.parametrize("name", boards.names())
def test_board_preference_reaches_the_tls_layer(name, pki, monkeypatch):
    board = boards.load(name)
    env = env_of(board)
    for var in ("KILN_TLS_CIPHERSUITES", "KILN_TLS_CIPHERS"):
        if var in env:
            monkeypatch.setenv(var, env[var])
        else:
            monkeypatch.delenv(var, raising=False)
    # OpenSSL accepts the board's strings (a Context applies them when it is made).
    first = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT).get_ciphers()[0]
    chacha_first = board.tls_ciphersuites.startswith("TLS_CHACHA20")
    assert first == (CHACHA13 if chacha_first else DEFAULT13)
    assert negotiate(pki, ssl.TLSVersion.TLSv1_3) == (CHACHA13 if chacha_first else DEFAULT13)
    assert negotiate(pki, ssl.TLSVersion.TLSv1_2) == (CHACHA12 if chacha_first else DEFAULT12)


def test_raspberry_pi_boards_prefer_chacha_and_qemu_boards_keep_the_default():
    for name in boards.names():
        board = boards.load(name)
        env = env_of(board)
        if board.sdcard is not None:             # the Raspberry Pi boards: Cortex-A53/A72
            assert env["KILN_TLS_CIPHERSUITES"].split(":")[0] == CHACHA13, name
            assert env["KILN_TLS_CIPHERS"].split(":")[0] == "CHACHA20", name
            assert "chacha_neon" in board.tls_modules, name
        else:
            assert "KILN_TLS_CIPHERSUITES" not in env and "KILN_TLS_CIPHERS" not in env, name


@pytest.mark.parametrize("key,value,message", [
    ("ciphersuites", "TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384", "[tls] ciphersuites is"),
    ("ciphersuites", "AES128", "expected TLS 1.3 suite names"),
    ("ciphers", "HIGH:'$(reboot)'", "[tls] ciphers is"),
    ("ciphers", "", "[tls] ciphers must not be empty"),
    ("modules", ["chacha_neon", ""], "[tls] modules must be a list of non-empty strings"),
    ("curves", "X25519", "[tls] curves is not a known key"),
])
def test_bad_tls_tables_are_named(tmp_path, key, value, message):
    # The board file as it is, its [tls] table replaced by one with the bad key (the other
    # tables -- arrays of tables among them -- stay as written).
    lines = boards.load("qemu-arm").source.read_text().splitlines()
    start = lines.index("[tls]") if "[tls]" in lines else len(lines)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    tls = tomllib.loads("\n".join(lines[start:end])).get("tls", {})
    tls[key] = value

    def toml(v):
        if isinstance(v, list):
            return "[" + ", ".join(toml(i) for i in v) + "]"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return str(v).lower() if isinstance(v, bool) else str(v)
    path = tmp_path / "qemu-arm.toml"
    path.write_text("\n".join(lines[:start] + lines[end:]) + "\n\n[tls]\n"
                    + "".join(f"{k} = {toml(v)}\n" for k, v in tls.items()))
    with pytest.raises(boards.BoardError) as err:
        boards.load_file(path)
    assert message in str(err.value) and str(path) in str(err.value)
