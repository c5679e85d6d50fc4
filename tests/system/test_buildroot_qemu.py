"""The offline Buildroot build of the QEMU aarch64 board, booted under QEMU in the network lab.

``kiln buildroot build`` (kiln.host.buildroot.build) builds ``kiln_qemu_aarch64_virt_defconfig``
plus the offline overlay with Buildroot 2026.02.3 -- TLS on, as the defconfig has it: OpenSSL
with kernel TLS, ca-certificates, Python's ssl and Kiln's TLS layer.  The image's app is the probe
(``kiln/host/buildroot/probe_app.py``) with the TLS system test's guest app beside it
(``apps/tls/main.py`` as ``/app/tls_checks/``).  The image -- Debian's kernel, Buildroot's
``rootfs.cpio.zst`` -- boots through the same labgrid place and strategy as every system test,
on a fresh lab (namespace, tap, dnsmasq).  One boot checks both socket faces on the ARM CPU, DHCP
on ``eth``, a DNS answer and a TCP exchange with the host side per face; then the TLS checks of
``test_tls_qemu.py`` against the same host peers (``tls_servers.py``, certificates of a test CA
made now by ``tls_pki.py``, handed to the guest by a plain HTTP file server because they are not
part of the image): an HTTPS GET verified with the test CA and the host name, the two
verification failures, MQTT over TLS to Debian's Mosquitto with a client certificate, the same
random bytes both ways with kernel TLS on and off, and a TLS server on the board (Zerynth's ssl,
client certificate required) reached from the host.

Kernel TLS as Buildroot's OpenSSL 3.6 (built with enable-ktls) uses it with Debian's 6.1 kernel:
both directions for TLS 1.2 and 1.3 AEAD suites (OpenSSL 3.2 and later hand TLS 1.3 receive to
the kernel too; Debian 12's OpenSSL 3.0 does not), none for AES-CBC or when the context switches
it off.

The build is cached per machine (outside the clone): cold ~15-25 minutes on 2 cores, seconds
when nothing changed.  Its timings and sizes are recorded in ``build.json`` next to the image
(docs/performance.md quotes them); nothing here asserts a duration.
"""
from __future__ import annotations

import hashlib
import ipaddress
import os
import random
import re
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kiln import boards, payload
from kiln.host.buildroot import build as br_build, probe_app
from kiln.host.image import cpio, elf
from kiln.host.runner import netns, preflight
from kiln.host.runner.boot import BootImage, guest_cmdline
from kiln.host.runner.netlab import NetLab

from guest import BOOT_TIMEOUT_S, GuestStarter, parse_checks
from lab_checks import reply_for
from layout import APPS
from servers import FileServer, TcpReplyServer
from tls_pki import TestPki
from tls_servers import (BulkServer, HttpsServer, Mosquitto, exchange_with_board, pem_module,
                         server_context)

pytestmark = pytest.mark.system

BOARD = "qemu-aarch64"
PROBE_APP = Path(probe_app.__file__)
PROBE_NAME = "probe.kiln.test"      # answered only by the lab's dnsmasq
# The TLS checks (as test_tls_qemu.py's): the host's names, the board's certificate name.
TLS_HOST = "tls-host.kiln.test"
TLS_OTHER = "tls-other.kiln.test"      # the same host, a name its certificate lacks
BOARD_NAME = "kiln-board.kiln.test"
BULK_BYTES = 512 << 10                 # each way, per mode
MQTT_PORT = 8883
# What ktls() reports per connection (send, receive); see the module docstring.
EXPECTED_KTLS = {"tls13": "1,1", "tls12_gcm": "1,1", "tls12_chacha": "1,1",
                 "tls12_gcm_noktls": "0,0", "tls12_cbc": "0,0"}


def der_digest(pem_path) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text())).hexdigest()


@pytest.fixture(scope="module")
def probe_app_dir(tmp_path_factory) -> Path:
    """The image's app: the probe as main.py, the TLS system test's guest app (and the helpers
    it imports) in ``tls_checks/``.  Fixed content: the certificates come at run time."""
    app = tmp_path_factory.mktemp("buildroot-app")
    shutil.copy(PROBE_APP, app / "main.py")
    (app / "tls_checks").mkdir()
    shutil.copy(APPS / "tls" / "main.py", app / "tls_checks" / "main.py")
    shutil.copy(APPS / "lab_checks.py", app / "tls_checks" / "lab_checks.py")
    return app


@pytest.fixture(scope="module")
def built(probe_app_dir) -> br_build.BuildResult:
    """The offline Buildroot image with the probe app (built, rebuilt or reused)."""
    return br_build.build(BOARD, app=probe_app_dir, log=print)


