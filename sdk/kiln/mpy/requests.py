"""micropython-lib's ``requests`` client (``import requests`` / ``import urequests`` under
``--api micropython``), over ``usocket``.

The published client (micropython-lib, python-ecosys/requests, MIT licence) builds its request
with MicroPython-only bytes formatting (``b"%s" % str``), which CPython refuses; this module is
that client's API and behaviour, written for CPython:

- ``request(method, url, data=None, json=None, headers=None, stream=None, auth=None,
  timeout=None, parse_headers=True)`` and ``get``/``post``/``put``/``patch``/``delete``/
  ``head(url, **kw)``; ``http://`` and ``https://`` URLs (``https`` needs the face's ``ssl``);
- one HTTP/1.1 request per connection (``Connection: close`` unless given); ``data`` as str
  (sent as UTF-8), bytes, or an iterator of chunks (sent with ``Transfer-Encoding: chunked``
  unless a ``Content-Length`` or ``Transfer-Encoding`` header is given); ``json`` serialised
  with ``Content-Type: application/json``; ``auth=(user, password)`` as HTTP Basic;
  ``timeout`` in seconds for every socket operation (``OSError(ETIMEDOUT)``);
- redirects 301/302/303 are followed with GET, 307/308 with the same method and body, up to
  :data:`MAX_REDIRECTS`; a relative ``Location`` keeps the scheme, host and port;
- ``Response``: ``status_code`` (int), ``reason`` (bytes, as micropython-lib), ``headers`` (a
  dict of str, names as the server sent them; absent with ``parse_headers=False``; a callable
  ``parse_headers(line, headers)`` is given each raw header line), ``raw`` (the body as a
  stream, :class:`kiln.http1.Body`: ``Content-Length`` and chunked bodies end where the body
  ends; ``read``, ``readinto``, ``close``), ``content`` (bytes,
  read once), ``text``, ``json()``, ``close()``, and use as a context manager.

Where Kiln differs from the published client (each is a fix, listed in docs/micropython.md):
the ``Host`` header names a non-default port; a redirected GET drops the body headers the
first request added; ``timeout`` and ``parse_headers`` apply to redirected requests too; the
body of a HEAD, 204 or 304 response is empty; the socket is closed on any failure; a chunked
body of str chunks counts UTF-8 bytes; header values that are not str/bytes are sent as str;
too many redirects raise ValueError instead of recursing without end.
"""
import usocket as _socket

from kiln import http1

#: Redirects followed before ``request`` gives up (ValueError).
MAX_REDIRECTS = 20


class Response:
    """An HTTP response; see the module docstring."""

    def __init__(self, f):
        self.raw = f
        self.encoding = "utf-8"
        self._cached = None

    def close(self):
        """Close the connection (the body is no longer readable)."""
        if self.raw:
            self.raw.close()
            self.raw = None
        self._cached = None

    @property
    def content(self):
        """The whole body as bytes (read on first use, then the connection is closed)."""
        if self._cached is None:
            if self.raw is None:
                raise ValueError("the response is closed: its content was not read before")
            try:
                self._cached = self.raw.read()
            finally:
                self.raw.close()
                self.raw = None
        return self._cached

    @property
    def text(self):
        """The body decoded with ``encoding`` (UTF-8)."""
        return str(self.content, self.encoding)

    def json(self):
        """The body parsed as JSON."""
        import json
        return json.loads(self.content)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()


def _as_bytes(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8")


def _split_url(url):
    """``(proto, host, port, path)`` of ``url``, as micropython-lib splits it (path without its
    leading slash; a query or fragment right after the host starts the path)."""
    if not isinstance(url, str):
        raise TypeError(f"request() argument 'url' must be a str, not {type(url).__name__}")
    try:
        proto, _, host, path = url.split("/", 3)
    except ValueError:
        try:
            proto, _, host = url.split("/", 2)
        except ValueError:
            raise ValueError(f"request(): not a URL: {url!r}") from None
        path = ""
    if proto == "http:":
        port = 80
    elif proto == "https:":
        port = 443
    else:
        raise ValueError("Unsupported protocol: " + proto)
    for mark in "?#":
        if mark in host:
            host, rest = host.split(mark, 1)
            path = mark + rest + path
    if host.startswith("["):                    # an IPv6 literal: [::1] or [::1]:8080
        literal, _, rest = host[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], url)
        host = literal
    elif ":" in host:
        host, text = host.split(":", 1)
        port = _port(text, url)
    if not host:
        raise ValueError(f"request(): no host in {url!r}")
    return proto, host, port, path


def _port(text, url):
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"request(): bad port {text!r} in {url!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"request(): port {port} out of range in {url!r}")
    return port


def _tls_wrap():
    """The MicroPython face's ``ssl.wrap_socket`` (micropython-lib wraps with it: no
    certificate check).  ImportError naming the fix on an image without TLS -- asked before
    connecting, so no connection is opened for nothing."""
    from kiln.net import ussl
    return ussl.wrap_socket


def request(method, url, data=None, json=None, headers=None, stream=None, auth=None,
            timeout=None, parse_headers=True):
    """Send one HTTP request and return its :class:`Response` (see the module docstring).
    Raises OSError for network errors (the socket is closed), ValueError for a malformed
    response or URL, NotImplementedError for a redirect status it does not follow."""
    return _request(method, url, data, json, headers, stream, auth, timeout, parse_headers,
                    MAX_REDIRECTS)


