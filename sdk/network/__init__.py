"""MicroPython's ``network`` module on a Linux board: ``WLAN(STA_IF)`` over Kiln's Wi-Fi driver and
``LAN()`` over its Ethernet driver (the same drivers as ``networking.wifi`` / ``networking.eth``).

As on MicroPython, ``WLAN.connect()`` returns at once and the association runs in the
background: poll ``isconnected()`` or ``status()`` (``STAT_CONNECTING``, ``STAT_GOT_IP``,
``STAT_WRONG_PASSWORD``, ``STAT_NO_AP_FOUND``, ``STAT_CONNECT_FAIL``; the values of MicroPython's
CYW43 port, the Raspberry Pi's chip family).  ``scan()`` returns
``(ssid, bssid, channel, RSSI, authmode, hidden)`` with ``ssid``/``bssid`` as bytes.
"""
from __future__ import annotations

import threading

import driver.wifi
from driver.wifi.security import WPA_WPA2
from kiln.errors import WifiBadPassword, WifiBadSSID

STA_IF, AP_IF = 0, 1
STAT_IDLE, STAT_CONNECTING, STAT_GOT_IP = 0, 1, 3
STAT_CONNECT_FAIL, STAT_NO_AP_FOUND, STAT_WRONG_PASSWORD = -1, -2, -3
AUTH_OPEN, AUTH_WEP, AUTH_WPA_PSK, AUTH_WPA2_PSK, AUTH_WPA_WPA2_PSK = 0, 1, 2, 3, 4
#: Milliseconds a background ``connect()`` may take (association and address).
CONNECT_TIMEOUT_MS = 15000

__all__ = ["WLAN", "LAN", "STA_IF", "AP_IF", "STAT_IDLE", "STAT_CONNECTING", "STAT_GOT_IP",
           "STAT_CONNECT_FAIL", "STAT_NO_AP_FOUND", "STAT_WRONG_PASSWORD"]


def _mac(text: str) -> bytes:
    return bytes(int(p, 16) for p in text.split(":")) if text else bytes(6)


