"""Wi-Fi under QEMU: the image's station (wlan0, a mac80211_hwsim radio) joins access points that
hostapd runs on the guest's second simulated radio, bridged to the virtio NIC, so everything the
station sends crosses the tap to the host-side lab (dnsmasq, test servers).

- The first example program of ``shared/seeds/zerynth-socket.md`` runs byte for byte (the lab's
  network is the seed's 192.168.1.0/24 with a host-side peer at 192.168.1.10:5555).
- ``apps/wifi/wifi_checks.py`` walks every Wi-Fi API (Zerynth v2 and v3, MicroPython's
  ``network``) through the lab: scan, wrong password, unknown SSID, link, DHCP, DNS, TCP and
  HTTP, the access point stopped and restarted, ``stop()`` failing a blocked socket at once,
  WPA3-SAE, an open network -- with an SSID and a password holding quotes and backslashes.

Both QEMU boards run it: Debian's arm64 and armmp kernels both ship mac80211_hwsim.
"""
from __future__ import annotations

import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from guest import BOOT_TIMEOUT_S, GuestStarter
from image_cache import locked, session_image
from layout import APPS, REPO
from kiln import boards
from kiln.host.runner.addressing import LabAddressing
from kiln.host.runner.boot import guest_cmdline
from kiln.host.runner import netns
from kiln.host.runner.netlab import NetLab
from kiln.host.runner.wifilab import LabNetwork, encode, lab_arg

pytestmark = pytest.mark.system

SEED = REPO.parent / "shared" / "seeds" / "zerynth-socket.md"
# The seed's own network: the Wi-Fi credentials and the peer it hard-codes.
SEED_SSID, SEED_PASSWORD, SEED_PEER = "Your Wifi SSID", "Your Wifi Password", ("192.168.1.10", 5555)
# The checks' networks: an SSID and a passphrase holding a quote, a backslash and spaces.
WPA2_NET = LabNetwork('Kiln "lab" \\ wpa2', "wpa2", 'pa"ss \\ word')
WPA3_NET = LabNetwork("kiln-sae", "wpa3", "correct horse battery")
OPEN_NET = LabNetwork("kiln-open", "open")
HTTP_NAME = "www.kiln.test"
WIFI_BOARDS = ["qemu-aarch64", "qemu-arm"]


def seed_first_example() -> str:
    """The first program of the Zerynth seed (in the socket class description), as written."""
    assert SEED.is_file(), f"the Zerynth seed is missing: expected {SEED}"
    blocks = re.findall(r"```python\n(.*?)```", SEED.read_text(), flags=re.S)
    first = [b for b in blocks if "from wireless import wifi" in b]
    assert first, f"no Wi-Fi example program in {SEED}"
    return first[0]


@pytest.fixture(scope="module", params=WIFI_BOARDS)
def wifi_board(request):
    return boards.load(request.param)


def wifi_image_dir(board) -> Path:
    return REPO / "out" / "system-tests" / f"{board.name}-wifi"


