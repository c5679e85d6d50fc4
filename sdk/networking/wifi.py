"""Zerynth's ``wifi`` module (OS v3 API) on the board's radio, through wpa_supplicant.

``from networking import wifi``; then ``wifi.configure(ssid, password)``, ``wifi.start()``,
``wifi.info()``, ``wifi.resolve("host")``, ``wifi.scan()``, ``wifi.stop()``.  Timeouts are in
milliseconds.  The radio is the one a ``driver.wifi.<name>`` module registered with ``init()``,
else the board's default driver (the board file's ``[bsp] wifi_driver``).

Linux meanings (docs/networking.md): ``stop()`` aborts the TCP connections on the interface
(they fail at once with ``ECONNABORTED``), releases the lease and drops the association;
``scan()`` asks wpa_supplicant for a fresh scan and keeps its results for ``get_ap_num()`` /
``get_ap_records()``; RSSI values are dBm.
"""
from __future__ import annotations

import driver.wifi
from driver.ip.layer import check_timeout
from driver.wifi.security import (OPEN, WEP, WPA, WPA2, WPA2_ENTERPRISE, WPA2_WPA3, WPA3,
                                  WPA_WPA2)
from networking import (CantRegisterInterfaceError, ConnectionTimeoutError, NetworkGenericError,
                        ResolveError, WifiBadAuth, WifiBadPassword, WifiBadSSID, WifiException)
from networking.dns import resolve_ipv4

WIFI_OPEN, WIFI_WEP, WIFI_WPA, WIFI_WPA2 = OPEN, WEP, WPA, WPA2
WIFI_WPA_WPA2, WIFI_WPA2_ENTERPRISE, WIFI_WPA3, WIFI_WPA2_WPA3 = (WPA_WPA2, WPA2_ENTERPRISE,
                                                                  WPA3, WPA2_WPA3)

__all__ = ["configure", "start", "stop", "info", "resolve", "is_connected", "scan",
           "scan_and_get", "get_ap_num", "get_ap_records", "ap_info", "get_rssi",
           "OPEN", "WEP", "WPA", "WPA2", "WPA_WPA2", "WPA2_ENTERPRISE", "WPA3", "WPA2_WPA3",
           "WIFI_OPEN", "WIFI_WEP", "WIFI_WPA", "WIFI_WPA2", "WIFI_WPA_WPA2",
           "WIFI_WPA2_ENTERPRISE", "WIFI_WPA3", "WIFI_WPA2_WPA3",
           "WifiException", "WifiBadPassword", "WifiBadSSID", "WifiBadAuth",
           "ConnectionTimeoutError", "CantRegisterInterfaceError", "NetworkGenericError",
           "ResolveError"]

_timeout_ms = 10000
_scanned: list = []


def _radio():
    return driver.wifi.default()


def configure(ssid: str = "", password: str = "", security: int = WPA_WPA2, dhcp: bool = True,
              ip: str = "", mask: str = "", gateway: str = "", dns: str = "8.8.8.8",
              timeout: int = 10000, ent_user: str = "", ent_pwd: str = "", hostname: str = "",
              name: str = "wifi", force_dns: bool = False):
    """Set what :func:`start` joins: ``ssid`` and ``password`` with ``security`` (``OPEN`` ..
    ``WPA2_WPA3``; ``WPA2_ENTERPRISE`` uses ``ent_user``/``ent_pwd`` with PEAP), DHCP or a
    static ``ip``/``mask``/``gateway``/``dns``, ``timeout`` in ms for :func:`start`.
    ``hostname``, ``name`` and ``force_dns`` are accepted for compatibility (the kernel names
    the interface; DNS comes from the lease unless ``dhcp=False``).  Returns the interface
    (Zerynth's ``ifc``: ``socket.socket(ifc=...)`` binds a socket to it).  Raises
    ``TypeError``/``ValueError`` naming the argument; nothing changes then."""
    global _timeout_ms
    check_timeout("configure", timeout)
    for arg, value in (("hostname", hostname), ("name", name)):
        if not isinstance(value, str):
            raise TypeError(f"configure(): {arg} must be a str, not {type(value).__name__}")
    if not isinstance(force_dns, bool):
        raise TypeError(f"configure(): force_dns must be True or False, not {force_dns!r}")
    radio = _radio()
    radio.configure(ssid=ssid, password=password, security=security, dhcp=dhcp, ip=ip,
                    mask=mask, gateway=gateway, dns=dns, ent_user=ent_user, ent_pwd=ent_pwd)
    _timeout_ms = timeout
    return radio


def start() -> None:
    """Associate, then DHCP or the static address, route and DNS; blocks up to the configured
    timeout.  Raises ``WifiBadPassword``, ``WifiBadSSID``, ``WifiBadAuth``, ``WifiException``
    (no association in time), ``ConnectionTimeoutError`` (no address in time)."""
    _radio().start(_timeout_ms)


def stop() -> None:
    """Abort the interface's TCP connections, release the lease, drop the association."""
    _radio().stop()


def info() -> tuple[bool, str, str, str, str, str]:
    """``(dhcp, ip, mask, gateway, dns, mac)`` as strings (``""`` when unset), like eth.info()."""
    return tuple(_radio().info())


def is_connected() -> bool:
    """True while associated with an address (follows link loss and return; non-blocking)."""
    return _radio().is_connected()


def resolve(host: str) -> str:
    """The first IPv4 address of ``host`` (DNS from the lease); ``ResolveError`` otherwise."""
    return resolve_ipv4("resolve", host)


def _check_ssid(func: str, ssid) -> None:
    if ssid is not None and not isinstance(ssid, (str, bytes)):
        raise TypeError(f"{func}(): ssid must be a str, bytes or None, not {type(ssid).__name__}")


def scan(ssid: str | None = None) -> None:
    """Scan for access points (only ``ssid`` if given) and keep the results for
    :func:`get_ap_num` and :func:`get_ap_records`.  Blocks for the scan (a few seconds)."""
    _check_ssid("scan", ssid)
    global _scanned
    _scanned = [tuple(r) for r in _radio().scan(ssid=ssid)]


def scan_and_get(ssid: str | None = None) -> list[tuple[str, int, int, int, str]]:
    """:func:`scan`, then every record: ``(ssid, channel, rssi, security, bssid)``."""
    scan(ssid)
    return list(_scanned)


def get_ap_num() -> int:
    """How many access points the last :func:`scan` found."""
    return len(_scanned)


def get_ap_records(n: int | None = None) -> list[tuple[str, int, int, int, str]]:
    """The first ``n`` records of the last scan (all when ``n`` is None), strongest first."""
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise ValueError(f"get_ap_records(): n must be an int >= 0 or None, got {n!r}")
    return list(_scanned if n is None else _scanned[:n])


def ap_info() -> tuple[str, int, int, int, str]:
    """``(ssid, channel, rssi, security, bssid)`` of the access point in use."""
    return tuple(_radio().ap_info())


def get_rssi(ssid: str | None = None) -> int:
    """RSSI in dBm of the access point in use, or of ``ssid`` (the strongest one seen by a
    fresh scan); ``WifiException`` when there is none."""
    _check_ssid("get_rssi", ssid)
    if ssid is None:
        return _radio().rssi()
    found = _radio().scan(ssid=ssid)
    if not found:
        raise WifiBadSSID(f"no access point {ssid!r} in range")
    return found[0].rssi
