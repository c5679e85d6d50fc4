"""kiln.app: Zerynth globals and per-app 'import socket' redirection, stdlib untouched."""
import subprocess
import sys
import textwrap

import pytest


def run_app(tmp_path, source, api=None, extra=None):
    (tmp_path / "main.py").write_text(textwrap.dedent(source))
    for name, text in (extra or {}).items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    cmd = [sys.executable, "-m", "kiln.app"] + (["--api", api] if api else []) + \
        [str(tmp_path / "main.py")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_zerynth_app_gets_networking_socket_and_globals(tmp_path):
    r = run_app(tmp_path, """
        import socket
        import helper
        import http.client
        print(socket.__name__, helper.which(), http.client.socket.__name__)
        print(SOCK_STREAM == socket.SOCK_STREAM, WIFI_WPA2, IOError is OSError)
        s = socket.socket(type=SOCK_STREAM)
        print(type(s).__module__)
        try:
            raise ConnectionTimeoutError("late")
        except ConnectionError as e:
            print("caught", type(e).__name__)
        import time; t = time.monotonic(); sleep(120); print(time.monotonic() - t >= 0.11)
    """, extra={"helper.py": "import socket\ndef which(): return socket.__name__\n"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "networking.socket networking.socket socket",
        "True 3 True",
        "kiln.net.zsocket",
        "caught ConnectionTimeoutError",
        "True",
    ]


def test_micropython_app_gets_usocket(tmp_path):
    r = run_app(tmp_path, """
        import socket
        print(socket.__name__, hasattr(socket, "getaddrinfo"))
        print("sleep" in dir(__builtins__) if isinstance(__builtins__, dict) else "n/a")
    """, api="micropython")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "usocket True"


def test_cpython_app_is_left_alone(tmp_path):
    r = run_app(tmp_path, "import socket\nprint(socket.__name__)\nsleep(1)\n", api="cpython")
    assert r.stdout.strip() == "socket"
    assert r.returncode == 1 and "NameError: name 'sleep' is not defined" in r.stderr


def test_app_exception_gives_traceback_and_status_1(tmp_path):
    r = run_app(tmp_path, "raise ResolveError(-2, 'no such host')\n")
    assert r.returncode == 1
    assert "ResolveError" in r.stderr and "no such host" in r.stderr


def test_missing_app_and_bad_api_are_clear_errors(tmp_path):
    r = subprocess.run([sys.executable, "-m", "kiln.app", str(tmp_path / "nope.py")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "does not exist" in r.stderr
    r = subprocess.run([sys.executable, "-m", "kiln.app", "--api", "arduino", "x.py"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice: 'arduino'" in r.stderr


@pytest.mark.parametrize("bad", [-1, "x"])
def test_zerynth_sleep_rejects_bad_input(bad):
    from kiln.app.zerynth import sleep
    with pytest.raises((ValueError, TypeError)):
        sleep(bad)
