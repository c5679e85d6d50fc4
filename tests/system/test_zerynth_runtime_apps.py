"""Issue #18 under QEMU: Zerynth's v2 ``Mini_Web_Server`` example over Wi-Fi, on qemu-aarch64.

``Mini_Web_Server`` (Zerynth v2: ``streams.serial()``, ``streams.SocketStream``,
``print(..., stream=client)``, ``random(0, 100)``) with only its driver line pointing at Kiln's
simulated radio (``from driver.wifi.hwsim import hwsim as wifi_driver``) runs on the Wi-Fi lab
image (mac80211_hwsim + hostapd in the guest): it links to the lab's "Network-Name" access
point, and the host fetches its page twice.  The example is read from Zerynth's repository at a
pinned commit (``tests/zerynth_examples``).  One boot.

The rest of the Zerynth runtime face on the images -- ``thread()`` and priorities, ``timers``,
``threading``, ``new_exception``, ``random``, ``streams.SocketStream`` over a socket bound with
``ifc``, ``requests`` -- and the v3 ``Ethernet_http`` example run in the program-test boot of
every QEMU board (tests/system/test_programs.py).
"""
from __future__ import annotations

import re
import sys

import pytest

from guest import BOOT_TIMEOUT_S, GuestStarter
from image_cache import session_image
from layout import REPO
from kiln import boards
from kiln.host.runner.boot import guest_cmdline
from kiln.host.runner.wifilab import LabNetwork, lab_arg
from servers import connect_to_guest

sys.path.insert(0, str(REPO))
from tests.zerynth_examples import example_source, with_driver  # noqa: E402

pytestmark = pytest.mark.system

BOARD = "qemu-aarch64"
MINI_NET = LabNetwork("Network-Name", "wpa2", "Wifi-Password")     # what the example links to
HWSIM_DRIVER = "from driver.wifi.hwsim import hwsim as wifi_driver"


@pytest.fixture(scope="module")
def aarch64():
    return boards.load(BOARD)


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
