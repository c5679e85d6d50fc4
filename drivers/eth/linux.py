"""The Linux Ethernet driver: the link and its carrier; IP comes from the shared IP layer.

One :class:`LinuxEthernet` drives one interface.  It picks the interface (named, or the board's
Ethernet port), refuses anything that is not Ethernet, brings the link up and waits for a
carrier (a cable); DHCP or the static address, the default route, DNS, link events and renewal
after a re-plug are :class:`driver.ip.layer.IpLayer`'s job, as they are for Wi-Fi.
"""
from __future__ import annotations

import errno
import os

from driver.ip import rtnl
from driver.ip.layer import IpConfig, IpLayer, check_timeout, ip_config
from driver.netif import (CantRegisterInterfaceError, NetifEvent, NetifInfo, NetworkInterface,
                          ensure_may_reconfigure)

#: Environment variable naming the interface when ``configure`` is not given one (the image's
#: init sets it from the board file's ``[bsp] eth``).
IFACE_ENV = "KILN_ETH_IFACE"


def default_interface(links: list[rtnl.Link]) -> str:
    """The interface Kiln drives when none is named: ``$KILN_ETH_IFACE``, else the first
    Ethernet (ARPHRD_ETHER) interface, preferring ``eth*``/``en*`` names.  Raises
    ``CantRegisterInterfaceError`` if there is none."""
    named = os.environ.get(IFACE_ENV)
    if named:
        return named
    ether = [link.name for link in sorted(links, key=lambda link: link.index)
             if link.kind == rtnl.ARPHRD_ETHER]
    preferred = [n for n in ether if n.startswith(("eth", "en"))]
    if not (preferred or ether):
        raise CantRegisterInterfaceError(
            f"no Ethernet interface found; name one with configure(iface=...) or {IFACE_ENV}")
    return (preferred or ether)[0]


def check_iface(func: str, iface: object) -> str | None:
    """``iface`` as an interface name (or None), or ``ValueError`` naming ``func``."""
    if iface is not None and (not isinstance(iface, str) or not 0 < len(iface) <= 15
                              or "/" in iface or "\0" in iface or iface.strip() != iface):
        raise ValueError(f"{func}(): iface must be an interface name (1-15 characters, no "
                         f"'/' or spaces), got {iface!r}")
    return iface


class LinuxEthernet(NetworkInterface):
    """An Ethernet interface: link and carrier here, IPv4 in an :class:`IpLayer`."""

    def __init__(self) -> None:
        self._config = IpConfig()
        self._ifname: str | None = None
        self._ip = IpLayer()

    # --- configuration -----------------------------------------------------------------------
    def configure(self, dhcp: bool = True, ip: str = "", mask: str = "", gateway: str = "",
                  dns: str = "8.8.8.8", iface: str | None = None) -> None:
        """Store the configuration for the next :meth:`start`; raises TypeError/ValueError
        naming the argument, leaving the stored configuration and the interface as they were."""
        config = ip_config("configure", dhcp, ip, mask, gateway, dns)
        iface = check_iface("configure", iface)
        self._config = config
        if iface is not None:
            self._ifname = iface

    def _resolve_link(self, nl: rtnl.Rtnl) -> rtnl.Link:
        if self._ifname is None:
            self._ifname = default_interface(nl.links())
        try:
            link = nl.link(self._ifname)
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                raise CantRegisterInterfaceError(
                    f"no network interface named {self._ifname!r}") from None
            raise
        if link.kind != rtnl.ARPHRD_ETHER:
            raise CantRegisterInterfaceError(
                f"interface {self._ifname!r} is not an Ethernet interface (ARPHRD {link.kind})")
        return link

    @property
    def ifname(self) -> str:
        """The driven interface's name (resolved from the configuration on first use)."""
        if self._ifname is None:
            with rtnl.Rtnl() as nl:
                self._resolve_link(nl)
        assert self._ifname is not None
        return self._ifname

    # --- start / stop ------------------------------------------------------------------------
    def start(self, timeout_ms: int = 60000) -> None:
        """Bring the interface up; block until it has carrier and its address (DHCP lease or
        static) and default route.  Raises ``ConnectionTimeoutError`` after ``timeout_ms``,
        ``CantRegisterInterfaceError`` for a missing interface and ``NetworkGenericError`` when
        refused by the host guard or when udhcpc exits.  On any error the interface is left
        stopped (down).  Calling it while started restarts the interface."""
        check_timeout("start", timeout_ms)
        if self._ip.attached:
            self.stop()
        with rtnl.Rtnl() as nl:
            link = self._resolve_link(nl)
            ensure_may_reconfigure(link.name)
            self._ip.bring_up(nl, link, self._config, timeout_ms,
                              f"no carrier on {link.name} within {timeout_ms} ms "
                              f"(cable unplugged?)")

    def stop(self, keep_link: bool = False) -> None:
        """Release the DHCP lease (udhcpc sends DHCPRELEASE), remove the IPv4 addresses and
        take the link down (kept up with ``keep_link=True``).  Blocks up to ~3 s for udhcpc.
        Idempotent; a no-op if not started."""
        if self._ip.attached:
            self._ip.detach(link_down=not keep_link)

    # --- state -------------------------------------------------------------------------------
    def is_connected(self) -> bool:
        """True while started, with carrier, and with the lease's (or static) address and default
        route applied (state cached from netlink events; no syscall)."""
        return self._ip.is_connected()

    def wait_event(self, timeout_ms: int | None = None) -> NetifEvent | None:
        """The oldest undelivered event; blocks up to ``timeout_ms`` (``None``: forever)."""
        return self._ip.wait_event(timeout_ms)

    def info(self) -> NetifInfo:
        """The interface's configuration as the kernel reports it (address, mask, gateway, MAC)
        plus the DNS server in use (lease or static).  Raises ``CantRegisterInterfaceError``
        if the interface does not exist."""
        with rtnl.Rtnl() as nl:
            link = self._resolve_link(nl)
            return self._ip.info(nl, link, self._config)
