"""Issue #18 under QEMU: programs as MicroPython and Zerynth users write them, on every
initramfs QEMU board (qemu-aarch64, qemu-arm), all in ONE boot per board.

The image's app is the directory ``apps/programs/`` copied whole (the builder's rules: packages,
``lib/``, data files).  Its ``main.py`` runs the checks of ``checks/common/`` and
``checks/<face>/`` under each API face of the launcher and prints ``CHECK <face>.<check> ok
k=v ...`` or ``CHECK <face>.<check> FAIL <reason>`` (``apps/programs/harness``).  Then it runs
Zerynth's published examples (``EXAMPLES``), unmodified, each as the app of a board whose
network it owns (``apps/programs/harness/examples.py``): their output on the console as
``EXAMPLE <name> | <line>``, then ``CHECK example.<name> ok ...``.  The ``programs`` fixture
boots the image once per board in a network lab, answers the checks' ``event`` lines through
the host-side :class:`Peer` registered for them, and collects the results; each test below
asserts on the results of one check, on what the host observed, or on every check at once.

Adding a check (one boot still serves all of them):

1. a module ``apps/programs/checks/<common|zerynth|micropython|cpython>/<name>.py`` with
   ``run(ctx)`` (raise on failure; return facts for the host; ``ctx.args`` holds the
   ``kiln.test_*`` kernel arguments, ``ctx.event(what, **facts)`` asks the host to act);
   libraries it needs go in ``apps/programs/lib/`` as ``mip`` would install them;
2. if the host must serve, observe or act: a :class:`Peer` subclass appended to ``PEERS``
   (started in the lab before the boot, its kernel arguments on the command line);
3. a test here asserting on ``programs.result("<face>.<name>")`` (and the peer's
   observations).  ``test_every_check_passed`` already fails on any ``FAIL`` line.
"""
from __future__ import annotations

import ast
import dataclasses
import datetime
import hashlib
import json
import random
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

import mosquitto
from guest import GuestStarter
from image_cache import session_image
from layout import APPS, REPO
from servers import (EXCHANGE_OWN, EXCHANGE_REPLY_HEAD, ExchangeServer, FileServer, JsonHTTP,
                     NtpResponder, UpperLineServer, connect_to_guest, exchange_as_client)
from test_zerynth_apps import HOST as ZERYNTH_HOST, INDEX as ZERYNTH_INDEX, http_server
from kiln.host.image.appdir import load as load_app
from kiln.host.image.artifacts import ImageArtifacts
from kiln.host.runner import netns
from kiln.host.runner.boot import guest_cmdline
from kiln.host.runner.netlab import NetLab

sys.path.insert(0, str(REPO))
from tests.zerynth_examples import example_source  # noqa: E402

pytestmark = pytest.mark.system

PROGRAMS = APPS / "programs"
FACES = ("zerynth", "micropython", "cpython")
#: Zerynth's published examples the app runs after the faces (``EXAMPLES`` of
#: apps/programs/harness/examples.py); the fixture puts each in ``examples/<name>/main.py``.
EXAMPLES = ("Ethernet_http",)
SOCKET_OF = {"zerynth": "networking.socket", "micropython": "usocket", "cpython": "socket"}
#: The longest the console may stay silent between two CHECK lines (boot included), and the
#: longest the whole run may take, on a loaded 2-core machine under TCG.
QUIET_TIMEOUT_S = 240.0
RUN_TIMEOUT_S = 1200.0
LINE_RE = (r"(?:CHECK (\S+) (ok|FAIL|event)(?: ([^\r\n]*))?|KILN: app exited with status "
           r"(-?\d+))\r?\n")


# --- host-side peers of the checks ------------------------------------------------------------

class Peer:
    """The host side of some checks: started in the lab before the boot, it gives the guest
    kernel arguments (``{"test_mqtt_port": 1883}`` becomes ``kiln.test_mqtt_port=1883``, read by
    the check as ``ctx.args["test_mqtt_port"]``), answers the ``CHECK <name> event <what> k=v``
    lines of the checks named in ``checks``, keeps what it observed for the tests, and is
    stopped after the run (also when the run fails)."""

    checks: tuple[str, ...] = ()

    def start(self, lab: NetLab) -> dict[str, object]:
        return {}

    def event(self, check: str, what: str, facts: dict[str, str], lab: NetLab) -> None:
        raise AssertionError(f"{type(self).__name__} got an unexpected event {what!r} from "
                             f"{check}")

    def stop(self) -> None:
        pass


class WebPagePeer(Peer):
    """``micropython.web_page``: fetches the page the guest serves from its app folder."""

    checks = ("micropython.web_page",)

    def start(self, lab):
        self.port = 8000 + random.randrange(1000)
        self.reply = b""
        return {"test_web_port": self.port}

    def event(self, check, what, facts, lab):
        assert what == "listening" and facts == {"port": str(self.port)}, (what, facts)
        (lease,) = lab.leases()
        with connect_to_guest(lab, str(lease.ip), self.port) as conn:
            conn.sendall(b"GET /index.html HTTP/1.0\r\nHost: kiln-board\r\n\r\n")
            while chunk := conn.recv(65536):
                self.reply += chunk


