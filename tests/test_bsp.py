"""bsp.board and bsp.rpi against recorded board trees (tests/fixtures/boards/, see generate.py)."""
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bsp import board, identity, rpi

FIXTURES = Path(__file__).parent / "fixtures" / "boards"
REPO = Path(__file__).resolve().parents[1]


# ---- revision codes ---------------------------------------------------------------------------

@pytest.mark.parametrize("code, btype, rev, mem, maker, soc", [
    ("a02082", "3B", "1.2", 1024, "Sony UK", "BCM2837"),
    ("a22082", "3B", "1.2", 1024, "Embest", "BCM2837"),
    ("a020d3", "3B+", "1.3", 1024, "Sony UK", "BCM2837"),
    ("c03114", "4B", "1.4", 4096, "Sony UK", "BCM2711"),
    ("d03115", "4B", "1.5", 8192, "Sony UK", "BCM2711"),
    ("902120", "Zero 2 W", "1.0", 512, "Sony UK", "BCM2837"),
    ("9000c1", "Zero W", "1.1", 512, "Sony UK", "BCM2835"),
    ("0x000e", "B", "2.0", 512, "Sony UK", "BCM2835"),
])
def test_revision_codes_decode_per_published_table(code, btype, rev, mem, maker, soc):
    r = rpi.decode(code)
    assert (r.type, r.revision, r.memory_mb, r.manufacturer, r.processor) == \
        (btype, rev, mem, maker, soc)
    assert r.new_style == (int(code, 16) >= 0x800000)


def test_revision_model_names():
    assert rpi.decode("c03114").model == "Raspberry Pi 4 Model B"
    assert rpi.decode("902120").model == "Raspberry Pi Zero 2 W"
    assert rpi.decode("a02082").model == "Raspberry Pi 3 Model B"


def test_revision_warranty_bit_and_int_input():
    assert rpi.decode(0x2A02082).warranty_void
    assert not rpi.decode(0xA02082).warranty_void


@pytest.mark.parametrize("bad", ["zz", "", "0x1ffffffff", -1, "0001"])
def test_revision_bad_codes_raise_value_error(bad):
    with pytest.raises(ValueError, match="revision code"):
        rpi.decode(bad)


# ---- identity from recorded trees -------------------------------------------------------------

