"""Zerynth's ``eth`` module (v3 API, plus the v2 ``link`` calls) on a Linux Ethernet interface.

``from networking import eth``; then ``eth.configure(dhcp=True)``, ``eth.start()``,
``eth.info()``, ``eth.resolve("host")``, ``eth.stop()``.  All timeouts are in milliseconds.  The
driver is :class:`driver.eth.linux.LinuxEthernet` (netlink + busybox udhcpc).

Errors: ``CantRegisterInterfaceError`` (no such Ethernet interface), ``ConnectionTimeoutError``
(carrier or address not up within the timeout), ``ResolveError`` (name not resolved),
``NetworkGenericError`` (anything else, e.g. udhcpc missing, or the development-host guard: Kiln
only reconfigures interfaces in a network namespace it created or on a Kiln image).
"""
from __future__ import annotations

from driver.eth.linux import LinuxEthernet
from driver.ip.layer import check_timeout
from driver.netif import NetifEvent
from networking import (CantRegisterInterfaceError, ConnectionError, ConnectionTimeoutError,
                        NetworkGenericError, ResolveError)
from networking.dns import resolve_ipv4

__all__ = ["configure", "start", "stop", "disconnect", "down", "info", "resolve", "is_connected",
           "wait_event", "link", "unlink", "is_linked", "link_info", "CantRegisterInterfaceError",
           "ConnectionError", "ConnectionTimeoutError", "NetworkGenericError", "ResolveError"]

_driver = LinuxEthernet()
_timeout_ms = 60000


def configure(dhcp: bool = True, ip: str = "", mask: str = "", gateway: str = "",
              dns: str = "8.8.8.8", timeout: int = 60000,
              iface: str | None = None) -> LinuxEthernet:
    """Set the configuration :func:`start` applies: DHCP (default) or static ``ip``/``mask``
    (required) with optional ``gateway`` and ``dns`` (dotted quads); ``timeout`` in ms for
    :func:`start`.  ``iface`` (Kiln extension) names the interface (default: ``$KILN_ETH_IFACE``
    or the first Ethernet interface).  Returns the interface (Zerynth's ``ifc``: pass it to
    ``socket.socket(ifc=...)`` to bind a socket to it; its ``ifname`` is the Linux name).
    Raises TypeError/ValueError naming a bad argument."""
    global _timeout_ms
    check_timeout("configure", timeout)
    _driver.configure(dhcp=dhcp, ip=ip, mask=mask, gateway=gateway, dns=dns, iface=iface)
    _timeout_ms = timeout
    return _driver


def start() -> None:
    """Bring the interface up and block until it has carrier and an address (up to the
    configured timeout); raises ConnectionTimeoutError, CantRegisterInterfaceError or
    NetworkGenericError."""
    _driver.start(_timeout_ms)


def stop() -> None:
    """Release the DHCP lease, remove the address and take the link down (blocks ≤ ~3 s)."""
    _driver.stop()


def disconnect() -> None:
    """Release the DHCP lease and remove the address but keep the link up."""
    _driver.stop(keep_link=True)


def down() -> None:
    """Take the interface down: the same as :func:`stop`."""
    _driver.stop()


def info() -> tuple[bool, str, str, str, str, str]:
    """``(dhcp, ip, mask, gateway, dns, mac)`` as strings (``""`` when unset), from the kernel."""
    return tuple(_driver.info())


def is_connected() -> bool:
    """True while started with carrier and an address (non-blocking)."""
    return _driver.is_connected()


def wait_event(timeout: int | None = None) -> NetifEvent | None:
    """Kiln extension: the next link/address event (``.kind``: ``"carrier_up"``,
    ``"carrier_down"``, ``"address_added"``, ``"address_removed"``, ``"link_removed"``), waiting up
    to ``timeout`` ms (``None``: forever); ``None`` if none came."""
    if timeout is not None:
        check_timeout("wait_event", timeout, minimum=0)
    return _driver.wait_event(timeout)


def resolve(host: str) -> str:
    """The first IPv4 address of ``host`` as a string, using the DNS servers in
    /etc/resolv.conf; blocks for the lookup.  Raises ResolveError if it cannot be resolved."""
    return resolve_ipv4("resolve", host)


# --- Zerynth v2 names, on the same driver ---------------------------------------------------
def link() -> None:
    """v2 name of :func:`start` (uses the current configuration, DHCP by default)."""
    start()


def unlink() -> None:
    """v2 name of :func:`stop`."""
    stop()


def is_linked() -> bool:
    """v2 name of :func:`is_connected`."""
    return is_connected()


def link_info() -> tuple[str, str, str, str, str]:
    """v2 form of :func:`info`: ``(ip, mask, gateway, dns, mac)``."""
    return info()[1:]
