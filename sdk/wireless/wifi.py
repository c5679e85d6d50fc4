"""Zerynth v2's ``wifi`` module: ``link``/``unlink``/``scan`` on the radio a driver registered.

The program first initialises a driver module (``from driver.wifi.brcmfmac import brcmfmac;
brcmfmac.init()``, or the board's default under Zerynth's placeholder name
``driver.wifi.your_preferred_net_driver``); every call here forwards to it, and raises
``WifiException`` naming the fix when none was initialised.  Security constants are v2's
(``WIFI_OPEN`` .. ``WIFI_WPA2``); MACs and BSSIDs are 6 ``bytes`` as in Zerynth v2.
"""
from __future__ import annotations

import time

import driver.wifi
from driver.wifi.security import OPEN, WEP, WPA, WPA2
from networking import WifiBadPassword, WifiBadSSID, WifiException
from networking.dns import resolve_ipv4

WIFI_OPEN, WIFI_WEP, WIFI_WPA, WIFI_WPA2 = OPEN, WEP, WPA, WPA2
#: Milliseconds ``link()`` waits for the association and the address.
LINK_TIMEOUT_MS = 30000

__all__ = ["link", "try_link", "unlink", "is_linked", "scan", "link_info", "set_link_info",
           "gethostbyname", "rssi", "WIFI_OPEN", "WIFI_WEP", "WIFI_WPA", "WIFI_WPA2"]

_static: tuple[str, str, str, str] | None = None


def _radio():
    radio = driver.wifi.registered()
    if radio is None:
        raise WifiException("no Wi-Fi driver initialised: import a driver module and call its "
                            "init() first (from driver.wifi.<name> import <name>; "
                            "<name>.init())")
    return radio


def _mac_bytes(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":")) if text else bytes(6)


def link(ssid: str, sec: int, password: str = "") -> None:
    """Associate with ``ssid`` using security ``sec`` (``WIFI_OPEN`` .. ``WIFI_WPA2``) and get an
    address (DHCP, or what :func:`set_link_info` set).  Blocks up to 30 s.  Raises
    ``WifiBadPassword``, ``WifiBadSSID``, ``WifiException``, ``ConnectionTimeoutError``."""
    if not isinstance(sec, int) or isinstance(sec, bool) or not OPEN <= sec <= WPA2:
        raise ValueError(f"link(): sec must be WIFI_OPEN, WIFI_WEP, WIFI_WPA or WIFI_WPA2 "
                         f"(0..3), got {sec!r}")
    radio = _radio()
    if _static is None:
        radio.configure(ssid=ssid, password=password, security=sec, func="link")
    else:
        ip, mask, gw, dns = _static
        radio.configure(ssid=ssid, password=password, security=sec, dhcp=False, ip=ip,
                        mask=mask, gateway=gw, dns=dns, func="link")
    radio.start(LINK_TIMEOUT_MS)


def try_link(ssid: str, password: str, sec: int = WIFI_WPA2, attempts: int = 5,
             delay: int = 2000) -> None:
    """:func:`link` up to ``attempts`` times, ``delay`` ms apart (note the argument order:
    password before security).  Raises the last attempt's exception."""
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        raise ValueError(f"try_link(): attempts must be an int >= 1, got {attempts!r}")
    if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
        raise ValueError(f"try_link(): delay must be an int of ms >= 0, got {delay!r}")
    for attempt in range(attempts):
        try:
            link(ssid, sec, password)
            return
        except (WifiException, OSError):
            if attempt == attempts - 1:
                raise
            time.sleep(delay / 1000)


def unlink() -> None:
    """Drop the link: abort its TCP connections, release the lease, disassociate."""
    _radio().stop()


def is_linked() -> bool:
    """True while associated with an address (non-blocking)."""
    return _radio().is_connected()


def scan(duration: int = 5000) -> tuple[tuple[str, int, int, bytes], ...]:
    """Access points in range, strongest first: ``(ssid, sec, rssi, bssid)`` with ``sec`` in v2's
    constants (WPA2 for every WPA2/WPA3/enterprise network), ``rssi`` in dBm and ``bssid`` as 6
    bytes.  Blocks up to ``duration`` ms."""
    records = _radio().scan(duration)
    return tuple((r.ssid, min(r.security, WPA2), r.rssi, _mac_bytes(r.bssid)) for r in records)


def link_info() -> tuple[str, str, str, str, bytes]:
    """``(ip, mask, gw, dns, mac)`` of the link (strings, ``mac`` as 6 bytes)."""
    _dhcp, ip, mask, gw, dns, mac = _radio().info()
    return ip, mask, gw, dns, _mac_bytes(mac)


def set_link_info(ip: str, mask: str, gw: str, dns: str) -> None:
    """Use a static address at the next :func:`link`; ``ip="0.0.0.0"`` returns to DHCP.
    Raises ``ValueError``/``TypeError`` naming the bad argument."""
    global _static
    if ip == "0.0.0.0":
        _static = None
        return
    from driver.ip.layer import ip_config
    ip_config("set_link_info", False, ip, mask, gw, dns)
    _static = (ip, mask, gw, dns)


def gethostbyname(name: str) -> str:
    """The IPv4 address of ``name`` (DNS from the lease); ``ResolveError`` otherwise."""
    return resolve_ipv4("gethostbyname", name)


def rssi() -> int:
    """The link's signal strength in dBm."""
    return _radio().rssi()


# Re-exported for programs that catch them by these names after ``from wireless import wifi``.
WifiBadPassword, WifiBadSSID, WifiException = WifiBadPassword, WifiBadSSID, WifiException
