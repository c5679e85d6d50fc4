"""The exchange protocol of the MicroPython network checks (``micropython.poll_client``,
``micropython.asyncio_tcp``) -- the guest's side; the host's is ``ExchangeServer`` and
``exchange_as_client`` in tests/system/servers.py, written apart so each end checks the other::

    client -> server   b"HELLO <name> <n> <sha256 of the n bytes, hex>\\n", n random bytes,
                       b"GO\\n"
    server -> client   b"REPLY <m, 8 digits> <sha256 of the m bytes, hex>\\n", m bytes: the
                       client's bytes reversed, then OWN random bytes of the server's own
    client -> server   b"BYE\\n"; the server closes the connection

The server answers only after ``GO`` and sends nothing after its reply until ``BYE``: a client
knows when nothing can be readable.  The reply's header has a fixed width (``REPLY_HEAD``
bytes), so its length is known before it arrives: ``REPLY_HEAD + n + OWN``.

Written as MicroPython code (``hashlib.sha256().digest()``, ``binascii.hexlify``, bytes
``%``-formatting), as the checks are."""
import binascii
import hashlib

#: Bytes of the server's own at the end of every reply.
OWN = 20000
#: Length of the reply's header line: b"REPLY " + 8 digits + b" " + 64 hex digits + b"\n".
REPLY_HEAD = 80


def hexsha(data):
    """The sha256 of ``data`` as 64 lowercase hex digits (str)."""
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


def hello(name, payload):
    """The client's header line for ``payload`` (bytes)."""
    return b"HELLO %s %d %s\n" % (name.encode(), len(payload), hexsha(payload).encode())


def parse_hello(line):
    """``(name, n, sha)`` of a client's header line; ValueError if it is not one."""
    words = line.split()
    if len(words) != 4 or words[0] != b"HELLO" or not line.endswith(b"\n"):
        raise ValueError("not a HELLO line: %r" % line[:100])
    return words[1].decode(), int(words[2]), words[3].decode()


def reply(payload, own):
    """The server's whole reply to a client that sent ``payload``, with its ``own`` bytes."""
    body = payload[::-1] + own
    return b"REPLY %08d %s\n" % (len(body), hexsha(body).encode()) + body


def parse_reply(data, sent):
    """The server's own bytes from its whole reply ``data`` to ``sent``; ValueError when the
    header, the digest or the reversed bytes are wrong."""
    head, body = data[:REPLY_HEAD], data[REPLY_HEAD:]
    words = head.split()
    if len(words) != 3 or words[0] != b"REPLY" or not head.endswith(b"\n"):
        raise ValueError("not a REPLY line: %r" % head)
    if int(words[1]) != len(body) or len(body) != len(sent) + OWN:
        raise ValueError("reply of %d bytes, header says %s, expected %d"
                         % (len(body), words[1].decode(), len(sent) + OWN))
    if words[2].decode() != hexsha(body):
        raise ValueError("the reply's bytes do not match its digest")
    if body[:len(sent)] != sent[::-1]:
        raise ValueError("the reply does not start with the bytes sent, reversed")
    return body[len(sent):]
