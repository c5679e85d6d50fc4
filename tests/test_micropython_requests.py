"""micropython-lib's ``requests`` API in the MicroPython face (kiln.mpy.requests), against a real
CPython HTTP server (http.server) on loopback: methods, JSON, data, headers, Basic auth, redirects
as micropython-lib follows them, chunked bodies both ways, streaming ``raw``, timeouts and broken
servers -- with no descriptor left open."""
from __future__ import annotations

import base64
import errno
import json
import socket
import subprocess
import sys
import textwrap
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kiln.mpy import requests

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return body, True
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", 0))
        return self.rfile.read(length), False

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def _route(self):
        path = self.path
        if path.startswith("/json"):
            return self._send(200, json.dumps({"hello": "kiln", "n": [1, 2]}).encode(),
                              [("Content-Type", "application/json"), ("X-Kiln", "yes")])
        if path.startswith("/echo"):
            body, chunked = self._body()
            report = {"method": self.command, "path": path, "headers": dict(self.headers),
                      "body": body.decode("latin-1"), "chunked": chunked}
            return self._send(200, json.dumps(report).encode())
        if path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello", b" chunked", b" world" * 100):
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
            return None
        if path == "/noclen":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the connection closes")
            self.close_connection = True
            return None
        if path.startswith("/redirect/"):
            status = int(path.split("/")[2])
            target = path.split("/", 3)[3] if path.count("/") > 2 else "json"
            location = "/" + target if status != 301 else \
                f"http://127.0.0.1:{self.server.server_address[1]}/{target}"
            self._body()
            return self._send(status, b"moved", [("Location", location)])
        if path == "/loop":
            return self._send(302, b"", [("Location", "/loop")])
        if path.startswith("/status/"):
            return self._send(int(path.split("/")[2]), b"status body")
        if path == "/badstatus":
            self.wfile.write(b"garbage\r\n\r\n")
            self.close_connection = True
            return None
        return self._send(404, b"no such page")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _route


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def echo(response):
    with response:
        assert response.status_code == 200
        return response.json()


# ---- methods, bodies, headers ------------------------------------------------------------------
def test_get_json(server):
    r = requests.get(server + "/json")
    assert r.status_code == 200 and r.reason == b"OK"
    assert r.headers["Content-Type"] == "application/json" and r.headers["X-Kiln"] == "yes"
    assert r.json() == {"hello": "kiln", "n": [1, 2]}
    assert r.text == json.dumps({"hello": "kiln", "n": [1, 2]})
    assert r.raw is None                     # content read: the connection is closed
    r.close()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_each_method_reaches_the_server(server, method):
    fn = getattr(requests, method.lower())
    report = echo(fn(server + "/echo/x?q=1#frag"))
    assert report["method"] == method and report["path"] == "/echo/x?q=1#frag"
    assert report["headers"]["Connection"] == "close"
    assert report["headers"]["Host"] == server[len("http://"):]      # with the port


def test_head_has_headers_and_an_empty_body(server):
    r = requests.head(server + "/json")
    assert r.status_code == 200 and int(r.headers["Content-Length"]) > 0
    assert r.content == b""


def test_post_json(server):
    report = echo(requests.post(server + "/echo", json={"temp": 21.5, "name": "\u00e9t\u00e9"}))
    assert json.loads(report["body"].encode("latin-1")) == {"temp": 21.5, "name": "\u00e9t\u00e9"}
    assert report["headers"]["Content-Type"] == "application/json"
    assert int(report["headers"]["Content-Length"]) == len(report["body"])


def test_post_data_str_and_bytes(server):
    report = echo(requests.post(server + "/echo", data="h\u00e9llo"))
    assert report["body"].encode("latin-1") == "h\u00e9llo".encode()
    assert report["headers"]["Content-Length"] == "6"
    report = echo(requests.put(server + "/echo", data=b"\x00\x01\xff"))
    assert report["body"].encode("latin-1") == b"\x00\x01\xff"


