"""Guest side of the TLS system test (tests/system/test_tls_qemu.py): one boot, every check.

Runs with ``kiln.api=micropython`` (``import socket`` is usocket, ``import ssl`` MicroPython's
ssl, ``import tls`` its tls), and uses Zerynth's ssl (``kiln.net.zssl``, what ``import ssl`` is
under ``--api zerynth``) for the TLS server on the board.  ``tls_material.py`` beside it holds
the test CA, the guest's client certificate and the board's server certificate (PEM), written
by the test at test time; ``lab_checks.py`` the shared helpers.

Kernel arguments: ``kiln.test_host`` (the lab host's DNS name: HTTPS, MQTT and bulk servers),
``kiln.test_other`` (another name of the same host, absent from its certificate),
``kiln.test_https``, ``kiln.test_mqtt``, ``kiln.test_bulk`` (their ports), ``kiln.test_listen``
(the board's TLS server port), ``kiln.test_seed``, ``kiln.test_size`` (bytes each way per bulk
transfer).  Prints ``CHECK <scenario> key=value`` lines in this order: bundle, https,
https_badname, https_unknownca, mqtt, bulk (one per mode), server; any failure raises (non-zero
exit status, traceback on the console).
"""
import hashlib
import os
import time

import socket                     # usocket
import ssl                        # MicroPython's ssl (micropython-lib style)
import tls                        # MicroPython's tls

import tls_material
from lab_checks import check, kernel_args

ARGS = kernel_args(open("/proc/cmdline").read())
HOST = ARGS["test_host"]
SEED = int(ARGS["test_seed"])


def hexdigest(data):
    return hashlib.sha256(bytes(data)).hexdigest()


def connect(host, port):
    """A connected usocket to ``host`` (resolved through the lab's DNS) with a timeout."""
    addr = socket.getaddrinfo(host, port)[0][-1]
    s = socket.socket()
    s.settimeout(60)
    s.connect(addr)
    return s


def cause(exc):
    """The cause Kiln's TLS layer names in a failed verification, e.g. ``name_mismatch``."""
    text = str(exc)
    mark = "certificate verify failed ("
    if mark in text:
        return text.split(mark, 1)[1].split(")", 1)[0].replace(" ", "_")
    return "none"


def ktls_text(sock):
    send, recv = sock.ktls()
    return "%d,%d" % (send, recv)


# ---- the image's CA bundle --------------------------------------------------------------------

def check_bundle():
    from kiln.net import tls as layer
    with open(layer.DEFAULT_CA_BUNDLE, "rb") as f:
        data = f.read()
    context = layer.Context(False)
    context.load_default_certs()
    check("bundle", sha=hexdigest(data)[:16], certs=data.count(b"-----BEGIN CERTIFICATE-----"),
          loaded=int(context.has_ca))


# ---- HTTPS GET with the tls module -------------------------------------------------------------

def https_get(host, path, cadata):
    """GET ``path`` over HTTPS from ``host`` (verified: the test CA, or the image's bundle when
    ``cadata`` is None); returns (status line, headers, body, socket facts)."""
    context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    if cadata is not None:
        context.load_verify_locations(cadata=cadata)
    s = connect(host, int(ARGS["test_https"]))
    t = context.wrap_socket(s, server_hostname=host)
    facts = {"cipher": t.cipher()[0], "version": t.cipher()[1], "ktls": ktls_text(t),
             "peer": hexdigest(t.getpeercert(True))[:16]}
    t.write(b"GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path.encode(), host.encode()))
    response = t.read()
    t.close()
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], headers, body, facts


def check_https():
    path = "/kiln/%d" % SEED
    status, headers, body, facts = https_get(HOST, path, tls_material.CA)
    check("https", status=status.split()[1], length=len(body),
          content_length=headers.get("Content-Length"), digest=hexdigest(body)[:16], **facts)
    try:
        https_get(ARGS["test_other"], path, tls_material.CA)
    except Exception as exc:
        check("https_badname", error=type(exc).__name__, cause=cause(exc),
              valueerror=int(isinstance(exc, ValueError)))
    else:
        check("https_badname", error="none")
    try:
        https_get(HOST, path, None)           # the image's CA bundle does not know the test CA
    except Exception as exc:
        check("https_unknownca", error=type(exc).__name__, cause=cause(exc))
    else:
        check("https_unknownca", error="none")


# ---- MQTT over TLS with a client certificate, with the ssl module -------------------------------
# A minimal MQTT 3.1.1 client (CONNECT, SUBSCRIBE, PUBLISH QoS 1, DISCONNECT) on the TLS stream;
# micropython-lib's umqtt.simple speaks the same packets.

def _remaining(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text):
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def mqtt_send(t, kind, body):
    t.write(bytes([kind]) + _remaining(len(body)) + body)


def mqtt_recv(t):
    """One packet: (type byte, body)."""
    kind = t.read(1)[0]
    n, shift = 0, 0
    while True:
        byte = t.read(1)[0]
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return kind, t.read(n) if n else b""