def _request(method, url, data, json, headers, stream, auth, timeout, parse_headers,
             redirects_left):
    if not isinstance(method, str):
        raise TypeError(f"request() argument 'method' must be a str, not "
                        f"{type(method).__name__}")
    headers = {} if headers is None else headers.copy()
    added = []                       # body headers this call adds (dropped on a GET redirect)
    redirect = None
    chunked_data = (data and getattr(data, "__next__", None)
                    and not getattr(data, "__len__", None))
    if auth is not None:
        import binascii
        username, password = auth
        token = binascii.b2a_base64(f"{username}:{password}".encode("utf-8"))[:-1]
        headers["Authorization"] = "Basic " + str(token, "ascii")

    proto, host, port, path = _split_url(url)
    wrap = _tls_wrap() if proto == "https:" else None
    ai = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)[0]
    resp_d = {} if parse_headers is not False else None

    s = _socket.socket(ai[0], _socket.SOCK_STREAM, ai[2])
    try:
        if timeout is not None:
            s.settimeout(timeout)
        s.connect(ai[-1])
        if wrap is not None:
            s = wrap(s, server_hostname=host)
        if "Host" not in headers:
            default = 80 if proto == "http:" else 443
            name = f"[{host}]" if ":" in host else host
            headers["Host"] = name if port == default else f"{name}:{port}"
        if json is not None:
            if data is not None:
                raise ValueError("request(): give 'json' or 'data', not both")
            from json import dumps
            data = dumps(json)
            if "Content-Type" not in headers:
                headers["Content-Type"] = "application/json"
                added.append("Content-Type")
        if data:
            if chunked_data:
                if "Transfer-Encoding" not in headers and "Content-Length" not in headers:
                    headers["Transfer-Encoding"] = "chunked"
                    added.append("Transfer-Encoding")
            else:
                if isinstance(data, str):
                    data = bytes(data, "utf-8")
                if "Content-Length" not in headers:
                    headers["Content-Length"] = str(len(data))
                    added.append("Content-Length")
        if "Connection" not in headers:
            headers["Connection"] = "close"

        head = bytearray(_as_bytes(method) + b" /" + _as_bytes(path) + b" HTTP/1.1\r\n")
        for k in headers:
            head += _as_bytes(k) + b": " + _as_bytes(headers[k]) + b"\r\n"
        head += b"\r\n"
        s.write(head)

        if data:
            if chunked_data:
                if headers.get("Transfer-Encoding", None) == "chunked":
                    for chunk in data:
                        chunk = _as_bytes(chunk)
                        s.write(b"%x\r\n" % len(chunk))
                        s.write(chunk)
                        s.write(b"\r\n")
                    s.write(b"0\r\n\r\n")
                else:
                    for chunk in data:
                        s.write(_as_bytes(chunk))
            else:
                s.write(data)

        line = s.readline()
        parts = line.split(None, 2)
        if len(parts) < 2:
            raise ValueError("HTTP error: BadStatusLine:\n%s" % parts)
        try:
            status = int(parts[1])
        except ValueError:
            raise ValueError("HTTP error: BadStatusLine:\n%s" % parts) from None
        reason = parts[2].rstrip() if len(parts) > 2 else b""
        content_length = transfer_encoding = None
        while True:
            line = s.readline()
            if not line or line == b"\r\n":
                break
            lower = line.lower()
            if lower.startswith(b"transfer-encoding:"):
                transfer_encoding = str(line[18:], "latin-1")
            elif lower.startswith(b"location:") and 300 <= status <= 399:
                if status in (301, 302, 303, 307, 308):
                    redirect = str(line[9:].strip(), "utf-8")
                    if redirect.startswith("/"):
                        name = f"[{host}]" if ":" in host else host
                        redirect = proto + "//" + name + ":" + str(port) + redirect
                else:
                    raise NotImplementedError("Redirect %d not yet supported" % status)
            if parse_headers is False:
                pass
            elif parse_headers is True:
                text = str(line, "utf-8")
                if ":" not in text:
                    raise ValueError(f"HTTP error: bad header line {line!r}")
                k, v = text.split(":", 1)
                v = v.strip()
                resp_d[k] = v
                if lower.startswith(b"content-length:"):
                    content_length = v
            else:
                parse_headers(line, resp_d)
        length = http1.body_length(method, status, transfer_encoding, content_length)
    except BaseException:
        s.close()
        raise

    if redirect:
        s.close()
        if redirects_left <= 0:
            raise ValueError(f"HTTP error: more than {MAX_REDIRECTS} redirects")
        # The host of the redirect URL may differ from this one.
        headers.pop("Host", None)
        if status in (301, 302, 303):
            for name in added:
                headers.pop(name, None)
            return _request("GET", redirect, None, None, headers, stream, None, timeout,
                            parse_headers, redirects_left - 1)
        return _request(method, redirect, data, json, headers, stream, None, timeout,
                        parse_headers, redirects_left - 1)
    resp = Response(http1.Body(s, length))
    resp.status_code = status
    resp.reason = reason
    if resp_d is not None:
        resp.headers = resp_d
    return resp


def head(url, **kw):
    """``request("HEAD", url, **kw)``."""
    return request("HEAD", url, **kw)


def get(url, **kw):
    """``request("GET", url, **kw)``."""
    return request("GET", url, **kw)


def post(url, **kw):
    """``request("POST", url, **kw)``."""
    return request("POST", url, **kw)


def put(url, **kw):
    """``request("PUT", url, **kw)``."""
    return request("PUT", url, **kw)


def patch(url, **kw):
    """``request("PATCH", url, **kw)``."""
    return request("PATCH", url, **kw)


def delete(url, **kw):
    """``request("DELETE", url, **kw)``."""
    return request("DELETE", url, **kw)
