"""Host tests of ``networking.eth`` and its Linux driver (fast tier: no QEMU).

Each test builds its own lab (:class:`tests.eth.netlab.EthLab`, Kiln's ``NetLab`` in veth mode):
the lab namespace with dnsmasq on ``kpeer0``, joined by a veth pair to the device namespace,
where the driver runs on ``keth0`` in an agent subprocess.  What the driver did is checked
independently: with ``ip -j`` inside the device namespace, its resolv.conf and dnsmasq's log
and lease file.  Needs root, iproute2, dnsmasq and busybox (requirements/apt.txt); nothing on
the host's own interfaces changes.
"""
from __future__ import annotations

import ipaddress
import os
import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiln.host.runner import netns  # noqa: E402
from tests.eth.netlab import (DNS_ADDRESS, DNS_NAME, FAR_IP, LOCAL_DOMAIN, NEAR_IF,  # noqa: E402
                              POOL, SUBNET_MASK, EthLab, wait_for)

pytestmark = pytest.mark.usefixtures("watchdog")


@pytest.fixture
def lab():
    """A fresh two-namespace lab, torn down (namespaces, processes, files) even on failure."""
    assert os.geteuid() == 0, "the eth host tests create network namespaces: run them as root"
    built = EthLab().start()
    namespaces, etc_dir = [built.name, built.device_netns], built.device_resolv_conf.parent
    try:
        yield built
    finally:
        built.close()
    assert not [ns for ns in namespaces if netns.exists(ns)], "lab namespace left behind"
    assert not etc_dir.exists(), f"{etc_dir} left behind"


def in_pool(ip: str) -> bool:
    low, high = (ipaddress.ip_address(a) for a in POOL)
    return low <= ipaddress.ip_address(ip) <= high


def drain_events(agent) -> list[str]:
    """Kinds of the events queued so far (without waiting for new ones)."""
    kinds = []
    while (event := agent.ok("wait_event", 0)) is not None:
        kinds.append(event["kind"])
    return kinds


def next_event_of(agent, kind: str, timeout_ms: int) -> dict:
    """Wait for the next event of ``kind`` (skipping others) at most ``timeout_ms``."""
    deadline = time.monotonic() + timeout_ms / 1000
    while (left := deadline - time.monotonic()) > 0:
        event = agent.ok("wait_event", int(left * 1000) + 1)
        if event is not None and event["kind"] == kind:
            return event
    raise AssertionError(f"no {kind} event within {timeout_ms} ms")


def dhcp_started(lab: EthLab, timeout_ms: int = 10000):
    lab.start_dnsmasq()
    agent = lab.agent()
    agent.ok("configure", dhcp=True, timeout=timeout_ms, iface=NEAR_IF)
    agent.ok("start")
    return agent


@pytest.mark.watchdog(60)
def test_dhcp_lease_is_applied_and_reported(lab):
    agent = dhcp_started(lab)

    dhcp, ip, mask, gateway, dns, mac = agent.ok("info")
    assert dhcp is True and in_pool(ip)
    assert (mask, gateway, dns) == (SUBNET_MASK, FAR_IP, FAR_IP)
    assert mac == lab.device_link_state()["address"]
    # The kernel and the namespace's resolv.conf agree with info().
    assert lab.device_ipv4() == [(ip, 24)]
    assert lab.device_default_gateways() == [FAR_IP]
    assert f"nameserver {FAR_IP}" in lab.device_resolv_conf.read_text().splitlines()
    assert f"DHCPACK(kpeer0) {ip} {mac}" in lab.dnsmasq_log()
    assert ip in lab.leased()
    assert agent.ok("is_connected") is True
    assert agent.ok("is_linked") is True
    assert agent.ok("link_info") == [ip, mask, gateway, dns, mac]
    assert drain_events(agent) == ["carrier_up", "address_added"]


