"""Zerynth's published example programs, unmodified, under Kiln's launcher on the host.

The programs are read from Zerynth's repositories at pinned commits (``zerynth_examples``).
They loop forever, as board programs do: each test watches the program's console for a few
rounds, checks what the peers saw, then stops the process.

- ``Ethernet_http`` (Zerynth v3): ``ifc = eth.configure(dhcp=True)``, ``eth.start()``,
  ``socket.socket(ifc=ifc)``, an HTTP request to ``now.zerynth.com``, ``eth.disconnect()``,
  again -- in the Ethernet host tests' namespaces (``tests/eth/netlab.py``): dnsmasq leases the
  address and answers the name, ``http.server`` answers the request.
- ``Multi_Thread_Basic`` and ``Timers_Advanced`` (Zerynth v2): ``streams.serial()``,
  ``thread()``, ``sleep()``, ``timers.timer()`` with ``interval``/``start``/``get``.

``Mini_Web_Server`` (v2) links to a Wi-Fi access point, which needs the QEMU Wi-Fi lab: it runs
in ``tests/system/test_zerynth_runtime_apps.py``.  ``Ethernet_http`` also runs on the QEMU
images, in the program-test boot (``tests/system/test_programs.py``).
"""
from __future__ import annotations

import ast
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiln.host.runner import netns  # noqa: E402
from tests.eth.netlab import DNS_ADDRESS, DNS_NAME, FAR_IF, FAR_IP, NEAR_IF, EthLab  # noqa: E402
from tests.zerynth_examples import example_source  # noqa: E402

pytestmark = pytest.mark.usefixtures("watchdog")

# What the lab's HTTP server answers at "/": long enough for the example's recv(256).
INDEX = "<html><body><h1>Kiln lab</h1>" + "now.zerynth.com answers from the lab. " * 20 + \
    "</body></html>\n"


class Console:
    """The output lines of a running program, read as they come."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, pattern: str, timeout: float) -> re.Match:
        """Wait for a line matching ``pattern`` (AssertionError with the transcript if none)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(left, 0.01))
            except queue.Empty:
                line = ""
                if left <= 0:
                    raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n"
                                         + "\n".join(self.lines)) from None
            if line is None:
                raise AssertionError(f"the program ended (status {self.proc.wait()}) before "
                                     f"{pattern!r}:\n" + "\n".join(self.lines) + "\n" +
                                     self.proc.stderr.read())
            if line:
                self.lines.append(line)
                match = re.fullmatch(pattern, line)
                if match:
                    return match

    def collect(self, seconds: float) -> list[str]:
        """Every line printed in the next ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return self.lines

    def stop(self) -> str:
        """Stop the program; return what it wrote on stderr."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


