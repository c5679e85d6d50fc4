"""wpa_supplicant for one radio: started by Kiln (or found already running), and spoken to
through its control interface (:mod:`driver.wifi.wpa_ctrl`).

This module knows wpa_supplicant's vocabulary -- how each security mode is configured, what its
scan results and status look like -- and nothing about IP or about Zerynth's API.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import NamedTuple

from driver.ip.dhcp import find_program
from driver.wifi.wpa_ctrl import (CTRL_DIR, WpaCtrl, WpaCtrlError, hex_value, parse_lines,
                                  printf_decode, quoted_passphrase)
from kiln.errors import WifiException

from driver.wifi.security import (NAMES as SECURITY_NAMES, OPEN, WEP, WPA, WPA2,  # noqa: F401
                                  WPA2_ENTERPRISE, WPA2_WPA3, WPA3, WPA_WPA2)


class Network(NamedTuple):
    """What to associate with: ``ssid`` (str or bytes, 1-32 bytes), ``security`` (0..7),
    ``password`` (passphrase, SAE password or WEP key), ``ent_user``/``ent_pwd`` (PEAP)."""

    ssid: str | bytes
    security: int
    password: str = ""
    ent_user: str = ""
    ent_pwd: str = ""


class ScanRecord(NamedTuple):
    """One access point seen by a scan: ``ssid`` (str; bytes that are not UTF-8 are replaced),
    ``channel``, ``rssi`` (dBm), ``security`` (0..7), ``bssid`` (``"aa:bb:cc:dd:ee:ff"``)."""

    ssid: str
    channel: int
    rssi: int
    security: int
    bssid: str


def network_settings(net: Network) -> list[tuple[str, str]]:
    """The ``SET_NETWORK`` (name, value) pairs for ``net``, values already encoded (hex for
    strings, a validated quoted passphrase for WPA-PSK).  Raises ``ValueError`` naming the bad
    field."""
    ssid = net.ssid.encode("utf-8") if isinstance(net.ssid, str) else bytes(net.ssid)
    if not 1 <= len(ssid) <= 32:
        raise ValueError(f"ssid must be 1 to 32 bytes, got {len(ssid)}")
    settings = [("ssid", hex_value(ssid)), ("scan_ssid", "1")]
    sec, pw = net.security, net.password

    def passphrase() -> str:
        try:
            return quoted_passphrase(pw)
        except ValueError as exc:
            raise ValueError(f"password: {exc}") from None

    def sae_password() -> str:
        if not pw:
            raise ValueError("password is required for WPA3 (SAE)")
        return hex_value(pw)

    if sec == OPEN:
        settings.append(("key_mgmt", "NONE"))
    elif sec == WEP:
        if len(pw) in (5, 13):
            key = hex_value(pw)
        elif len(pw) in (10, 26) and all(c in "0123456789abcdefABCDEF" for c in pw):
            key = pw
        else:
            raise ValueError("password: a WEP key is 5 or 13 characters, or 10 or 26 hex digits")
        settings += [("key_mgmt", "NONE"), ("wep_key0", key), ("wep_tx_keyidx", "0"),
                     ("auth_alg", "OPEN SHARED")]
    elif sec in (WPA, WPA2, WPA_WPA2):
        proto = {WPA: "WPA", WPA2: "RSN", WPA_WPA2: "WPA RSN"}[sec]
        settings += [("key_mgmt", "WPA-PSK"), ("proto", proto), ("psk", passphrase())]
    elif sec == WPA3:
        settings += [("key_mgmt", "SAE"), ("proto", "RSN"), ("ieee80211w", "2"),
                     ("sae_password", sae_password())]
    elif sec == WPA2_WPA3:
        settings += [("key_mgmt", "WPA-PSK SAE"), ("proto", "RSN"), ("ieee80211w", "1"),
                     ("psk", passphrase()), ("sae_password", sae_password())]
    elif sec == WPA2_ENTERPRISE:
        if not net.ent_user:
            raise ValueError("ent_user is required for WPA2_ENTERPRISE (PEAP)")
        settings += [("key_mgmt", "WPA-EAP"), ("proto", "RSN"), ("eap", "PEAP"),
                     ("identity", hex_value(net.ent_user)), ("password", hex_value(net.ent_pwd)),
                     ("phase2", '"auth=MSCHAPV2"')]
    else:
        raise ValueError(f"security must be one of 0..7 ({', '.join(SECURITY_NAMES)}), "
                         f"got {sec!r}")
    return settings


def security_of(flags: str) -> int:
    """The security mode (0..7) an access point advertises in its scan ``flags``
    (``[WPA2-PSK-CCMP][ESS]``, ``[RSN-SAE-CCMP]``, ``[WPA2-EAP-CCMP]``, ``[WEP]``...)."""
    eap = "-EAP" in flags
    sae = "SAE" in flags
    psk = "-PSK" in flags
    wpa1 = "[WPA-" in flags
    rsn = "[WPA2-" in flags or "[RSN-" in flags
    if eap:
        return WPA2_ENTERPRISE
    if sae and psk:
        return WPA2_WPA3
    if sae:
        return WPA3
    if wpa1 and rsn:
        return WPA_WPA2
    if rsn:
        return WPA2
    if wpa1:
        return WPA
    if "WEP" in flags:
        return WEP
    return OPEN


def channel_of(freq_mhz: int) -> int:
    """The 802.11 channel number of a centre frequency (2.4, 5 and 6 GHz bands; 0 if unknown)."""
    if freq_mhz == 2484:
        return 14
    if 2412 <= freq_mhz < 2484:
        return (freq_mhz - 2407) // 5
    if 5955 <= freq_mhz <= 7115:
        return (freq_mhz - 5950) // 5
    if 5000 <= freq_mhz < 5900:
        return (freq_mhz - 5000) // 5
    return 0


def parse_bss(reply: str) -> ScanRecord | None:
    """A ``BSS <n>`` reply as a :class:`ScanRecord` (``None`` for an empty reply)."""
    f = parse_lines(reply)
    if "bssid" not in f:
        return None
    ssid = printf_decode(f.get("ssid", "")).decode("utf-8", "replace")
    freq = int(f.get("freq", "0") or 0)
    return ScanRecord(ssid=ssid, channel=channel_of(freq), rssi=int(f.get("level", "0") or 0),
                      security=security_of(f.get("flags", "")), bssid=f["bssid"])


class Supplicant:
    """wpa_supplicant on interface ``ifname``: reuses one already running (its control socket
    answers ``PING``), else starts its own (``-D nl80211``, control directory ``ctrl_dir``) and
    stops it in :meth:`close`."""

    def __init__(self, ifname: str, ctrl_dir: str = CTRL_DIR, run_dir: str = "/run/kiln") -> None:
        self.ifname, self.ctrl_dir, self.run_dir = ifname, ctrl_dir, run_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self.ctrl: WpaCtrl | None = None

    def open(self, timeout_s: float = 10.0) -> WpaCtrl:
        """Connect to (starting if needed) wpa_supplicant; return the control connection (not
        attached: see :meth:`WpaCtrl.attach`).  Raises ``WifiException`` naming the problem (no wpa_supplicant installed,
        it exited, no radio)."""
        if self.ctrl is not None:
            return self.ctrl
        ctrl = self._connect()
        if ctrl is None:
            self._start()
            deadline = time.monotonic() + timeout_s
            while ctrl is None:
                if self._proc is not None and self._proc.poll() is not None:
                    raise WifiException(f"wpa_supplicant exited on {self.ifname}: "
                                        f"{self._log_tail()}")
                if time.monotonic() > deadline:
                    self.close()
                    raise WifiException(f"wpa_supplicant did not open its control socket for "
                                        f"{self.ifname} within {timeout_s:.0f} s")
                time.sleep(0.05)
                ctrl = self._connect()
        self.ctrl = ctrl
        return ctrl

    def _connect(self) -> WpaCtrl | None:
        if not os.path.exists(os.path.join(self.ctrl_dir, self.ifname)):
            return None
        try:
            ctrl = WpaCtrl(self.ifname, self.ctrl_dir)
        except WpaCtrlError:
            return None
        try:
            if ctrl.request("PING", 2.0).strip() == "PONG":
                return ctrl
        except WpaCtrlError:
            pass
        ctrl.close()
        return None

    def _start(self) -> None:
        program = find_program("wpa_supplicant")
        if program is None:
            raise WifiException("wpa_supplicant is not installed (Debian package wpasupplicant)")
        os.makedirs(self.run_dir, exist_ok=True)
        os.makedirs(self.ctrl_dir, mode=0o750, exist_ok=True)
        conf = os.path.join(self.run_dir, f"wpa_supplicant-{self.ifname}.conf")
        with open(conf, "w") as f:
            f.write(f"ctrl_interface={self.ctrl_dir}\nupdate_config=0\nap_scan=1\n")
        self._log = os.path.join(self.run_dir, f"wpa_supplicant-{self.ifname}.log")
        with open(self._log, "ab") as log:
            self._proc = subprocess.Popen(
                [program, "-i", self.ifname, "-D", "nl80211", "-c", conf],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def _log_tail(self, lines: int = 5) -> str:
        try:
            with open(self._log, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-lines:])
        except (OSError, AttributeError):
            return ""

    # --- commands ----------------------------------------------------------------------------
    def configure(self, net: Network) -> int:
        """Replace every configured network with ``net`` and select it; returns its id.
        Association then happens in the background (events tell the outcome)."""
        ctrl = self.open()
        settings = network_settings(net)          # ValueError before anything changes
        ctrl.ok("REMOVE_NETWORK all")
        reply = ctrl.request("ADD_NETWORK").strip()
        if not reply.isdigit():
            raise WifiException(f"wpa_supplicant could not add a network: {reply}")
        net_id = int(reply)
        for name, value in settings:
            ctrl.ok(f"SET_NETWORK {net_id} {name} {value}")
        ctrl.ok(f"SELECT_NETWORK {net_id}")
        return net_id

    def disconnect(self) -> None:
        """Drop the association and forget the networks (no reconnection)."""
        if self.ctrl is not None:
            self.ctrl.ok("DISCONNECT")
            self.ctrl.ok("REMOVE_NETWORK all")

    def status(self) -> dict[str, str]:
        """``STATUS`` as a dict (``wpa_state``, ``bssid``, ``ssid``, ``freq``, ``key_mgmt``...)."""
        return parse_lines(self.open().request("STATUS"))

    def signal(self) -> int | None:
        """The current RSSI in dBm (``SIGNAL_POLL``), or ``None`` when not associated."""
        f = parse_lines(self.open().request("SIGNAL_POLL"))
        return int(f["RSSI"]) if f.get("RSSI", "").lstrip("-").isdigit() else None

    def scan_results(self) -> list[ScanRecord]:
        """Every BSS of the last scan (``BSS 0``, ``BSS 1``, ...), strongest first."""
        ctrl = self.open()
        records = []
        for i in range(512):
            rec = parse_bss(ctrl.request(f"BSS {i}"))
            if rec is None:
                break
            records.append(rec)
        return sorted(records, key=lambda r: -r.rssi)

    def close(self) -> None:
        """Close the control connection and stop the wpa_supplicant Kiln started."""
        if self.ctrl is not None:
            self.ctrl.close()
            self.ctrl = None
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