@pytest.mark.watchdog(60)
def test_resolve_uses_the_leased_dns_server(lab):
    agent = dhcp_started(lab)

    assert agent.ok("resolve", DNS_NAME) == DNS_ADDRESS
    assert f"query[A] {DNS_NAME} from" in lab.dnsmasq_log()
    unknown = agent.call("resolve", f"nowhere.{LOCAL_DOMAIN}")
    assert unknown["exc"] == "ResolveError"
    assert int(unknown["args"][0]) < 0          # the negative EAI_* code
    assert agent.call("resolve", 42)["exc"] == "TypeError"


@pytest.mark.watchdog(60)
def test_stop_releases_the_lease_and_takes_the_link_down(lab):
    agent = dhcp_started(lab)
    ip = agent.ok("info")[1]
    assert "UP" in lab.device_link_state()["flags"]

    agent.ok("stop")

    assert f"DHCPRELEASE(kpeer0) {ip}" in lab.dnsmasq_log()
    assert ip not in lab.leased()               # dnsmasq dropped the released lease
    assert "UP" not in lab.device_link_state()["flags"]
    assert lab.device_ipv4() == []
    assert agent.ok("is_connected") is False
    assert lab.pids(device=True) == {agent.proc.pid} | _agent_children(agent), "udhcpc left running"
    agent.ok("stop")                              # idempotent


def _agent_children(agent) -> set[int]:
    """The agent's process tree below `ip netns exec` (which execs, so usually none)."""
    try:
        text = Path(f"/proc/{agent.proc.pid}/task/{agent.proc.pid}/children").read_text()
    except FileNotFoundError:
        return set()
    return {int(p) for p in text.split()}


@pytest.mark.watchdog(60)
def test_disconnect_keeps_the_link_up(lab):
    agent = dhcp_started(lab)
    ip = agent.ok("info")[1]

    agent.ok("disconnect")

    assert f"DHCPRELEASE(kpeer0) {ip}" in lab.dnsmasq_log()
    assert "UP" in lab.device_link_state()["flags"]
    assert lab.device_ipv4() == []
    assert agent.ok("is_connected") is False


@pytest.mark.watchdog(60)
def test_static_configuration(lab):
    lab.start_dnsmasq()                            # only as the DNS server: no DHCP is used
    agent = lab.agent()
    agent.ok("configure", dhcp=False, ip="10.77.0.9", mask="255.255.255.0", gateway=FAR_IP,
             dns=FAR_IP, timeout=5000, iface=NEAR_IF)
    agent.ok("start")

    mac = lab.device_link_state()["address"]
    assert agent.ok("info") == [False, "10.77.0.9", "255.255.255.0", FAR_IP, FAR_IP, mac]
    assert lab.device_ipv4() == [("10.77.0.9", 24)]
    assert lab.device_default_gateways() == [FAR_IP]
    assert lab.device_resolv_conf.read_text() == f"nameserver {FAR_IP}\n"
    assert agent.ok("resolve", DNS_NAME) == DNS_ADDRESS   # reaches the far end over the veth
    assert "DHCPDISCOVER" not in lab.dnsmasq_log()

    agent.ok("stop")
    assert lab.device_ipv4() == [] and "UP" not in lab.device_link_state()["flags"]


@pytest.mark.watchdog(60)
def test_no_dhcp_server_times_out_after_the_configured_time(lab):
    agent = lab.agent()
    agent.ok("configure", dhcp=True, timeout=3000, iface=NEAR_IF)

    reply = agent.call("start")

    assert reply["exc"] == "ConnectionTimeoutError", reply
    assert "no DHCP lease" in reply["msg"]
    assert 2.9 <= reply["elapsed"] <= 4.5, reply["elapsed"]
    assert "UP" not in lab.device_link_state()["flags"]     # left stopped
    assert lab.pids(device=True) == {agent.proc.pid} | _agent_children(agent), "udhcpc left running"
    assert agent.ok("is_connected") is False


@pytest.mark.watchdog(60)
def test_dhcp_client_failure_is_reported_at_once(lab, tmp_path):
    lab.start_dnsmasq()
    fake = tmp_path / "udhcpc"                       # found before busybox on PATH
    fake.write_text("#!/bin/sh\necho 'udhcpc: bad option (simulated)' >&2\nexit 1\n")
    fake.chmod(0o755)
    agent = lab.agent(env=dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}"))
    agent.ok("configure", dhcp=True, timeout=20000, iface=NEAR_IF)

    reply = agent.call("start")

    assert reply["exc"] == "NetworkGenericError", reply
    assert "udhcpc exited" in reply["msg"] and "bad option (simulated)" in reply["msg"]
    assert reply["elapsed"] < 5, reply["elapsed"]    # not the 20 s timeout
    assert "UP" not in lab.device_link_state()["flags"]


