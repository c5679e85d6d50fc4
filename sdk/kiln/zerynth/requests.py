"""Zerynth's ``requests`` module: ``import requests`` in a Zerynth app.

``get``, ``post``, ``put``, ``patch``, ``delete``, ``head``, ``options`` and ``upload`` with
Zerynth's signatures, over Kiln's Zerynth socket (``networking.socket``); the host name is
resolved with the interface's DNS servers (``/etc/resolv.conf``).  They return a
:class:`Response` (``status``, ``headers`` with lower-case names, ``content`` as a bytearray,
``connection``, ``text()``, ``json()``).  HTTP/1.1: the body is read by ``Content-Length``, by
chunks (``Transfer-Encoding: chunked``) or to the end of the connection.  A connection is kept
(``Response.connection``, to pass as ``get(..., connection=)``) when the request asked for
``Connection: keep-alive`` and the server kept it open.

Kiln extensions: ``timeout=`` (milliseconds, on every call; default None: wait as long as the
server takes, as Zerynth does), ``user:password@`` in the URL sends Basic authorization.

``https://`` runs over Zerynth's ``ssl.sslsocket(ctx=ctx)`` (``kiln.net.zssl``): ``ctx`` from
``ssl.create_ssl_context(cacert=..., hostname=..., options=ssl.CERT_REQUIRED|ssl.SERVER_AUTH)``
verifies the server; without ``ctx`` the connection is not verified, as Zerynth's default
(one warning line; docs/tls.md).

Errors: ``HTTPConnectionError`` (name not resolved, server unreachable, connection failed while
sending), ``HTTPResponseError`` (not an HTTP response, or cut short), ``ConnectionError``
subclasses from the socket as they are (refused, reset), ``TimeoutError`` when ``timeout``
expires, TypeError/ValueError naming a bad argument.
"""
from kiln import http1
from kiln.zerynth.builtins import new_exception
from kiln.zerynth.streams import SocketStream

__all__ = ["get", "post", "put", "patch", "delete", "head", "options", "upload", "Response",
           "HTTPError", "HTTPConnectionError", "HTTPResponseError"]

# Zerynth defines these with new_exception: they are global names of the program.
HTTPError = new_exception("HTTPError", Exception, "HTTP error")
HTTPConnectionError = new_exception("HTTPConnectionError", HTTPError,
                                    "the HTTP server could not be contacted")
HTTPResponseError = new_exception("HTTPResponseError", HTTPError, "bad HTTP response")

#: The longest status or header line accepted.
MAX_LINE = 8192
_VERBS = ("GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD")


class Response:
    """The result of a request: ``status`` (int), ``headers`` (dict, lower-case names),
    ``content`` (bytearray), ``connection`` (the socket, kept open for reuse, or None)."""

    def __init__(self):
        self.status = 0
        self.content = bytearray()
        self.headers = {}
        self.connection = None

    def text(self):
        """``content`` as a str (UTF-8; undecodable bytes replaced)."""
        return bytes(self.content).decode("utf-8", "replace")

    def json(self):
        """``content`` parsed as JSON (ValueError if it is not)."""
        import json
        return json.loads(bytes(self.content))

    def __repr__(self):
        return f"<Response [{self.status}]>"


# --- the verbs --------------------------------------------------------------------------------
def get(url, params=None, headers=None, connection=None, ctx=None, stream_callback=None,
        stream_chunk=512, timeout=None):
    """GET ``url`` (``params``, a dict, appended to its query).  ``connection``: a kept-alive
    socket of an earlier response to reuse.  ``stream_callback(chunk)`` receives the body in
    bytearrays of at most ``stream_chunk`` bytes (``content`` is then the last one)."""
    if stream_callback is not None and not callable(stream_callback):
        raise TypeError(f"get(): stream_callback must be callable, not "
                        f"{type(stream_callback).__name__}")
    if not isinstance(stream_chunk, int) or isinstance(stream_chunk, bool) or stream_chunk < 1:
        raise ValueError(f"get(): stream_chunk must be an int >= 1, got {stream_chunk!r}")
    return _verb(url, "GET", None, params, headers, connection, ctx, timeout, stream_callback,
                 stream_chunk)


def post(url, data=None, json=None, headers=None, ctx=None, timeout=None):
    """POST ``data`` (a dict is form-encoded; str/bytes are sent as they are) or ``json`` (sent
    as JSON; ignored when ``data`` is given)."""
    return _verb(url, "POST", _body("post", data, json), None, headers, None, ctx, timeout)