def check_mqtt():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=tls_material.CA)
    context.load_cert_chain(tls_material.GUEST_CERT, tls_material.GUEST_KEY)
    t = context.wrap_socket(connect(HOST, int(ARGS["test_mqtt"])), server_hostname=HOST)
    client_id = "kiln-%d" % SEED
    mqtt_send(t, 0x10, _string("MQTT") + bytes([4, 0x02]) + (60).to_bytes(2, "big")
              + _string(client_id))
    kind, body = mqtt_recv(t)
    assert kind == 0x20 and len(body) == 2, (kind, body)
    connack = body[1]
    down, up = "kiln/%d/down" % SEED, "kiln/%d/up" % SEED
    mqtt_send(t, 0x82, (1).to_bytes(2, "big") + _string(down) + bytes([1]))
    kind, body = mqtt_recv(t)
    assert kind == 0x90 and body[:2] == b"\x00\x01", (kind, body)
    granted = body[2]
    # The retained message the host published before the boot arrives on subscription.
    kind, body = mqtt_recv(t)
    assert kind >> 4 == 3, (kind, body)
    qos, retained = (kind >> 1) & 3, kind & 1
    topic_len = int.from_bytes(body[:2], "big")
    topic = body[2:2 + topic_len].decode()
    rest = body[2 + topic_len:]
    if qos:
        mqtt_send(t, 0x40, rest[:2])          # PUBACK
        rest = rest[2:]
    payload = ("%d:" % SEED + hexdigest(rest)).encode()
    mqtt_send(t, 0x32, _string(up) + (2).to_bytes(2, "big") + payload)
    kind, body = mqtt_recv(t)
    assert kind == 0x40 and body == b"\x00\x02", (kind, body)
    mqtt_send(t, 0xE0, b"")
    check("mqtt", connack=connack, granted=granted, topic=topic, retained=retained,
          received=hexdigest(rest)[:16], published=payload.decode(), ktls=ktls_text(t),
          cipher=t.cipher()[0])
    t.close()


# ---- bulk data both ways, kernel TLS on and off -------------------------------------------------
# Each mode sends the same random bytes up and receives the server's same random bytes down, so
# every mode must report the same digests.  Modes: TLS 1.3 (kernel TLS sends; OpenSSL 3.0 does not
# hand TLS 1.3 receive to the kernel), TLS 1.2 AES-GCM and ChaCha20-Poly1305 (both directions in
# the kernel), the same AES-GCM with kernel TLS switched off in the context, and AES-CBC, which
# the kernel cannot do (OpenSSL keeps it).

MODES = [
    ("tls13", None, True),
    ("tls12_gcm", ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"], True),
    ("tls12_chacha", ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"], True),
    ("tls12_gcm_noktls", ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"], False),
    ("tls12_cbc", ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"], True),
]


def bulk(mode, ciphers, ktls, up_data, down_size):
    context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=tls_material.CA)
    if ciphers:
        context.set_ciphers(ciphers)          # TLS 1.2 suites only: TLS 1.3 is switched off
    if not ktls:
        context.ktls = False                  # Kiln extension: no kernel TLS for this context
    t = context.wrap_socket(connect(HOST, int(ARGS["test_bulk"])), server_hostname=HOST)
    start = time.monotonic()
    t.write(b"BULK %s %d %d\n" % (mode.encode(), len(up_data), down_size))
    view = memoryview(up_data)
    for i in range(0, len(up_data), 65536):
        t.write(view[i:i + 65536])
    server_digest = t.read(32)
    h = hashlib.sha256()
    buf = bytearray(65536)
    got = 0
    while got < down_size:
        n = t.readinto(buf, min(len(buf), down_size - got))
        if not n:
            break
        h.update(memoryview(buf)[:n])
        got += n
    seconds = time.monotonic() - start
    check("bulk", mode=mode, cipher=t.cipher()[0], version=t.cipher()[1], ktls=ktls_text(t),
          up=hexdigest(up_data)[:16], up_at_server=server_digest.hex()[:16], down=got,
          down_digest=h.hexdigest()[:16], seconds="%.2f" % seconds)
    t.close()


def check_bulk():
    size = int(ARGS["test_size"])
    up_data = os.urandom(size)
    for mode, ciphers, ktls in MODES:
        bulk(mode, ciphers, ktls, up_data, size)


# ---- a TLS server on the board (Zerynth's ssl), client certificate required --------------------

def check_server():
    from kiln.net import zssl
    from networking import socket as zsocket
    port = int(ARGS["test_listen"])
    ctx = zssl.create_ssl_context(cacert=tls_material.CA, clicert=tls_material.BOARD_CERT,
                                  pkey=tls_material.BOARD_KEY,
                                  options=zssl.CERT_REQUIRED | zssl.CLIENT_AUTH)
    server = zssl.sslsocket(ctx=ctx)
    server.setsockopt(zsocket.SOL_SOCKET, zsocket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(1)
    check("server", listening=port)
    conn, address = server.accept()           # the handshake runs here, the peer's cert checked
    conn.settimeout(60000)                    # Zerynth: milliseconds
    size = int.from_bytes(conn.recv(4), "big")  # Zerynth's recv(n) waits for n bytes
    data = conn.recv(size)
    conn.sendall(hashlib.sha256(data).digest() + bytes(data)[::-1])
    check("server", peer=address[0], received=len(data), digest=hexdigest(data)[:16],
          client_cert=hexdigest(conn.getpeercert())[:16], ktls=ktls_text(conn),
          cipher=conn.cipher()[0], version=conn.cipher()[2])
    conn.close()
    server.close()


check_bundle()
check_https()
check_mqtt()
check_bulk()
check_server()