@pytest.mark.watchdog(60)
def test_no_carrier_times_out(lab):
    lab.set_link(False)
    agent = lab.agent()
    agent.ok("configure", dhcp=True, timeout=1500, iface=NEAR_IF)

    reply = agent.call("start")

    assert reply["exc"] == "ConnectionTimeoutError", reply
    assert "no carrier" in reply["msg"]
    assert 1.4 <= reply["elapsed"] <= 3.0, reply["elapsed"]


@pytest.mark.watchdog(90)
def test_link_loss_is_seen_and_the_lease_renewed_on_return(lab):
    agent = dhcp_started(lab)
    ip = agent.ok("info")[1]
    drain_events(agent)
    acks_before = lab.dnsmasq_log().count(f"DHCPACK(kpeer0) {ip}")

    lab.set_link(False)
    next_event_of(agent, "carrier_down", 5000)
    assert agent.ok("is_connected") is False
    assert agent.ok("is_linked") is False

    lab.set_link(True)
    next_event_of(agent, "carrier_up", 5000)
    assert agent.ok("is_connected") is True
    # The driver asked udhcpc to renew when the carrier came back: a new REQUEST/ACK exchange.
    wait_for(lambda: lab.dnsmasq_log().count(f"DHCPACK(kpeer0) {ip}") > acks_before, 10,
             "the lease renewal after the carrier returned")
    assert agent.ok("info")[1] == ip
    assert agent.ok("resolve", DNS_NAME) == DNS_ADDRESS


@pytest.mark.watchdog(90)
def test_replugged_into_another_network_gets_a_new_lease(lab):
    agent = dhcp_started(lab)
    old_ip = agent.ok("info")[1]
    drain_events(agent)

    lab.set_link(False)
    next_event_of(agent, "carrier_down", 5000)
    lab.stop_dnsmasq()                      # "another network": new server, no lease for us
    lab.clear_leases()
    lab.start_dnsmasq(pool=("10.77.0.200", "10.77.0.210"))
    lab.set_link(True)

    # Renewal on carrier-up is NAKed; udhcpc deconfigures and discovers a new address.
    assert next_event_of(agent, "address_removed", 10000)["detail"] == f"{old_ip}/24"
    new = next_event_of(agent, "address_added", 15000)["detail"]
    assert new.startswith("10.77.0.2") and new.endswith("/24")
    assert f"DHCPNAK(kpeer0) {old_ip}" in lab.dnsmasq_log()
    wait_for(lambda: agent.ok("is_connected"), 5, "is_connected() after the new lease")
    dhcp, ip, _mask, gateway, dns, _mac = agent.ok("info")
    assert (dhcp, f"{ip}/24", gateway, dns) == (True, new, FAR_IP, FAR_IP)


@pytest.mark.watchdog(60)
def test_interface_removal_is_reported_and_stop_still_works(lab):
    agent = dhcp_started(lab)
    drain_events(agent)

    lab.remove_link()

    next_event_of(agent, "link_removed", 5000)
    assert agent.ok("is_connected") is False
    agent.ok("stop")


@pytest.mark.watchdog(60)
def test_restart_after_stop_gets_a_lease_again(lab):
    agent = dhcp_started(lab)
    agent.ok("unlink")                      # Zerynth v2 names map onto stop/start
    assert "UP" not in lab.device_link_state()["flags"]
    agent.ok("link")
    assert agent.ok("is_connected") is True
    assert in_pool(agent.ok("info")[1])
    assert len(re.findall(r"DHCPACK\(kpeer0\)", lab.dnsmasq_log())) >= 2