def put(url, data=None, json=None, headers=None, ctx=None, timeout=None):
    """PUT, with a body as :func:`post`."""
    return _verb(url, "PUT", _body("put", data, json), None, headers, None, ctx, timeout)


def patch(url, data=None, json=None, headers=None, ctx=None, timeout=None):
    """PATCH, with a body as :func:`post`."""
    return _verb(url, "PATCH", _body("patch", data, json), None, headers, None, ctx, timeout)


def delete(url, headers=None, ctx=None, timeout=None):
    """DELETE ``url``."""
    return _verb(url, "DELETE", None, None, headers, None, ctx, timeout)


def head(url, headers=None, ctx=None, timeout=None):
    """HEAD ``url`` (the response has no content)."""
    return _verb(url, "HEAD", None, None, headers, None, ctx, timeout)


def options(url, headers=None, ctx=None, timeout=None):
    """OPTIONS ``url``."""
    return _verb(url, "OPTIONS", None, None, headers, None, ctx, timeout)


def upload(url, fd, ctx=None, mime_type="application/octet-stream", method="POST",
           timeout=None):
    """Send the file ``fd`` (with ``size()`` and ``read(n)``) as the body of a ``method``
    (POST or PUT) request of type ``mime_type``."""
    if not (callable(getattr(fd, "size", None)) and callable(getattr(fd, "read", None))):
        raise TypeError("upload(): fd must have size() and read(n) methods")
    if method not in ("POST", "PUT"):
        raise ValueError(f"upload(): method must be 'POST' or 'PUT', got {method!r}")
    if not isinstance(mime_type, str):
        raise TypeError(f"upload(): mime_type must be a str, not {type(mime_type).__name__}")
    return _verb(url, method, None, None, {"Content-Type": mime_type}, None, ctx, timeout,
                 upload=fd)


# --- the request ------------------------------------------------------------------------------
def _body(func, data, json):
    """``(bytes, content type or "")`` of a request body, or None."""
    if data is not None:
        if isinstance(data, dict):
            from urllib.parse import urlencode
            return urlencode(data).encode(), "application/x-www-form-urlencoded"
        if isinstance(data, str):
            return data.encode(), ""
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data), ""
        raise TypeError(f"{func}(): data must be a dict, str or bytes, not "
                        f"{type(data).__name__}")
    if json is not None:
        import json as _json
        return _json.dumps(json).encode(), "application/json"
    return None


def _split_url(url):
    """``(scheme, host, port, target, authorization)`` of ``url``."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    from urllib.parse import unquote, urlsplit
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"bad url {url!r}: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"url must start with http:// or https://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"url has no host: {url!r}")
    if any(c in url for c in "\r\n\0 "):
        raise ValueError(f"url must not contain spaces or control characters: {url!r}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    authorization = None
    if parts.username is not None:
        import base64
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
    return scheme, parts.hostname, port or (80 if scheme == "http" else 443), target, \
        authorization


def _host_header(url):
    from urllib.parse import urlsplit
    netloc = urlsplit(url).netloc
    return netloc.rpartition("@")[2]


def _tls_socket(host, ctx):
    """A TLS client socket for an https URL: Zerynth's ``ssl.sslsocket(ctx=ctx)``."""
    from kiln.net import zssl
    return zssl.sslsocket(ctx=() if ctx is None else ctx)


def _connect(scheme, host, port, ctx, timeout):
    from networking import socket
    from networking.dns import resolve_ipv4
    sock = socket.socket() if scheme == "http" else _tls_socket(host, ctx)
    try:
        try:
            ip = resolve_ipv4("requests", host)
        except OSError as e:
            raise HTTPConnectionError(f"cannot resolve {host!r}: {e}") from e
        if timeout is not None:
            sock.settimeout(timeout)
        sock.connect((ip, port))
    except (ConnectionError, TimeoutError):
        sock.close()
        raise
    except OSError as e:
        sock.close()
        raise HTTPConnectionError(f"cannot connect to {host} ({ip}) port {port}: {e}") from e
    except BaseException:
        sock.close()
        raise
    return sock


