"""dnsmasq as the lab's DHCP and DNS server: its command line, its hosts file, its leases.

This is Kiln's only dnsmasq command line: ``kiln run``, the system tests and the host tests of
the Ethernet driver all get their DHCP and DNS server from
:class:`~kiln.host.runner.netlab.NetLab`.  dnsmasq runs in the foreground inside the lab
namespace, bound to the lab's host-side link only, with no upstream resolver (the lab has no
route out): it answers only the names in the lab's hosts file (and NXDOMAIN under the lab's
local domains), and hands out its own address as router and DNS server (dnsmasq's default).
It does not ping an address before offering it (``--no-ping``), which would otherwise add up
to three seconds to every DHCP boot.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from kiln.host.runner.addressing import LabAddressing

# A DNS name as dnsmasq accepts it in a hosts file: dot-separated labels of letters, digits, '-'.
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)"
                          r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$")
READY_LINE = "DHCP, IP range"  # logged once the DHCP and DNS sockets are bound


@dataclass(frozen=True)
class Lease:
    """One DHCP lease from dnsmasq's lease file."""

    mac: str
    ip: ipaddress.IPv4Address
    hostname: str | None
    expires: int  # seconds since the epoch


@dataclass(frozen=True)
class DnsmasqFiles:
    """The files one dnsmasq instance reads and writes (all inside the lab's work directory)."""

    hosts: Path
    leases: Path
    log: Path
    stderr: Path

    @classmethod
    def in_dir(cls, workdir: Path) -> "DnsmasqFiles":
        """The standard file names inside ``workdir``."""
        return cls(workdir / "hosts", workdir / "dnsmasq.leases", workdir / "dnsmasq.log",
                   workdir / "dnsmasq.stderr")


def parse_dns_record(text: str) -> tuple[str, ipaddress.IPv4Address]:
    """Parse ``HOST=IP`` (the ``--dns-record`` syntax) into ``(host, ip)``.

    Raises ``ValueError`` naming the problem for a missing '=', a bad host name or a non-IPv4
    address.
    """
    host, sep, ip = str(text).partition("=")
    if not sep:
        raise ValueError(f"DNS record {text!r} must look like HOST=IP, e.g. now.zerynth.com=10.77.0.1")
    return validate_record(host.strip(), ip.strip())


def validate_record(host: str, ip: str | ipaddress.IPv4Address) -> tuple[str, ipaddress.IPv4Address]:
    """Return ``(host, IPv4Address(ip))`` or raise ``ValueError`` naming what is wrong."""
    if not _HOSTNAME_RE.match(host or ""):
        raise ValueError(f"DNS record host name {host!r} is not a valid DNS name")
    try:
        address = ipaddress.IPv4Address(str(ip))
    except ValueError:
        raise ValueError(f"DNS record for {host!r}: {ip!r} is not an IPv4 address") from None
    return host.rstrip("."), address


def validate_domain(domain: str) -> str:
    """Return ``domain`` (without a trailing dot) if it is a valid DNS name, else raise
    ``ValueError``."""
    if not _HOSTNAME_RE.match(domain or ""):
        raise ValueError(f"domain {domain!r} is not a valid DNS name")
    return domain.rstrip(".")


def hosts_file_text(records: Mapping[str, ipaddress.IPv4Address]) -> str:
    """The ``/etc/hosts``-format text dnsmasq serves for ``records`` (host -> address)."""
    return "".join(f"{ip} {host}\n" for host, ip in sorted(records.items()))


def command(interface: str, addressing: LabAddressing, files: DnsmasqFiles,
            lease_time: str = "1h", local_domains: Iterable[str] = ()) -> list[str]:
    """argv for a foreground dnsmasq serving DHCP and DNS on ``interface`` only.

    The lab namespace must already hold ``interface`` with ``addressing.host`` on it.
    ``local_domains``: names under these domains that are not in the hosts file get NXDOMAIN.
    """
    netmask = addressing.network.netmask
    return [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",         # ignore /etc/dnsmasq.conf of the host
        "--user=root",                   # the leases and log live in root's work directory
        "--pid-file=",                    # no pid file: we own the process
        "--bind-interfaces",
        f"--interface={interface}",
        "--no-resolv",                   # no upstream servers: nothing outside the lab exists
        "--no-hosts",                    # not the host's /etc/hosts ...
        f"--addn-hosts={files.hosts}",   # ... only the lab's (re-read on SIGHUP)
        "--no-poll",
        f"--dhcp-range={addressing.dhcp_first},{addressing.dhcp_last},{netmask},{lease_time}",
        "--dhcp-authoritative",
        "--no-ping",
        "--dhcp-rapid-commit",
        f"--dhcp-leasefile={files.leases}",
        f"--log-facility={files.log}",
        "--log-dhcp",
        "--log-queries",
        *(f"--local=/{validate_domain(d)}/" for d in local_domains),
    ]


def read_leases(path: Path) -> list[Lease]:
    """The leases in dnsmasq lease file ``path`` (empty when it does not exist yet)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    leases = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] == "duid":
            continue
        hostname = None if fields[3] == "*" else fields[3]
        leases.append(Lease(mac=fields[1].lower(), ip=ipaddress.IPv4Address(fields[2]),
                            hostname=hostname, expires=int(fields[0])))
    return leases


def records_from(items: Iterable[tuple[str, str | ipaddress.IPv4Address]]
                 ) -> dict[str, ipaddress.IPv4Address]:
    """Validated ``{host: address}`` from ``(host, ip)`` pairs; later pairs win."""
    records: dict[str, ipaddress.IPv4Address] = {}
    for host, ip in items:
        name, address = validate_record(host, ip)
        records[name] = address
    return records
