"""TLS under QEMU (issue 19, system tier): one boot per QEMU board serves every check.

The app (``apps/tls/main.py``, MicroPython API) imports ``ssl`` and ``tls``, so its image gets
TLS (OpenSSL, the CA bundle, kernel TLS) from the builder's own decision.  A test CA made at test
time issues the host's server and client certificates, the guest's client certificate and the
board's server certificate; the guest's are written into the app (``tls_material.py``).  In the
lab namespace the host runs an HTTPS server (CPython), a bulk-data TLS server (CPython) and
Debian's Mosquitto on 8883 requiring client certificates, with ``mosquitto_pub``/``_sub`` as the
host's MQTT clients; DNS names come from the lab's dnsmasq.  The guest:

- reads the image's CA bundle and loads it as the default trust;
- GETs over HTTPS, verified with the test CA and the host name; fails on a name the certificate
  lacks (name mismatch) and with the image's bundle alone (unknown CA);
- speaks MQTT over TLS with its client certificate: receives the host's retained message,
  publishes one the host's subscriber receives;
- moves the same random bytes both ways in five TLS modes -- kernel TLS on (TLS 1.3, TLS 1.2
  AES-GCM, TLS 1.2 ChaCha20-Poly1305), switched off, and AES-CBC (which the kernel cannot do) --
  reporting per socket whether the kernel carries each direction;
- serves TLS with Zerynth's ssl, requiring the host's client certificate; the host's CPython
  client verifies the board's certificate by name.

Kernel TLS as OpenSSL 3.0 (Debian 12) uses it with Debian's 6.1 kernels: both directions for
TLS 1.2 AEAD suites, send only for TLS 1.3 (OpenSSL 3.0 does not hand TLS 1.3 receive to the
kernel), none for AES-CBC or when the context switches it off.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import ssl
import time
from dataclasses import dataclass, field

import pytest

from guest import BOOT_TIMEOUT_S, GuestStarter, parse_checks
from image_cache import session_image
from layout import APPS, REPO
from kiln.host.image.artifacts import ImageArtifacts
from kiln.host.runner import netns
from kiln.host.runner.boot import guest_cmdline
from kiln.host.runner.netlab import NetLab
from tls_pki import TestPki
from tls_servers import (BulkServer, HttpsServer, Mosquitto, exchange_with_board, pem_module,
                         server_context)

pytestmark = pytest.mark.system

HOST_NAME = "tls-host.kiln.test"
OTHER_NAME = "tls-other.kiln.test"      # the same host, a name its certificate lacks
BOARD_NAME = "kiln-board.kiln.test"
BULK_BYTES = 2 << 20                   # each way, per mode
MQTT_PORT = 8883
# What ktls() reports per connection (send, receive); see the module docstring.
EXPECTED_KTLS = {"tls13": "1,0", "tls12_gcm": "1,1", "tls12_chacha": "1,1",
                 "tls12_gcm_noktls": "0,0", "tls12_cbc": "0,0"}


def der_digest(pem_path) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem_path.read_text())).hexdigest()


@dataclass
class TlsRun:
    """What one boot of the TLS app produced, on both ends."""

    board: object
    record: ImageArtifacts
    staged_bundle: bytes
    seed: int
    host_address: str
    checks: dict = field(default_factory=dict)          # scenario -> [CHECK dicts]
    transcript: str = ""
    status: int | None = None
    https_body: bytes = b""
    https_requests: list = field(default_factory=list)
    up_data_digest: str = ""
    down_data: bytes = b""
    bulk_sessions: list = field(default_factory=list)
    retained: str = ""
    subscribed: str = ""
    broker_log: str = ""
    board_exchange: dict = field(default_factory=dict)
    board_data: bytes = b""
    certs: dict = field(default_factory=dict)           # name -> sha256 of its DER
    seconds: dict = field(default_factory=dict)

    def one(self, scenario: str) -> dict:
        found = self.checks.get(scenario, [])
        assert len(found) == 1, (scenario, found, self.transcript)
        return found[0]


@pytest.fixture(scope="module")
def tls_run(board, resources, tmp_path_factory) -> TlsRun:
    """Build (or reuse) the board's TLS image, set up the lab's peers, boot once, run the
    host's half of every exchange, and return both ends' records."""
    t0 = time.monotonic()
    work = tmp_path_factory.mktemp(f"tls-{board.name}")
    pki = TestPki(work / "pki")
    guest_client = pki.issue("kiln-guest", server=False, client=True)
    board_server = pki.issue("kiln-board", dns=(BOARD_NAME,))
    host_client = pki.issue("kiln-host", server=False, client=True)

    app = work / "app"
    app.mkdir()
    shutil.copy(APPS / "tls" / "main.py", app / "main.py")
    shutil.copy(APPS / "lab_checks.py", app / "lab_checks.py")
    (app / "tls_material.py").write_text(pem_module(
        CA=pki.ca.cert_pem(), GUEST_CERT=guest_client.cert_pem(),
        GUEST_KEY=guest_client.key_pem(), BOARD_CERT=board_server.cert_pem(),
        BOARD_KEY=board_server.key_pem()))
    out_dir = REPO / "out" / "system-tests" / f"{board.name}-tls"
    image = session_image(board, app, out_dir, work / "boot")
    record = ImageArtifacts.load(out_dir / "build.json")
    staged_bundle = (out_dir / "work/rootfs/etc/ssl/certs/ca-certificates.crt").read_bytes()
    t_built = time.monotonic()

    seed = random.randrange(1, 2**31)
    with NetLab() as lab:
        resources.namespaces.add(lab.name)
        run = TlsRun(board=board, record=record, staged_bundle=staged_bundle, seed=seed,
                     host_address=str(lab.host_address))
        host_server = pki.issue("tls-host", dns=(HOST_NAME,), ips=(str(lab.host_address),))
        run.certs = {name: der_digest(issued.cert) for name, issued in
                     (("host", host_server), ("guest", guest_client), ("board", board_server),
                      ("host_client", host_client))}
        lab.add_dns_record(HOST_NAME, str(lab.host_address))
        lab.add_dns_record(OTHER_NAME, str(lab.host_address))
        context = server_context(pki, host_server)
        run.https_body = os.urandom(40_000)
        https = HttpsServer(lab, context, f"/kiln/{seed}", run.https_body)
        run.down_data = os.urandom(BULK_BYTES)
        bulk = BulkServer(lab, context, run.down_data)
        broker = Mosquitto(lab, pki, host_server, host_client, work, MQTT_PORT)
        starter = GuestStarter(board, image, resources)
        try:
            run.retained = os.urandom(150).hex()
            broker.publish(f"kiln/{seed}/down", run.retained, retain=True)
            subscriber = broker.subscribe(f"kiln/{seed}/up", 1, int(BOOT_TIMEOUT_S) + 300)
            listen_port = 7000 + random.randrange(1000)
            extra = " ".join(f"kiln.{k}={v}" for k, v in {
                "api": "micropython", "test_host": HOST_NAME, "test_other": OTHER_NAME,
                "test_https": https.port, "test_mqtt": MQTT_PORT, "test_bulk": bulk.port,
                "test_listen": listen_port, "test_seed": seed,
                "test_size": BULK_BYTES}.items())
            guest = starter.start(lab, guest_cmdline(image, lab, False, extra))
            t_booted = time.monotonic()
            guest.expect(rf"CHECK server listening={listen_port}", BOOT_TIMEOUT_S + 300)
            t_checks = time.monotonic()
            (lease,) = lab.leases()
            run.board_data = os.urandom(100_000)
            run.board_exchange = exchange_with_board(lab, str(lease.ip), listen_port, pki,
                                                     host_client, BOARD_NAME, run.board_data)
            run.status = guest.wait_exit(120)
            out, err = subscriber.communicate(timeout=60)
            run.subscribed = out.decode(errors="replace") + err.decode(errors="replace")
        finally:
            if starter.started:
                run.transcript = starter.started[-1].transcript.replace("\r", "")
            starter.close_all()
            https.close()
            bulk.close()
            broker.close()
            run.broker_log = broker.log_text()
        run.https_requests = list(https.requests)
        run.bulk_sessions = list(bulk.sessions)
    assert not netns.exists(lab.name)
    for scenario in ("bundle", "https", "https_badname", "https_unknownca", "mqtt", "bulk",
                     "server"):
        run.checks[scenario] = parse_checks(run.transcript, scenario)
    t_end = time.monotonic()
    run.seconds = {"image": round(t_built - t0, 1), "boot": round(t_booted - t_built, 1),
                   "checks": round(t_checks - t_booted, 1), "end": round(t_end - t_checks, 1)}
    return run


def test_the_image_has_tls_because_the_app_imports_it(tls_run):
    assert tls_run.status == 0, tls_run.transcript
    assert tls_run.record.tls, tls_run.record
    assert re.fullmatch(r"the app imports 'ssl' \(main\.py:\d+\) and \d+ more",
                        tls_run.record.tls_reason), tls_run.record.tls_reason


def test_the_images_ca_bundle_is_the_default_trust(tls_run):
    bundle = tls_run.one("bundle")
    assert bundle["sha"] == hashlib.sha256(tls_run.staged_bundle).hexdigest()[:16]
    assert int(bundle["certs"]) == tls_run.staged_bundle.count(b"-----BEGIN CERTIFICATE-----")
    assert int(bundle["certs"]) > 100 and bundle["loaded"] == "1"


def test_https_get_verified_with_the_test_ca_and_the_host_name(tls_run):
    got = tls_run.one("https")
    assert got["status"] == "200", tls_run.transcript
    assert int(got["length"]) == int(got["content_length"]) == len(tls_run.https_body)
    assert got["digest"] == hashlib.sha256(tls_run.https_body).hexdigest()[:16]
    assert got["peer"] == tls_run.certs["host"][:16]
    assert got["version"] == "TLSv1.3"
    # The server answered the verified GET; the two failing handshakes sent no request.
    assert tls_run.https_requests == [("GET", f"/kiln/{tls_run.seed}", HOST_NAME)]


def test_verification_failures_name_their_cause(tls_run):
    badname = tls_run.one("https_badname")
    assert badname == {"error": "SSLCertVerificationError", "cause": "name_mismatch",
                       "valueerror": "1"}
    assert tls_run.one("https_unknownca") == {"error": "SSLCertVerificationError",
                                              "cause": "unknown_CA"}


def test_mqtt_over_tls_to_mosquitto_with_a_client_certificate(tls_run):
    mqtt = tls_run.one("mqtt")
    seed = tls_run.seed
    assert mqtt["connack"] == "0" and mqtt["granted"] == "1", tls_run.broker_log
    assert mqtt["topic"] == f"kiln/{seed}/down" and mqtt["retained"] == "1"
    assert mqtt["received"] == hashlib.sha256(tls_run.retained.encode()).hexdigest()[:16]
    published = f"{seed}:{hashlib.sha256(tls_run.retained.encode()).hexdigest()}"
    assert mqtt["published"] == published
    # The host's subscriber (mosquitto_sub) got exactly what the guest published.
    assert tls_run.subscribed.strip() == f"kiln/{seed}/up {published}", tls_run.subscribed
    # The broker took the guest's identity from its client certificate.
    assert re.search(rf"New client connected from \S+ as kiln-{seed} .*u'kiln-guest'",
                     tls_run.broker_log), tls_run.broker_log


def test_bulk_bytes_are_identical_with_kernel_tls_on_and_off(tls_run):
    bulk = {c["mode"]: c for c in tls_run.checks["bulk"]}
    assert set(bulk) == set(EXPECTED_KTLS), tls_run.transcript
    down = hashlib.sha256(tls_run.down_data).hexdigest()[:16]
    up_digests = {c["up"] for c in bulk.values()}
    assert len(up_digests) == 1                       # the same bytes went up in every mode
    for mode, c in bulk.items():
        assert c["up_at_server"] == c["up"], mode     # and arrived unchanged
        assert int(c["down"]) == BULK_BYTES and c["down_digest"] == down, mode
    sessions = {s.get("mode"): s for s in tls_run.bulk_sessions}
    assert set(sessions) == set(EXPECTED_KTLS), tls_run.bulk_sessions
    for mode, s in sessions.items():
        assert "error" not in s and s["received"] == BULK_BYTES, (mode, s)
        assert s["digest"][:16] == bulk[mode]["up"]
    assert bulk["tls13"]["version"] == "TLSv1.3"
    assert {bulk[m]["version"] for m in EXPECTED_KTLS if m != "tls13"} == {"TLSv1.2"}
    assert bulk["tls12_chacha"]["cipher"] == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    assert bulk["tls12_cbc"]["cipher"] == "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"


def test_kernel_tls_carries_what_the_kernel_and_openssl_offer(tls_run):
    bulk = {c["mode"]: c["ktls"] for c in tls_run.checks["bulk"]}
    assert bulk == EXPECTED_KTLS, tls_run.transcript
    assert tls_run.one("https")["ktls"] == "1,0"        # TLS 1.3 client
    assert tls_run.one("mqtt")["ktls"] == "1,0"
    assert "KILN: insmod" not in tls_run.transcript     # tls.ko and its ciphers loaded


def test_tls_server_on_the_board_with_client_certificates(tls_run):
    host = tls_run.board_exchange
    data = tls_run.board_data
    assert host["board_cert"] == tls_run.certs["board"]
    assert host["digest"] == hashlib.sha256(data).digest()
    assert host["reply"] == data[::-1]
    assert host["version"] == "TLSv1.3"
    served = [c for c in tls_run.checks["server"] if "received" in c]
    assert served == [{"peer": tls_run.host_address, "received": str(len(data)),
                       "digest": hashlib.sha256(data).hexdigest()[:16],
                       "client_cert": tls_run.certs["host_client"][:16], "ktls": "1,0",
                       "cipher": host["cipher"], "version": "TLSv1.3"}]