def launch(argv_prefix, app: Path, env=None) -> Console:
    proc = subprocess.Popen([*argv_prefix, sys.executable, "-m", "kiln.app", str(app)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, start_new_session=True)
    return Console(proc)


@pytest.mark.watchdog(120)
def test_ethernet_http_v3_example(tmp_path):
    assert os.geteuid() == 0, "this test creates network namespaces: run it as root"
    app = tmp_path / "app" / "main.py"
    app.parent.mkdir()
    app.write_text(example_source("Ethernet_http"))
    docroot = tmp_path / "www"
    docroot.mkdir()
    (docroot / "index.html").write_text(INDEX)
    lab = EthLab().start()
    namespaces = [lab.name, lab.device_netns]
    console = None
    try:
        lab.start_dnsmasq()
        # now.zerynth.com is DNS_ADDRESS in the lab's DNS: the lab host answers there too.
        done = lab.run(["ip", "addr", "add", f"{DNS_ADDRESS}/32", "dev", FAR_IF])
        assert done.returncode == 0, done.stderr
        access_log = tmp_path / "access.log"
        with open(access_log, "w") as log:
            lab.spawn([sys.executable, "-m", "http.server", "80", "--bind", DNS_ADDRESS,
                       "--directory", str(docroot)], stdout=subprocess.DEVNULL, stderr=log)
        console = launch(netns.exec_prefix(lab.device_netns), app,
                         env={"KILN_ETH_IFACE": NEAR_IF, "PYTHONUNBUFFERED": "1"})
        leases = []
        for _ in range(2):                                # two rounds of the example's loop
            console.expect(r"configuring\.\.\.", 30)
            console.expect(r"connecting\.\.\.", 10)
            console.expect(r"connected\.\.\.", 30)
            info = console.expect(r"\(True, '([\d.]+)', '255\.255\.255\.0', "
                                  rf"'{re.escape(FAR_IP)}', '{re.escape(FAR_IP)}', "
                                  r"'([0-9a-f:]{17})'\)", 10)
            leases.append(info.group(1))
            console.expect(rf"resolved {re.escape(DNS_ADDRESS)}", 10)
            console.expect(r"creating socket\.\.\.", 10)
            console.expect(r"connecting socket\.\.\.", 10)
            printed = console.expect(r"bytearray\((b'.*')\)", 15)
            body = ast.literal_eval(printed.group(1))
            assert len(body) == 256 and body.startswith(b"HTTP/1.0 200 OK\r\n")
            assert b"Content-Length: %d\r\n" % len(INDEX) in body
            console.expect(r"close socket\.\.\.", 10)
            console.expect(r"disconnecting\.\.\.", 10)
            console.expect(r"disconnected\.\.\.", 15)
        transcript = "\n".join(console.lines)
        err = console.stop()
        console = None
        # The example prints "... Exception" for every error it catches.
        assert "Exception" not in transcript and "Traceback" not in err, transcript + err
        log = lab.dnsmasq_log()
        for ip in leases:
            assert f"DHCPACK(kpeer0) {ip}" in log
        assert f"DHCPRELEASE(kpeer0) {leases[0]}" in log      # eth.disconnect() released it
        assert log.count(f"query[A] {DNS_NAME}") >= 2
        requests_seen = [line for line in access_log.read_text().splitlines()
                         if '"GET / HTTP/1.1" 200' in line]
        assert [line.split()[0] for line in requests_seen] == leases
    finally:
        if console is not None:
            console.stop()
        lab.close()
    assert not [ns for ns in namespaces if netns.exists(ns)], "lab namespace left behind"


@pytest.mark.watchdog(60)
def test_multi_thread_basic_v2_example(tmp_path):
    app = tmp_path / "main.py"
    app.write_text(example_source("Multi_Thread_Basic"))
    console = launch([], app, env={"PYTHONUNBUFFERED": "1"})
    try:
        lines = console.collect(3.5)
    finally:
        err = console.stop()
    assert "Traceback" not in err, err
    counts = {n: lines.count(f"I am the thread {n}") for n in (1, 2, 3, 4)}
    # Every thread keeps its own rhythm (500, 1000, 1300, 800 ms) while main.py has ended.
    assert counts[1] >= 6 and counts[2] >= 3 and counts[3] >= 2 and counts[4] >= 4, counts
    assert counts[1] > counts[4] > counts[2] >= counts[3], counts
    for n, delay in ((1, 500), (2, 1000), (3, 1300), (4, 800)):
        assert f"I run every: {delay} msec" in lines


@pytest.mark.watchdog(60)
def test_timers_advanced_v2_example(tmp_path):
    app = tmp_path / "main.py"
    app.write_text(example_source("Timers_Advanced"))
    console = launch([], app, env={"PYTHONUNBUFFERED": "1"})
    try:
        first = console.expect(r"timer minutes runs since: (\d+) timer seconds runs since: "
                               r"(\d+) millisec", 10)
        second = console.expect(r"timer minutes runs since: (\d+) timer seconds runs since: "
                                r"(\d+) millisec", 10)
        console.expect(r"3   seconds", 10)
    finally:
        err = console.stop()
    assert "Traceback" not in err, err
    lines = console.lines
    # secondpassed() every second (timer thread), the main loop every 2.5 s, interleaved.
    assert lines.index("1   seconds") < lines.index("2   seconds") < lines.index(second.group(0))
    assert lines.index(second.group(0)) < lines.index("3   seconds")
    assert int(first.group(1)) < 100 and int(first.group(2)) < 100   # printed right at start
    assert 2500 <= int(second.group(1)) < 4000                        # sleep(2500) later
