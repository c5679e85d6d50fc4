"""Zerynth's ``requests`` (``kiln.zerynth.requests``) against real HTTP servers on loopback.

The servers are CPython's ``http.server`` (``ThreadingHTTPServer``, HTTP/1.0 and HTTP/1.1 with
keep-alive) with a handler that records every request and answers what the test asks for
(content length, chunks, a body ended by the close), plus raw TCP servers for broken answers.
Every verb and argument of Zerynth's documented API is checked against what the server
received; errors are checked for their class and message; no descriptor is left open.
"""
from __future__ import annotations

import base64
import http.server
import json
import socket as std
import threading
import time
import urllib.parse

import pytest

from kiln.errors import UnsupportedError
from kiln.zerynth import requests

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")


class Handler(http.server.BaseHTTPRequestHandler):
    """Records each request; the path chooses the answer."""

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append({"method": self.command, "path": self.path,
                                 "headers": {k.lower(): v for k, v in self.headers.items()},
                                 "body": body, "client": self.client_address})
        route = urllib.parse.urlsplit(self.path).path
        if route == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for piece in (b"Hello, ", b"chunked ", b"world" * 300):
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")
            return
        if route == "/close-delimited":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end " * 1000)
            self.close_connection = True
            return
        if route == "/missing":
            self.send_error(404, "nothing here")
            return
        if route == "/cookies":
            payload = b"two cookies"
            self.send_response(200)
            self.send_header("Set-Cookie", "a=1")
            self.send_header("Set-Cookie", "b=2")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if route == "/slow":
            time.sleep(1.5)
        payload = json.dumps({"method": self.command, "path": self.path,
                              "body": body.decode("utf-8", "replace")}).encode()
        self.send_response(201 if self.command == "PUT" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Server", "kiln-test")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, protocol):
        handler = type("H", (Handler,), {"protocol_version": protocol})
        super().__init__(("127.0.0.1", 0), handler)
        self.seen = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self):
        self.shutdown()
        self.server_close()


@pytest.fixture(params=["HTTP/1.0", "HTTP/1.1"])
def server(request):
    s = Server(request.param)
    yield s
    s.stop()


@pytest.fixture
def server11():
    s = Server("HTTP/1.1")
    yield s
    s.stop()


def test_get_with_params_and_headers(server):
    r = requests.get(server.url + "/get?x=1", params={"test": "query string", "n": 5},
                     headers={"X-Token": "abc", "Accept": "*/*"})
    assert r.status == 200 and isinstance(r.content, bytearray)
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-server"] == "kiln-test"
    js = r.json()
    assert js["method"] == "GET" and js["path"] == "/get?x=1&test=query+string&n=5"
    assert json.loads(r.text()) == js
    seen = server.seen[-1]
    assert seen["headers"]["host"] == server.url[len("http://"):]
    assert seen["headers"]["x-token"] == "abc" and seen["headers"]["connection"] == "close"
    assert r.connection is None
    assert repr(r) == "<Response [200]>"


def test_post_put_patch_bodies(server):
    r = requests.post(server.url + "/post", json={"test": "json_data", "n": [1, 2]})
    seen = server.seen[-1]
    assert r.status == 200 and seen["method"] == "POST"
    assert seen["headers"]["content-type"] == "application/json"
    assert json.loads(seen["body"]) == {"test": "json_data", "n": [1, 2]}
    r = requests.put(server.url + "/put", data={"test": "urlencoded data", "k": "&="})
    seen = server.seen[-1]
    assert r.status == 201 and seen["method"] == "PUT"
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qs(seen["body"].decode()) == {"test": ["urlencoded data"],
                                                            "k": ["&="]}
    r = requests.patch(server.url + "/patch", data="caf\u00e9 raw", json={"ignored": True})
    seen = server.seen[-1]
    assert seen["method"] == "PATCH" and seen["body"] == "caf\u00e9 raw".encode()
    assert seen["headers"]["content-length"] == "9" and "content-type" not in seen["headers"]
    requests.post(server.url + "/bytes", data=b"\x00\x01binary",
                  headers={"Content-Type": "application/octet-stream"})
    seen = server.seen[-1]
    assert seen["body"] == b"\x00\x01binary"
    assert seen["headers"]["content-type"] == "application/octet-stream"


def test_delete_head_options(server):
    r = requests.delete(server.url + "/delete")
    assert r.status == 200 and r.json()["method"] == "DELETE"
    r = requests.head(server.url + "/get")
    assert r.status == 200 and r.content == bytearray() and int(r.headers["content-length"]) > 0
    r = requests.options(server.url + "/get")
    assert r.status == 200 and r.json()["method"] == "OPTIONS"
    assert [s["method"] for s in server.seen] == ["DELETE", "HEAD", "OPTIONS"]


def test_status_errors_are_responses(server):
    r = requests.get(server.url + "/missing")
    assert r.status == 404 and b"nothing here" in r.content


