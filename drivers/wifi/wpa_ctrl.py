"""A client of wpa_supplicant's control interface (the protocol of hostap's ``wpa_ctrl.c``).

The interface is an ``AF_UNIX`` datagram socket per radio, ``<ctrl_dir>/<ifname>``.  A client
binds its own socket path, sends one command per datagram (``PING``, ``STATUS``,
``ADD_NETWORK``, ...) and reads one reply datagram.  A second, ``ATTACH``-ed socket receives the
unsolicited events (``<3>CTRL-EVENT-CONNECTED - Connection to ...``): keeping requests and events
on separate sockets, as ``wpa_ctrl`` recommends, means a reply is never confused with an event.

The sockets are Kiln's own (``kiln.net.usocket``, the Cython core over the Linux syscalls), with
timeouts in seconds.

Values written with ``SET_NETWORK`` are encoded by :func:`hex_value` and
:func:`quoted_passphrase` so that no byte of an SSID or a credential can end the value early or
start another setting.
"""
from __future__ import annotations

import os
import threading

from kiln.net import usocket  # the core's seconds-based face; not the API package

#: Where wpa_supplicant puts its control sockets when Kiln starts it.
CTRL_DIR = "/run/wpa_supplicant"
_REPLY_MAX = 16384


class WpaCtrlError(OSError):
    """The control interface is unreachable, did not answer, or refused a command."""


class Event:
    """One unsolicited message: ``level`` (0-4, wpa_supplicant's MSG_*), ``name`` (the first word,
    e.g. ``CTRL-EVENT-CONNECTED``), ``text`` (the rest) and ``fields`` (its ``key=value`` words;
    a value may be ``"quoted"`` -- the quotes are removed)."""

    __slots__ = ("level", "name", "text", "fields")

    def __init__(self, level: int, name: str, text: str, fields: dict[str, str]) -> None:
        self.level, self.name, self.text, self.fields = level, name, text, fields

    def __repr__(self) -> str:
        return f"Event({self.level}, {self.name!r}, {self.text!r})"


def parse_event(message: str) -> Event:
    """Parse one event datagram (``"<3>CTRL-EVENT-SSID-TEMP-DISABLED id=0 ssid=\"x y\" ...``)."""
    level = 2
    if message.startswith("<") and message[2:3] == ">" and message[1:2].isdigit():
        level, message = int(message[1]), message[3:]
    name, _, text = message.partition(" ")
    return Event(level, name, text, parse_fields(text))


def parse_fields(text: str) -> dict[str, str]:
    """The ``key=value`` words of ``text``; ``key="a b"`` values may hold spaces."""
    fields: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] == " ":
            i += 1
        start = i
        while i < n and text[i] not in " =":
            i += 1
        key = text[start:i]
        if i < n and text[i] == "=":
            i += 1
            if i < n and text[i] == '"':
                end = text.find('"', i + 1)
                end = n if end < 0 else end
                value, i = text[i + 1:end], end + 1
            else:
                start = i
                while i < n and text[i] != " ":
                    i += 1
                value = text[start:i]
            if key:
                fields[key] = value
        else:
            i += 1
    return fields


def parse_lines(reply: str) -> dict[str, str]:
    """``key=value`` lines (``STATUS``, ``SIGNAL_POLL``, ``BSS``) as a dict."""
    return dict(line.split("=", 1) for line in reply.splitlines() if "=" in line)


def hex_value(data: str | bytes) -> str:
    """A string field (SSID, SAE password, EAP identity or password) as wpa_supplicant's hex form:
    no quoting at all, so any byte -- quote, backslash, newline -- is just data."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return raw.hex()


def quoted_passphrase(passphrase: str) -> str:
    """A WPA-PSK passphrase as ``"..."``.  wpa_supplicant takes everything up to the *last*
    quote, so quotes and backslashes inside are data; it refuses control characters, and so
    does this function (with ``ValueError``) -- IEEE 802.11 passphrases are 8-63 printable ASCII
    characters."""
    if not 8 <= len(passphrase) <= 63:
        raise ValueError(f"a WPA passphrase has 8 to 63 characters, this one has {len(passphrase)}")
    if not all(32 <= ord(c) <= 126 for c in passphrase):
        raise ValueError("a WPA passphrase is printable ASCII only (no newline, tab or "
                         "non-ASCII character; IEEE 802.11i)")
    return f'"{passphrase}"'


def printf_decode(text: str) -> bytes:
    """Undo wpa_supplicant's ``printf_encode`` (SSIDs in ``BSS``/``STATUS`` replies): ``\\\\``,
    ``\\"``, ``\\n``, ``\\r``, ``\\t``, ``\\e`` and ``\\xHH``."""
    out = bytearray()
    i, n = 0, len(text)
    simple = {"\\": 0x5C, '"': 0x22, "n": 0x0A, "r": 0x0D, "t": 0x09, "e": 0x1B}
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            if nxt == "x" and i + 3 < n + 1:
                try:
                    out.append(int(text[i + 2:i + 4], 16))
                    i += 4
                    continue
                except ValueError:
                    pass
        out += c.encode("utf-8")
        i += 1
    return bytes(out)


