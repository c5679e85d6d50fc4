"""A two-namespace Ethernet lab for the host tests: ``near`` (the board) and ``far`` (the LAN).

::

    near netns                      far netns
    keth0 (veth, driven by Kiln) <-> kpeer0 10.77.0.1/24, dnsmasq (DHCP 10.77.0.100-150, DNS)

The driver runs inside ``near`` in an :class:`Agent` subprocess (``ip netns exec``), with
``/etc/netns/<near>/resolv.conf`` bind-mounted over its /etc/resolv.conf, so nothing on the host
changes.  :meth:`EthLab.close` removes the namespaces (and with them the veth pair), the
processes and the files, whatever state the test left.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NEAR_IF, FAR_IF = "keth0", "kpeer0"
FAR_IP, SUBNET_MASK = "10.77.0.1", "255.255.255.0"
POOL = ("10.77.0.100", "10.77.0.150")
#: The DNS record dnsmasq serves (the Zerynth seed program resolves this name).
DNS_NAME, DNS_ADDRESS = "now.zerynth.com", "10.77.0.80"
#: A domain dnsmasq answers NXDOMAIN for (``--local``), to test ResolveError.
LOCAL_DOMAIN = "kiln.test"


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
    """The ``tests.eth.agent`` process inside a namespace; :meth:`call` runs one eth function."""

    def __init__(self, netns: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-m", "tests.eth.agent"],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

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


class EthLab:
    """The namespaces, veth pair, optional dnsmasq and agents of one test."""

    def __init__(self) -> None:
        tag = f"{os.getpid()}-{time.monotonic_ns() % 100000}"
        self.near, self.far = f"kiln-eth-near-{tag}", f"kiln-eth-far-{tag}"
        self.dir = Path(tempfile.mkdtemp(prefix="kiln-ethlab-"))
        self.netns_etc = Path("/etc/netns") / self.near
        self.resolv_conf = self.netns_etc / "resolv.conf"
        self.leases = self.dir / "leases"
        self.dnsmasq_log = self.dir / "dnsmasq.log"
        self._dnsmasq: subprocess.Popen | None = None
        self._agents: list[Agent] = []
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        run("ip", "netns", "add", self.near)
        run("ip", "netns", "add", self.far)
        run("ip", "link", "add", NEAR_IF, "netns", self.near, "type", "veth",
            "peer", "name", FAR_IF, "netns", self.far)
        run("ip", "-n", self.near, "link", "set", "lo", "up")
        run("ip", "-n", self.far, "link", "set", "lo", "up")
        run("ip", "-n", self.far, "addr", "add", f"{FAR_IP}/24", "dev", FAR_IF)
        run("ip", "-n", self.far, "link", "set", FAR_IF, "up")
        self.netns_etc.mkdir(parents=True, exist_ok=True)
        self.resolv_conf.write_text("# written by Kiln's eth test lab\n")

    # --- far side ------------------------------------------------------------------------------
    def start_dnsmasq(self, pool: tuple[str, str] = POOL) -> None:
        """Serve DHCP from ``pool`` (2 min leases, router and DNS = the far end) and DNS on the
        far end."""
        self._dnsmasq = subprocess.Popen(
            ["ip", "netns", "exec", self.far, "dnsmasq", "--keep-in-foreground",
             "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
             "--no-ping",
             f"--interface={FAR_IF}", f"--listen-address={FAR_IP}", "--dhcp-authoritative",
             f"--dhcp-range={pool[0]},{pool[1]},{SUBNET_MASK},2m",
             f"--dhcp-option=option:router,{FAR_IP}", f"--dhcp-option=option:dns-server,{FAR_IP}",
             f"--address=/{DNS_NAME}/{DNS_ADDRESS}", f"--local=/{LOCAL_DOMAIN}/",
             f"--dhcp-leasefile={self.leases}", "--log-dhcp", "--log-queries",
             f"--log-facility={self.dnsmasq_log}", "--user=root", "--group=root",
             f"--pid-file={self.dir / 'dnsmasq.pid'}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: "DHCP, IP range" in self.log() or self._dnsmasq.poll() is not None,
                 10, "dnsmasq to start")
        if self._dnsmasq.poll() is not None:
            raise RuntimeError(f"dnsmasq failed: {self._dnsmasq.stderr.read().decode()}")

    def stop_dnsmasq(self) -> None:
        """Stop the far end's dnsmasq (its log and lease file stay)."""
        if self._dnsmasq is None:
            return
        self._dnsmasq.terminate()
        try:
            self._dnsmasq.wait(10)
        except subprocess.TimeoutExpired:
            self._dnsmasq.kill()
            self._dnsmasq.wait()
        if self._dnsmasq.stderr:
            self._dnsmasq.stderr.close()
        self._dnsmasq = None

    def log(self) -> str:
        """dnsmasq's log so far."""
        try:
            return self.dnsmasq_log.read_text()
        except FileNotFoundError:
            return ""

    def far_link(self, up: bool) -> None:
        """Set the far end of the veth up or down (the near end loses/regains its carrier)."""
        run("ip", "-n", self.far, "link", "set", FAR_IF, "up" if up else "down")

    def remove_veth(self) -> None:
        """Delete the veth pair (the far end takes keth0 with it: a board NIC vanishing)."""
        run("ip", "-n", self.far, "link", "del", FAR_IF)

    # --- near side (independent views of what the driver did) ----------------------------------
    def near_json(self, *argv: str) -> list:
        """``ip -j -n NEAR argv...`` parsed."""
        return json.loads(run("ip", "-j", "-n", self.near, *argv) or "[]")

    def near_link(self) -> dict:
        return self.near_json("link", "show", "dev", NEAR_IF)[0]

    def near_ipv4(self) -> list[tuple[str, int]]:
        """The IPv4 addresses (ip, prefixlen) of keth0."""
        entries = self.near_json("-4", "addr", "show", "dev", NEAR_IF)
        return [(a["local"], a["prefixlen"]) for e in entries for a in e.get("addr_info", [])]

    def near_default_gateways(self) -> list[str]:
        return [r["gateway"] for r in self.near_json("-4", "route", "show", "default")
                if r.get("dev") == NEAR_IF]

    def near_pids(self) -> set[int]:
        """Processes whose network namespace is ``near``."""
        return {int(p) for p in run("ip", "netns", "pids", self.near).split()}

    def agent(self, env: dict[str, str] | None = None) -> Agent:
        """A new agent process in the near namespace (closed by :meth:`close`), with ``env`` as
        its environment (default: this process's)."""
        agent = Agent(self.near, env)
        self._agents.append(agent)
        return agent

    # --- teardown ------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop agents and dnsmasq, delete both namespaces and every file (best effort)."""
        for agent in self._agents:
            agent.close()
        self.stop_dnsmasq()
        for ns in (self.near, self.far):
            for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                      text=True).stdout.split():
                try:
                    os.kill(int(pid), 9)     # only processes inside our own namespace
                except ProcessLookupError:
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(self.netns_etc, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)
