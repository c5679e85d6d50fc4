"""Boots the test image (see test_image_build) under QEMU and checks the init's contract:
network per ``kiln.net=`` (applied by the launcher through ``networking.eth``), the app's output on the console, its exit status, power-off.

The guest NIC uses QEMU's user-mode network with ``restrict=on``: the guest can reach only
QEMU's built-in DHCP server and gateway, never the host's networks.  (Tap networking inside a
namespace is the runner's job and is covered by tests/system.)
"""
from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from kiln import boards
from kiln.host import image

from test_image_build import BOARD, image_dir

APP = '''\
import os, sys
import socket as which_socket
print("boot-app: socket", which_socket.__name__)
from networking import eth
from bsp import board
print("boot-app: net", eth.info()[:5], "iface", os.environ["KILN_ETH_IFACE"])
print("boot-app: facts", board.facts().board)
print("boot-app: modules", sorted(m for m in sys.modules
                                  if m == "argparse" or m.startswith("kiln.host")))
print("boot-app: board", open("/etc/kiln/board-name").read().strip())
from networking import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5000))
print("boot-app: udp bound", s.getsockname()[1])
s.close()
sys.exit(int(os.environ.get("BOOT_APP_STATUS", "0")))
'''


@pytest.fixture(scope="module")
def booted_image(tmp_path_factory):
    app = tmp_path_factory.mktemp("boot-app") / "main.py"
    app.write_text(APP)
    return image.ensure(BOARD, app=app, out_dir=image_dir().with_name(BOARD + "-boot"))


def boot(artifacts, extra: str, timeout: float = 120) -> tuple[str, int, float]:
    board = boards.load(BOARD)
    q = board.qemu
    if not shutil.which(q.binary):
        pytest.fail(f"{q.binary} missing: apt-get install {q.package}")
    cmd = [q.binary, "-M", q.machine, "-cpu", q.cpu, "-m", str(q.memory_mb), "-smp", str(q.smp),
           "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
           "-netdev", "user,id=n0,restrict=on,net=10.0.2.0/24", *q.nic("n0"),
           "-kernel", str(artifacts.kernel), "-initrd", str(artifacts.initrd),
           "-append", f"{artifacts.cmdline} {extra}"]
    t0 = time.monotonic()
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=timeout)
    return result.stdout.replace("\r", ""), result.returncode, time.monotonic() - t0


def test_static_network_app_output_and_exit_status(booted_image):
    out, rc, _ = boot(booted_image, "kiln.net=static:10.0.2.77/24,gw=10.0.2.2,dns=10.0.2.3 "
                                    "BOOT_APP_STATUS=7")
    assert rc == 0, out  # poweroff -f ends QEMU cleanly
    assert f"KILN: board {BOARD}" in out
    assert "KILN: net static 10.0.2.77/24 gw=10.0.2.2 dns=10.0.2.3" in out
    assert "boot-app: net (False, '10.0.2.77', '255.255.255.0', '10.0.2.2', '10.0.2.3') " \
           "iface eth0" in out
    # Launcher, network bring-up, eth and board.facts() import no host tooling on the board.
    assert f"boot-app: facts {BOARD}" in out
    assert "boot-app: modules []" in out
    assert f"boot-app: board {BOARD}" in out
    assert "boot-app: udp bound 5000" in out
    assert "boot-app: socket networking.socket" in out  # the launcher's default Zerynth API
    assert out.index("KILN: app start") < out.index("boot-app: net")
    assert "KILN: app exited with status 7" in out


def test_dhcp_is_the_default(booted_image):
    out, rc, _ = boot(booted_image, "")
    assert rc == 0, out
    # restrict=on makes QEMU's DHCP server offer no router or DNS server (tests/system check
    # those with dnsmasq); the lease's address and prefix must still be applied.
    assert "KILN: net dhcp 10.0.2.15/24 gw=none dns=none" in out
    assert "boot-app: net (True, '10.0.2.15', '255.255.255.0', '', '') iface eth0" in out
    assert "KILN: app exited with status 0" in out


def test_bad_net_argument_is_reported_and_api_is_selectable(booted_image):
    out, rc, _ = boot(booted_image, "kiln.net=bogus kiln.api=cpython")
    assert rc == 0, out
    assert "KILN: net failed (unknown kiln.net=bogus" in out
    assert "boot-app: socket socket" in out  # kiln.api=cpython: the stdlib module
    assert "KILN: app exited with status" in out