class _Endpoint:
    """A bound client socket and the path it is bound to (removed on close)."""

    __slots__ = ("sock", "path")

    def __init__(self, sock: usocket.socket, path: str) -> None:
        self.sock, self.path = sock, path

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


class WpaCtrl:
    """A connection to one interface's control socket (``<ctrl_dir>/<ifname>``).

    ``request`` and ``event`` may be used from different threads.  ``close()`` removes the
    client socket files.  Raises :class:`WpaCtrlError` when the socket cannot be reached."""

    _counter = 0
    _counter_lock = threading.Lock()

    def __init__(self, ifname: str, ctrl_dir: str = CTRL_DIR, local_dir: str | None = None) -> None:
        self.path = os.path.join(ctrl_dir, ifname)
        self._local_dir = local_dir or ("/run" if os.access("/run", os.W_OK) else "/tmp")
        self._lock = threading.Lock()
        self._req: _Endpoint | None = self._open()
        self._evt: _Endpoint | None = None

    def _open(self) -> _Endpoint:
        with WpaCtrl._counter_lock:
            WpaCtrl._counter += 1
            local = os.path.join(self._local_dir,
                                 f"kiln_wpa_ctrl_{os.getpid()}-{WpaCtrl._counter}")
        end = _Endpoint(usocket.socket(usocket.AF_UNIX, usocket.SOCK_DGRAM), local)
        try:
            try:
                os.unlink(local)
            except FileNotFoundError:
                pass
            end.sock.bind(local)
            end.sock.connect(self.path)
        except OSError as exc:
            end.close()
            raise WpaCtrlError(exc.errno, f"wpa_supplicant control socket {self.path}: "
                               f"{exc.strerror or exc}") from None
        return end

    def request(self, command: str, timeout_s: float = 10.0) -> str:
        """Send ``command``; return the reply text (``"OK"``, ``"FAIL"``, data...).  Blocks up
        to ``timeout_s``; raises :class:`WpaCtrlError` when there is no answer."""
        with self._lock:
            if self._req is None:
                raise WpaCtrlError(9, "the control connection is closed")
            sock = self._req.sock
            sock.settimeout(timeout_s)
            try:
                sock.send(command.encode("utf-8"))
                while True:
                    reply = sock.recv(_REPLY_MAX).decode("utf-8", "replace")
                    if not (reply.startswith("<") and reply[2:3] == ">"):
                        return reply
            except OSError as exc:
                raise WpaCtrlError(exc.errno, f"wpa_supplicant did not answer "
                                   f"{command.split()[0]!r}: {exc.strerror or exc}") from None

    def ok(self, command: str) -> None:
        """:meth:`request` that must answer ``OK`` (else :class:`WpaCtrlError` naming it; the
        value of a ``SET_NETWORK`` is never echoed, it may be a credential)."""
        reply = self.request(command)
        if reply.strip() != "OK":
            words = command.split(" ")
            raise WpaCtrlError(0, f"wpa_supplicant refused {' '.join(words[:3])}: "
                               f"{reply.strip()}")

    def attach(self) -> None:
        """Open the event socket and ``ATTACH`` it (idempotent)."""
        if self._evt is not None:
            return
        end = self._open()
        end.sock.settimeout(5.0)
        try:
            end.sock.send(b"ATTACH")
            reply = end.sock.recv(_REPLY_MAX)
        except OSError as exc:
            end.close()
            raise WpaCtrlError(exc.errno, f"ATTACH to {self.path}: {exc}") from None
        if reply.strip() != b"OK":
            end.close()
            raise WpaCtrlError(0, f"wpa_supplicant refused ATTACH: {reply!r}")
        self._evt = end

    def event(self, timeout_s: float | None) -> Event | None:
        """The next event (blocking up to ``timeout_s`` seconds; ``None``: forever), or ``None``
        when none arrived in time."""
        if self._evt is None:
            raise WpaCtrlError(0, "not attached: call attach() first")
        self._evt.sock.settimeout(timeout_s)
        try:
            data = self._evt.sock.recv(_REPLY_MAX)
        except TimeoutError:
            return None
        return parse_event(data.decode("utf-8", "replace"))

    def detach(self) -> None:
        """``DETACH`` and close the event socket (idempotent).  Attach only while events are
        awaited: wpa_supplicant drops a monitor whose socket stays full."""
        if self._evt is not None:
            try:
                self._evt.sock.settimeout(1.0)
                self._evt.sock.send(b"DETACH")
                while not self._evt.sock.recv(_REPLY_MAX).startswith(b"OK"):
                    pass                      # events queued before the DETACH's reply
            except OSError:
                pass
            self._evt.close()
            self._evt = None

    def close(self) -> None:
        """Detach and close both sockets; idempotent."""
        self.detach()
        with self._lock:
            if self._req is not None:
                self._req.close()
                self._req = None

    def __enter__(self) -> WpaCtrl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
