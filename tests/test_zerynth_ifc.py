"""Zerynth's interface handle on Linux, in network namespaces this module creates.

``ifc = eth.configure(...)`` returns the interface and ``socket.socket(ifc=ifc)`` binds a socket
to it (SO_BINDTODEVICE).  The lab is the Ethernet host tests' (``tests/eth/netlab.py``): dnsmasq
in the lab namespace on ``kpeer0``, the driver on ``keth0`` in the device namespace.  The device
namespace also gets a second interface, ``kalt0`` (one end of a veth pair whose other end stays
in the namespace, unanswered), owning the route to ``ALT_NET``; the lab answers on
``ALT_TARGET``, an address of that network, behind the device's default gateway.  So:

- a socket without ``ifc`` follows the routing table to ``ALT_TARGET`` through ``kalt0`` and
  gets no answer;
- the same connect with ``ifc`` = the Ethernet interface leaves through ``keth0`` and the
  default route, and the lab answers -- the binding changes where packets go;
- a socket bound to ``kalt0`` does not reach the lab's own address at all.

Zerynth's ``requests`` runs there too, resolving names with dnsmasq.  Needs root, iproute2,
dnsmasq, busybox (requirements/apt.txt).
"""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiln.host.runner import netns  # noqa: E402
from tests.eth.netlab import FAR_IF, FAR_IP, LOCAL_DOMAIN, NEAR_IF, EthLab  # noqa: E402

pytestmark = pytest.mark.usefixtures("watchdog")

ALT_IF, ALT_PEER, ALT_NET, ALT_DEVICE_IP = "kalt0", "kalt1", "10.88.0.0/24", "10.88.0.2"
ALT_TARGET = "10.88.0.99"
WEB_NAME = "web.zerynth.lab"


@pytest.fixture
def lab():
    """The two-namespace lab with dnsmasq, the extra interface and a name for the lab host."""
    assert os.geteuid() == 0, "these tests create network namespaces: run them as root"
    built = EthLab().start()
    namespaces = [built.name, built.device_netns]
    try:
        built.add_dns_record(WEB_NAME, FAR_IP)
        built.start_dnsmasq()
        for argv in (["ip", "link", "add", ALT_IF, "type", "veth", "peer", "name", ALT_PEER],
                     ["ip", "addr", "add", f"{ALT_DEVICE_IP}/24", "dev", ALT_IF],
                     ["ip", "link", "set", ALT_IF, "up"], ["ip", "link", "set", ALT_PEER, "up"]):
            done = built.run(argv, device=True)
            assert done.returncode == 0, done.stderr
        done = built.run(["ip", "addr", "add", f"{ALT_TARGET}/32", "dev", FAR_IF])
        assert done.returncode == 0, done.stderr
        yield built
    finally:
        built.close()
    assert not [ns for ns in namespaces if netns.exists(ns)], "lab namespace left behind"


