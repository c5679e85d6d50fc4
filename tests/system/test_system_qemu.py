"""System tests: each QEMU board's image boots on a tap network and talks to the host side.

Every test boots the image built with ``apps/lab_checks.py`` once, choosing the scenario on the
kernel command line, and checks both ends: what the host-side server in the lab namespace
received and what the guest reports on its console (``CHECK`` lines).  Payloads derive from a
random seed per test, so no result can be hard-coded.
"""
from __future__ import annotations

import ipaddress
import random
import subprocess

import pytest

from guest import BOOT_TIMEOUT_S
from kiln import payload
from layout import REPO
from lab_checks import digest, pattern, reply_for
from servers import TcpReplyServer, UdpReplyServer, connect_to_guest

pytestmark = pytest.mark.system



def _seed() -> int:
    return random.randrange(1, 2**31)


def test_guest_imports_kiln_extension_modules(board, boot_guest):
    guest = boot_guest(test="imports")
    assert guest.wait_exit(BOOT_TIMEOUT_S) == 0, guest.transcript

    # Every Cython module but the TLS layer: lab_checks uses no TLS, so its image has none
    # (test_tls_qemu.py boots one that has).
    expected = {f"kiln.net.{p.stem}" for p in (REPO / "sdk/kiln/net").glob("*.pyx")}
    expected -= set(payload.TLS_MODULES)
    modules = {c["module"]: c["file"] for c in guest.checks("imports") if "module" in c}
    assert set(modules) == expected, guest.transcript
    for name, filename in modules.items():
        # Cross-compiled for the board: the extension suffix names the board's triplet.
        assert filename.endswith(f"-{board.triplet}.so"), (name, filename)
    summary = [c for c in guest.checks("imports") if "machine" in c]
    assert summary and summary[0]["machine"] == board.python_host_platform.split("-", 1)[1]
    assert summary[0]["zsocket"] == "networking.socket"


def test_guest_gets_its_address_and_dns_answers_from_dnsmasq(boot_guest, lab):
    guest = boot_guest(test="address", test_host="kiln-host")
    assert guest.wait_exit(BOOT_TIMEOUT_S) == 0, guest.transcript

    (reported,) = guest.checks("address")
    guest_ip = ipaddress.IPv4Address(reported["ip"])
    assert lab.addressing.dhcp_first <= guest_ip <= lab.addressing.dhcp_last
    assert [lease.ip for lease in lab.leases()] == [guest_ip]
    log = lab.dnsmasq_log()
    assert f"DHCPACK({lab.tap}) {guest_ip}" in log, log
    # The guest resolved kiln-host through dnsmasq and got the host-side address.
    assert reported["resolved"] == str(lab.host_address)
    assert "query[A] kiln-host" in log, log
    assert f"KILN: net dhcp {guest_ip}/{lab.addressing.network.prefixlen}" in guest.transcript


def test_guest_with_static_address_skips_dhcp(boot_guest, lab):
    guest = boot_guest(static=True, test="address", test_host="kiln-host")
    assert guest.wait_exit(BOOT_TIMEOUT_S) == 0, guest.transcript

    (reported,) = guest.checks("address")
    assert reported["ip"] == str(lab.addressing.static_guest)
    assert reported["resolved"] == str(lab.host_address)
    assert lab.leases() == []


def test_tcp_from_guest_to_host_server(boot_guest, lab):
    seed, size = _seed(), 3000
    server = TcpReplyServer(lab, size)
    guest = boot_guest(test="tcp_to_host", test_host=lab.host_address, test_port=server.port,
                       test_seed=seed, test_size=size)
    assert guest.wait_exit(BOOT_TIMEOUT_S) == 0, guest.transcript

    sent_by_guest = server.result()
    assert sent_by_guest == pattern(seed, size)
    (reported,) = guest.checks("tcp_to_host")
    assert reported == {"sent": str(size), "received": str(size), "type": "bytearray",
                        "digest": digest(reply_for(sent_by_guest))}


def test_tcp_from_host_to_guest_server(boot_guest, lab):
    seed, size, port = _seed(), 3000, 7000 + random.randrange(1000)
    guest = boot_guest(test="tcp_from_host", test_port=port, test_size=size)
    guest.expect(rf"CHECK tcp_from_host listening={port}", BOOT_TIMEOUT_S)
    (lease,) = lab.leases()

    payload = pattern(seed, size)
    with connect_to_guest(lab, str(lease.ip), port) as conn:
        conn.sendall(payload)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    assert reply == reply_for(payload)
    assert guest.wait_exit(BOOT_TIMEOUT_S) == 0, guest.transcript
    done = [c for c in guest.checks("tcp_from_host") if "digest" in c]
    assert done == [{"received": str(size), "digest": digest(payload),
                     "peer": str(lab.host_address)}]


def test_udp_round_trip_through_both_faces(boot_guest, lab):
    seed, size = _seed(), 512
    server = UdpReplyServer(lab)
    try:
        guest = boot_guest(test="udp_round_trip", test_host=lab.host_address,
                           test_port=server.port, test_seed=seed, test_size=size)
        assert guest.wait_exit(BOOT_TIMEOUT_S) == 0, guest.transcript
    finally:
        server.close()

    assert [d for d, _ in server.datagrams] == [pattern(seed, size), pattern(seed + 1, size)]
    (lease,) = lab.leases()
    assert {peer[0] for _, peer in server.datagrams} == {str(lease.ip)}
    reported = {c["face"]: c for c in guest.checks("udp_round_trip")}
    assert reported["usocket"]["digest"] == digest(reply_for(pattern(seed, size)))
    assert reported["networking"]["digest"] == digest(reply_for(pattern(seed + 1, size)))
    assert reported["usocket"]["received"] == reported["networking"]["received"] == str(size)


def test_lab_has_no_route_out(lab):
    links = subprocess.run(["ip", "-n", lab.name, "-o", "link"], capture_output=True,
                           text=True, check=True).stdout
    assert sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines()) == \
        sorted(["lo", lab.tap])
    routes = subprocess.run(["ip", "-n", lab.name, "route", "show", "table", "all"],
                            capture_output=True, text=True, check=True).stdout
    assert "default" not in routes
    v4 = subprocess.run(["ip", "-n", lab.name, "-4", "route"], capture_output=True, text=True,
                        check=True).stdout.splitlines()
    assert [r.split()[0] for r in v4] == [str(lab.addressing.network)]