class WLAN:
    """The board's Wi-Fi station (``WLAN(STA_IF)``); access-point mode is not offered."""

    def __init__(self, interface_id: int = STA_IF) -> None:
        if interface_id != STA_IF:
            raise ValueError("WLAN(): only STA_IF is supported on Kiln (the radio is a station)")
        self._radio = driver.wifi.default()
        self._status = STAT_IDLE
        self._worker: threading.Thread | None = None
        self._static: tuple[str, str, str, str] | None = None
        self._active = False

    def active(self, is_active: bool | None = None) -> bool | None:
        """Query (no argument) or set whether the interface is up; ``active(False)`` disconnects."""
        if is_active is None:
            return self._active
        if not is_active:
            self.disconnect()
        self._active = bool(is_active)
        return None

    def connect(self, ssid: str | bytes, key: str | None = None, *, bssid=None,
                security: int | None = None) -> None:
        """Start joining ``ssid`` with ``key`` (WPA/WPA2-PSK, or open without a key) and return
        at once; :meth:`status` tells the outcome.  Raises ``ValueError``/``TypeError`` for bad
        arguments before anything starts."""
        if bssid is not None:
            raise ValueError("connect(): bssid= is not supported (wpa_supplicant picks the AP)")
        sec = security if security is not None else (WPA_WPA2 if key else 0)
        if self._static is None:
            self._radio.configure(ssid=ssid, password=key or "", security=sec, func="connect")
        else:
            ip, mask, gw, dns = self._static
            self._radio.configure(ssid=ssid, password=key or "", security=sec, dhcp=False, ip=ip,
                                  mask=mask, gateway=gw, dns=dns, func="connect")
        self._active = True
        self._status = STAT_CONNECTING
        self._worker = threading.Thread(target=self._join, name="kiln-wlan-connect", daemon=True)
        self._worker.start()

    def _join(self) -> None:
        try:
            self._radio.start(CONNECT_TIMEOUT_MS)
            self._status = STAT_GOT_IP
        except WifiBadPassword:
            self._status = STAT_WRONG_PASSWORD
        except WifiBadSSID:
            self._status = STAT_NO_AP_FOUND
        except Exception:
            self._status = STAT_CONNECT_FAIL

    def disconnect(self) -> None:
        """Leave the network (waits for a connect() in progress to finish first)."""
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        self._radio.stop()
        self._status = STAT_IDLE

    def isconnected(self) -> bool:
        """True while associated with an address."""
        return self._radio.is_connected()

    def status(self, param: str | None = None):
        """The connection state (``STAT_*``), or ``status('rssi')`` in dBm."""
        if param is None:
            if self._status == STAT_GOT_IP and not self._radio.is_connected():
                return STAT_CONNECTING            # link lost: wpa_supplicant is rejoining
            return self._status
        if param == "rssi":
            return self._radio.rssi()
        raise ValueError(f"status(): unknown parameter {param!r} (only 'rssi')")

    def ifconfig(self, config: tuple[str, str, str, str] | None = None):
        """``(ip, mask, gateway, dns)``; with a tuple, use that static address from the next
        ``connect()`` on (``"dhcp"`` returns to DHCP)."""
        if config is None:
            _dhcp, ip, mask, gw, dns, _mac_text = self._radio.info()
            return (ip, mask, gw, dns)
        if config == "dhcp":
            self._static = None
            return None
        if not isinstance(config, tuple) or len(config) != 4:
            raise TypeError("ifconfig(): config must be (ip, mask, gateway, dns) or 'dhcp'")
        from driver.ip.layer import ip_config
        ip_config("ifconfig", False, *config)
        self._static = config
        return None

    def config(self, param: str):
        """``config('mac')`` (6 bytes), ``config('ssid')``, ``config('security')``."""
        if param == "mac":
            return _mac(self._radio.info().mac)
        if param in ("ssid", "essid"):
            return self._radio.ap_info().ssid
        if param == "security":
            return self._radio.ap_info().security
        raise ValueError(f"config(): unknown parameter {param!r}")

    def scan(self) -> list[tuple[bytes, bytes, int, int, int, int]]:
        """Access points in range: ``(ssid, bssid, channel, RSSI, authmode, hidden)``."""
        return [(r.ssid.encode("utf-8"), _mac(r.bssid), r.channel, r.rssi, r.security,
                 0 if r.ssid else 1) for r in self._radio.scan()]


class LAN:
    """The board's Ethernet port (``network.LAN()``), over ``networking.eth``'s driver."""

    def __init__(self, *args, **kwargs) -> None:
        from networking import eth
        self._eth = eth

    def active(self, is_active: bool | None = None) -> bool | None:
        """Query, or bring the port up (DHCP, blocking up to the eth timeout) / down."""
        if is_active is None:
            return self._eth.is_connected()
        if is_active:
            self._eth.start()
        else:
            self._eth.stop()
        return None

    def isconnected(self) -> bool:
        """True while the port has carrier and an address."""
        return self._eth.is_connected()

    def status(self) -> int:
        """``STAT_GOT_IP`` when connected, else ``STAT_IDLE``."""
        return STAT_GOT_IP if self._eth.is_connected() else STAT_IDLE

    def ifconfig(self, config: tuple[str, str, str, str] | str | None = None):
        """``(ip, mask, gateway, dns)``; a tuple configures a static address, ``'dhcp'``
        DHCP (applied at the next ``active(True)``)."""
        if config is None:
            return tuple(self._eth.info()[1:5])
        if config == "dhcp":
            self._eth.configure(dhcp=True)
        elif isinstance(config, tuple) and len(config) == 4:
            ip, mask, gw, dns = config
            self._eth.configure(dhcp=False, ip=ip, mask=mask, gateway=gw, dns=dns)
        else:
            raise TypeError("ifconfig(): config must be (ip, mask, gateway, dns) or 'dhcp'")
        return None

    def config(self, param: str):
        """``config('mac')``: the port's MAC address as 6 bytes."""
        if param == "mac":
            return _mac(self._eth.info()[5])
        raise ValueError(f"config(): unknown parameter {param!r}")

