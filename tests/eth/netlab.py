"""The Ethernet host tests' lab: Kiln's :class:`NetLab` in veth mode, plus driver agents.

::

    lab netns (EthLab.name)                          device netns (EthLab.device_netns)
    kpeer0 10.77.0.1/24, dnsmasq (DHCP .100-.150, DNS) <-> keth0 (veth, driven by Kiln)

The namespaces, the veth pair, dnsmasq and the device namespace's resolv.conf are the same
:class:`kiln.host.runner.netlab.NetLab` that ``kiln run`` and the system tests use (there in
tap mode).  This module adds only what the host tests need on top: the driver runs inside the
device namespace in an :class:`Agent` subprocess, and the ``device_*`` methods are independent
views (``ip -j``) of what the driver did there.  :meth:`EthLab.close` stops the agents, then
the lab removes namespaces, processes and files, whatever state the test left.
"""
from __future__ import annotations

import ipaddress
import json
import select
import subprocess
import sys
import time
from pathlib import Path

from kiln.host.runner.addressing import LabAddressing
from kiln.host.runner.netlab import VETH, VETH_DEVICE_NAME, VETH_HOST_NAME, NetLab

REPO = Path(__file__).resolve().parents[2]
NEAR_IF, FAR_IF = VETH_DEVICE_NAME, VETH_HOST_NAME          # keth0 (device), kpeer0 (lab)
FAR_IP, SUBNET_MASK = "10.77.0.1", "255.255.255.0"
POOL = ("10.77.0.100", "10.77.0.150")
#: The DNS record dnsmasq serves (the Zerynth seed program resolves this name).
DNS_NAME, DNS_ADDRESS = "now.zerynth.com", "10.77.0.80"
#: A domain dnsmasq answers NXDOMAIN for (``--local``), to test ResolveError.
LOCAL_DOMAIN = "kiln.test"
ADDRESSING = LabAddressing(
    network=ipaddress.IPv4Network("10.77.0.0/24"), host=ipaddress.IPv4Address(FAR_IP),
    dhcp_first=ipaddress.IPv4Address(POOL[0]), dhcp_last=ipaddress.IPv4Address(POOL[1]),
    static_guest=ipaddress.IPv4Address("10.77.0.9"))


def run(*argv: str) -> str:
    """Run a command; return stdout; raise with its stderr on failure."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def wait_for(predicate, timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms until true; AssertionError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Agent:
    """The ``tests.eth.agent`` process in a lab's device namespace; :meth:`call` runs one eth
    function there."""

    def __init__(self, lab: NetLab, env: dict[str, str] | None = None) -> None:
        self.proc = lab.spawn([sys.executable, "-m", "tests.eth.agent"], device=True, cwd=REPO,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def call(self, fn: str, *args, wait_s: float = 60.0, **kwargs) -> dict:
        """Call ``networking.eth.<fn>(*args, **kwargs)`` in the namespace; the reply dict has
        ``ok`` (the result) or ``exc``/``msg``, and ``elapsed`` seconds; AssertionError if no
        answer within ``wait_s`` seconds."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"fn": fn, "args": args, "kwargs": kwargs}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], wait_s)
        if not ready:
            raise AssertionError(f"eth.{fn} did not answer within {wait_s} s")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the agent died during eth.{fn} (exit {self.proc.wait()})")
        return json.loads(line)

    def ok(self, fn: str, *args, **kwargs):
        """Like :meth:`call` but return the result, failing the test on an exception."""
        reply = self.call(fn, *args, **kwargs)
        assert "exc" not in reply, f"eth.{fn} raised {reply['exc']}: {reply['msg']}"
        return reply["ok"]

    def close(self) -> None:
        """Close stdin (the agent stops the interface and exits); kill it after 10 s."""
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


class EthLab(NetLab):
    """A veth :class:`NetLab` with the host tests' addressing (pool ``POOL``, 2 min leases,
    ``DNS_NAME`` served, ``LOCAL_DOMAIN`` answered NXDOMAIN), no dnsmasq until
    :meth:`start_dnsmasq`, and the driver agents of one test."""

    def __init__(self) -> None:
        super().__init__(addressing=ADDRESSING, dns_records=[(DNS_NAME, DNS_ADDRESS)],
                         dhcp=False, mode=VETH, local_domains=[LOCAL_DOMAIN], lease_time="2m")
        self._agents: list[Agent] = []

    def agent(self, env: dict[str, str] | None = None) -> Agent:
        """A new agent process in the device namespace (closed by :meth:`close`), with ``env``
        as its environment (default: this process's)."""
        agent = Agent(self, env)
        self._agents.append(agent)
        return agent

    def leased(self) -> list[str]:
        """The addresses in dnsmasq's lease file."""
        return [str(lease.ip) for lease in self.leases()]

    # --- device side (independent views of what the driver did) ------------------------------
    def device_json(self, *argv: str) -> list:
        """``ip -j -n DEVICE_NETNS argv...`` parsed."""
        return json.loads(run("ip", "-j", "-n", self.device_netns, *argv) or "[]")

    def device_link_state(self) -> dict:
        """``ip -j link show`` of keth0."""
        return self.device_json("link", "show", "dev", NEAR_IF)[0]

    def device_ipv4(self) -> list[tuple[str, int]]:
        """The IPv4 addresses (ip, prefixlen) of keth0."""
        entries = self.device_json("-4", "addr", "show", "dev", NEAR_IF)
        return [(a["local"], a["prefixlen"]) for e in entries for a in e.get("addr_info", [])]

    def device_default_gateways(self) -> list[str]:
        return [r["gateway"] for r in self.device_json("-4", "route", "show", "default")
                if r.get("dev") == NEAR_IF]

    # --- teardown ------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the agents (each stops its interface), then tear the lab down."""
        for agent in self._agents:
            agent.close()
        self._agents.clear()
        super().close()