@pytest.fixture(scope="module")
def image(built, tmp_path_factory) -> BootImage:
    """A private copy of the image (another session may rebuild the cached one)."""
    copy = tmp_path_factory.mktemp("buildroot-image")
    kernel = Path(shutil.copy2(built.kernel, copy / "vmlinuz"))
    initrd = Path(shutil.copy2(built.initrd, copy / Path(built.initrd).name))
    return BootImage(kernel, initrd, built.cmdline)


@pytest.fixture(scope="module")
def rootfs(built) -> dict[str, cpio.Entry]:
    """The image's root file system, from its compressed cpio."""
    return {e.path: e for e in cpio.read_newc(cpio.decompress(Path(built.initrd)))}


def test_image_is_buildroots_with_the_board_side_payload_only(built, rootfs, probe_app_dir):
    assert built.defconfig == "kiln_qemu_aarch64_virt_defconfig"
    assert built.python_version == "3.13"
    site = "usr/lib/python3.13/site-packages"
    extensions = sorted(p for p in rootfs
                        if p.startswith(f"{site}/kiln/net/") and p.endswith(".so"))
    # Every Cython module, the TLS layer included (BR2_PACKAGE_PYTHON_KILN_TLS=y).
    expected = {p.stem for p in (Path(br_build.repo_root()) / "sdk/kiln/net").glob("*.pyx")}
    assert {m.rsplit(".", 1)[1] for m in payload.TLS_MODULES} <= expected
    assert {Path(p).name.split(".")[0] for p in extensions} == expected
    assert all(p.endswith(".cpython-313-aarch64-linux-gnu.so") for p in extensions)
    for package in ("networking", "usocket", "bsp", "driver", "kiln/app"):
        assert any(p.startswith(f"{site}/{package}/") for p in rootfs), package
    assert not any(p.startswith(f"{site}/kiln/host") for p in rootfs)      # host tooling
    assert not any(p.startswith("usr/bin/kiln") for p in rootfs)          # no kiln command
    assert rootfs["etc/kiln/board.toml"].data == boards.load(BOARD).source.read_bytes()
    assert rootfs["etc/kiln/board-name"].data == f"{BOARD}\n".encode()
    init = rootfs["sbin/init"].data
    assert init == (Path(br_build.repo_root()) / "images" / "init").read_bytes()
    modules = rootfs["etc/kiln/modules"].data.decode().split()
    names = [Path(m).name for m in modules]
    assert "virtio_net.ko" in names and names.index("net_failover.ko") < names.index(
        "virtio_net.ko")                                  # dependencies first
    assert all(f"lib/modules/{m}" in rootfs for m in modules)
    assert rootfs["app/main.py"].data == PROBE_APP.read_bytes()
    assert rootfs["app/tls_checks/main.py"].data == (APPS / "tls" / "main.py").read_bytes()
    assert built.initrd_bytes == Path(built.initrd).stat().st_size > 0


def test_image_has_openssl_the_ca_bundle_and_kernel_tls(rootfs):
    """TLS as BR2_PACKAGE_PYTHON_KILN_TLS selects it, with OpenSSL inside the TLS layer
    (BR2_PACKAGE_PYTHON_KILN_TLS_OWN_OPENSSL, the default without Python's ssl and Wi-Fi): no
    libssl/libcrypto and no openssl program on the target, a TLS module that needs neither, the
    CA bundle, and the kernel's tls module with its ciphers in the init's list."""
    libs = {Path(p).name for p in rootfs if p.startswith("usr/lib/lib")}
    assert not [lib for lib in libs if lib.startswith(("libssl.so", "libcrypto.so"))], libs
    assert "usr/bin/openssl" not in rootfs
    (module,) = [p for p in rootfs if re.fullmatch(
        r"usr/lib/python3\.13/site-packages/kiln/net/tls\.cpython-313-.*\.so", p)]
    with tempfile.TemporaryDirectory() as tmp:
        so = Path(tmp) / "tls.so"
        so.write_bytes(rootfs[module].data)
        needed = elf.read(so).needed
    assert not {"libssl.so.3", "libcrypto.so.3"} & set(needed), needed
    assert len(rootfs[module].data) > 1_000_000          # OpenSSL is inside
    bundle = rootfs["etc/ssl/certs/ca-certificates.crt"].data
    assert bundle.count(b"-----BEGIN CERTIFICATE-----") > 100
    assert not any("/lib-dynload/_ssl." in p for p in rootfs)      # BR2_PACKAGE_PYTHON3_SSL off
    assert not any(p.startswith("usr/share/ca-certificates/") for p in rootfs)
    names = [Path(m).name for m in rootfs["etc/kiln/modules"].data.decode().split()]
    # tls.ko and the ciphers it asks for by name (images/recipe.toml [tls]), plus the board
    # file's [tls] drivers, after the board's own modules.
    for ko in ("tls.ko", "gcm.ko", "chacha20poly1305.ko", "ghash-ce.ko", "chacha-neon.ko"):
        assert ko in names, (ko, names)
    assert names.index("virtio_net.ko") < names.index("tls.ko")