def test_post_chunked_data_from_a_generator(server):
    def chunks():
        yield "one "
        yield b"two "
        yield "thr\u00e9e"
    report = echo(requests.post(server + "/echo", data=chunks()))
    assert report["chunked"] and report["headers"]["Transfer-Encoding"] == "chunked"
    assert report["body"].encode("latin-1") == "one two thr\u00e9e".encode()


def test_generator_data_with_content_length_is_sent_as_is(server):
    report = echo(requests.post(server + "/echo", data=iter([b"ab", b"cd"]),
                                headers={"Content-Length": "4"}))
    assert not report["chunked"] and report["body"] == "abcd"


def test_custom_headers_and_basic_auth(server):
    headers = {"User-Agent": "kiln-test", "X-Number": 5}
    report = echo(requests.get(server + "/echo", headers=headers, auth=("user", "p\u00e4ss")))
    assert report["headers"]["User-Agent"] == "kiln-test" and report["headers"]["X-Number"] == "5"
    token = base64.b64encode("user:p\u00e4ss".encode()).decode()
    assert report["headers"]["Authorization"] == "Basic " + token
    assert headers == {"User-Agent": "kiln-test", "X-Number": 5}    # the caller's dict untouched


def test_json_and_data_together_are_refused(server):
    with pytest.raises(ValueError, match="'json' or 'data'"):
        requests.post(server + "/echo", json={}, data=b"x")


# ---- response bodies -----------------------------------------------------------------------------
def test_chunked_response(server):
    r = requests.get(server + "/chunked")
    assert "Transfer-Encoding" in r.headers
    assert r.content == b"hello chunked" + b" world" * 100


def test_chunked_response_streamed_through_raw(server):
    with requests.get(server + "/chunked") as r:
        buf = bytearray(7)
        got = b""
        while True:
            n = r.raw.readinto(buf)
            if not n:
                break
            got += buf[:n]
        assert got == b"hello chunked" + b" world" * 100


def test_content_length_body_streamed(server):
    with requests.get(server + "/json") as r:
        assert r.raw.read(5) == b'{"hel'
        assert r.content == b'lo": "kiln", "n": [1, 2]}'


def test_body_without_length_reads_to_eof(server):
    assert requests.get(server + "/noclen").content == b"until the connection closes"


@pytest.mark.parametrize("status", [204, 404, 500])
def test_other_statuses_are_responses(server, status):
    r = requests.get(server + f"/status/{status}")
    assert r.status_code == status
    assert r.content == (b"" if status == 204 else b"status body")


def test_parse_headers_false_and_callable(server):
    r = requests.get(server + "/json", parse_headers=False)
    assert not hasattr(r, "headers")
    assert r.content.startswith(b'{"hello"')        # read to EOF: Connection: close
    lines = []
    r = requests.get(server + "/json", parse_headers=lambda line, d: lines.append(line))
    r.close()
    assert any(line.startswith(b"X-Kiln: yes") for line in lines)


# ---- redirects ---------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302])
def test_redirect_to_a_get(server, status):
    r = requests.get(server + f"/redirect/{status}/json")
    assert r.status_code == 200 and r.json()["hello"] == "kiln"


def test_303_turns_a_post_into_a_get_without_its_body(server):
    report = echo(requests.post(server + "/redirect/303/echo", json={"a": 1}))
    assert report["method"] == "GET" and report["body"] == ""
    assert "Content-Length" not in report["headers"]
    assert "Content-Type" not in report["headers"]


@pytest.mark.parametrize("status", [307, 308])
def test_307_308_keep_the_method_and_body(server, status):
    report = echo(requests.post(server + f"/redirect/{status}/echo", data=b"payload",
                                headers={"X-Keep": "1"}))
    assert report["method"] == "POST" and report["body"] == "payload"
    assert report["headers"]["X-Keep"] == "1"


def test_redirect_loop_stops(server):
    with pytest.raises(ValueError, match="redirects"):
        requests.get(server + "/loop")


