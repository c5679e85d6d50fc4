"""An image whose app imports ``ssl`` carries TLS (the recipe's ``[tls]`` part): builds a real
qemu-aarch64 image with such an app (warm caches: well under a minute) and checks the decision
and its reason, OpenSSL linked from the target's packages, the CA bundle as Debian's
ca-certificates would make it, kernel TLS loaded at boot, and a TLS handshake of the image's
own Python and OpenSSL (under qemu-user) with a CPython server on loopback.
"""
from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from kiln import boards
from kiln.host import image
from kiln.host.image import cabundle, cpio, elf, qemu_user
from kiln.host.image.layout import out_root
from tls_pki import TestPki

BOARD = "qemu-aarch64"
APP = "# TLS image test\nimport ssl\n\nprint(ssl.OPENSSL_VERSION)\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tls-app") / "main.py"
    path.write_text(APP)
    return path


@pytest.fixture(scope="module")
def artifacts(app):
    return image.ensure(BOARD, app=app, out_dir=out_root() / "test-image" / f"{BOARD}-tls",
                        progress=True)


@pytest.fixture(scope="module")
def members(artifacts):
    return {e.path: e for e in cpio.read_newc(cpio.decompress(artifacts.initrd))}


@pytest.fixture(scope="module")
def unpacked(members, tmp_path_factory):
    root = tmp_path_factory.mktemp("tls-image-root")
    cpio.extract(members.values(), root)
    return root


def run_target(root: Path, code: str):
    board = boards.load(BOARD)
    return qemu_user.run_python(root, board.qemu_user, board.triplet, "python3.11", ["-c", code])


def test_the_apps_import_decides_and_the_reason_is_recorded(artifacts):
    assert artifacts.tls
    assert artifacts.tls_reason == "the app imports 'ssl' (main.py:2)"
    assert "tls          yes (the app imports 'ssl' (main.py:2))" in artifacts.summary()
    assert any(p.startswith("ca-certificates=") for p in artifacts.packages)
    assert not any(p.startswith("openssl=") for p in artifacts.packages)  # no CLI, no rehash


def test_tls_layer_links_the_images_openssl(artifacts, unpacked):
    site = unpacked / "usr/lib/python3/dist-packages"
    (so,) = site.glob("kiln/net/tls.cpython-311-aarch64-linux-gnu.so")
    info = elf.read(so)
    assert info.machine == "aarch64"
    assert {"libssl.so.3", "libcrypto.so.3"} <= set(info.needed)
    for lib in ("libssl.so.3", "libcrypto.so.3"):
        assert elf.read(unpacked / "usr/lib/aarch64-linux-gnu" / lib).machine == "aarch64"
    assert "/usr/lib/python3/dist-packages/kiln/net/tls.cpython-311-aarch64-linux-gnu.so" in \
        artifacts.kiln_extensions
    # OpenSSL's default provider is built into libcrypto: the pruned module dirs are not needed.
    assert not list(unpacked.glob("usr/lib/*/ossl-modules")) and \
        not list(unpacked.glob("usr/lib/*/engines-3"))


def test_ca_bundle_is_every_certificate_of_ca_certificates(artifacts, unpacked, tmp_path):
    from kiln.net import tls
    assert tls.DEFAULT_CA_BUNDLE == "/" + cabundle.BUNDLE
    (pkg,) = [p for p in artifacts.packages if p.startswith("ca-certificates=")]
    version = pkg.split("=", 1)[1].replace(":", "%3a")
    (deb,) = (out_root() / "cache/debs/arm64").glob(f"ca-certificates_{version}_all.deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    certs = sorted((tmp_path / "usr/share/ca-certificates").rglob("*.crt"),
                   key=lambda p: p.relative_to(tmp_path).as_posix().encode())
    assert len(certs) > 100
    expected = b"".join(c.read_bytes() if c.read_bytes().endswith(b"\n")
                        else c.read_bytes() + b"\n" for c in certs)
    bundle = unpacked / cabundle.BUNDLE
    assert bundle.read_bytes() == expected
    store = ssl.create_default_context(cafile=str(bundle))
    assert store.cert_store_stats()["x509_ca"] == len(certs)
    assert not (unpacked / "usr/share/ca-certificates").exists()   # pruned after bundling


def test_kernel_tls_and_its_ciphers_load_at_boot(members):
    board = boards.load(BOARD)
    names = [Path(p).name.split(".ko")[0].replace("-", "_")
             for p in members["etc/kiln/modules"].data.decode().split()]
    for module in ("tls", "gcm", "ghash_generic", "ctr", "chacha20poly1305", "chacha_generic",
                   "poly1305_generic", *board.tls_modules):
        assert module in names, module
    # Dependencies first; the board's own modules, then its CPU's TLS ciphers.
    assert names.index("gf128mul") < names.index("ghash_generic")
    assert names.index("libchacha") < names.index("chacha_generic")
    assert names.index(board.kernel_modules[-1]) < names.index(board.tls_modules[0])


def test_images_python_and_openssl_do_a_verified_handshake(unpacked, tmp_path):
    """The image's own interpreter, Kiln's cross-built TLS layer and the image's libssl (under
    qemu-user, which runs syscalls on the host) against a CPython server on loopback."""
    pki = TestPki(tmp_path / "pki")
    leaf = pki.issue("localhost", dns=("localhost",))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(leaf.cert, leaf.key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(120)
    received = []

    def serve():
        conn, _ = listener.accept()
        with server.wrap_socket(conn, server_side=True) as tls:
            received.append(tls.recv(64))
            tls.sendall(b"pong " + received[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    code = f"""
from kiln.net import ussl, usocket, utls
ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(cafile={str(pki.ca.cert)!r})
s = usocket.socket()
s.settimeout(60)
s.connect(("127.0.0.1", {listener.getsockname()[1]}))
t = ctx.wrap_socket(s, server_hostname="localhost")
t.write(b"ping")
print(t.read(9), t.cipher(), ussl.OPENSSL_VERSION)
t.close()
"""
    try:
        result = run_target(unpacked, code)
    finally:
        thread.join(30)
        listener.close()
    assert result.returncode == 0, result.stderr
    assert received == [b"ping"]
    assert result.stdout.startswith("b'pong ping' ('TLS_AES_256_GCM_SHA384', 'TLSv1.3') "
                                    "OpenSSL 3.0."), result.stdout