def _check_headers(headers):
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise TypeError(f"headers must be a dict, not {type(headers).__name__}")
    checked = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not name or any(c in name for c in ":\r\n\0 "):
            raise ValueError(f"bad header name {name!r}")
        value = value if isinstance(value, str) else str(value)
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"header {name!r}: value must not contain line breaks")
        checked[name] = value
    return checked


def _verb(url, verb, body, params, headers, connection, ctx, timeout, stream_callback=None,
          stream_chunk=512, upload=None):
    scheme, host, port, target, authorization = _split_url(url)
    headers = _check_headers(headers)
    if timeout is not None:
        from kiln.zerynth.builtins import _check_duration
        _check_duration(verb.lower(), "timeout", timeout)
    if params is not None:
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict, not {type(params).__name__}")
        from urllib.parse import urlencode
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
    lower = {name.lower(): name for name in headers}
    lines = [f"{verb} {target} HTTP/1.1", f"Host: {_host_header(url)}"]
    if authorization and "authorization" not in lower:
        lines.append(f"Authorization: {authorization}")
    if "connection" not in lower:
        lines.append("Connection: close")
    if body is not None:
        lines.append(f"Content-Length: {len(body[0])}")
        if body[1] and "content-type" not in lower:
            lines.append(f"Content-Type: {body[1]}")
    if upload is not None:
        lines.append(f"Content-Length: {int(upload.size())}")
    for name, value in headers.items():
        if name.lower() not in ("host", "content-length"):
            lines.append(f"{name}: {value}")
    keep = headers.get(lower.get("connection", ""), "close").lower() == "keep-alive"
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    if body is not None:
        request += body[0]

    if connection is not None:
        sock = connection
    else:
        sock = _connect(scheme, host, port, ctx, timeout)
    try:
        if connection is not None and timeout is not None:
            sock.settimeout(timeout)
        try:
            sock.sendall(request)
            if upload is not None:
                while chunk := upload.read(512):
                    sock.sendall(chunk)
        except (ConnectionError, TimeoutError):
            raise
        except OSError as e:
            raise HTTPConnectionError(f"sending the request to {host} failed: {e}") from e
        response, reusable = _read_response(sock, verb, stream_callback, stream_chunk)
    except BaseException:
        sock.close()
        raise
    if keep and reusable and response.headers.get("connection", "").lower() != "close":
        response.connection = sock
    else:
        sock.close()
    return response


# --- the response -----------------------------------------------------------------------------
def _read_response(sock, verb, stream_callback, stream_chunk):
    """``(Response, body delimited)``: the status line, the headers and the body."""
    reader = SocketStream(sock)
    response = Response()
    while True:
        line = _line(reader)
        parts = bytes(line).split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise HTTPResponseError(f"not an HTTP response: {bytes(line[:80])!r}")
        response.status = int(parts[1])
        headers = _headers(reader)
        if not 100 <= response.status < 200 or response.status == 101:
            break                                 # 1xx interim responses are skipped
    response.headers = headers
    length = http1.body_length(verb, response.status, headers.get("transfer-encoding"),
                               headers.get("content-length"), HTTPResponseError)
    body = http1.Body(_Connection(reader), length, HTTPResponseError)
    buf = bytearray(65536 if stream_callback is None else stream_chunk)
    while got := body.readinto(buf):
        if stream_callback is None:
            response.content += buf[:got]
        else:                                     # the callback gets each piece; content too
            response.content = buf[:got]
            stream_callback(response.content)
    return response, length != http1.TO_CLOSE


class _Connection:
    """The connection as :class:`kiln.http1.Body` reads it, over the response's stream."""

    def __init__(self, reader):
        self._reader = reader

    def readline(self, limit):
        return self._reader._read_line(b"\n", limit)

    def readinto(self, buf):
        return self._reader._readbuf(buf, len(buf), 0)


def _line(reader):
    line = reader._read_line(b"\n", MAX_LINE)
    if not line:
        raise HTTPResponseError("the server closed the connection without a response")
    if not line.endswith(b"\n"):
        raise HTTPResponseError(f"response line longer than {MAX_LINE} bytes or cut short")
    return line


def _headers(reader):
    headers = {}
    while True:
        line = _line(reader)
        if line in (b"\r\n", b"\n"):
            return headers
        name, sep, value = bytes(line).partition(b":")
        if not sep or not name.strip():
            raise HTTPResponseError(f"bad header line {bytes(line[:80])!r}")
        key = name.strip().lower().decode("latin-1")
        value = value.strip().decode("latin-1")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
