"""micropython-lib's published ``umqtt.simple``, unmodified, in an app run by the launcher under
``--api micropython``, against Debian's Mosquitto broker started by the test on loopback:
connect, subscribe, publish (QoS 0 and 1, retained), receive, last will, ping, unsubscribe,
disconnect."""
from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mosquitto as mosquitto_broker

# The published client as the program-test app's lib/ holds it (one copy for both tiers).
FIXTURE = Path(__file__).parent / "system" / "apps" / "programs" / "lib"
UMQTT_SHA256 = "3cfd101ef774e0c6f9543425650ddc36168a7bbf4b8b8b71667e27023dfd951f"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mosquitto(tmp_path):
    """A Mosquitto broker on a free 127.0.0.1 port, with its own config and log in tmp_path;
    stopped (and waited for) at teardown.  Yields ``(port, log_path)``."""
    for _attempt in range(5):           # a free port may be taken before the broker binds it
        port = _free_port()
        try:
            broker = mosquitto_broker.start(tmp_path, [f"listener {port} 127.0.0.1"],
                                            ("127.0.0.1", port))
            break
        except mosquitto_broker.BrokerError as exc:
            error = exc
    else:
        pytest.fail(str(error))
    try:
        yield port, broker.log
    finally:
        broker.stop()


def test_the_fixture_is_the_published_file():
    data = (FIXTURE / "umqtt" / "simple.py").read_bytes()
    assert hashlib.sha256(data).hexdigest() == UMQTT_SHA256


def test_umqtt_simple_talks_to_mosquitto_through_the_micropython_face(mosquitto, tmp_path):
    port, log = mosquitto
    app = tmp_path / "app"
    shutil.copytree(FIXTURE / "umqtt", app / "umqtt")          # as mip installs it
    (app / "main.py").write_text(textwrap.dedent(f"""
        import time
        from umqtt.simple import MQTTClient

        got = []
        sub = MQTTClient("kiln-sub", "127.0.0.1", port={port}, keepalive=60)
        sub.set_callback(lambda topic, msg: got.append((topic, msg)))
        print("session", sub.connect())
        sub.subscribe(b"kiln/test/#", qos=1)

        pub = MQTTClient("kiln-pub", "127.0.0.1", port={port})
        pub.connect()
        pub.publish(b"kiln/test/a", b"hello")
        sub.wait_msg()
        pub.publish(b"kiln/test/big", b"x" * 300, qos=1)    # 2-byte length; waits for PUBACK
        sub.wait_msg()
        pub.publish(b"kiln/test/r", "retained", retain=True)
        sub.wait_msg()

        will = MQTTClient("kiln-will", "127.0.0.1", port={port}, keepalive=60)
        will.set_last_will(b"kiln/test/will", b"gone")
        will.connect()
        will.sock.close()                                    # dies without DISCONNECT
        sub.wait_msg()

        print("pending", sub.check_msg())                   # non-blocking: nothing there
        sub.ping()
        print("pingresp", sub.wait_msg())
        sub.unsubscribe(b"kiln/test/#")
        pub.publish(b"kiln/test/a", b"not delivered")
        time.sleep_ms(200)
        print("after unsubscribe", sub.check_msg())
        pub.disconnect()
        sub.disconnect()
        for topic, msg in got:
            print(topic.decode(), msg[:10].decode(), len(msg))
    """))
    r = subprocess.run([sys.executable, "-m", "kiln.app", "--api", "micropython",
                        str(app / "main.py")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{r.stderr}\nbroker log:\n{log.read_text()}"
    assert r.stdout.splitlines() == [
        "session 0",
        "pending None",
        "pingresp None",
        "after unsubscribe None",
        "kiln/test/a hello 5",
        "kiln/test/big xxxxxxxxxx 300",
        "kiln/test/r retained 8",
        "kiln/test/will gone 4",
    ]
    broker = log.read_text()
    for client in ("kiln-sub", "kiln-pub", "kiln-will"):
        assert f"as {client} (" in broker, broker        # "New client connected ... as"
    assert "Client kiln-will closed its connection." in broker    # the will's trigger
