"""Issue #18 under QEMU: Zerynth's runtime face on the qemu-aarch64 image.

- ``apps/zerynth_runtime/runtime_checks.py`` (the image's ``main.py``): a
  Zerynth-style program with ``thread()`` and priorities, ``timers``, ``threading``,
  ``new_exception``, ``random``, ``streams.SocketStream`` to a host-side server over a socket
  bound with ``ifc``, and ``requests`` to a host-side HTTP server by name.
- ``Mini_Web_Server`` (Zerynth v2) with only its driver line pointing at Kiln's simulated radio
  (``from driver.wifi.hwsim import hwsim as wifi_driver``) on the Wi-Fi lab image: it links to
  the lab's "Network-Name" access point, and the host fetches its page twice.

The example is read from Zerynth's repository at a pinned commit (``tests/zerynth_examples``).
Two boots on two images.  Zerynth's v3 ``Ethernet_http`` runs unmodified in the program-test
boot of every QEMU board (tests/system/test_programs.py).
"""
from __future__ import annotations

import http.server
import json
import re
import shutil
import sys
import threading

import pytest

from guest import BOOT_TIMEOUT_S, GuestStarter
from image_cache import session_image
from layout import APPS, REPO
from kiln import boards
from kiln.host.runner.boot import guest_cmdline
from kiln.host.runner.wifilab import LabNetwork, lab_arg
from servers import connect_to_guest

sys.path.insert(0, str(REPO))
from tests.zerynth_examples import example_source, with_driver  # noqa: E402

pytestmark = pytest.mark.system

BOARD = "qemu-aarch64"
WEB_NAME = "api.zerynth.lab"
MINI_NET = LabNetwork("Network-Name", "wpa2", "Wifi-Password")     # what the example links to
HWSIM_DRIVER = "from driver.wifi.hwsim import hwsim as wifi_driver"


@pytest.fixture(scope="module")
def aarch64():
    return boards.load(BOARD)


@pytest.fixture(scope="module")
def runtime_image(aarch64, tmp_path_factory):
    """/app: runtime_checks.py as main.py, testargs.py."""
    app_dir = tmp_path_factory.mktemp("zerynth-runtime-app")
    shutil.copy2(APPS / "zerynth_runtime" / "runtime_checks.py", app_dir / "main.py")
    shutil.copy2(APPS / "zerynth" / "testargs.py", app_dir)
    return session_image(aarch64, app_dir, REPO / "out" / "system-tests" / f"{BOARD}-zrt",
                         tmp_path_factory.mktemp("image-zrt"))


@pytest.fixture(scope="module")
def mini_web_image(aarch64, tmp_path_factory):
    """The Wi-Fi lab image with Mini_Web_Server (its driver line set) as main.py."""
    app_dir = tmp_path_factory.mktemp("mini-web-app")
    (app_dir / "main.py").write_text(with_driver(example_source("Mini_Web_Server"),
                                                 HWSIM_DRIVER))
    return session_image(aarch64, app_dir, REPO / "out" / "system-tests" / f"{BOARD}-zrt-wifi",
                         tmp_path_factory.mktemp("image-zrt-wifi"), labs=("wifi",))


@pytest.fixture
def starter(aarch64, resources):
    made = []

    def start(image, lab, extra):
        s = GuestStarter(aarch64, image, resources)
        made.append(s)
        # kiln.net=none last: the app owns the network, as on a Zerynth board.
        return s.start(lab, guest_cmdline(image, lab, False, extra) + " kiln.net=none")

    yield start
    for s in made:
        s.close_all()


