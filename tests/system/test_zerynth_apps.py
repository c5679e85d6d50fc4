"""Issue #4 under QEMU: the Zerynth seed program runs unmodified on the qemu-aarch64 image against
real DHCP, DNS and HTTP servers across the tap, and the network fault cases behave as Zerynth
documents them.

The image's app directory is ``apps/zerynth/`` plus ``main.py`` = the second example program of
``shared/seeds/zerynth-socket.md``, extracted byte for byte at test time.  The guest boots with
``kiln.net=none``: the app owns ``eth0`` (``eth.configure``/``start``/``stop``), as on a Zerynth
board.  Fault-case apps are chosen with ``kiln.app=NAME.py``.
"""
from __future__ import annotations

import ast
import ipaddress
import re
import shutil
import subprocess
import sys
import time

import pytest

from guest import BOOT_TIMEOUT_S, Guest, GuestStarter
from image_cache import session_image
from layout import APPS, REPO
from kiln import boards
from kiln.host.runner.boot import BootImage, guest_cmdline

pytestmark = pytest.mark.system

SEED = REPO.parent / "shared" / "seeds" / "zerynth-socket.md"
HOST = "now.zerynth.com"
# What the HTTP server on port 80 serves at "/": long enough that recv(256) gets a full 256 bytes.
INDEX = ("<html><body><h1>Kiln lab</h1>" + "now.zerynth.com answers from the tap. " * 20 +
         "</body></html>\n")


def seed_program() -> str:
    """The example program of the Zerynth seed's "## Examples" section, exactly as written
    (the seed's second example; the first is in the class description)."""
    assert SEED.is_file(), f"the Zerynth seed is missing: expected {SEED} (shared/ beside the repo)"
    examples = SEED.read_text().split("\n## Examples\n", 1)
    assert len(examples) == 2, f"{SEED} has no '## Examples' section"
    blocks = re.findall(r"```python\n(.*?)```", examples[1], flags=re.S)
    assert blocks and "eth.configure(dhcp=True)" in blocks[0], f"no example program in {SEED}"
    return blocks[0]


@pytest.fixture(scope="module")
def aarch64():
    return boards.load("qemu-aarch64")