@dataclass
class ProbeRun:
    """What the one boot of the Buildroot image produced, on both ends."""

    transcript: str = ""
    status: int | None = None
    found: dict = field(default_factory=dict)          # PROBE lines
    checks: dict = field(default_factory=dict)         # CHECK lines per TLS scenario
    lease_ip: str = ""
    dhcp_range: tuple = ()
    tap: str = ""
    host_address: str = ""
    dnsmasq_log: str = ""
    seed: int = 0
    tcp: dict = field(default_factory=dict)            # face -> (sent, received, peer)
    material_requests: list = field(default_factory=list)
    https_body: bytes = b""
    https_requests: list = field(default_factory=list)
    down_data: bytes = b""
    bulk_sessions: list = field(default_factory=list)
    retained: str = ""
    subscribed: str = ""
    broker_log: str = ""
    board_exchange: dict = field(default_factory=dict)
    board_data: bytes = b""
    certs: dict = field(default_factory=dict)          # name -> sha256 of its DER

    def one(self, scenario: str) -> dict:
        found = self.checks.get(scenario, [])
        assert len(found) == 1, (scenario, found, self.transcript)
        return found[0]


@pytest.fixture(scope="module")
def probe_run(built, image, resources, tmp_path_factory) -> ProbeRun:
    """One boot of the Buildroot image in a fresh lab with every host peer: the probe's TCP
    servers, and the TLS peers (HTTPS, bulk, Mosquitto on 8883) with certificates of a test
    CA made now; the host reaches the board's TLS server when the guest says it listens."""
    board = boards.load(BOARD)
    problems = preflight.problems_for_run(board)
    assert not problems, "host not ready:\n" + "\n".join(problems)
    work = tmp_path_factory.mktemp("buildroot-tls")
    pki = TestPki(work / "pki")
    guest_client = pki.issue("kiln-guest", server=False, client=True)
    board_server = pki.issue("kiln-board", dns=(BOARD_NAME,))
    host_client = pki.issue("kiln-host", server=False, client=True)
    material = pem_module(CA=pki.ca.cert_pem(), GUEST_CERT=guest_client.cert_pem(),
                          GUEST_KEY=guest_client.key_pem(), BOARD_CERT=board_server.cert_pem(),
                          BOARD_KEY=board_server.key_pem()).encode()
    run = ProbeRun(seed=random.randrange(1, 2**31))
    size = 4096
    with NetLab() as lab:
        resources.namespaces.add(lab.name)
        run.host_address = str(lab.host_address)
        host_server = pki.issue("tls-host", dns=(TLS_HOST,), ips=(str(lab.host_address),))
        run.certs = {name: der_digest(issued.cert) for name, issued in
                     (("host", host_server), ("board", board_server),
                      ("host_client", host_client))}
        for name in (PROBE_NAME, TLS_HOST, TLS_OTHER):
            lab.add_dns_record(name, str(lab.host_address))
        files = FileServer(lab, {"tls_material.py": material})
        context = server_context(pki, host_server)
        run.https_body = os.urandom(40_000)
        https = HttpsServer(lab, context, f"/kiln/{run.seed}", run.https_body)
        run.down_data = os.urandom(BULK_BYTES)
        bulk = BulkServer(lab, context, run.down_data)
        broker = Mosquitto(lab, pki, host_server, host_client, work, MQTT_PORT)
        starter = GuestStarter(board, image, resources)
        try:
            run.retained = os.urandom(150).hex()
            broker.publish(f"kiln/{run.seed}/down", run.retained, retain=True)
            subscriber = broker.subscribe(f"kiln/{run.seed}/up", 1, int(BOOT_TIMEOUT_S) + 600)
            servers = {face: TcpReplyServer(lab, size, BOOT_TIMEOUT_S + 120)
                       for face in ("zerynth", "usocket")}
            listen_port = 7000 + random.randrange(1000)
            extra = " ".join(f"kiln.{k}={v}" for k, v in {
                "probe_host": PROBE_NAME, "probe_zport": servers["zerynth"].port,
                "probe_uport": servers["usocket"].port, "probe_seed": run.seed,
                "probe_size": size, "probe_tls": files.port,
                "test_host": TLS_HOST, "test_other": TLS_OTHER, "test_https": https.port,
                "test_mqtt": MQTT_PORT, "test_bulk": bulk.port, "test_listen": listen_port,
                "test_seed": run.seed, "test_size": BULK_BYTES}.items())
            guest = starter.start(lab, guest_cmdline(image, lab, static=False, extra=extra))
            # The probe's TCP exchanges, the HTTPS, MQTT and bulk checks come first; then the
            # board's TLS server says it listens.
            guest.expect(rf"CHECK server listening={listen_port}", BOOT_TIMEOUT_S + 600)
            for face, server in servers.items():
                run.tcp[face] = (probe_app.payload(run.seed, size, face), server.result(),
                                 server.peer)
            (lease,) = lab.leases()
            run.lease_ip = str(lease.ip)
            run.dhcp_range = (lab.addressing.dhcp_first, lab.addressing.dhcp_last)
            run.tap = lab.tap
            run.board_data = os.urandom(100_000)
            run.board_exchange = exchange_with_board(lab, run.lease_ip, listen_port, pki,
                                                     host_client, BOARD_NAME, run.board_data)
            run.status = guest.wait_exit(180)
            out, err = subscriber.communicate(timeout=60)
            run.subscribed = out.decode(errors="replace") + err.decode(errors="replace")
            run.dnsmasq_log = lab.dnsmasq_log()
        finally:
            if starter.started:
                run.transcript = starter.started[-1].transcript.replace("\r", "")
            starter.close_all()
            for server in (files, https, bulk, broker):
                server.close()
            run.broker_log = broker.log_text()
        run.material_requests = list(files.requests)
        run.https_requests = list(https.requests)
        run.bulk_sessions = list(bulk.sessions)
    assert not netns.exists(lab.name)
    run.found = probe_app.parse(run.transcript)
    for scenario in ("bundle", "https", "https_badname", "https_unknownca", "mqtt", "bulk",
                     "server"):
        run.checks[scenario] = parse_checks(run.transcript, scenario)
    return run