class EchoServer:
    """A TCP server in the lab namespace (all addresses): answers each line with itself
    upper-cased; records who connected."""

    def __init__(self, lab):
        self.sock = lab.socket()
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.peers = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            with conn:
                self.peers.append((conn.getsockname()[0], addr[0]))
                conn.settimeout(10)
                try:
                    conn.sendall(conn.recv(64).upper())
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def run_in_device(lab, tmp_path, source, timeout=60):
    """Run ``source`` with Kiln's Python in the device namespace; its JSON lines as dicts."""
    script = tmp_path / "device.py"
    script.write_text(textwrap.dedent(source))
    proc = lab.spawn([sys.executable, str(script)], device=True, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the device script hung:\n{out}\n{err}")
    assert proc.returncode == 0, f"device script failed:\n{out}\n{err}"
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.watchdog(90)
def test_socket_ifc_binds_to_the_interface_configure_returned(lab, tmp_path):
    server = EchoServer(lab)
    try:
        results = run_in_device(lab, tmp_path, f"""
            import json
            from networking import eth, socket

            def report(**kw):
                print(json.dumps(kw), flush=True)

            def attempt(what, ifc, address):
                s = socket.socket(ifc=ifc)
                s.settimeout(1500)
                try:
                    s.connect(address)
                    s.send("hello")
                    report(what=what, reply=s.recv(5).decode(),
                           bound=s.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE,
                                              16).rstrip(b"\\0").decode())
                except OSError as e:
                    report(what=what, error=type(e).__name__, errno=e.errno)
                finally:
                    s.close()

            ifc = eth.configure(dhcp=True, iface={NEAR_IF!r}, timeout=20000)
            report(what="configure", ifname=ifc.ifname, same=ifc is eth.configure(dhcp=True))
            eth.start()
            report(what="info", ip=eth.info()[1])
            attempt("default route, no ifc", None, ({ALT_TARGET!r}, {server.port}))
            attempt("default route, ifc=-1", -1, ({ALT_TARGET!r}, {server.port}))
            attempt("through eth", ifc, ({ALT_TARGET!r}, {server.port}))
            attempt("by name", {NEAR_IF!r}, ({FAR_IP!r}, {server.port}))
            attempt("through the other interface", {ALT_IF!r}, ({FAR_IP!r}, {server.port}))
            eth.stop()
        """)
    finally:
        server.close()
    by_what = {r["what"]: r for r in results}
    assert by_what["configure"] == {"what": "configure", "ifname": NEAR_IF, "same": True}
    lease = by_what["info"]["ip"]
    for unbound in ("default route, no ifc", "default route, ifc=-1"):
        # The routing table sends ALT_TARGET through kalt0, where nobody answers.
        assert by_what[unbound]["error"] in ("TimeoutError", "OSError"), by_what[unbound]
    assert by_what["through eth"] == {"what": "through eth", "reply": "HELLO", "bound": NEAR_IF}
    assert by_what["by name"]["reply"] == "HELLO" and by_what["by name"]["bound"] == NEAR_IF
    # Bound to kalt0, the lab's address is taken as on that link (Linux's rule for a bound
    # socket without a route): asked for there, unanswered, never reaching the lab.
    assert by_what["through the other interface"]["errno"] in (
        errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ETIMEDOUT)
    # The lab saw both connections from the lease's address, one of them to ALT_TARGET.
    assert sorted(server.peers) == sorted([(ALT_TARGET, lease), (FAR_IP, lease)])


@pytest.mark.watchdog(90)
def test_requests_in_the_namespace_resolve_with_the_leased_dns(lab, tmp_path):
    docroot = tmp_path / "www"
    docroot.mkdir()
    (docroot / "index.html").write_text("served in the lab\n")
    http = lab.spawn([sys.executable, "-m", "http.server", "8080", "--bind", FAR_IP,
                      "--directory", str(docroot)], stdout=subprocess.DEVNULL,
                     stderr=subprocess.PIPE, text=True)
    results = run_in_device(lab, tmp_path, f"""
        import json, time
        from networking import eth
        from kiln.zerynth import requests

        def report(**kw):
            print(json.dumps(kw), flush=True)

        eth.configure(dhcp=True, iface={NEAR_IF!r}, timeout=20000)
        eth.start()
        deadline = time.monotonic() + 15
        while True:
            try:
                r = requests.get("http://{WEB_NAME}:8080/index.html")
                break
            except ConnectionRefusedError:          # the server is still starting
                assert time.monotonic() < deadline
                time.sleep(0.1)
        report(what="get", status=r.status, text=r.text(), type=r.headers["content-type"])
        try:
            requests.get("http://nowhere.{LOCAL_DOMAIN}/")
        except Exception as e:
            report(what="unknown", exc=type(e).__name__, msg=str(e))
        eth.stop()
    """)
    http.terminate()
    http.wait(10)
    by_what = {r["what"]: r for r in results}
    assert by_what["get"] == {"what": "get", "status": 200, "text": "served in the lab\n",
                              "type": "text/html"}
    assert by_what["unknown"]["exc"] == "HTTPConnectionError"
    assert f"nowhere.{LOCAL_DOMAIN}" in by_what["unknown"]["msg"]
    assert f"query[A] {WEB_NAME}" in lab.dnsmasq_log()


def test_wifi_configure_returns_the_radio_as_the_interface(monkeypatch):
    """``wifi.configure()`` returns the registered radio, whose interface name sockets bind
    to (the association itself is proven under QEMU, tests/system/test_wifi.py)."""
    import driver.wifi
    from driver.wifi.linux import LinuxWifi
    from networking import socket, wifi

    radio = LinuxWifi("lo")            # any existing interface: only the name is used here
    monkeypatch.setattr(driver.wifi, "_registered", radio)     # as a driver's init() does
    ifc = wifi.configure("lab", "12345678")
    assert ifc is radio and ifc.ifname == "lo"
    s = socket.socket(ifc=ifc)
    try:
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\0") == b"lo"
    finally:
        s.close()