EXPECTED = {
    "rpi3b": dict(model="Raspberry Pi 3 Model B", soc="BCM2837", cpu="Cortex-A53",
                  serial="00000000765fc593", revision=0xA02082, memory_mb=922,
                  nics=["eth0", "wlan0"]),
    "rpi4b": dict(model="Raspberry Pi 4 Model B", soc="BCM2711", cpu="Cortex-A72",
                  serial="10000000a1b2c3d4", revision=0xC03114, memory_mb=3793,
                  nics=["eth0", "wlan0"]),
    "rpi-zero2w": dict(model="Raspberry Pi Zero 2 W", soc="BCM2837", cpu="Cortex-A53",
                       serial="00000000e5f6a7b8", revision=0x902120, memory_mb=429,
                       nics=["wlan0"]),
    "qemu-aarch64": dict(model="linux,dummy-virt", soc="QEMU virt (Cortex-A53)",
                         cpu="Cortex-A53", serial=None, revision=None, memory_mb=481,
                         nics=["eth0"]),
    "qemu-arm": dict(model="linux,dummy-virt", soc="QEMU virt (Cortex-A15)", cpu="Cortex-A15",
                     serial=None, revision=None, memory_mb=489, nics=["eth0"]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_board_is_identified(name):
    facts = identity.read_facts(FIXTURES / name)
    want = EXPECTED[name]
    assert facts.board == name and not facts.is_host
    assert facts.model == want["model"]
    assert facts.soc == want["soc"] and facts.cpu == want["cpu"]
    assert facts.serial == want["serial"]
    assert (facts.revision.code if facts.revision else None) == want["revision"]
    assert facts.memory_mb == want["memory_mb"]
    assert [n.name for n in facts.interfaces] == want["nics"]
    assert all(len(n.mac.split(":")) == 6 for n in facts.interfaces)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_summary_prints_true_facts(name, monkeypatch, capsys):
    monkeypatch.setattr(board, "_ROOT", FIXTURES / name)
    board.summary()
    out = capsys.readouterr().out
    facts = identity.read_facts(FIXTURES / name)
    assert out.startswith("Kiln board summary\n")
    for text in (name, facts.model, facts.soc, facts.kernel, facts.kiln_version,
                 *(n.mac for n in facts.interfaces)):
        assert text in out
    if facts.revision:
        assert f"{facts.revision.code:06x}" in out and facts.serial in out


def test_qemu_boards_told_apart_by_architecture():
    assert identity.read_facts(FIXTURES / "qemu-aarch64").board == "qemu-aarch64"
    assert identity.read_facts(FIXTURES / "qemu-arm").board == "qemu-arm"


def test_kiln_image_board_file_wins_over_device_tree(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "qemu-aarch64", root)
    (root / "etc/kiln").mkdir(parents=True)
    shutil.copy(REPO / "board_configs/qemu-arm.toml", root / "etc/kiln/board.toml")
    assert identity.read_facts(root).board == "qemu-arm"


def test_unknown_device_tree_is_reported_as_host(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "rpi4b", root)
    (root / "proc/device-tree/compatible").write_bytes(b"acme,widget\0acme,soc\0")
    facts = identity.read_facts(root)
    assert facts.is_host and facts.board == "host"
    assert "development host" in board.format_summary(facts)


def test_this_machine_reports_itself_honestly():
    facts = board.facts()
    assert facts.is_host and facts.board == "host"
    assert facts.machine == os.uname().machine
    assert facts.kernel == os.uname().release


def test_init_on_host_changes_nothing():
    assert board.init() == []


def test_init_sets_leds_off_and_takes_interfaces_down_inside_a_namespace(tmp_path):
    """board.init() on a recorded Pi 4 whose eth0 is a real (veth) interface in a namespace
    the test creates: LEDs written off, eth0 taken down; nothing outside the namespace."""
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "rpi4b", root)
    for led in ("ACT", "PWR"):
        (root / "sys/class/leds" / led).mkdir(parents=True)
        (root / "sys/class/leds" / led / "brightness").write_text("1")
        (root / "sys/class/leds" / led / "trigger").write_text("heartbeat")
    ns = f"kiln-bsp-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        ip = ["ip", "-n", ns]
        subprocess.run(ip + ["link", "add", "eth0", "type", "veth", "peer", "name", "peer0"],
                       check=True)
        subprocess.run(ip + ["link", "set", "eth0", "up"], check=True)
        script = "from bsp import board; print(board.init())"
        out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", script],
                             env={**os.environ, "KILN_SYSROOT": str(root)},
                             capture_output=True, text=True, check=True).stdout
        assert out.strip() == "['led ACT off', 'led PWR off', 'eth0 down']"
        link = subprocess.run(ip + ["-o", "link", "show", "eth0"], capture_output=True,
                              text=True, check=True).stdout
        assert "state DOWN" in link and ",UP" not in link
        for led in ("ACT", "PWR"):
            assert (root / "sys/class/leds" / led / "brightness").read_text() == "0"
            assert (root / "sys/class/leds" / led / "trigger").read_text() == "none"
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)


def test_init_in_host_namespace_leaves_interfaces_alone(tmp_path, monkeypatch):
    """A recorded Pi 3 tree, but this process is in the host's own namespace: LEDs (files in the
    tree) are set, interfaces are refused with the reason."""
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "rpi3b", root)
    monkeypatch.setattr(board, "_ROOT", root)
    monkeypatch.delenv("KILN_ALLOW_HOST_NETWORK", raising=False)
    monkeypatch.setattr(board, "_LIVE_NET", root / "sys/class/net")  # as if eth0, wlan0 existed
    (root / "sys/class/leds/ACT").mkdir(parents=True)
    done = board.init()
    assert done[0] == "led ACT off"
    assert [d.split(":")[0] for d in done[1:]] == ["eth0 left as is", "wlan0 left as is"]
    assert all("development host" in d for d in done[1:])