@pytest.fixture(scope="module")
def zerynth_image(aarch64, tmp_path_factory) -> BootImage:
    """qemu-aarch64 image whose /app holds the seed as main.py and the fault-case apps (built
    or reused under a lock, booted from a private copy: see image_cache)."""
    app_dir = tmp_path_factory.mktemp("zerynth-app")
    shutil.copytree(APPS / "zerynth", app_dir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.md", "__pycache__"))
    (app_dir / "main.py").write_text(seed_program())
    return session_image(aarch64, app_dir, REPO / "out" / "system-tests" / "qemu-aarch64-zerynth",
                         tmp_path_factory.mktemp("image-zerynth"))


@pytest.fixture
def zboot(aarch64, zerynth_image, resources):
    """``zboot(lab, app="main.py", **test_args)``: boot the Zerynth image with the app owning
    the network; guests are powered off at the end of the test.  (Tests list their lab fixture
    before this one, so guests are powered off before their lab is torn down.)"""
    starter = GuestStarter(aarch64, zerynth_image, resources)

    def boot(lab, app="main.py", **test_args) -> Guest:
        extra = " ".join([f"kiln.app={app}"] + [f"kiln.test_{k}={v}" for k, v in test_args.items()])
        # kiln.net=none last: it overrides the network mode guest_cmdline() chose.
        return starter.start(lab, guest_cmdline(zerynth_image, lab, False, extra) + " kiln.net=none")

    yield boot
    starter.close_all()


def set_cable(guest: Guest, plugged: bool) -> None:
    """Plug or pull the guest's cable through the place's cable switch (under QEMU: QMP
    ``set_link`` on the guest NIC, see ``kiln_labgrid.QEMUNetLinkDriver``)."""
    guest.set_cable(plugged)


class LineServer:
    """TCP server in the lab namespace answering each line it reads with its first letters."""

    def __init__(self, lab, reply_len: int):
        self.sock = lab.socket()
        self.sock.bind((str(lab.host_address), 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.reply_len = reply_len

    def serve_one(self, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(timeout)
            line = b""
            while not line.endswith(b"\n"):
                chunk = conn.recv(64)
                if not chunk:
                    break
                line += chunk
            conn.sendall(line[:self.reply_len])
        return line


def http_server(lab, tmp_path):
    """``python3 -m http.server 80`` in the lab namespace, serving INDEX; waits until it serves."""
    docroot = tmp_path / "www"
    docroot.mkdir()
    (docroot / "index.html").write_text(INDEX)
    proc = lab.spawn([sys.executable, "-m", "http.server", "80", "--bind", str(lab.host_address),
                      "--directory", str(docroot)], stdout=subprocess.DEVNULL,
                     stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with lab.socket() as probe:
                probe.connect((str(lab.host_address), 80))
            return proc
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the lab's HTTP server did not start")


def expect_seed_second_example(guest, lab, board: str, info_timeout: float):
    """Follow the seed's Ethernet program on ``guest``'s console against ``lab`` (DNS record
    and HTTP server set up by the caller), from ``board.summary()`` to ``eth.stop()`` releasing
    the lease; returns the ``eth.info()`` match (groups: dhcp, ip, mask, gateway, dns, mac).
    Shared by every board that runs the program."""
    # board.summary(), then eth.info() with the address dnsmasq leased.
    guest.expect(r"Kiln board summary", BOOT_TIMEOUT_S)
    guest.expect(rf"board\s+{re.escape(board)}", 30)
    info = guest.expect(r"\((True), '([\d.]+)', '([\d.]+)', '([\d.]+)', '([\d.]+)', "
                        r"'([0-9a-f:]{17})'\)", info_timeout)
    ip = ipaddress.IPv4Address(info.group(2))
    assert [lease.ip for lease in lab.leases()] == [ip]
    assert ipaddress.IPv4Address(info.group(4)) == lab.host_address   # gateway

    # The DNS answer, then the HTTP response: recv(256) waited for 256 bytes.
    guest.expect(rf"resolved {re.escape(str(lab.host_address))}\r?\n", 30)
    assert f"query[A] {HOST}" in lab.dnsmasq_log()
    m = guest.expect(r"bytearray\((b'.*')\)\r?\n", 30)
    body = ast.literal_eval(m.group(1))           # the printed bytes literal
    assert len(body) == 256 and body.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"Content-Length: %d\r\n" % len(INDEX) in body
    guest.expect(r"close socket\.\.\.", 10)
    guest.expect(r"disconnecting\.\.\.", 10)

    # sleep(5000), then eth.stop(): the lease is released.
    deadline = time.monotonic() + 40
    while f"DHCPRELEASE({lab.tap}) {ip}" not in lab.dnsmasq_log():
        assert time.monotonic() < deadline, "eth.stop() did not release the lease:\n" + \
            lab.dnsmasq_log()
        time.sleep(0.2)
    return info


def test_seed_program_runs_unmodified(lab, zboot, tmp_path):
    lab.add_dns_record(HOST, str(lab.host_address))
    server = http_server(lab, tmp_path)
    guest = zboot(lab)

    info = expect_seed_second_example(guest, lab, "qemu-aarch64", 60)
    ip = ipaddress.IPv4Address(info.group(2))
    assert f"DHCPACK({lab.tap}) {ip}" in lab.dnsmasq_log()
    assert ipaddress.IPv4Address(info.group(5)) == lab.host_address   # dns
    assert ipaddress.IPv4Network(f"{ip}/{info.group(3)}", strict=False) == lab.addressing.network
    assert lab.leases() == []
    # The release comes first, then the link goes down: within seconds the guest stops answering.
    deadline = time.monotonic() + 10
    while lab.run(["busybox", "ping", "-c", "1", "-W", "1", str(ip)], timeout=5).returncode == 0:
        assert time.monotonic() < deadline, "the guest still answers pings after eth.stop()"
        time.sleep(0.2)
    assert "Exception" not in guest.transcript, guest.transcript
    server.terminate()


def test_static_configuration(lab, zboot):
    lab.add_dns_record(HOST, str(lab.host_address))
    server = LineServer(lab, reply_len=5)
    ip = lab.addressing.static_guest
    guest = zboot(lab, app="static.py", ip=ip, mask=lab.addressing.network.netmask,
                  gw=lab.host_address, dns=lab.host_address, port=server.port)
    guest.expect(r"STATIC info", BOOT_TIMEOUT_S)
    assert server.serve_one(60) == b"ping\n"
    assert guest.wait_exit(60) == 0, guest.transcript
    out = guest.transcript
    assert (f"STATIC info (False, '{ip}', '{lab.addressing.network.netmask}', "
            f"'{lab.host_address}', '{lab.host_address}', '") in out
    assert f"STATIC resolved {lab.host_address}" in out
    assert "STATIC reply bytearray(b'ping\\n')" in out
    assert "STATIC stopped connected=False" in out
    assert lab.leases() == [] and "DHCPDISCOVER" not in lab.dnsmasq_log()


@pytest.fixture
def lab_without_dhcp(resources):
    from kiln.host.runner import netns
    from kiln.host.runner.netlab import NetLab
    with NetLab(dhcp=False) as netlab:
        resources.namespaces.add(netlab.name)
        yield netlab
    assert not netns.exists(netlab.name)


def test_dhcp_server_absent_raises_connection_timeout(lab_without_dhcp, zboot):
    guest = zboot(lab_without_dhcp, app="dhcp_timeout.py", timeout_ms=3000)
    assert guest.wait_exit(BOOT_TIMEOUT_S) == 0, guest.transcript
    m = re.search(r"DHCPTIMEOUT raised (\w+) after ([\d.]+) s connected=(\w+)", guest.transcript)
    assert m, guest.transcript
    assert m.group(1) == "ConnectionTimeoutError" and m.group(3) == "False"
    assert 2.9 <= float(m.group(2)) <= 8.0      # the configured 3000 ms, not a minute


def test_resolve_of_unknown_name_raises_resolve_error(lab, zboot):
    lab.add_dns_record(HOST, str(lab.host_address))
    guest = zboot(lab, app="resolve_unknown.py")
    assert guest.wait_exit(BOOT_TIMEOUT_S) == 0, guest.transcript
    m = re.search(r"RESOLVE raised (\w+) code=(-?\d+)", guest.transcript)
    assert m and m.group(1) == "ResolveError" and int(m.group(2)) < 0, guest.transcript
    assert f"RESOLVE known {lab.host_address}" in guest.transcript


def test_cable_pulled_and_restored(lab, zboot):
    lab.add_dns_record(HOST, str(lab.host_address))
    server = LineServer(lab, reply_len=6)
    guest = zboot(lab, app="link_watch.py", port=server.port)
    guest.expect(r"LINK up \d", BOOT_TIMEOUT_S)
    set_cable(guest, False)
    guest.expect(r"LINK down", 30)
    time.sleep(1)
    set_cable(guest, True)
    guest.expect(r"LINK up\r?\n", 30)
    assert server.serve_one(90) == b"again\n"
    assert guest.wait_exit(60) == 0, guest.transcript
    assert "LINK recovered" in guest.transcript and "bytearray(b'again\\n')" in guest.transcript