def make_broker_pki(directory: Path, broker_name: str) -> dict[str, Path]:
    """A test PKI for one run, made with the openssl command in ``directory`` (created): a CA
    (``ca.pem``), the broker's certificate for the DNS name ``broker_name`` only
    (``broker.pem``/``broker.key``: serverAuth) and a client certificate with the common name
    ``kiln-board`` (``client.pem``/``client.key``: clientAuth); ECDSA P-256, valid two days.
    Returns ``{file name: path}``; raises AssertionError with openssl's output on failure."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        done = subprocess.run(["openssl", *args], cwd=directory, capture_output=True, text=True)
        assert done.returncode == 0, f"openssl {' '.join(args)}: {done.stdout}{done.stderr}"

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Kiln Test CA (one run)",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, subject, ext in (
            ("broker", broker_name,
             f"subjectAltName=DNS:{broker_name}\nextendedKeyUsage=serverAuth\n"),
            ("client", "kiln-board", "extendedKeyUsage=clientAuth\n")):
        (directory / f"{name}.ext").write_text("basicConstraints=critical,CA:FALSE\n"
                                               "keyUsage=critical,digitalSignature\n" + ext)
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={subject}")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                "-extfile", f"{name}.ext")
    return {f: directory / f for f in ("ca.pem", "broker.pem", "broker.key", "client.pem",
                                       "client.key")}


class MosquittoPeer(Peer):
    """``micropython.mqtt`` and ``micropython.mqtt_tls``: Debian's Mosquitto in the lab, found
    by the guest as :attr:`NAME` through the lab's DNS; plain MQTT on 1883, MQTT over TLS on
    8883 with ``require_certificate`` (the client certificate's common name becomes the MQTT
    user name, so the broker's log shows who connected).  The TLS material is a test PKI made
    for this run (:func:`make_broker_pki`); the guest gets the CA and its client certificate
    and key over HTTP from :class:`servers.FileServer` in the lab -- not committed in the app:
    no key in the repository, nothing that expires, and the app (hence the image, rebuilt only
    when the app's content changes) stays the same from run to run.

    A ``mosquitto_sub`` on the host keeps what the guest publishes under ``kiln/from-guest/``;
    on the checks' ``subscribed`` event the host publishes random bytes to the guest with
    ``mosquitto_pub``.  After the run: :attr:`received` (topic, qos, payload), :attr:`published`
    (kind -> payload), :attr:`broker_log`, :attr:`pki` (file name -> path; valid until the lab
    closes: use :attr:`broker_der`)."""

    checks = ("micropython.mqtt", "micropython.mqtt_tls")
    NAME = "mqtt.kiln.test"
    KIND = {"micropython.mqtt": "plain", "micropython.mqtt_tls": "tls"}

    def start(self, lab):
        self.token = secrets.token_hex(8)
        self.published: dict[str, bytes] = {}
        self.received: list[tuple[str, int, bytes]] = []
        self.broker_log = ""
        self.work = lab.workdir / "mosquitto"
        self.pki = make_broker_pki(self.work / "pki", self.NAME)
        self.broker_der = ssl.PEM_cert_to_DER_cert(self.pki["broker.pem"].read_text())
        self.host = host = str(lab.host_address)
        lab.add_dns_record(self.NAME, host)
        self.broker = mosquitto.start(
            self.work, [f"listener 1883 {host}",
                        f"listener 8883 {host}\ncafile {self.pki['ca.pem']}\n"
                        f"certfile {self.pki['broker.pem']}\nkeyfile {self.pki['broker.key']}\n"
                        f"require_certificate true\nuse_identity_as_username true"],
            (host, 8883), spawn=lab.spawn, new_socket=lab.socket)
        self.files = FileServer(lab, {f: self.pki[f].read_bytes()
                                      for f in ("ca.pem", "client.pem", "client.key")})
        self.subscriber = mosquitto.Subscriber(host, 1883, "kiln/from-guest/#", "kiln-host-sub",
                                               spawn=lab.spawn)
        self.subscriber.wait_subscribed(self.broker)
        return {"test_mqtt_host": self.NAME, "test_mqtt_port": 1883, "test_mqtts_port": 8883,
                "test_pki_port": self.files.port, "test_mqtt_token": self.token}

    def event(self, check, what, facts, lab):
        kind = self.KIND[check]
        assert what == "subscribed" and facts == {"topic": f"kiln/to-guest/{kind}"}, \
            (what, facts)
        payload = secrets.token_bytes(300)
        mosquitto.publish(self.host, 1883, facts["topic"], payload, self.work,
                          f"kiln-host-pub-{kind}", run=lab.run)
        self.published[kind] = payload

    def stop(self):
        subscriber, files, broker = (getattr(self, name, None)
                                     for name in ("subscriber", "files", "broker"))
        try:
            if subscriber is not None:
                subscriber.stop()
                self.received = list(subscriber.messages)
            if files is not None:
                files.close()
        finally:
            if broker is not None:
                broker.stop()
                self.broker_log = broker.log_text()


class NtpPeer(Peer):
    """``micropython.ntp``: an NTP responder (:class:`servers.NtpResponder`) on port 123 of
    the lab's host side, found by the guest as :attr:`NAME`; it answers the first query with a
    random time before the NTP era rollover (2036-02-07) and the second with one after it.
    After the run: :attr:`times` and :attr:`queries`."""

    checks = ()            # no events: the guest reports what it got, the host what it sent
    NAME = "ntp.kiln.test"
    ROLLOVER = 2**32 - 2208988800           # 2036-02-07T06:28:16Z as a Unix time

    def start(self, lab):
        self.times = [random.randrange(1704153600, self.ROLLOVER),      # from 2024-01-02
                      random.randrange(self.ROLLOVER + 86400, 4102444800)]  # .. 2100-01-01
        self.queries: list[tuple[bytes, tuple[str, int]]] = []
        self.error: BaseException | None = None
        lab.add_dns_record(self.NAME, str(lab.host_address))
        self.responder = NtpResponder(lab, self.times)
        return {"test_ntp_host": self.NAME}

    def stop(self):
        responder = getattr(self, "responder", None)
        if responder is not None:
            responder.close()
            self.queries, self.error = list(responder.queries), responder.error


class ExchangePeer(Peer):
    """``micropython.poll_client`` and ``micropython.asyncio_tcp``: the host's side of the
    app's exchange protocol (apps/programs/checks/exchange.py).  Its server
    (:class:`servers.ExchangeServer`, found by the guest as :attr:`NAME`) serves the guest's
    clients; on ``asyncio_tcp``'s ``listening`` event :attr:`CLIENTS` host clients connect to
    the guest's asyncio server at once, each sending its own random bytes and checking the
    reply (:func:`servers.exchange_as_client`).  After the run: :attr:`server` (its
    ``sessions`` by client name, ``errors``), :attr:`sent` and :attr:`got` (host client name ->
    the bytes it sent / the guest's own bytes it got back)."""

    checks = ("micropython.asyncio_tcp",)
    NAME = "exchange.kiln.test"
    CLIENTS = 3
    SIZE = 30000

    def start(self, lab):
        self.sent: dict[str, bytes] = {}
        self.got: dict[str, bytes] = {}
        self.port = 9000 + random.randrange(1000)
        lab.add_dns_record(self.NAME, str(lab.host_address))
        self.server = ExchangeServer(lab)
        return {"test_exchange": f"{self.NAME}:{self.server.port}",
                "test_async_port": self.port}

    def event(self, check, what, facts, lab):
        assert what == "listening" and facts == {"port": str(self.port)}, (what, facts)
        (lease,) = lab.leases()
        errors: list[str] = []

        def client(name: str) -> None:
            payload = secrets.token_bytes(self.SIZE)
            try:
                with connect_to_guest(lab, str(lease.ip), self.port) as conn:
                    self.sent[name] = payload
                    self.got[name] = exchange_as_client(conn, name, payload)
            except Exception as exc:
                errors.append(f"{name}: {type(exc).__name__}: {exc}")

        clients = [threading.Thread(target=client, args=(f"h{i}",))
                   for i in range(self.CLIENTS)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(90)
        assert not any(t.is_alive() for t in clients), "a host client is still exchanging"
        assert not errors, errors

    def stop(self):
        server = getattr(self, "server", None)
        if server is not None:
            server.close()


class ZerynthServersPeer(Peer):
    """``zerynth.socket_stream`` and ``zerynth.requests_http``: a line server answering a line
    upper-cased (:class:`servers.UpperLineServer`, by address) and an HTTP server describing
    each request in JSON (:class:`servers.JsonHTTP`, found by the guest as :attr:`NAME`).
    After the run: :attr:`lines` (the line server, its ``received``), :attr:`dns_log`."""

    checks = ()
    NAME = "api.zerynth.lab"

    def start(self, lab):
        self.lab, self.dns_log = lab, ""
        lab.add_dns_record(self.NAME, str(lab.host_address))
        self.web = JsonHTTP(lab)
        self.lines = UpperLineServer(lab)
        return {"test_http": f"{self.NAME}:{self.web.port}",
                "test_lines": f"{lab.host_address}:{self.lines.port}"}

    def stop(self):
        for server in (getattr(self, "web", None), getattr(self, "lines", None)):
            if server is not None:
                server.close()
        if hasattr(self, "lab"):
            self.dns_log = self.lab.dnsmasq_log()


class EthernetHttpPeer(Peer):
    """``example.Ethernet_http``: what Zerynth's example reaches -- ``now.zerynth.com`` in the
    lab's DNS, ``python3 -m http.server 80`` on the lab's host side serving
    :data:`test_zerynth_apps.INDEX`; the lab's dnsmasq leases the example its addresses.  After
    the run: :attr:`http_log` (the HTTP server's request log), :attr:`dnsmasq_log`."""

    checks = ()

    def start(self, lab):
        self.lab, self.http_log, self.dnsmasq_log = lab, "", ""
        lab.add_dns_record(ZERYNTH_HOST, str(lab.host_address))
        docroot = lab.workdir / "ethernet-http"
        docroot.mkdir()
        self.server = http_server(lab, docroot)
        return {}

    def stop(self):
        server = getattr(self, "server", None)
        if server is not None:
            server.terminate()
            try:
                _, err = server.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                _, err = server.communicate()
            self.http_log = err.decode(errors="replace")
        if hasattr(self, "lab"):
            self.dnsmasq_log = self.lab.dnsmasq_log()


#: Peer classes of the run, one instance each per boot (append yours).
PEERS: list[type[Peer]] = [WebPagePeer, MosquittoPeer, NtpPeer, ExchangePeer,
                           ZerynthServersPeer, EthernetHttpPeer]


# --- one boot per board -----------------------------------------------------------------------

@dataclasses.dataclass
class Result:
    """One check's outcome: ``ok`` and its facts, or the ``FAIL`` reason."""

    name: str
    ok: bool
    facts: dict[str, str]
    reason: str = ""


@dataclasses.dataclass
class ProgramsRun:
    """What one boot of the program-test image reported: ``results`` by check name, the app's
    exit status, the console transcript, the peers (by class) and the image's build record."""

    board: str
    results: dict[str, Result]
    peer_errors: dict[str, str]        # check name -> what its peer raised on an event
    host_address: str                  # the lab's host side, as the guest sees it
    guest_address: str                 # the guest's address at boot (its DHCP lease)
    app_status: int | None
    transcript: str
    peers: dict[type, Peer]
    artifacts: ImageArtifacts
    seconds: float

    def result(self, name: str) -> Result:
        """The result of check ``name`` (``"micropython.lib_modules"``); it must have passed
        (AssertionError with the reason and the console otherwise)."""
        found = self.results.get(name)
        assert found is not None, f"check {name} did not report on {self.board}:\n" \
                                  f"{self.transcript}"
        assert found.ok, f"check {name} failed on {self.board}: {found.reason}\n" \
                         f"{self.transcript}"
        return found

    def peer(self, cls: type[Peer]) -> Peer:
        return self.peers[cls]


def parse_facts(text: str) -> dict[str, str]:
    """``k=v`` words of a CHECK line, values percent-decoded (see the app's harness)."""
    return {k: unquote(v) for k, _, v in (w.partition("=") for w in text.split())}


@pytest.fixture(scope="module")
def programs_image(board, tmp_path_factory):
    """``board``'s image with ``apps/programs/`` as its app, built or reused in
    ``out/system-tests/<board>-programs`` (a copy of the app without host caches goes in: the
    builder refuses ``__pycache__``; the digest is by content, so the copy reuses the image),
    with each of :data:`EXAMPLES` as published in ``examples/<name>/main.py``."""
    app = tmp_path_factory.mktemp("programs-app") / "programs"
    shutil.copytree(PROGRAMS, app, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in EXAMPLES:
        (app / "examples" / name).mkdir(parents=True)
        (app / "examples" / name / "main.py").write_text(example_source(name))
    out_dir = REPO / "out" / "system-tests" / f"{board.name}-programs"
    image = session_image(board, app, out_dir, tmp_path_factory.mktemp(f"programs-{board.name}"))
    return image, app, ImageArtifacts.load(out_dir / "build.json")


@pytest.fixture(scope="module")
def programs(board, programs_image, resources) -> ProgramsRun:
    """Boot the program-test image once on ``board`` in a fresh lab with every peer running;
    follow the CHECK lines to the app's exit."""
    image, _app, artifacts = programs_image
    with NetLab() as lab:
        resources.namespaces.add(lab.name)
        peers: dict[type, Peer] = {}
        starter = GuestStarter(board, image, resources)
        try:
            args: dict[str, object] = {}
            for cls in PEERS:
                peers[cls] = peer = cls()
                args.update(peer.start(lab))
            by_check = {name: peer for peer in peers.values() for name in peer.checks}
            extra = " ".join(f"kiln.{k}={v}" for k, v in sorted(args.items()))
            t0 = time.monotonic()
            guest = starter.start(lab, guest_cmdline(image, lab, False, extra))
            results: dict[str, Result] = {}
            peer_errors: dict[str, str] = {}
            status = None
            while status is None:
                assert time.monotonic() - t0 < RUN_TIMEOUT_S, \
                    f"the program checks took over {RUN_TIMEOUT_S} s:\n{guest.transcript}"
                m = guest.expect(LINE_RE, QUIET_TIMEOUT_S)
                name, kind, rest = m.group(1), m.group(2), m.group(3) or ""
                if m.group(4) is not None:
                    status = int(m.group(4))
                elif kind == "event":
                    what, _, facts = rest.partition(" ")
                    try:            # errors are reported by test_every_check_passed
                        assert name in by_check, f"no peer answers the events of {name}"
                        by_check[name].event(name, what, parse_facts(facts), lab)
                    except Exception as exc:
                        peer_errors[name] = f"{type(exc).__name__}: {exc}"
                elif kind == "ok":
                    results[name] = Result(name, True, parse_facts(rest))
                else:
                    results[name] = Result(name, False, {}, rest)
            # The boot's address (the examples release it before the app ends).
            boot_net = re.search(r"KILN: net dhcp ([\d.]+)/", guest.transcript)
            run = ProgramsRun(board.name, results, peer_errors, str(lab.host_address),
                              boot_net.group(1) if boot_net else "", status, guest.transcript,
                              peers, artifacts, time.monotonic() - t0)
        finally:
            try:
                starter.close_all()
            finally:
                for peer in peers.values():
                    peer.stop()
    assert not netns.exists(lab.name), f"namespace {lab.name} survived close()"
    print(f"programs on {board.name}: {len(run.results)} checks, app status {run.app_status}, "
          f"{run.seconds:.0f} s from power-on")
    return run


# --- every check, every face ------------------------------------------------------------------

def test_every_check_passed(programs):
    failed = {r.name: r.reason for r in programs.results.values() if not r.ok}
    assert not failed, f"failed on {programs.board}: {failed}\n{programs.transcript}"
    assert not programs.peer_errors, f"host-side peers failed on {programs.board}: " \
                                     f"{programs.peer_errors}\n{programs.transcript}"
    # Every face ran every check of checks/common/ and of its own folder, and ended cleanly.
    for face in FACES:
        assert programs.result(f"face.{face}").ok
        for folder in ("common", face):
            for module in sorted((PROGRAMS / "checks" / folder).glob("*.py")):
                if module.name != "__init__.py":
                    programs.result(f"{face}.{module.stem}")
    for name in EXAMPLES:
        programs.result(f"example.{name}")
    assert programs.app_status == 0, programs.transcript


# --- issue 18, item 1: apps are directories, copied whole -------------------------------------

def test_the_image_holds_the_whole_app_and_reports_its_size(programs, programs_image):
    _image, app, artifacts = programs_image
    tree = load_app(app, None)
    assert tree.size > 4096 and len(tree.files) > 15
    assert (artifacts.app_files, artifacts.app_bytes) == (len(tree.files), tree.size)
    assert f"app          {len(tree.files)} files, {tree.size} bytes under /app" in \
        artifacts.summary()


@pytest.mark.parametrize("face", FACES)
def test_app_package_with_relative_imports(programs, face):
    facts = programs.result(f"{face}.app_package").facts
    assert facts == {"label": "3000m", "socket": SOCKET_OF[face],
                     "sleep": "kiln.zerynth.builtins" if face == "zerynth" else "None",
                     "file": "/app/toolbox/__init__.py"}


@pytest.mark.parametrize("face", FACES)
def test_lib_folder_on_the_import_path(programs, face):
    facts = programs.result(f"{face}.lib_modules").facts
    assert facts == {"socket": SOCKET_OF[face], "precedence": "app",
                     "sleep": "kiln.zerynth.builtins" if face == "zerynth" else "None"}


@pytest.mark.parametrize("face", FACES)
def test_data_files_open_relative_to_the_app(programs, face):
    facts = programs.result(f"{face}.data_files").facts
    settings = (PROGRAMS / "settings.json").read_bytes()
    blob = (PROGRAMS / "data" / "sample.bin").read_bytes()
    parsed = json.loads(settings)
    assert facts == {
        "settings_sha": hashlib.sha256(settings).hexdigest(),
        "greeting": parsed["greeting"], "motto": parsed["motto"],
        "interval_ms": str(parsed["interval_ms"]),
        "page_sha": hashlib.sha256((PROGRAMS / "www" / "index.html").read_bytes()).hexdigest(),
        "blob_sha": hashlib.sha256(blob).hexdigest(), "blob_len": str(len(blob)),
    }


def test_a_data_file_served_to_the_host(programs):
    """The MicroPython program serves its www/index.html (read relative to the app) to the
    host, which connected when the check said it was listening."""
    facts = programs.result("micropython.web_page").facts
    page = (PROGRAMS / "www" / "index.html").read_bytes()
    assert facts == {"request": "GET /index.html HTTP/1.0", "bytes": str(len(page)),
                     "peer": programs.host_address}
    head, _, body = programs.peer(WebPagePeer).reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n") and b"Content-Length: %d" % len(page) in head
    assert body == page


# --- micropython-lib's published clients against real servers in the lab ---------------------

#: micropython-lib's files in the app's lib/, byte for byte as published (lib/README.md).
PUBLISHED = {
    "umqtt/simple.py": "3cfd101ef774e0c6f9543425650ddc36168a7bbf4b8b8b71667e27023dfd951f",
    "ntptime.py": "d95252f784bfc09607656777ff0e5117233e8c06e5deeedd40841d99455f6a0b",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_clients_in_lib_are_micropython_libs_published_files():
    """No boot: the app's lib/ holds the published files unmodified, with their licence, and
    umqtt stays a namespace folder as mip installs it."""
    lib = PROGRAMS / "lib"
    assert {name: sha256((lib / name).read_bytes()) for name in PUBLISHED} == PUBLISHED
    assert not (lib / "umqtt" / "__init__.py").exists()
    licence = (lib / "LICENSE.micropython-lib").read_text()
    assert "The MIT License (MIT)" in licence and "micropython-lib contributors" in licence
    readme = (lib / "README.md").read_text()
    assert all(f"`{name}`" in readme and digest in readme for name, digest in PUBLISHED.items())


def exchange_facts(peer: MosquittoPeer, kind: str) -> dict[str, str]:
    """The facts checks/micropython/mqtt.py's ``exchange`` must report for ``kind``."""
    sent = peer.token.encode() + b" " + bytes(range(256))
    from_host = peer.published[kind]
    return {"session": "0", "echo": f"echo {kind} {peer.token}", "sent_sha": sha256(sent),
            "sent_len": str(len(sent)), "from_host_topic": f"kiln/to-guest/{kind}",
            "from_host_sha": sha256(from_host), "from_host_len": str(len(from_host))}


def test_umqtt_simple_against_mosquitto(programs):
    """micropython-lib's umqtt.simple on the board, plain MQTT: its own message came back, the
    host's subscriber got exactly what it published (QoS 1), it got exactly what the host
    published, and the broker saw it connect from the guest's address."""
    facts = programs.result("micropython.mqtt").facts
    peer = programs.peer(MosquittoPeer)
    assert facts == exchange_facts(peer, "plain")
    sent = peer.token.encode() + b" " + bytes(range(256))
    assert ("kiln/from-guest/plain", 1, sent) in peer.received, peer.received
    assert re.search(rf"New client connected from {re.escape(programs.guest_address)}:\d+ as "
                     rf"kiln-guest \(p2, c1, k60\)\.", peer.broker_log), peer.broker_log


def test_ntptime_against_the_lab_responder(programs):
    """micropython-lib's ntptime on the board returns the times the responder sent, either side
    of the 2036 NTP era rollover; the responder got ntptime's NTPv4 client queries from the
    guest."""
    facts = programs.result("micropython.ntp").facts
    peer = programs.peer(NtpPeer)
    first = datetime.datetime.fromtimestamp(peer.times[0], datetime.timezone.utc)
    assert facts == {"first": str(peer.times[0]), "second": str(peer.times[1]), "epoch": "1970",
                     "first_utc": first.strftime("%Y-%m-%dT%H:%M:%S")}
    assert peer.error is None, peer.error
    assert [(len(q), q[0], addr) for q, (addr, _port) in peer.queries] == \
        [(48, 0x23, programs.guest_address)] * 2


def broker_tls_failure(guest: str, reason: str) -> str:
    """A regular expression for Mosquitto's log of a TLS connection from ``guest`` (escaped)
    that failed with OpenSSL's ``reason``: logged at once with the address, or as an OpenSSL
    error right after the connection's line (which of the two depends on when the failure
    surfaces in the broker's accept)."""
    return (rf"(Client connection from {guest} failed: |New connection from {guest}:\d+ on "
            rf"port 8883\.\n\d+: OpenSSL Error\[0\]: )error:[0-9A-F]+:SSL routines::"
            rf"{re.escape(reason)}")


def test_mqtt_over_tls_with_a_client_certificate(programs):
    """umqtt.simple with a ``tls.SSLContext`` on the board, against Mosquitto's TLS listener
    that requires a client certificate: the guest verified the broker's certificate (the one
    this run made) by its DNS name, the broker identified the guest by its certificate, the
    exchange is byte-exact both ways; by IP address the guest refuses the broker (name
    mismatch), and without its certificate the broker refuses the guest."""
    facts = programs.result("micropython.mqtt_tls").facts
    peer = programs.peer(MosquittoPeer)
    guest = re.escape(programs.guest_address)
    assert {k: facts[k] for k in exchange_facts(peer, "tls")} == exchange_facts(peer, "tls")
    sent = peer.token.encode() + b" " + bytes(range(256))
    assert ("kiln/from-guest/tls", 1, sent) in peer.received, peer.received
    assert facts["broker_cert_sha"] == sha256(peer.broker_der)
    assert facts["version"] == "TLSv1.3"
    assert facts["cipher"] in ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
                               "TLS_CHACHA20_POLY1305_SHA256")
    log = peer.broker_log
    assert re.search(rf"New client connected from {guest}:\d+ as kiln-guest-tls "
                     rf"\(p2, c1, k60, u'kiln-board'\)\.", log), log
    # By address: the guest's verification fails and it tells the broker so.
    assert facts["by_address"].startswith("SSLCertVerificationError: "), facts["by_address"]
    assert "certificate verify failed (name mismatch)" in facts["by_address"]
    assert re.search(broker_tls_failure(guest, "sslv3 alert bad certificate"), log), log
    # Without a client certificate: the broker refuses it (TLS 1.3: after the client's
    # handshake, so the guest sees the broker's alert or its reset on the first read).
    assert re.search(broker_tls_failure(guest, "peer did not return a certificate"), log), log
    assert facts["no_client_cert"].split(":")[0] in (
        "ConnectionResetError", "TLSHandshakeError", "SSLError", "SSLEOFError",
        "BrokenPipeError"), facts["no_client_cert"]


def test_kernel_tls_carries_the_guests_mqtt_connection(programs):
    """The image loads the kernel's TLS module and the MQTT/TLS connection of the guest sends
    through it (OpenSSL 3.0 offloads TLS 1.3 sending; receiving stays in OpenSSL:
    docs/tls.md)."""
    facts = programs.result("micropython.mqtt_tls").facts
    assert facts["tls_module"] == "True", \
        f"the {programs.board} image has no kernel TLS (/sys/module/tls): images with TLS " \
        f"must load the tls module"
    assert (facts["ktls_send"], facts["ktls_recv"]) == ("True", "False"), facts


# --- MicroPython programs on the network: ticks, select/poll, asyncio -------------------------

def test_uselect_poll_client_with_ticks_deadlines(programs):
    """checks/micropython/poll_client.py: a non-blocking ``usocket`` driven by
    ``uselect.poll`` (register, modify, ipoll one-shot, unregister) with ``time.ticks_*``
    deadlines exchanged random bytes with the host's server, each end checking the other's;
    the reply taken by timed-out reads stayed in the socket and was reported readable; the
    ticks arithmetic wraps at 2**30 on the board."""
    facts = programs.result("micropython.poll_client").facts
    peer = programs.peer(ExchangePeer)
    assert not peer.server.errors, peer.server.errors
    session = peer.server.sessions["poll"]
    assert session.peer == programs.guest_address and len(session.received) == 48000
    assert facts == {"sent_sha": sha256(session.received), "own_sha": sha256(session.own),
                     "held": str(EXCHANGE_REPLY_HEAD + len(session.received) + EXCHANGE_OWN),
                     "timed_out_reads": facts["timed_out_reads"],
                     "peer": programs.host_address, "ticks_wrap": "1073741823,1",
                     "ms_ok": "True"}
    assert int(facts["timed_out_reads"]) >= 1


def test_asyncio_server_reached_from_the_host_and_client_to_it(programs):
    """checks/micropython/asyncio_tcp.py: MicroPython's asyncio on the board served the host's
    clients, connected at once, while its own client exchanged with the host's server, in one
    event loop; every byte checked on both ends (the guest's digests of what it received and
    of what it sent back against the host's records; the host checked each reply)."""
    facts = programs.result("micropython.asyncio_tcp").facts
    peer = programs.peer(ExchangePeer)
    assert not peer.server.errors, peer.server.errors
    names = [f"h{i}" for i in range(ExchangePeer.CLIENTS)]
    assert sorted(peer.sent) == sorted(peer.got) == names
    assert facts["served"] == ",".join(names)
    for name in names:
        assert facts[f"from_{name}"] == sha256(peer.sent[name]), name
        assert facts[f"to_{name}"] == sha256(peer.got[name]), name
        assert len(peer.got[name]) == EXCHANGE_OWN
        assert facts[f"peer_{name}"] == programs.host_address
    assert len({facts[f"from_{name}"] for name in names}) == len(names)
    client = peer.server.sessions["asyncio"]
    assert client.peer == programs.guest_address
    assert (facts["sent_sha"], facts["own_sha"]) == (sha256(client.received),
                                                     sha256(client.own))
    assert facts["slept_ms_ok"] == "True"


# --- the Zerynth runtime face: thread(), timers, threading, streams, requests -----------------

def test_zerynth_threads_with_priorities(programs):
    """``thread()`` at PRIO_HIGH and PRIO_LOW counted under a Lock until an Event; their Linux
    nice values are the priorities' (5 apart per step from the program's), and a
    ``threading.Thread`` started at PRIO_HIGHER waited on a Semaphore until released."""
    assert programs.result("zerynth.threads").facts == {
        "done": "True", "a": "5", "b": "5", "alive": "False", "nice_high": "-5",
        "nice_low": "5", "nice_higher": "-10", "waited": "True", "released": "True",
        "ended": "True"}


def test_zerynth_timers(programs):
    facts = programs.result("zerynth.timers").facts
    assert int(facts["ticks"]) >= 4, facts
    assert {k: v for k, v in facts.items() if k != "ticks"} == {
        "stopped": "True", "rising": "True", "first_ms_ok": "True", "one_shot": "True",
        "now_ok": "True"}


def test_zerynth_builtins(programs):
    assert programs.result("zerynth.builtin_names").facts == {
        "name": "BoardError", "msg": "the board failed", "all_in_range": "True",
        "big": "True", "hex": "0xff", "hex_bare": "ff", "units": "1,2,3"}


def test_zerynth_socket_stream_bound_to_the_interface_handle(programs):
    """``print(..., stream=SocketStream(sock))`` and ``readline()`` over a socket bound to the
    interface ``eth.configure()`` returned (SO_BINDTODEVICE: the board's Ethernet)."""
    facts = programs.result("zerynth.socket_stream").facts
    peer = programs.peer(ZerynthServersPeer)
    assert facts["bound"] == facts["ifname"] != "", facts
    assert peer.lines.received == [f"hello from the board {facts['n']}\n".encode()]
    assert (facts["answer"], facts["eol"]) == (f"HELLO FROM THE BOARD {facts['n']}", "True")


def test_zerynth_requests_by_name(programs):
    facts = programs.result("zerynth.requests_http").facts
    assert facts == {"get_status": "200", "get_path": "/get?q=zerynth",
                     "get_type": "application/json", "post_status": "200",
                     "post_method": "POST", "post_body": '{"board": "kiln"}',
                     "unknown": "HTTPConnectionError"}
    assert f"query[A] {ZerynthServersPeer.NAME}" in programs.peer(ZerynthServersPeer).dns_log


# --- Zerynth's published examples, unmodified -------------------------------------------------

def example_lines(programs, name: str) -> list[str]:
    """What example ``name`` printed (harness/examples.py forwards it line by line)."""
    return re.findall(rf"EXAMPLE {re.escape(name)} \| ([^\r\n]*)", programs.transcript)


def test_ethernet_http_example_runs_unmodified(programs):
    """Zerynth v3's ``Ethernet_http``, the published file, run as a board's app that owns the
    network (``--net none`` after the boot's lease was released): two rounds of its loop --
    ``eth.configure(dhcp=True)``/``eth.start()`` leased by the lab's dnsmasq, the gateway and
    DNS server the lab's, ``now.zerynth.com`` resolved to the host, 256 bytes of the host's
    HTTP answer through ``socket.socket(ifc=ifc)``, ``eth.disconnect()`` releasing the lease --
    then stopped in its ``sleep(3000)``."""
    facts = programs.result("example.Ethernet_http").facts
    published = example_source("Ethernet_http").encode()
    assert (facts["sha256"], facts["rounds"], facts["status"], facts["boot_net_released"]) \
        == (sha256(published), "2", str(-signal.SIGTERM), "True"), facts
    lines = example_lines(programs, "Ethernet_http")
    assert len(lines) == int(facts["lines"]), lines
    assert lines[0] == "KILN: net none  gw=none dns=none", lines
    assert lines[1] == "KILN: app start /app/examples/Ethernet_http/main.py", lines
    assert not [line for line in lines if "Exception" in line or "Traceback" in line], lines
    start = lines.index("configuring...")
    assert any("Kiln board summary" in line for line in lines[2:start]), lines
    host = programs.host_address
    leases = []
    for n in range(2):
        steps = lines[start + 12 * n:start + 12 * (n + 1)]
        assert [steps[i] for i in (0, 1, 2, 3, 5, 6, 7, 9, 10, 11)] == [
            "configuring...", "connecting...", "connected...", "info...", f"resolved {host}",
            "creating socket...", "connecting socket...", "close socket...",
            "disconnecting...", "disconnected..."], steps
        dhcp, ip, mask, gateway, dns, mac = ast.literal_eval(steps[4])
        assert (dhcp, mask, gateway, dns) == (True, "255.255.255.0", host, host), steps[4]
        assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", mac), steps[4]
        leases.append(ip)
        reply = re.fullmatch(r"bytearray\((b'.*')\)", steps[8])
        assert reply, steps[8]
        body = ast.literal_eval(reply.group(1))
        assert len(body) == 256 and body.startswith(b"HTTP/1.0 200 OK\r\n"), body
        assert b"Content-Length: %d\r\n" % len(ZERYNTH_INDEX) in body, body
    peer = programs.peer(EthernetHttpPeer)
    # Two GETs from the example's leases reached the host's server.
    gets = re.findall(r'^([\d.]+) - - \[[^]]*\] "GET / HTTP/1.1" 200 ', peer.http_log, re.M)
    assert gets == leases, peer.http_log
    # dnsmasq: the boot's lease released, then each round leased and released.
    dhcp_log = re.findall(r"(DHCPACK|DHCPRELEASE)\(\S+\) ([\d.]+)", peer.dnsmasq_log)
    assert dhcp_log[-5:] == [("DHCPRELEASE", programs.guest_address),
                             ("DHCPACK", leases[0]), ("DHCPRELEASE", leases[0]),
                             ("DHCPACK", leases[1]), ("DHCPRELEASE", leases[1])], dhcp_log
    assert peer.dnsmasq_log.count(f"query[A] {ZERYNTH_HOST}") >= 2


def test_check_lines_are_parsed_as_the_harness_writes_them():
    """The host's parser against the app's own encoder (no boot)."""
    source = PROGRAMS / "harness" / "__init__.py"
    harness = {"__file__": str(source)}   # run without writing __pycache__ into the app
    exec(compile(source.read_text(), str(source), "exec"), harness)
    facts = {"a": "two words", "b": "100%", "c": "tab\there", "d": "Grüße 你好\u3000x"}
    line = "CHECK x.y ok " + " ".join(harness["_facts"](facts)) + "\r\n"
    m = re.match(LINE_RE, line)
    assert m and m.group(1, 2) == ("x.y", "ok")
    assert parse_facts(m.group(3)) == facts
    assert re.match(LINE_RE, "CHECK x.y FAIL AssertionError: no\n").group(3) == \
        "AssertionError: no"
    assert re.match(LINE_RE, "KILN: app exited with status 1\r\n").group(4) == "1"