def test_chunked_and_close_delimited_bodies(server11):
    r = requests.get(server11.url + "/chunked")
    assert r.status == 200 and r.content == b"Hello, chunked " + b"world" * 300
    r = requests.get(server11.url + "/close-delimited")
    assert r.content == b"until the end " * 1000


def test_repeated_headers_are_joined(server):
    r = requests.get(server.url + "/cookies")
    assert r.headers["set-cookie"] == "a=1, b=2" and r.content == b"two cookies"


def test_keep_alive_connection_is_reused(server11):
    r1 = requests.get(server11.url + "/one", headers={"Connection": "Keep-Alive"})
    assert r1.status == 200 and r1.connection is not None
    r2 = requests.get(server11.url + "/two", headers={"Connection": "Keep-Alive"},
                      connection=r1.connection)
    assert r2.json()["path"] == "/two"
    assert server11.seen[0]["client"] == server11.seen[1]["client"]     # the same connection
    assert r2.connection is r1.connection
    r3 = requests.get(server11.url + "/three", connection=r2.connection)
    assert r3.connection is None and r2.connection.fileno() == -1      # closed after "close"


def test_stream_callback_gets_the_body_in_chunks(server11):
    chunks = []
    r = requests.get(server11.url + "/chunked", stream_callback=lambda c: chunks.append(bytes(c)),
                     stream_chunk=100)
    body = b"".join(chunks)
    assert body == b"Hello, chunked " + b"world" * 300
    assert all(len(c) <= 100 for c in chunks) and r.content == chunks[-1]
    chunks.clear()
    requests.get(server11.url + "/get", stream_callback=lambda c: chunks.append(bytes(c)),
                 stream_chunk=7)
    assert json.loads(b"".join(chunks))["path"] == "/get"


def test_upload_streams_a_file(server):
    class Blob:
        def __init__(self, data):
            self.data, self.pos = data, 0

        def size(self):
            return len(self.data)

        def read(self, n):
            chunk = self.data[self.pos:self.pos + n]
            self.pos += len(chunk)
            return chunk

    data = bytes(range(256)) * 10
    r = requests.upload(server.url + "/upload", Blob(data), mime_type="image/png", method="PUT")
    seen = server.seen[-1]
    assert r.status == 201 and seen["body"] == data
    assert seen["headers"]["content-type"] == "image/png"


def test_basic_authorization_from_the_url(server):
    requests.get(server.url.replace("http://", "http://user:p%40ss@") + "/auth")
    auth = server.seen[-1]["headers"]["authorization"]
    assert auth == "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert server.seen[-1]["headers"]["host"] == server.url[len("http://"):]


def test_name_resolution_uses_the_system_resolver(server):
    r = requests.get(server.url.replace("127.0.0.1", "localhost") + "/named")
    assert r.status == 200 and server.seen[-1]["headers"]["host"].startswith("localhost:")


def test_refused_connection_raises_connection_refused():
    probe = std.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ConnectionRefusedError):
        requests.get(f"http://127.0.0.1:{port}/")


def test_timeout_in_milliseconds(server11):
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        requests.get(server11.url + "/slow", timeout=300)
    assert time.monotonic() - start < 1.4
    assert requests.get(server11.url + "/slow", timeout=5000).status == 200