def test_offline_buildroot_image_boots_and_passes_the_probe(probe_run):
    run = probe_run
    assert run.status == 0, run.transcript
    found = run.found
    assert "done" in found, run.transcript

    # Both faces are the Cython core Buildroot cross-compiled, running on the ARM CPU.
    platform = found["platform"]
    assert platform["machine"] == "aarch64" and platform["python"] == "3.13"
    assert platform["suffix"] == "cpython-313-aarch64-linux-gnu.so"

    # eth got its address from the lab's dnsmasq; the lab's DNS answered the probe's name.
    network = found["network"]
    assert network["address"] == run.lease_ip
    assert network["resolved"] == run.host_address
    assert run.dhcp_range[0] <= ipaddress.ip_address(run.lease_ip) <= run.dhcp_range[1]
    log = run.dnsmasq_log
    assert f"DHCPACK({run.tap}) {run.lease_ip}" in log and f"query[A] {PROBE_NAME}" in log, log
    assert f"KILN: net dhcp {run.lease_ip}/" in run.transcript

    # A TCP exchange per face, checked on both ends.
    for face, (sent, received, peer) in run.tcp.items():
        assert received == sent, face
        assert peer[0] == run.lease_ip
        assert found[face]["received"] == str(len(sent))
        assert found[face]["digest"] == probe_app.digest(reply_for(sent)), face
    assert found["zerynth"]["type"] == "bytearray"

    # The TLS checks ran (their app exited 0) with the certificates made for this run.
    assert found["tls"] == {"status": "0"}, run.transcript
    assert [(path, status) for _addr, path, status in run.material_requests] == [
        ("/tls_material.py", 200)]


def test_tls_the_images_ca_bundle_is_the_default_trust(probe_run, rootfs):
    bundle = probe_run.one("bundle")
    data = rootfs["etc/ssl/certs/ca-certificates.crt"].data
    assert bundle["sha"] == hashlib.sha256(data).hexdigest()[:16]
    assert int(bundle["certs"]) == data.count(b"-----BEGIN CERTIFICATE-----") > 100
    assert bundle["loaded"] == "1"


