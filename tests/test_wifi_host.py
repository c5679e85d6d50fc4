"""The Wi-Fi driver's control-protocol client and wpa_supplicant vocabulary, on the host.

Parsing and encoding are checked on their own; the client and the network configuration are
checked against a real wpa_supplicant (Debian's ``wpasupplicant``), run with its ``wired``
driver on a veth inside a network namespace this module creates -- the control protocol is the
same as with a radio, and what wpa_supplicant stored is read back with ``GET_NETWORK``.  The
association itself (radios, hostapd, DHCP over Wi-Fi) is proven under QEMU
(``tests/system/test_wifi.py``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from driver.wifi import supplicant as sup
from driver.wifi.wpa_ctrl import (WpaCtrl, WpaCtrlError, hex_value, parse_event, parse_fields,
                                  printf_decode, quoted_passphrase)
from kiln.errors import WifiException

# --- parsing and encoding ---------------------------------------------------------------------


def test_events_are_parsed_with_level_name_and_quoted_fields():
    event = parse_event('<3>CTRL-EVENT-SSID-TEMP-DISABLED id=0 ssid="my net" auth_failures=1 '
                        'duration=10 reason=WRONG_KEY')
    assert (event.level, event.name) == (3, "CTRL-EVENT-SSID-TEMP-DISABLED")
    assert event.fields == {"id": "0", "ssid": "my net", "auth_failures": "1",
                            "duration": "10", "reason": "WRONG_KEY"}
    connected = parse_event("<3>CTRL-EVENT-CONNECTED - Connection to 02:00:00:00:01:00 "
                            "completed [id=0 id_str=]")
    assert connected.name == "CTRL-EVENT-CONNECTED" and connected.level == 3
    assert parse_event("CTRL-EVENT-SCAN-RESULTS ").name == "CTRL-EVENT-SCAN-RESULTS"
    assert parse_fields('a=1 b="x y" c') == {"a": "1", "b": "x y"}


def test_printf_decode_undoes_wpa_supplicant_escapes():
    assert printf_decode('a\\"b\\nc\\\\d\\x00\\xff') == b'a"b\nc\\d\x00\xff'
    assert printf_decode("plain") == b"plain"


@pytest.mark.parametrize("passphrase, problem", [
    ("short", "8 to 63 characters"), ("x" * 64, "8 to 63 characters"),
    ("new\nline-pass", "printable ASCII"), ("tab\tseparated", "printable ASCII"),
    ("caf\u00e9-password", "printable ASCII"),
])
def test_passphrases_wpa_supplicant_would_refuse_are_refused_first(passphrase, problem):
    with pytest.raises(ValueError, match=problem):
        quoted_passphrase(passphrase)


def test_every_security_mode_has_its_settings():
    net = sup.Network("lab", sup.WPA2, 'pa"ss\\word')
    assert dict(sup.network_settings(net)) == {
        "ssid": b"lab".hex(), "scan_ssid": "1", "key_mgmt": "WPA-PSK", "proto": "RSN",
        "psk": '"pa"ss\\word"'}
    wpa3 = dict(sup.network_settings(sup.Network("lab", sup.WPA3, "sae secret")))
    assert wpa3["key_mgmt"] == "SAE" and wpa3["ieee80211w"] == "2"
    assert wpa3["sae_password"] == b"sae secret".hex()
    assert dict(sup.network_settings(sup.Network("lab", sup.OPEN)))["key_mgmt"] == "NONE"
    assert dict(sup.network_settings(sup.Network("lab", sup.WEP, "abcde")))["wep_key0"] == \
        b"abcde".hex()
    ent = dict(sup.network_settings(sup.Network("lab", sup.WPA2_ENTERPRISE, "", "me", "pw")))
    assert (ent["key_mgmt"], ent["eap"], ent["identity"]) == ("WPA-EAP", "PEAP", b"me".hex())
    mixed = dict(sup.network_settings(sup.Network("lab", sup.WPA2_WPA3, "12345678")))
    assert mixed["key_mgmt"] == "WPA-PSK SAE" and mixed["psk"] == '"12345678"'


@pytest.mark.parametrize("net, problem", [
    (sup.Network("", sup.WPA2, "12345678"), "ssid must be 1 to 32 bytes"),
    (sup.Network("x" * 33, sup.WPA2, "12345678"), "ssid must be 1 to 32 bytes"),
    (sup.Network("lab", sup.WPA2, "1234567"), "password: a WPA passphrase has 8 to 63"),
    (sup.Network("lab", sup.WPA3, ""), "password is required for WPA3"),
    (sup.Network("lab", sup.WEP, "abc"), "password: a WEP key"),
    (sup.Network("lab", sup.WPA2_ENTERPRISE), "ent_user is required"),
    (sup.Network("lab", 8, "12345678"), "security must be one of 0..7"),
])
def test_bad_networks_name_the_field(net, problem):
    with pytest.raises(ValueError, match=problem):
        sup.network_settings(net)


@pytest.mark.parametrize("flags, security", [
    ("[ESS]", sup.OPEN), ("[WEP][ESS]", sup.WEP), ("[WPA-PSK-TKIP][ESS]", sup.WPA),
    ("[WPA2-PSK-CCMP][ESS]", sup.WPA2), ("[WPA-PSK-CCMP][WPA2-PSK-CCMP][ESS]", sup.WPA_WPA2),
    ("[WPA2-EAP-CCMP][ESS]", sup.WPA2_ENTERPRISE), ("[RSN-SAE-CCMP][ESS]", sup.WPA3),
    ("[WPA2-PSK+SAE-CCMP][ESS]", sup.WPA2_WPA3),
])
def test_scan_flags_map_to_zerynth_security(flags, security):
    assert sup.security_of(flags) == security


def test_bss_reply_becomes_a_scan_record():
    reply = ("id=3\nbssid=02:00:00:00:01:00\nfreq=2437\nlevel=-42\n"
             "flags=[WPA2-PSK-CCMP][ESS]\nssid=caf\\xc3\\xa9 \\\"lab\\\"\n")
    assert sup.parse_bss(reply) == sup.ScanRecord('caf\u00e9 "lab"', 6, -42, sup.WPA2,
                                                  "02:00:00:00:01:00")
    assert sup.parse_bss("") is None
    assert [sup.channel_of(f) for f in (2412, 2484, 5180, 5955, 900)] == [1, 14, 36, 1, 0]


def test_configure_refuses_bad_arguments_naming_them():
    from driver.wifi.linux import LinuxWifi
    radio = LinuxWifi("wlan9")
    with pytest.raises(TypeError, match=r"configure\(\): password must be a str"):
        radio.configure(ssid="lab", password=12345678)
    with pytest.raises(ValueError, match=r"configure\(\): password: a WPA passphrase"):
        radio.configure(ssid="lab", password="x\ny-password", security=sup.WPA2)
    with pytest.raises(TypeError, match=r"configure\(\): security must be an int"):
        radio.configure(ssid="lab", password="12345678", security="wpa2")
    with pytest.raises(ValueError, match=r"configure\(\): ip is required"):
        radio.configure(ssid="lab", password="12345678", dhcp=False)
    with pytest.raises(WifiException, match="no network configured"):
        radio.start(1000)


def test_wireless_and_networking_wifi_name_the_missing_driver(monkeypatch):
    import driver.wifi
    from wireless import wifi as v2
    monkeypatch.setattr(driver.wifi, "_registered", None)
    with pytest.raises(WifiException, match="no Wi-Fi driver initialised"):
        v2.link("lab", v2.WIFI_WPA2, "12345678")
    monkeypatch.delenv(driver.wifi.DRIVER_ENV, raising=False)
    from networking import wifi as v3
    with pytest.raises(WifiException, match="no Wi-Fi driver initialised and the board names"):
        v3.configure("lab", "12345678")
    with pytest.raises(ValueError, match=r"link\(\): sec must be WIFI_OPEN"):
        v2.link("lab", 7, "12345678")


def test_constants_follow_zerynth():
    from networking import wifi as v3
    from wireless import wifi as v2
    assert [getattr(v3, n) for n in ("OPEN", "WEP", "WPA", "WPA2", "WPA_WPA2", "WPA2_ENTERPRISE",
                                     "WPA3", "WPA2_WPA3")] == list(range(8))
    assert (v3.WIFI_WPA2, v3.WIFI_WPA3) == (3, 6)
    assert (v2.WIFI_OPEN, v2.WIFI_WEP, v2.WIFI_WPA, v2.WIFI_WPA2) == (0, 1, 2, 3)


# --- against a real wpa_supplicant ------------------------------------------------------------


@pytest.fixture
def wpa_supplicant():
    """wpa_supplicant (wired driver) on a veth in a private namespace; yields (ifname, ctrl_dir).
    Everything is removed afterwards."""
    program = shutil.which("wpa_supplicant") or "/sbin/wpa_supplicant"
    if not os.path.exists(program):
        pytest.fail("wpa_supplicant missing: scripts/install-deps installs wpasupplicant")
    ns = f"kiln-wpa-{os.getpid()}"
    tmp = tempfile.mkdtemp(prefix="kiln-wpa-")
    subprocess.run(["ip", "netns", "add", ns], check=True)
    proc = None
    try:
        subprocess.run(["ip", "-n", ns, "link", "add", "kw0", "type", "veth", "peer", "name",
                        "kw1"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "kw0", "up"], check=True)
        conf = os.path.join(tmp, "wpa.conf")
        with open(conf, "w") as f:
            f.write(f"ctrl_interface={tmp}/ctrl\nupdate_config=0\n")
        proc = subprocess.Popen(["ip", "netns", "exec", ns, program, "-i", "kw0", "-D", "wired",
                                 "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(f"{tmp}/ctrl/kw0"):
            assert time.monotonic() < deadline and proc.poll() is None, "wpa_supplicant failed"
            time.sleep(0.05)
        yield "kw0", f"{tmp}/ctrl"
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(5)
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def _get(ctrl: WpaCtrl, net_id: int, name: str) -> bytes:
    """GET_NETWORK's value as bytes (wpa_supplicant answers "quoted" or hex)."""
    value = ctrl.request(f"GET_NETWORK {net_id} {name}")
    if value.startswith('"') and value.endswith('"'):
        return value[1:-1].encode()
    return bytes.fromhex(value)