def test_redirect_it_does_not_follow(server):
    with pytest.raises(NotImplementedError, match="300"):
        requests.get(server + "/redirect/300/json")


# ---- failures ------------------------------------------------------------------------------------
def test_timeout_on_a_silent_server():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(OSError) as info:
            requests.get(f"http://127.0.0.1:{port}/", timeout=0.3)
        assert info.value.errno == errno.ETIMEDOUT


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OSError) as info:
        requests.get(f"http://127.0.0.1:{port}/")
    assert info.value.errno == errno.ECONNREFUSED


def test_bad_status_line(server):
    with pytest.raises(ValueError, match="BadStatusLine"):
        requests.get(server + "/badstatus")


@pytest.mark.parametrize("url,exc,match", [
    ("ftp://host/x", ValueError, "Unsupported protocol"), ("http:/", ValueError, "URL"),
    ("http://127.0.0.1:99999/", ValueError, "port"), ("http://127.0.0.1:x/", ValueError, "port"),
    (b"http://127.0.0.1/", TypeError, "'url'"), ("http:///path", ValueError, "no host"),
])
def test_bad_urls(url, exc, match):
    with pytest.raises(exc, match=match):
        requests.get(url)


def test_ipv6_literal_url():
    srv = ThreadingHTTPServer.__new__(ThreadingHTTPServer)
    srv.address_family = socket.AF_INET6
    ThreadingHTTPServer.__init__(srv, ("::1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        r = requests.get(f"http://[::1]:{srv.server_address[1]}/echo")
        assert echo(r)["headers"]["Host"] == f"[::1]:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


# ---- https goes through the face's ssl module ----------------------------------------------------
def test_https_wraps_the_socket_with_the_faces_ssl(server, monkeypatch):
    """``https://`` calls ``ssl.wrap_socket(sock, server_hostname=host)`` of the MicroPython
    face's ``ssl`` (``kiln.net.ussl``); a stand-in that returns the socket as is lets the
    request reach the plain HTTP server."""
    from kiln.net import ussl
    calls = []

    def wrap_socket(sock, server_hostname=None):
        calls.append((type(sock).__module__, server_hostname))
        return sock
    monkeypatch.setattr(ussl, "wrap_socket", wrap_socket)
    port = server.rsplit(":", 1)[1]
    report = echo(requests.get(f"https://127.0.0.1:{port}/echo"))
    assert calls == [("kiln.net.usocket", "127.0.0.1")]
    assert report["headers"]["Host"] == f"127.0.0.1:{port}"


def test_https_on_an_image_without_tls_is_a_clear_error(server, monkeypatch):
    # An image built without TLS has no kiln.net.tls: the import fails as it would there.
    monkeypatch.setitem(sys.modules, "kiln.net.tls", None)
    monkeypatch.delattr("kiln.net.tls", raising=False)
    monkeypatch.delitem(sys.modules, "kiln.net.ussl", raising=False)
    monkeypatch.delattr("kiln.net.ussl", raising=False)
    port = server.rsplit(":", 1)[1]
    with pytest.raises(ImportError, match="this image has no TLS.*--with tls"):
        requests.get(f"https://127.0.0.1:{port}/json")


# ---- through the launcher ------------------------------------------------------------------------
def test_app_imports_requests_and_urequests(server, tmp_path):
    (tmp_path / "main.py").write_text(textwrap.dedent(f"""
        import requests, urequests
        print(requests is urequests, requests.__name__)
        r = urequests.post("{server}/echo", json={{"from": "app"}})
        print(r.status_code, r.json()["body"])
        r.close()
        print(requests.get("{server}/chunked").text[:13])
    """))
    r = subprocess.run([sys.executable, "-m", "kiln.app", "--api", "micropython",
                        str(tmp_path / "main.py")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["True kiln.mpy.requests", '200 {"from": "app"}',
                                     "hello chunked"]