class RawServer:
    """A TCP server on loopback answering each connection with fixed bytes, then closing."""

    def __init__(self, answer: bytes):
        self.sock = std.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.answer = answer
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(self.answer)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    def close(self):
        self.sock.shutdown(std.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


@pytest.mark.parametrize("answer, text", [
    (b"SSH-2.0-OpenSSH\r\n", "not an HTTP response"),
    (b"", "closed the connection without a response"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "5? ?|100|bytes before the end"),
    (b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n", "bad header line"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * 9000 + b"\r\n\r\n", "longer than"),
])
def test_broken_responses_raise_http_response_error(answer, text):
    srv = RawServer(answer)
    try:
        with pytest.raises(requests.HTTPResponseError, match=text):
            requests.get(srv.url)
    finally:
        srv.close()


def test_interim_responses_are_skipped():
    srv = RawServer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                    b"\r\nok")
    try:
        r = requests.post(srv.url, data="x")
        assert r.status == 200 and r.content == b"ok"
    finally:
        srv.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA and a server certificate for localhost / 127.0.0.1 (openssl command)."""
    import subprocess
    d = tmp_path_factory.mktemp("pki")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Kiln requests CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost")
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext")
    return d


@pytest.fixture
def https_server(pki):
    import ssl as cpython_ssl
    s = Server("HTTP/1.1")
    context = cpython_ssl.SSLContext(cpython_ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "srv.pem", pki / "srv.key")
    s.socket = context.wrap_socket(s.socket, server_side=True)
    yield s
    s.stop()


def test_https_with_a_verifying_context(https_server, pki):
    """Zerynth's documented https call: ``requests.get(url, ctx=ssl.create_ssl_context(
    cacert=..., options=CERT_REQUIRED|SERVER_AUTH))`` against CPython's https server; a context
    naming another host fails the handshake with ConnectionAbortedError naming the cause."""
    from kiln.net import zssl
    port = https_server.server_address[1]
    ctx = zssl.create_ssl_context(cacert=(pki / "ca.pem").read_text() + "\0",
                                  hostname="localhost",
                                  options=zssl.CERT_REQUIRED | zssl.SERVER_AUTH)
    r = requests.post(f"https://localhost:{port}/tls", json={"a": 1}, ctx=ctx)
    assert r.status == 200
    assert r.json() == {"method": "POST", "path": "/tls", "body": '{"a": 1}'} or \
        json.loads(r.json()["body"]) == {"a": 1}
    wrong = zssl.create_ssl_context(cacert=(pki / "ca.pem").read_bytes(), hostname="other",
                                    options=zssl.CERT_REQUIRED | zssl.SERVER_AUTH)
    with pytest.raises(ConnectionAbortedError, match="name mismatch"):
        requests.get(f"https://localhost:{port}/", ctx=wrong)


def test_exception_tree():
    assert issubclass(requests.HTTPConnectionError, requests.HTTPError)
    assert issubclass(requests.HTTPResponseError, requests.HTTPError)
    assert str(requests.HTTPConnectionError()) == "the HTTP server could not be contacted"


@pytest.mark.parametrize("call, exc, text", [
    (lambda: requests.get(42), TypeError, "url must be a str"),
    (lambda: requests.get("ftp://x/"), ValueError, "http:// or https://"),
    (lambda: requests.get("127.0.0.1/"), ValueError, "http:// or https://"),
    (lambda: requests.get("http:///path"), ValueError, "no host"),
    (lambda: requests.get("http://h:99999/"), ValueError, "bad url"),
    (lambda: requests.get("http://h/a b"), ValueError, "spaces or control"),
    (lambda: requests.get("http://h/", headers=[("a", "b")]), TypeError, "headers must be"),
    (lambda: requests.get("http://h/", headers={"A\r\nB": "x"}), ValueError, "header name"),
    (lambda: requests.get("http://h/", headers={"A": "x\r\ny"}), ValueError, "line breaks"),
    (lambda: requests.get("http://h/", params=[1]), TypeError, "params must be a dict"),
    (lambda: requests.get("http://h/", stream_callback=3), TypeError, "stream_callback"),
    (lambda: requests.get("http://h/", stream_chunk=0), ValueError, "stream_chunk"),
    (lambda: requests.get("http://h/", timeout=-1), ValueError, "timeout"),
    (lambda: requests.post("http://h/", data=5), TypeError, "data must be a dict, str"),
    (lambda: requests.upload("http://h/", b"x"), TypeError, "size\\(\\) and read"),
    (lambda: requests.upload("http://h/", None, method="GET"), TypeError, "fd"),
])
def test_bad_arguments_are_refused_before_connecting(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


def test_an_app_uses_zerynths_http_methods_example(server, tmp_path):
    """Zerynth's HTTP_Methods example (core-zerynth-stdlib/examples), its test table and loop as
    published, against the local server instead of httpbin.org, Wi-Fi lines left out."""
    import subprocess
    import sys
    app = tmp_path / "main.py"
    app.write_text(f'''
import streams
import json
import requests
streams.serial()
url = "{server.url}/"
tests = [
    {{"title": "Testing GET Method...", "method": requests.get, "url": url+"get",
      "params": {{"test": "query_string"}}}},
    {{"title": "Testing POST Method...", "method": requests.post, "url": url+"post",
      "json": {{"test": "json_data"}}}},
    {{"title": "Testing PUT Method...", "method": requests.put, "url": url+"put",
      "data": {{"test": "urlencoded_data"}}}},
    {{"title": "Testing PATCH Method...", "method": requests.patch, "url": url+"patch",
      "data": {{"test": "urlencoded_data"}}}},
    {{"title": "Testing DELETE Method...", "method": requests.delete, "url": url+"delete"}},
    {{"title": "Testing HEAD Method...", "method": requests.head, "url": url+"get"}},
    {{"title": "Testing OPTIONS Method...", "method": requests.options, "url": url+"get"}},
]
for test in tests:
    try:
        print(test["title"])
        if "params" in test:
            response = test["method"](test["url"], params=test["params"])
        elif "json" in test:
            response = test["method"](test["url"], json=test["json"])
        elif "data" in test:
            response = test["method"](test["url"], data=test["data"])
        else:
            response = test["method"](test["url"])
        print("Http Status:",response.status)
        print("Http Content:",response.content)
        response = None
    except Exception as e:
        print(e)
''')
    r = subprocess.run([sys.executable, "-m", "kiln.app", str(app)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out.count("Http Status: 200") == 6 and out.count("Http Status: 201") == 1
    assert [s["method"] for s in server.seen] == ["GET", "POST", "PUT", "PATCH", "DELETE",
                                                  "HEAD", "OPTIONS"]
    assert server.seen[0]["path"] == "/get?test=query_string"
    assert json.loads(server.seen[1]["body"]) == {"test": "json_data"}
    assert server.seen[2]["body"] == b"test=urlencoded_data"