def test_tls_https_get_verified_with_the_test_ca_and_the_host_name(probe_run):
    run = probe_run
    got = run.one("https")
    assert got["status"] == "200", run.transcript
    assert int(got["length"]) == int(got["content_length"]) == len(run.https_body)
    assert got["digest"] == hashlib.sha256(run.https_body).hexdigest()[:16]
    assert got["peer"] == run.certs["host"][:16]
    assert got["version"] == "TLSv1.3"
    # The server answered the verified GET; the two failing handshakes sent no request.
    assert run.https_requests == [("GET", f"/kiln/{run.seed}", TLS_HOST)]
    assert run.one("https_badname") == {"error": "SSLCertVerificationError",
                                        "cause": "name_mismatch", "valueerror": "1"}
    assert run.one("https_unknownca") == {"error": "SSLCertVerificationError",
                                          "cause": "unknown_CA"}


def test_tls_mqtt_to_mosquitto_with_a_client_certificate(probe_run):
    run = probe_run
    mqtt = run.one("mqtt")
    assert mqtt["connack"] == "0" and mqtt["granted"] == "1", run.broker_log
    assert mqtt["topic"] == f"kiln/{run.seed}/down" and mqtt["retained"] == "1"
    assert mqtt["received"] == hashlib.sha256(run.retained.encode()).hexdigest()[:16]
    published = f"{run.seed}:{hashlib.sha256(run.retained.encode()).hexdigest()}"
    assert mqtt["published"] == published
    assert run.subscribed.strip() == f"kiln/{run.seed}/up {published}", run.subscribed
    assert re.search(rf"New client connected from \S+ as kiln-{run.seed} .*u'kiln-guest'",
                     run.broker_log), run.broker_log


def test_tls_bulk_bytes_identical_and_kernel_tls_as_openssl_3_6_offers_it(probe_run):
    run = probe_run
    bulk = {c["mode"]: c for c in run.checks["bulk"]}
    assert set(bulk) == set(EXPECTED_KTLS), run.transcript
    down = hashlib.sha256(run.down_data).hexdigest()[:16]
    assert len({c["up"] for c in bulk.values()}) == 1     # the same bytes up in every mode
    for mode, c in bulk.items():
        assert c["up_at_server"] == c["up"], mode
        assert int(c["down"]) == BULK_BYTES and c["down_digest"] == down, mode
    sessions = {s.get("mode"): s for s in run.bulk_sessions}
    assert set(sessions) == set(EXPECTED_KTLS), run.bulk_sessions
    for mode, s in sessions.items():
        assert "error" not in s and s["received"] == BULK_BYTES, (mode, s)
        assert s["digest"][:16] == bulk[mode]["up"]
    assert bulk["tls13"]["version"] == "TLSv1.3"
    assert {bulk[m]["version"] for m in EXPECTED_KTLS if m != "tls13"} == {"TLSv1.2"}
    assert bulk["tls12_chacha"]["cipher"] == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    assert bulk["tls12_cbc"]["cipher"] == "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
    # Kernel TLS: what each connection reports, the TLS 1.3 ones included.
    assert {m: c["ktls"] for m, c in bulk.items()} == EXPECTED_KTLS, run.transcript
    assert run.one("https")["ktls"] == EXPECTED_KTLS["tls13"]
    assert run.one("mqtt")["ktls"] == EXPECTED_KTLS["tls13"]
    assert "KILN: insmod" not in run.transcript           # tls.ko and its ciphers loaded


def test_tls_server_on_the_board_reached_from_the_host(probe_run):
    run = probe_run
    host = run.board_exchange
    data = run.board_data
    assert host["board_cert"] == run.certs["board"]
    assert host["digest"] == hashlib.sha256(data).digest()
    assert host["reply"] == data[::-1]
    assert host["version"] == "TLSv1.3"
    served = [c for c in run.checks["server"] if "received" in c]
    assert served == [{"peer": run.host_address, "received": str(len(data)),
                       "digest": hashlib.sha256(data).hexdigest()[:16],
                       "client_cert": run.certs["host_client"][:16],
                       "ktls": EXPECTED_KTLS["tls13"], "cipher": host["cipher"],
                       "version": "TLSv1.3"}]


def test_build_is_reused_when_nothing_changed(built, probe_app_dir):
    again = br_build.build(BOARD, app=probe_app_dir, log=None)
    assert again.kind == "reused"
    assert again.config_key == built.config_key and again.kiln_key == built.kiln_key
    assert Path(again.initrd).stat().st_size == built.initrd_bytes


def test_probe_app_fails_loudly_off_target(tmp_path):
    """The probe is a real check: without Kiln's image around it, it fails (status != 0)."""
    run = subprocess.run(["python3", str(PROBE_APP)], capture_output=True, text=True,
                         cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode != 0
