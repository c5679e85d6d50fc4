"""The kiln.net= kernel argument: parsing, formatting and the errors users see."""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from kiln.host.image.cmdline import NetConfig, net_from_cmdline, parse_net

INIT = Path(__file__).resolve().parents[1] / "images" / "init"


def test_default_is_dhcp():
    assert net_from_cmdline("console=ttyAMA0 quiet") == NetConfig("dhcp")
    assert NetConfig().arg() == "kiln.net=dhcp"


def test_static_with_gateway_and_dns():
    net = parse_net("static:10.0.2.15/24,gw=10.0.2.2,dns=10.0.2.3")
    assert net.mode == "static"
    assert net.address == ipaddress.IPv4Interface("10.0.2.15/24")
    assert net.gateway == ipaddress.IPv4Address("10.0.2.2")
    assert net.dns == ipaddress.IPv4Address("10.0.2.3")
    assert net.arg() == "kiln.net=static:10.0.2.15/24,gw=10.0.2.2,dns=10.0.2.3"


@pytest.mark.parametrize("arg", ["kiln.net=dhcp", "kiln.net=none",
                                 "kiln.net=static:192.168.7.2/24",
                                 "kiln.net=static:192.168.7.2/24,gw=192.168.7.1",
                                 "kiln.net=static:10.1.0.9/16,gw=10.1.0.1,dns=1.1.1.1"])
def test_round_trip(arg):
    assert net_from_cmdline(f"console=ttyAMA0 {arg} quiet").arg() == arg


def test_last_argument_wins():
    assert net_from_cmdline("kiln.net=none kiln.net=dhcp").mode == "dhcp"


@pytest.mark.parametrize("value,message", [
    ("dchp", "expected dhcp, none or static"),
    ("static:10.0.2.15", "needs a prefix length"),
    ("static:10.0.2.300/24", "10.0.2.300/24"),
    ("static:10.0.2.15/24,router=10.0.2.2", "expected gw=ADDR or dns=ADDR"),
    ("static:10.0.2.15/24,gw=10.0.3.1", "not inside 10.0.2.0/24"),
    ("static:10.0.2.15/24,dns=example", "dns='example'"),
])
def test_bad_values_name_the_problem(value, message):
    with pytest.raises(ValueError) as err:
        parse_net(value)
    assert message in str(err.value)


def test_guest_init_hands_kiln_net_to_the_launcher():
    """One parser: the init passes kiln.net= through; the launcher applies it (bootnet)."""
    text = INIT.read_text()
    assert "kiln.net=*) NET=${arg#kiln.net=}" in text
    assert '--net "$NET"' in text
    assert "udhcpc" not in text and "ip addr" not in text


@pytest.mark.parametrize("value", ["dhcp", "none", "static:10.1.0.9/16,gw=10.1.0.1,dns=1.1.1.1"])
def test_board_and_host_read_kiln_net_alike(value):
    from kiln.app import bootnet
    board, host = bootnet.parse(value), parse_net(value)
    assert board.mode == host.mode
    if host.mode == "static":
        assert f"{board.ip}/{board.prefixlen}" == str(host.address)
        assert (board.gateway, board.dns) == (str(host.gateway), str(host.dns))
