"""The ``kiln.net=`` kernel argument read by the guest init (``images/init``).

Syntax (one token, no spaces)::

    kiln.net=dhcp                               DHCP on eth0 (default when absent)
    kiln.net=none                               no network configuration
    kiln.net=static:ADDR/PREFIX[,gw=GW][,dns=DNS]
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

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
    """Parse the value of ``kiln.net=`` (without the prefix); ValueError naming the problem."""
    if value in ("dhcp", "none"):
        return NetConfig(mode=value)
    if not value.startswith("static:"):
        raise ValueError(f"kiln.net={value!r}: expected dhcp, none or static:ADDR/PREFIX,gw=..,dns=..")
    addr, *options = value[len("static:"):].split(",")
    if "/" not in addr:
        raise ValueError(f"kiln.net static address {addr!r} needs a prefix length, e.g. {addr}/24")
    try:
        address = ipaddress.IPv4Interface(addr)
    except ValueError as exc:
        raise ValueError(f"kiln.net static address {addr!r}: {exc}") from None
    fields: dict[str, ipaddress.IPv4Address] = {}
    for opt in options:
        key, sep, val = opt.partition("=")
        if not sep or key not in ("gw", "dns"):
            raise ValueError(f"kiln.net option {opt!r}: expected gw=ADDR or dns=ADDR")
        try:
            fields[key] = ipaddress.IPv4Address(val)
        except ValueError as exc:
            raise ValueError(f"kiln.net {key}={val!r}: {exc}") from None
    gw = fields.get("gw")
    if gw is not None and gw not in address.network:
        raise ValueError(f"kiln.net gateway {gw} is not inside {address.network}")
    return NetConfig("static", address, gw, fields.get("dns"))


def net_from_cmdline(cmdline: str) -> NetConfig:
    """The network selection of a whole kernel command line (last ``kiln.net=`` wins)."""
    config = NetConfig()
    for token in cmdline.split():
        if token.startswith(PREFIX):
            config = parse_net(token[len(PREFIX):])
    return config
