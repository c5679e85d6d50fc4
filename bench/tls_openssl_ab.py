#!/usr/bin/env python3
"""Kiln's own OpenSSL vs Debian's, under the same TLS code: handshakes/s and bulk MiB/s.

A TLS image carries one of two OpenSSLs (docs/tls.md, "Which OpenSSL"): Kiln's own (OpenSSL
3.6.3 configured with images/openssl.options, compiled for size, linked inside kiln.net.tls)
when nothing else in the image uses OpenSSL, or Debian's libssl3 (OpenSSL 3.0, -O2) when
something does.  This bench builds (or reuses, in ``out/bench/tls-ab/``) two qemu-aarch64
images that differ only in that -- an app importing MicroPython's ``tls`` (Kiln's own), the same
app also importing ``ssl`` (CPython's ``_ssl`` keeps Debian's) -- and runs the same client
through each image's own Python and Kiln's TLS layer under qemu-user (the board's CPU emulated,
the syscalls the host's), alternating the two per round, against one host server (CPython's
``ssl``, TLS 1.3, ECDSA P-256 or RSA-2048 certificate, the test CA verified by the client):

  hs.ecdsa / hs.rsa   full handshakes/s (no resumption), verify + name check, close
  bulk.recv           MiB/s the client reads (kernel TLS off: OpenSSL's record layer)

The rates are measured inside the client (its own clock around the loop), so interpreter
start-up is not in them.  Medians over the rounds and the ratio own/Debian.

Usage: .venv/bin/python bench/tls_openssl_ab.py [--rounds 5] [--handshakes 40] [--mib 8]
"""
from __future__ import annotations

import argparse
import os
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sdk"))
sys.path.insert(0, str(ROOT / "tests"))

from kiln import boards  # noqa: E402
from kiln.host import image  # noqa: E402
from kiln.host.image import cpio, qemu_user  # noqa: E402
from tls_pki import make_pki  # noqa: E402

BOARD = "qemu-aarch64"
OUT = ROOT / "out" / "bench" / "tls-ab"
APPS = {"own": "import tls\nprint(tls.PROTOCOL_TLS_CLIENT)\n",
        "debian": "import ssl\nimport tls\nprint(tls.PROTOCOL_TLS_CLIENT)\n"}
CLIENT = """
import sys, time
from kiln.net import usocket, utls
mode, port, count, ca = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(cafile=ca)
def connect():
    s = usocket.socket()
    s.settimeout(120)
    s.connect(("127.0.0.1", port))
    return ctx.wrap_socket(s, server_hostname="localhost")
if mode == "hs":
    connect().close()                       # warm-up
    t0 = time.perf_counter()
    for _ in range(count):
        connect().close()
    print(count / (time.perf_counter() - t0))
else:
    ctx.ktls = False
    t = connect()
    buf = bytearray(65536)
    t.readinto(buf)
    total, t0 = 0, time.perf_counter()
    while total < count << 20:
        n = t.readinto(buf)
        if not n:
            break
        total += n
    print(total / (1 << 20) / (time.perf_counter() - t0))
    t.close()
"""


def image_root(variant: str, tmp: Path) -> Path:
    app = tmp / f"{variant}.py"
    app.write_text(APPS[variant])
    arts = image.ensure(BOARD, app=app, out_dir=OUT / variant, progress=False)
    root = tmp / f"root-{variant}"
    cpio.extract(cpio.read_newc(cpio.decompress(arts.initrd)), root)
    return root


class Server:
    """CPython's ssl on loopback: handshakes and closes (``hs``), or streams data (``bulk``)."""

    def __init__(self, cert: str, key: str, bulk: bool) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.bulk = bulk
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        chunk = os.urandom(1 << 16)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    if self.bulk:
                        while True:
                            tls.sendall(chunk)
                    else:
                        tls.recv(1)         # the client's close_notify or EOF
            except (OSError, ssl.SSLError):
                pass

    def close(self) -> None:
        self.sock.close()


def run_client(root: Path, mode: str, port: int, count: int, ca: str) -> float:
    board = boards.load(BOARD)
    result = qemu_user.run_python(root, board.qemu_user, board.triplet, "python3.11",
                                  ["-c", CLIENT, mode, str(port), str(count), ca], timeout=900)
    if result.returncode != 0:
        raise SystemExit(f"client failed under {root.name}:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--handshakes", type=int, default=40)
    p.add_argument("--mib", type=int, default=8)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        roots = {v: image_root(v, tmp) for v in APPS}
        (tmp / "pki").mkdir()
        pki = make_pki(tmp / "pki")
        servers = {name: Server(pki.chain(cert), pki.key(cert), bulk) for name, cert, bulk in (
            ("hs.ecdsa", "server-ec", False), ("hs.rsa", "server-rsa", False),
            ("bulk.recv", "server-ec", True))}
        results: dict[tuple[str, str], list[float]] = {}
        for rnd in range(args.rounds):
            order = list(APPS) if rnd % 2 == 0 else list(reversed(APPS))
            for what, server in servers.items():
                mode = "bulk" if what.startswith("bulk") else "hs"
                count = args.mib if mode == "bulk" else args.handshakes
                for variant in order:
                    rate = run_client(roots[variant], mode, server.port, count, pki.ca)
                    results.setdefault((what, variant), []).append(rate)
                    print(f"round {rnd + 1} {what:9} {variant:6} {rate:8.2f}", flush=True)
        for server in servers.values():
            server.close()
    print(f"\n{BOARD} under {boards.load(BOARD).qemu_user}, {args.rounds} rounds, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| measurement | Kiln's own OpenSSL (3.6.3, -Os, inside) | Debian's libssl3 (3.0) | "
          "own / Debian |")
    print("|---|---:|---:|---:|")
    for what in servers:
        own = statistics.median(results[(what, "own")])
        deb = statistics.median(results[(what, "debian")])
        unit = "MiB/s" if what.startswith("bulk") else "/s"
        print(f"| {what} ({unit}) | {own:.2f} | {deb:.2f} | {own / deb:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
