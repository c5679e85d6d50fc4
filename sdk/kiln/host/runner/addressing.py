"""IPv4 addressing of a network lab: its subnet, the host-side address, the DHCP pool.

The lab's subnet is private to its namespace (there is no route anywhere else), so it may
overlap real networks without harm; a user's hard-coded static address simply defines it.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

DEFAULT_NETWORK = "10.77.0.0/24"


@dataclass(frozen=True)
class LabAddressing:
    """Who gets which address on the lab's link.

    ``host`` is the host-side end of the tap (dnsmasq, host-side servers, the guest's gateway
    and DNS server); ``dhcp_first``..``dhcp_last`` is the pool dnsmasq leases from;
    ``static_guest`` is the address a guest booted with a static configuration gets.
    """

    network: IPv4Network
    host: IPv4Address
    dhcp_first: IPv4Address
    dhcp_last: IPv4Address
    static_guest: IPv4Address

    @property
    def host_interface(self) -> IPv4Interface:
        """``host`` with the lab's prefix length, as ``ip addr add`` wants it."""
        return IPv4Interface(f"{self.host}/{self.network.prefixlen}")

    @property
    def static_guest_interface(self) -> IPv4Interface:
        """``static_guest`` with the lab's prefix length (``--static`` form: IP/PREFIX)."""
        return IPv4Interface(f"{self.static_guest}/{self.network.prefixlen}")

    @classmethod
    def for_network(cls, cidr: str = DEFAULT_NETWORK,
                    reserved: tuple[str, ...] = ()) -> "LabAddressing":
        """Addressing for subnet ``cidr``: host gets the first address, the static guest the
        second, DHCP up to 64 addresses after them -- and after every ``reserved`` address
        (extra host-side addresses, e.g. a server a program hard-codes).

        Raises ``ValueError`` if ``cidr`` is not an IPv4 network with room for at least 4 hosts,
        or a reserved address is outside it or leaves no room for the pool.
        """
        network = _network(cidr)
        taken = []
        for text in reserved:
            address = ipaddress.ip_address(text)
            if address not in network or address in (network.network_address,
                                                     network.broadcast_address):
                raise ValueError(f"host address {text} is not a host address of {cidr}")
            taken.append(address)
        hosts = [h for h in _first_hosts(network, 66 + (int(max(taken)) - int(network[0])
                                                        if taken else 0))
                 if h not in taken]
        if len(hosts) < 4:
            raise ValueError(f"lab network {cidr} is too small: use a prefix of /29 or shorter")
        pool = [h for h in hosts[2:] if not taken or h > max(taken)]
        if not pool:
            raise ValueError(f"no room for a DHCP pool in {cidr} after {max(taken)}")
        return cls(network, hosts[0], pool[0], pool[min(len(pool), 64) - 1], hosts[1])

    @classmethod
    def around_static(cls, guest: str | IPv4Interface) -> "LabAddressing":
        """Addressing for a guest that must have the static address ``guest`` (``IP/PREFIX``).

        The lab network is the guest's network; the host takes its first address (the second
        when the guest has the first).  Raises ``ValueError`` for a malformed address, a network
        smaller than /29, or an address that is the network or broadcast address.
        """
        iface = _interface(guest)
        network = iface.network
        hosts = list(_first_hosts(network, 66))
        if len(hosts) < 4:
            raise ValueError(f"static address {iface}: network too small, use /29 or shorter")
        if iface.ip in (network.network_address, network.broadcast_address):
            raise ValueError(f"static address {iface} is the network or broadcast address "
                             f"of {network}: choose a host address")
        host = hosts[0] if hosts[0] != iface.ip else hosts[1]
        pool = [h for h in hosts if h not in (host, iface.ip)]
        return cls(network, host, pool[0], pool[min(len(pool), 64) - 1], iface.ip)


def _network(cidr: str) -> IPv4Network:
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise ValueError(f"invalid lab network {cidr!r}: {exc} (expected e.g. 10.77.0.0/24)") from None
    if not isinstance(network, IPv4Network):
        raise ValueError(f"lab network {cidr!r} is not IPv4")
    return network


def _interface(value: str | IPv4Interface) -> IPv4Interface:
    if isinstance(value, IPv4Interface):
        return value
    if "/" not in str(value):
        raise ValueError(f"static address {value!r} needs a prefix length, e.g. {value}/24")
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(f"invalid static address {value!r}: expected IP/PREFIX, "
                         "e.g. 10.77.0.2/24") from None
    if not isinstance(iface, IPv4Interface):
        raise ValueError(f"static address {value!r} is not IPv4")
    return iface


def _first_hosts(network: IPv4Network, count: int):
    for i, address in enumerate(network.hosts()):
        if i >= count:
            return
        yield address
