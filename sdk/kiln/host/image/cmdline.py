"""The ``kiln.net=`` kernel argument, as the host formats it for a boot (``kiln run``, tests).

The init hands it to the app launcher, which applies it (:mod:`kiln.app.bootnet`, where the
syntax is defined and parsed)::

    kiln.net=dhcp                               DHCP on the board's Ethernet (default)
    kiln.net=none                               no network configuration
    kiln.net=static:ADDR/PREFIX[,gw=GW][,dns=DNS]
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kiln.app import bootnet

PREFIX = "kiln.net="


@dataclass(frozen=True)
class NetConfig:
    """Network selection: ``mode`` is "dhcp", "none" or "static" (then ``address`` is set)."""

    mode: str = "dhcp"
    address: ipaddress.IPv4Interface | None = None
    gateway: ipaddress.IPv4Address | None = None
    dns: ipaddress.IPv4Address | None = None

    def arg(self) -> str:
        """This configuration as a ``kiln.net=...`` kernel argument."""
        if self.mode != "static":
            return PREFIX + self.mode
        parts = [str(self.address)]
        if self.gateway:
            parts.append(f"gw={self.gateway}")
        if self.dns:
            parts.append(f"dns={self.dns}")
        return PREFIX + "static:" + ",".join(parts)


def parse_net(value: str) -> NetConfig:
    """Parse the value of ``kiln.net=`` (without the prefix) with the board's own parser
    (:func:`kiln.app.bootnet.parse`, one syntax for both sides), and check on the host what the
    board would only find at boot (the gateway inside the subnet).  ValueError naming the
    problem."""
    net = bootnet.parse(value)
    if net.mode != "static":
        return NetConfig(mode=net.mode)
    address = ipaddress.IPv4Interface(f"{net.ip}/{net.prefixlen}")
    gw = ipaddress.IPv4Address(net.gateway) if net.gateway else None
    if gw is not None and gw not in address.network:
        raise ValueError(f"kiln.net gateway {gw} is not inside {address.network}")
    return NetConfig("static", address, gw, ipaddress.IPv4Address(net.dns) if net.dns else None)


def net_from_cmdline(cmdline: str) -> NetConfig:
    """The network selection of a whole kernel command line (last ``kiln.net=`` wins)."""
    config = NetConfig()
    for token in cmdline.split():
        if token.startswith(PREFIX):
            config = parse_net(token[len(PREFIX):])
    return config