def test_client_talks_to_wpa_supplicant_and_gets_events(wpa_supplicant):
    ifname, ctrl_dir = wpa_supplicant
    with WpaCtrl(ifname, ctrl_dir) as ctrl:
        assert ctrl.request("PING") == "PONG\n"
        ctrl.attach()
        assert ctrl.request("ADD_NETWORK").strip() == "0"
        event = ctrl.event(5)
        assert event is not None and event.name == "CTRL-EVENT-NETWORK-ADDED"
        assert event.text == "0"
        assert ctrl.event(0.2) is None            # nothing else pending: a timeout, not an error
        ctrl.detach()
        with pytest.raises(WpaCtrlError, match="not attached"):
            ctrl.event(0.1)
    leftovers = [n for n in os.listdir("/run" if os.access("/run", os.W_OK) else "/tmp")
                 if n.startswith(f"kiln_wpa_ctrl_{os.getpid()}-")]
    assert leftovers == [], "client sockets left behind"


@pytest.mark.parametrize("ssid, password", [
    ('quote" and \\ and\nnewline', 'pass"word\\with"quotes'),
    ('x"\nnetwork={\nkey_mgmt=NONE\n}', '12345678" key_mgmt=NONE psk="abcdefgh'),
])
def test_ssid_and_password_cannot_inject_configuration(wpa_supplicant, ssid, password):
    ifname, ctrl_dir = wpa_supplicant
    s = sup.Supplicant(ifname, ctrl_dir)
    try:
        net_id = s.configure(sup.Network(ssid, sup.WPA2, password))
        ctrl = s.ctrl
        assert ctrl.request("LIST_NETWORKS").strip().count("\n") == 1   # header + one network
        assert _get(ctrl, net_id, "ssid") == ssid.encode()
        assert ctrl.request(f"GET_NETWORK {net_id} key_mgmt") == "WPA-PSK"
        assert ctrl.request(f"GET_NETWORK {net_id} proto") == "RSN"
        # The passphrase is stored whole (wpa_supplicant never echoes it: it answers "*").
        assert ctrl.request(f"GET_NETWORK {net_id} psk") == "*"
        # Configuring again replaces the network instead of adding a second one.
        s.configure(sup.Network("other", sup.OPEN))
        assert ctrl.request("LIST_NETWORKS").strip().count("\n") == 1
        assert _get(ctrl, int(ctrl.request("LIST_NETWORKS").splitlines()[1].split("\t")[0]),
                    "ssid") == b"other"
    finally:
        s.close()


def test_a_refused_passphrase_changes_nothing(wpa_supplicant):
    ifname, ctrl_dir = wpa_supplicant
    s = sup.Supplicant(ifname, ctrl_dir)
    try:
        s.configure(sup.Network("kept", sup.OPEN))
        with pytest.raises(ValueError, match="password: a WPA passphrase is printable ASCII"):
            s.configure(sup.Network("new", sup.WPA2, "bad\npassphrase"))
        networks = s.ctrl.request("LIST_NETWORKS").strip().splitlines()[1:]
        assert len(networks) == 1 and networks[0].split("\t")[1] == "kept"
    finally:
        s.close()
