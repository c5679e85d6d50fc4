"""An image whose app imports ``ssl`` carries TLS (the recipe's ``[tls]`` part): builds a real
qemu-aarch64 image with such an app (warm caches: well under a minute) and checks the decision
and its reason, OpenSSL linked from the target's packages, the CA bundle as Debian's
ca-certificates would make it, kernel TLS loaded at boot, and a TLS handshake of the image's
own Python and OpenSSL (under qemu-user) with a CPython server on loopback.

That app's ``import ssl`` also keeps CPython's ``_ssl``, so the image shares Debian's libssl3.
A second image, whose app uses only Kiln's TLS (MicroPython's ``tls``), carries Kiln's own
OpenSSL inside the TLS module instead (:mod:`kiln.host.image.openssl`): no Debian libssl, the
same handshake, and TLS 1.2 / ChaCha20-Poly1305 / client-certificate checks of what the
recipe kept.
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


OWN_APP = "# Kiln's TLS only\nimport tls\n\nprint(tls.PROTOCOL_TLS_CLIENT)\n"


@pytest.fixture(scope="module")
def own_root(tmp_path_factory):
    """The unpacked image of an app that imports only MicroPython's ``tls``."""
    path = tmp_path_factory.mktemp("own-openssl-app") / "main.py"
    path.write_text(OWN_APP)
    arts = image.ensure(BOARD, app=path, out_dir=out_root() / "test-image" / f"{BOARD}-own-tls",
                        progress=True)
    assert arts.tls
    root = tmp_path_factory.mktemp("own-openssl-root")
    cpio.extract(cpio.read_newc(cpio.decompress(arts.initrd)), root)
    return root


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


def test_openssl_is_shared_with_cpythons_ssl(unpacked):
    """The ``ssl`` app keeps CPython's ``_ssl``, a second user of Debian's libssl3: one copy."""
    from kiln.host.image import openssl
    (so,) = unpacked.glob("usr/lib/python3/dist-packages/kiln/net/tls.*.so")
    users = openssl.users(unpacked, "aarch64-linux-gnu", [so])
    assert any("/lib-dynload/_ssl." in u for u in users), users


def test_kilns_own_openssl_is_inside_the_tls_module_when_nothing_else_needs_one(own_root):
    from kiln.host.image import openssl
    (so,) = own_root.glob("usr/lib/python3/dist-packages/kiln/net/tls.cpython-311-*.so")
    info = elf.read(so)
    assert info.machine == "aarch64"
    assert not {"libssl.so.3", "libcrypto.so.3"} & set(info.needed), info.needed
    assert not list(own_root.rglob("libssl.so*")) and not list(own_root.rglob("libcrypto.so*"))
    assert openssl.users(own_root, "aarch64-linux-gnu", [so]) == []
    # OpenSSL's symbols stay inside the module (a CPython _ssl loaded beside it keeps its own).
    exported = subprocess.run(["aarch64-linux-gnu-nm", "-D", "--defined-only", str(so)],
                              capture_output=True, text=True, check=True).stdout
    assert "SSL_new" not in exported and "EVP_" not in exported
    assert "PyInit_tls" in exported


def test_kilns_own_openssl_handshakes_with_what_the_recipe_kept(own_root, tmp_path):
    """TLS 1.3 and TLS 1.2 with ChaCha20-Poly1305, ECDSA certificates both ways (the server
    requires the board's), against CPython servers, under qemu-user; OpenSSL's version is the
    recipe's source."""
    pki = TestPki(tmp_path / "pki")
    leaf = pki.issue("localhost", dns=("localhost",))
    client = pki.issue("board", client=True)
    ports, threads, listeners = [], [], []
    for version, ciphers in ((ssl.TLSVersion.TLSv1_3, None),
                             (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-CHACHA20-POLY1305:"
                                                      "ECDHE-RSA-CHACHA20-POLY1305")):
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(leaf.cert, leaf.key)
        server.load_verify_locations(pki.ca.cert)
        server.verify_mode = ssl.CERT_REQUIRED
        server.minimum_version = server.maximum_version = version
        if ciphers:
            server.set_ciphers(ciphers)
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(120)

        def serve(listener=listener, server=server):
            conn, _ = listener.accept()
            with server.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"peer " + tls.getpeercert()["subject"][0][0][1].encode())

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        ports.append(listener.getsockname()[1])
        threads.append(thread)
        listeners.append(listener)
    code = f"""
from kiln.net import usocket, utls, ussl
for port in {ports!r}:
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile={str(pki.ca.cert)!r})
    ctx.load_cert_chain({str(client.cert)!r}, {str(client.key)!r})
    s = usocket.socket()
    s.settimeout(60)
    s.connect(("127.0.0.1", port))
    t = ctx.wrap_socket(s, server_hostname="localhost")
    print(t.read(10), t.cipher())
    t.close()
print(ussl.OPENSSL_VERSION)
"""
    try:
        result = run_target(own_root, code)
    finally:
        for thread in threads:
            thread.join(30)
        for listener in listeners:
            listener.close()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "b'peer board' ('TLS_AES_256_GCM_SHA384', 'TLSv1.3')", lines
    assert lines[1] == ("b'peer board' ('TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', "
                        "'TLSv1.2')"), lines
    assert lines[2].startswith("OpenSSL 3.6.3 "), lines


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