class JsonHTTP:
    """An HTTP/1.1 server in the lab namespace answering every request with JSON describing it."""

    def __init__(self, lab):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                payload = json.dumps({"method": self.command, "path": self.path,
                                      "body": body}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

        self.server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler,
                                                      bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = lab.socket()
        self.server.socket.bind((str(lab.host_address), 0))
        self.server.socket.listen(8)
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class UpperLineServer:
    """A TCP server in the lab namespace answering one line per connection, upper-cased."""

    def __init__(self, lab):
        self.sock = lab.socket()
        self.sock.bind((str(lab.host_address), 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.received = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(60)
                data = b""
                try:
                    while not data.endswith(b"\n"):
                        chunk = conn.recv(256)
                        if not chunk:
                            break
                        data += chunk
                    self.received.append(data)
                    conn.sendall(data.upper())
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def test_zerynth_runtime_program(lab, runtime_image, starter):
    lab.add_dns_record(WEB_NAME, str(lab.host_address))
    web = JsonHTTP(lab)
    lines = UpperLineServer(lab)
    try:
        guest = starter(runtime_image, lab,
                        f"kiln.test_http={WEB_NAME}:{web.port} "
                        f"kiln.test_lines={lab.host_address}:{lines.port}")
        status = guest.wait_exit(BOOT_TIMEOUT_S + 120)
    finally:
        web.close()
        lines.close()
    assert status == 0, guest.transcript
    checks = {step: guest.checks(f"zrt-{step}") for step in (
        "threads", "timers", "new_exception", "random", "socketstream", "get", "post",
        "unknown", "end")}
    assert all(len(found) == 1 for found in checks.values()), (checks, guest.transcript)
    c = {step: found[0] for step, found in checks.items()}
    assert c["threads"] == {"done": "True", "a": "5", "b": "5", "alive": "False"}
    assert int(c["timers"]["ticks"]) >= 4 and c["timers"]["rising"] == "True"
    assert c["timers"]["one_shot"] == "True" and c["timers"]["first_ms_ok"] == "True"
    assert c["new_exception"] == {"name": "BoardError", "msg": "the_board_failed"}
    assert c["random"] == {"all_in_range": "True", "big": "True", "hex": "0xff",
                           "units": "1,2,3"}
    # The socket was bound to the interface eth.configure() returned (the board's Ethernet).
    assert c["socketstream"]["bound"] == c["socketstream"]["ifname"] != ""
    assert (c["socketstream"]["upper"], c["socketstream"]["eol"]) == ("True", "True")
    assert re.fullmatch(rb"hello from the board \d\n", lines.received[0])
    assert c["get"] == {"status": "200", "path": "/get?q=zerynth", "type": "application/json"}
    assert c["post"] == {"status": "200", "body": '{"board":"kiln"}'}
    assert c["unknown"] == {"exc": "HTTPConnectionError"}
    assert f"query[A] {WEB_NAME}" in lab.dnsmasq_log()


def test_mini_web_server_over_wifi(lab, mini_web_image, starter):
    guest = starter(mini_web_image, lab, lab_arg([MINI_NET]))
    guest.expect(r"Establishing Link\.\.\.", BOOT_TIMEOUT_S)
    guest.expect(r"Linked!", 120)
    ip = guest.expect(r"My IP is: ([\d.]+)\r?\n", 30).group(1)
    for _ in range(2):
        guest.expect(r"Waiting for connection\.\.\.", 30)
        sock = connect_to_guest(lab, ip, 80)
        with sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: board\r\nUser-Agent: kiln-test\r\n\r\n")
            page = b""
            while chunk := sock.recv(4096):
                page += chunk
        guest.expect(rf"Incoming connection from \('{re.escape(str(lab.host_address))}', "
                     r"\d+\)", 30)
        guest.expect(r"HTTP request received!", 30)
        head, _, body = page.partition(b"\r\n\r\n")
        assert head.split(b"\r\n") == [b"HTTP/1.1 200 OK", b"Content-Type: text/html",
                                       b"Connection: close"], page
        m = re.fullmatch(rb"<html><body>Hello Zerynth! (\d+) </body></html>\n", body)
        assert m and 0 <= int(m.group(1)) <= 100, page
    assert "ooops" not in guest.transcript, guest.transcript