@pytest.fixture(scope="module")
def wifi_app(tmp_path_factory) -> Path:
    """/app of the Wi-Fi images: apps/wifi + the seed's first example as main.py."""
    app_dir = tmp_path_factory.mktemp("wifi-app")
    shutil.copytree(APPS / "wifi", app_dir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (app_dir / "main.py").write_text(seed_first_example())
    return app_dir


@pytest.fixture(scope="module")
def wifi_image(wifi_board, wifi_app, tmp_path_factory):
    """The board's image with the Wi-Fi test lab and :func:`wifi_app`."""
    return session_image(wifi_board, wifi_app, wifi_image_dir(wifi_board),
                         tmp_path_factory.mktemp(f"image-{wifi_board.name}-wifi"), labs=("wifi",))


@pytest.fixture
def wboot(wifi_board, wifi_image, resources):
    """``wboot(lab, networks, app="main.py", extra="")``: boot the Wi-Fi image with the lab's
    access points; the app owns the network (kiln.net=none)."""
    starter = GuestStarter(wifi_board, wifi_image, resources)

    def boot(lab, networks, app="main.py", extra=""):
        args = f"kiln.app={app} {lab_arg(networks)} {extra}".strip()
        return starter.start(lab, guest_cmdline(wifi_image, lab, False, args) + " kiln.net=none")

    yield boot
    starter.close_all()


class ReverseLineServer:
    """TCP server in the lab namespace: answers every line with the line reversed; records
    what it received."""

    def __init__(self, lab, address: str, port: int = 0) -> None:
        self.sock = lab.socket()
        self.sock.bind((address, port))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(120)
            data = b""
            try:
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                    while b"\n" in data:
                        line, data = data.split(b"\n", 1)
                        self.received.append(line)
                        conn.sendall(line[::-1])
            except OSError:
                pass
            if data:
                self.received.append(data)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def seed_lab(resources):
    """The seed's network: 192.168.1.0/24, DHCP and DNS, the peer's address 192.168.1.10."""
    addressing = LabAddressing.for_network("192.168.1.0/24", reserved=(SEED_PEER[0],))
    with NetLab(addressing=addressing, host_addresses=[SEED_PEER[0]]) as netlab:
        resources.namespaces.add(netlab.name)
        yield netlab


def test_seed_first_example_runs_unmodified_over_wifi(seed_lab, wboot):
    peer = ReverseLineServer(seed_lab, *SEED_PEER)
    try:
        guest = wboot(seed_lab, [LabNetwork(SEED_SSID, "wpa2", SEED_PASSWORD)])
        assert guest.wait_exit(BOOT_TIMEOUT_S + 60) == 0, guest.transcript
    finally:
        peer.close()
    assert "KILN: lab wifi-ap ready ssid=b'Your Wifi SSID' security=wpa2" in guest.transcript
    assert peer.received == [b"Hello World!"], guest.transcript
    lease = seed_lab.leases()
    assert len(lease) == 1 and str(lease[0].ip).startswith("192.168.1."), lease


def test_kiln_run_wifi_lab_serves_the_seed_program(wifi_board, wifi_image, wifi_app, resources):
    """The same, as a user runs it: kiln run --wifi-ap ... --subnet ... --host-address ...
    with the peer as a --host-server (the image of the fixture is reused: same app, same lab)."""
    name = f"kiln-test-{secrets.token_hex(3)}"
    resources.namespaces.add(name)
    peer = ("import socket; s = socket.socket(); s.bind(('192.168.1.10', 5555)); s.listen(1); "
            "c, _ = s.accept(); print('PEER GOT', c.recv(100), flush=True)")
    with locked(wifi_image_dir(wifi_board)):
        result = subprocess.run(
            [sys.executable, "-m", "kiln.host", "run", "--board", wifi_board.name,
             "--app", str(wifi_app), "--out-dir", str(wifi_image_dir(wifi_board)),
             "--netns", name, "--wifi-ap", SEED_SSID, "--wifi-password", SEED_PASSWORD,
             "--subnet", "192.168.1.0/24", "--host-address", SEED_PEER[0],
             "--host-server", f'{sys.executable} -c "{peer}"', "--timeout", "300"],
            capture_output=True, text=True, timeout=420)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PEER GOT b'Hello World!'" in result.stderr, result.stderr
    assert "KILN: lab wifi-ap ready ssid=b'Your Wifi SSID' security=wpa2" in result.stdout
    assert "kiln: building" not in result.stderr        # the fixture's image was reused
    assert not netns.exists(name)


def test_every_wifi_api_against_the_lab(lab, wboot, tmp_path):
    from test_zerynth_apps import http_server
    lab.add_dns_record(HTTP_NAME, str(lab.host_address))
    http = http_server(lab, tmp_path)
    server = ReverseLineServer(lab, str(lab.host_address))
    args = {"wpa2": [WPA2_NET.ssid, WPA2_NET.password],
            "wpa3": [WPA3_NET.ssid, WPA3_NET.password], "open": OPEN_NET.ssid,
            "server": [str(lab.host_address), server.port], "http": [HTTP_NAME, 80],
            "hostapd": ["/run/hostapd", "wlan1"]}
    try:
        guest = wboot(lab, [WPA2_NET, WPA3_NET, OPEN_NET], app="wifi_checks.py",
                      extra="kiln.test_wifi=" + encode(args))
        status = guest.wait_exit(BOOT_TIMEOUT_S + 420)
    finally:
        server.close()
        http.terminate()
    assert status == 0, guest.transcript
    steps = ("v2scan", "badpass", "badssid", "v2link", "v2unlink", "v3start", "v3scan",
             "v3recover", "v3stop", "wpa3badpass", "wpa3", "open", "mpy", "newline")
    checks = {step: guest.checks(f"wifi-{step}") for step in steps}
    assert all(len(found) == 1 for found in checks.values()), (checks, guest.transcript)
    checks = {step: found[0] for step, found in checks.items()}

    scan = checks["v2scan"]
    assert (scan["sec"], scan["rssi_type"], scan["bssid_type"], scan["bssid_len"]) == \
        ("3", "int", "bytes", "6"), scan
    assert -100 < int(scan["rssi"]) < 0 and int(scan["count"]) >= 3
    # The errors come by the link timeout, never after it: no hang.
    from wireless.wifi import LINK_TIMEOUT_MS
    bound = LINK_TIMEOUT_MS + 2000
    assert checks["badpass"]["exc"] == "WifiBadPassword" and int(checks["badpass"]["ms"]) < bound
    assert checks["badssid"]["exc"] == "WifiBadSSID" and int(checks["badssid"]["ms"]) < bound

    link = checks["v2link"]
    # dnsmasq leased it over Wi-Fi (and got it back: unlink()/stop() release the lease).
    assert f"DHCPACK({lab.tap}) {link['ip']} " in lab.dnsmasq_log(), lab.dnsmasq_log()
    assert f"DHCPRELEASE({lab.tap}) {link['ip']} " in lab.dnsmasq_log()
    assert (link["gw"], link["dns"], link["mac_len"]) == (str(lab.host_address),
                                                          str(lab.host_address), "6")
    assert link["resolved"] == str(lab.host_address) and link["linked"] == "True"
    assert link["answer"] == "v2-over-wifi"[::-1] and int(link["rssi"]) < 0
    assert checks["v2unlink"]["linked"] == "False"

    start = checks["v3start"]
    assert (start["dhcp"], start["connected"], start["resolved"]) == \
        ("True", "True", str(lab.host_address))
    assert start["status"].startswith("HTTP/1.0_200") or start["status"].startswith("HTTP/1.1_200")
    assert bytes.fromhex(start["ap_ssid"]).decode() == WPA2_NET.ssid
    assert (start["ap_channel"], start["ap_sec"]) == ("1", "3")
    assert int(checks["v3scan"]["n"]) >= 3 and checks["v3scan"]["first_fields"] == "5"

    recover = checks["v3recover"]
    assert (recover["lost"], recover["back"]) == ("True", "True"), recover
    assert recover["answer"] == "after-the-ap-returned"[::-1]
    stop = checks["v3stop"]
    assert stop["recv"] not in ("data", "hung") and int(stop["recv_ms"]) < 5000, stop
    assert stop["connected"] == "False"

    assert checks["wpa3badpass"]["exc"] == "WifiBadPassword"
    assert checks["wpa3"]["sec"] == "6" and checks["wpa3"]["ip"]
    assert checks["open"]["sec"] == "0" and checks["open"]["answer"] == "open-network"[::-1]
    mpy = checks["mpy"]
    assert (mpy["wrong"], mpy["got"], mpy["connected"], mpy["mac_len"]) == ("-3", "3", "True",
                                                                           "6"), mpy
    assert mpy["answer"] == "micropython"[::-1]
    assert checks["newline"]["exc"] == "ValueError"
    assert "password" in bytes.fromhex(checks["newline"]["msg"]).decode()
    assert {b"v2-over-wifi", b"after-the-ap-returned", b"open-network", b"micropython"} <= \
        set(server.received)
