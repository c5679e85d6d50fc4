"""Debian's Mosquitto MQTT broker and its command-line clients (requirements/apt.txt:
``mosquitto``, ``mosquitto-clients``), run by a test with a configuration of its own: on
loopback for the host tests (tests/test_micropython_umqtt.py), in a network lab for the system
tests (tests/system/test_programs.py, through ``NetLab.spawn``, ``NetLab.socket`` and
``NetLab.run``).

The broker runs in the foreground as root (its files live in the test's private directory, which
the ``mosquitto`` user could not read), without persistence, every message type logged to
``mosquitto.log`` beside its configuration, so tests can assert on what the broker saw
("New client connected from ... as ...").
"""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Sequence


#: The line Mosquitto logs once every listener is bound.
RUNNING_RE = re.compile(r"mosquitto version \S+ running")


class BrokerError(RuntimeError):
    """Mosquitto is missing, exited at start-up or never listened (its log in the message)."""


def binary() -> str:
    """The ``mosquitto`` program; :class:`BrokerError` naming the fix when it is missing."""
    found = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(found).exists():
        raise BrokerError("mosquitto is missing: install requirements/apt.txt "
                          "(scripts/install-deps)")
    return found


class Broker:
    """A running Mosquitto: its process, configuration file and log."""

    def __init__(self, proc: subprocess.Popen, conf: Path, log: Path) -> None:
        self.proc, self.conf, self.log = proc, conf, log

    def log_text(self) -> str:
        """Everything the broker logged so far ("" before it wrote anything)."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """SIGTERM, SIGKILL after 10 s; reaps the process.  Idempotent."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start(workdir: Path, listeners: Sequence[str], probe: tuple[str, int], *,
          spawn: Callable[..., subprocess.Popen] = subprocess.Popen,
          new_socket: Callable[[], socket.socket] = socket.socket,
          timeout_s: float = 10.0) -> Broker:
    """Start Mosquitto with ``listeners`` -- configuration blocks, each starting with
    ``listener PORT ADDRESS`` (TLS options follow it) -- anonymous clients allowed; block until
    ``probe`` (address, port) accepts a TCP connection, at most ``timeout_s`` seconds.

    ``spawn(argv, **popen_kwargs)`` starts the process (``NetLab.spawn`` runs it in a lab) and
    ``new_socket()`` makes the probe's socket (``NetLab.socket``).  The configuration and the log
    are written in ``workdir`` (``mosquitto.conf``, ``mosquitto.log``).  Raises
    :class:`BrokerError` with the log when the broker exits or does not listen in time (the
    process is stopped first).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    log, conf = workdir / "mosquitto.log", workdir / "mosquitto.conf"
    conf.write_text("".join(block.rstrip("\n") + "\n" for block in listeners)
                    + f"allow_anonymous true\npersistence false\nlog_dest file {log}\n"
                      f"log_type all\nuser root\n")
    logged_before = log.stat().st_size if log.exists() else 0     # a restart appends
    proc = spawn([binary(), "-c", str(conf)], stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    broker = Broker(proc, conf, log)
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        # Only after Mosquitto logged that it runs (every listener bound) does the probe count:
        # a port picked free and taken meanwhile by another broker (a second test suite on the
        # machine) answers the probe, while ours exits with "Address already in use".
        if RUNNING_RE.search(broker.log_text()[logged_before:]) is None:
            time.sleep(0.05)
            continue
        with new_socket() as probe_sock:
            probe_sock.settimeout(1)
            try:
                probe_sock.connect(probe)
                return broker
            except OSError:
                pass
        time.sleep(0.05)
    broker.stop()
    raise BrokerError(f"mosquitto did not listen on {probe[0]}:{probe[1]} within {timeout_s:.0f} s "
                      f"(exit status {proc.returncode}); its log:\n{broker.log_text()}")


class Subscriber:
    """Debian's ``mosquitto_sub`` (``mosquitto-clients``) subscribed to ``topic`` with QoS 1 as
    client ``client_id`` on ``host:port``; every message it receives is kept in
    :attr:`messages` as ``(topic, qos, payload bytes)``.  ``spawn`` as in :func:`start`.  The
    subscription is in place once the broker logged its SUBACK (:meth:`wait_subscribed`)."""

    def __init__(self, host: str, port: int, topic: str, client_id: str, *,
                 spawn: Callable[..., subprocess.Popen] = subprocess.Popen) -> None:
        self.client_id = client_id
        self.messages: list[tuple[str, int, bytes]] = []
        self.proc = spawn(["mosquitto_sub", "-h", host, "-p", str(port), "-i", client_id,
                           "-t", topic, "-q", "1", "-F", "%t %q %x"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            topic, qos, payload = (line.rstrip("\n").split(" ") + ["", ""])[:3]
            self.messages.append((topic, int(qos), bytes.fromhex(payload)))

    def wait_subscribed(self, broker: Broker, timeout_s: float = 10.0) -> None:
        """Block until ``broker`` logged its SUBACK to this client; :class:`BrokerError` with
        the log after ``timeout_s`` seconds or when ``mosquitto_sub`` exits."""
        deadline = time.monotonic() + timeout_s
        while f"Sending SUBACK to {self.client_id}" not in broker.log_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BrokerError(f"mosquitto_sub {self.client_id} did not subscribe (exit "
                                  f"status {self.proc.poll()}); the broker's log:\n"
                                  f"{broker.log_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop ``mosquitto_sub`` and wait for the messages it printed.  Idempotent."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(10)


def publish(host: str, port: int, topic: str, payload: bytes, workdir: Path, client_id: str, *,
            run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> None:
    """Publish ``payload`` (any bytes: sent from a file in ``workdir``) to ``topic`` with QoS 1
    through Debian's ``mosquitto_pub`` as ``client_id``; blocks until the broker acknowledged.
    ``run(argv)`` runs the command to completion (``NetLab.run`` in a lab).  Raises
    :class:`BrokerError` with its output when it fails."""
    message = workdir / f"{client_id}.payload"
    message.write_bytes(payload)
    done = run(["mosquitto_pub", "-h", host, "-p", str(port), "-i", client_id, "-t", topic,
                "-q", "1", "-f", str(message)])
    if done.returncode != 0:
        raise BrokerError(f"mosquitto_pub to {topic} failed with status {done.returncode}: "
                          f"{done.stdout}{done.stderr}")
