"""kiln.app: Zerynth globals and per-app 'import socket' redirection, stdlib untouched."""
import os
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


# --- apps are directories: lib/ on the path, packages, relative imports, data files ---------

APP_TREE = {
    "main.py": """
        import json, os, sys
        import pkg
        from pkg.sub import deep
        import umqtt.simple
        import tiny
        print("cwd", os.getcwd() == os.path.dirname(__file__) == sys.path[0])
        print("path", sys.path[1] == os.path.join(sys.path[0], "lib"))
        print("file", os.path.isabs(__file__))
        print("pkg", pkg.VALUE, deep.doubled(), pkg.__package__, deep.__package__)
        print("lib", umqtt.simple.which(), tiny.which(), tiny.core.WHERE)
        print("shadow", __import__("shared").WHERE)
        with open("settings.json") as f:
            print("settings", json.load(f)["greeting"])
        with open("www/index.html") as f:
            print("page", f.read().strip())
    """,
    "pkg/__init__.py": "from . import helper\nVALUE = helper.X\n",
    "pkg/helper.py": "X = 21\n",
    "pkg/sub/__init__.py": "",
    "pkg/sub/deep.py": "from .. import helper\nfrom ..helper import X\n"
                       "def doubled():\n    return helper.X + X\n",
    # mip's layout: a folder of modules without __init__.py (micropython-lib's umqtt.simple)
    "lib/umqtt/simple.py": "import socket\ndef which():\n    return socket.__name__\n",
    "lib/tiny/__init__.py": "from . import core\nfrom .core import which\n",
    "lib/tiny/core.py": "import socket\nWHERE = __name__\n"
                        "def which():\n    return socket.__name__\n",
    "shared.py": "WHERE = 'app folder'\n",
    "lib/shared.py": "WHERE = 'lib'\n",
    "settings.json": '{"greeting": "hello from settings.json"}\n',
    "www/index.html": "<h1>page</h1>\n",
}


def run_tree(tmp_path, api=None, cwd="/"):
    app = tmp_path / "app"
    for name, text in APP_TREE.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(textwrap.dedent(text))
    cmd = [sys.executable, "-m", "kiln.app"] + (["--api", api] if api else []) + \
        [os.path.relpath(app / "main.py", cwd)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


@pytest.mark.parametrize("api, socket_name", [("zerynth", "networking.socket"),
                                              ("micropython", "usocket"),
                                              ("cpython", "socket")])
def test_app_directory_packages_lib_and_data_files(tmp_path, api, socket_name):
    """Launched from another folder by a relative path: the app's folder is the current
    directory and first on sys.path, lib/ second; packages (relative imports included), lib/
    modules and packages and a namespace folder in lib/ import, with the app's `import socket`;
    data files open by relative paths; the app's folder wins over lib/."""
    r = run_tree(tmp_path, api, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "cwd True", "path True", "file True",
        "pkg 21 42 pkg pkg.sub",
        f"lib {socket_name} {socket_name} tiny.core",
        "shadow app folder",
        "settings hello from settings.json",
        "page <h1>page</h1>",
    ]


def test_lib_modules_and_packages_get_the_zerynth_globals(tmp_path):
    (tmp_path / "lib" / "blink").mkdir(parents=True)
    (tmp_path / "lib" / "blink" / "__init__.py").write_text(
        "from .timing import pause\n")
    (tmp_path / "lib" / "blink" / "timing.py").write_text(
        "def pause():\n    sleep(1)\n    return WIFI_WPA2, ConnectionTimeoutError.__name__\n")
    r = run_app(tmp_path, "import blink\nprint(blink.pause())\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(3, 'ConnectionTimeoutError')"


def test_stdlib_keeps_real_socket_when_lib_is_on_the_path(tmp_path):
    """A module of the stdlib imported first by a lib/ module still gets CPython's socket."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "fetch.py").write_text(
        "import http.client\nimport socket\nWHICH = (http.client.socket.__name__, "
        "socket.__name__)\n")
    r = run_app(tmp_path, "import fetch\nprint(*fetch.WHICH)\n", api="micropython")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "socket usocket"