@pytest.mark.watchdog(30)
def test_missing_interface_cannot_be_registered(lab):
    agent = lab.agent()
    agent.ok("configure", iface="nosuch0")
    reply = agent.call("start")
    assert reply["exc"] == "CantRegisterInterfaceError" and "nosuch0" in reply["msg"]
    reply = agent.call("configure", iface="lo")
    assert "exc" not in reply
    reply = agent.call("start")
    assert reply["exc"] == "CantRegisterInterfaceError" and "not an Ethernet" in reply["msg"]


@pytest.mark.watchdog(30)
def test_default_interface_is_the_namespace_ethernet(lab):
    agent = lab.agent()
    assert agent.ok("info")[5] == lab.device_link_state()["address"]   # keth0: the only Ethernet link


@pytest.mark.parametrize("kwargs, error, words", [
    ({"dhcp": False}, ValueError, "ip is required"),
    ({"dhcp": False, "ip": "10.0.0.2"}, ValueError, "mask is required"),
    ({"dhcp": False, "ip": "10.0.0.300", "mask": "255.0.0.0"}, ValueError, "'10.0.0.300'"),
    ({"dhcp": False, "ip": "10.0.0.2", "mask": "255.0.255.0"}, ValueError, "contiguous"),
    ({"gateway": 7}, TypeError, "gateway must be a str"),
    ({"dhcp": "yes"}, TypeError, "dhcp must be True or False"),
    ({"timeout": 0}, ValueError, "timeout must be a positive int"),
    ({"timeout": 1.5}, TypeError, "timeout must be a positive int"),
    ({"timeout": 2**60}, ValueError, "timeout must be a positive int"),
    ({"dns": "1.2.3"}, ValueError, "dns '1.2.3' is not a dotted-quad"),
    ({"mask": "255.255.255.0", "ip": "10.0.0.2", "gateway": "10.9.0.1", "dhcp": False},
     ValueError, "gateway 10.9.0.1 is not inside 10.0.0.2/24"),
    ({"iface": "x" * 16}, ValueError, "iface must be an interface name"),
])
def test_bad_configuration_is_rejected(kwargs, error, words):
    from networking import eth          # configure() only validates: no interface is touched
    with pytest.raises(error, match=re.escape(words)):
        eth.configure(**kwargs)


def test_host_namespace_is_refused(monkeypatch, tmp_path):
    from driver import netif
    from kiln import netguard
    from networking import NetworkGenericError
    monkeypatch.setattr(netguard, "KILN_IMAGE_MARKER", str(tmp_path / "board.toml"))
    monkeypatch.delenv(netguard.OVERRIDE_ENV, raising=False)
    with pytest.raises(NetworkGenericError, match="refusing to reconfigure 'eth0'"):
        netif.ensure_may_reconfigure("eth0")
    monkeypatch.setenv(netguard.OVERRIDE_ENV, "1")
    netif.ensure_may_reconfigure("eth0")
    monkeypatch.delenv(netguard.OVERRIDE_ENV)
    (tmp_path / "board.toml").write_text("board = 'x'\n")
    netif.ensure_may_reconfigure("eth0")


def test_mask_conversions():
    from driver.ip.rtnl import mask_to_prefix, prefix_to_mask
    for prefix in range(33):
        assert mask_to_prefix(prefix_to_mask(prefix)) == prefix
    assert prefix_to_mask(20) == "255.255.240.0"
    with pytest.raises(ValueError):
        prefix_to_mask(33)


def test_events_iterator_ends_when_no_event_arrives_in_time():
    from driver.netif import NetifEvent, NetworkInterface

    class Scripted(NetworkInterface):
        """Only ``wait_event`` is real: it hands out a fixed list, then times out."""

        def __init__(self, queued):
            self.queued, self.waits = list(queued), []

        def wait_event(self, timeout_ms=None):
            self.waits.append(timeout_ms)
            return self.queued.pop(0) if self.queued else None

        configure = start = stop = info = is_connected = None

    queued = [NetifEvent("carrier_up", "", 1.0), NetifEvent("address_added", "10.0.0.2/24", 2.0)]
    iface = Scripted(queued)
    assert list(iface.events(250)) == queued
    assert iface.waits == [250, 250, 250]
