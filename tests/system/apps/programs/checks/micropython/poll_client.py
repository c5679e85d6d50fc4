"""A client driven by ``select.poll`` (``uselect`` under --api micropython) on a ``usocket``,
with ``time.ticks_ms``/``ticks_add``/``ticks_diff`` deadlines, as MicroPython programs wait for
sockets (MicroPython's socket documentation recommends poll over ``settimeout``).  It speaks
``checks/exchange.py`` with the host's exchange server (``ExchangePeer`` in
tests/system/test_programs.py), found by its DNS name:

1. a non-blocking send of its header and 48 KB of random bytes, each write after a ``POLLOUT``;
2. ``modify`` to ``POLLIN``: ``poll(0)`` and ``ipoll(50)`` find nothing (the host waits for GO);
3. ``GO``; ``poll`` waits for the reply;
4. filling reads with a 0.5 s timeout take the whole reply and time out (the host sends nothing
   more before BYE): the bytes they took stay in the socket (Kiln's pending-bytes rule,
   ``pending()`` is Kiln's), and ``poll(0)`` reports the socket readable although the kernel
   holds nothing for it;
5. ``ipoll(0, 1)`` (one-shot) reports it once and disarms it: ``poll(0)`` is then empty until
   ``modify`` re-arms it;
6. the reply is read and checked; ``BYE``; ``poll`` sees the host's close (``read`` gives
   ``b""``); ``unregister``.
"""
import errno
import os
import select
import socket
import time

from checks import exchange

TIMEOUT = 90
SIZE = 48000
#: ticks_ms's period is 2**30 on every Kiln board (docs/micropython.md): ticks_add(0, -1).
TICKS_MAX = 2**30 - 1


def run(ctx):
    start = time.ticks_ms()
    deadline = time.ticks_add(start, 60000)

    def left():
        ms = time.ticks_diff(deadline, time.ticks_ms())
        if ms <= 0:
            raise AssertionError("the exchange took over 60 s")
        return ms

    host, port = ctx.args["test_exchange"].split(":")
    addr = socket.getaddrinfo(host, int(port))[0][-1]
    payload = os.urandom(SIZE)
    s = socket.socket()
    try:
        s.connect(addr)
        s.setblocking(False)
        p = select.poll()
        p.register(s, select.POLLOUT)
        out = memoryview(exchange.hello("poll", payload) + payload)
        sent = 0
        while sent < len(out):                          # 1. send as the socket takes it
            ready = p.poll(left())
            assert len(ready) == 1 and ready[0][0] is s and ready[0][1] & select.POLLOUT, ready
            sent += s.write(out[sent:]) or 0
        p.modify(s, select.POLLIN)                      # 2. nothing to read before GO
        assert p.poll(0) == [], "readable before GO"
        assert not list(p.ipoll(50)), "readable before GO (ipoll)"
        assert s.write(b"GO\n") == 3
        ready = p.poll(left())                          # 3. the reply comes
        assert len(ready) == 1 and ready[0][0] is s and ready[0][1] & select.POLLIN, ready
        expected = exchange.REPLY_HEAD + SIZE + exchange.OWN
        s.settimeout(0.5)                               # 4. filling reads that time out
        timeouts = 0
        while s.pending() < expected:
            try:
                got = s.read(expected + 1)
            except OSError as e:
                if e.args[0] != errno.ETIMEDOUT:
                    raise
                timeouts += 1
                left()
            else:
                raise AssertionError("read(%d) returned %d bytes before BYE"
                                     % (expected + 1, len(got)))
        held = s.pending()
        s.setblocking(False)
        ready = p.poll(0)
        assert len(ready) == 1 and ready[0][0] is s and ready[0][1] & select.POLLIN, \
            "held bytes not readable: %r" % (ready,)
        once = [(obj is s, ev & select.POLLIN) for obj, ev in p.ipoll(0, 1)]   # 5. one-shot
        assert once == [(True, select.POLLIN)], once
        assert p.poll(0) == [], "a one-shot ipoll left the socket armed"
        p.modify(s, select.POLLIN)
        assert len(p.poll(0)) == 1, "modify did not re-arm the socket"
        data = s.read(expected)                         # 6. held bytes, without waiting
        assert len(data) == expected and s.pending() == 0, (len(data), s.pending())
        own = exchange.parse_reply(data, payload)
        assert s.write(b"BYE\n") == 4
        ready = p.poll(left())
        assert ready and ready[0][0] is s, ready
        assert s.read(1) == b"", "data after the reply"
        p.unregister(s)
        assert p.poll(0) == [], "an unregistered socket was reported"
    finally:
        s.close()
    return {"sent_sha": exchange.hexsha(payload), "own_sha": exchange.hexsha(own),
            "held": held, "timed_out_reads": timeouts, "peer": addr[0],
            "ticks_wrap": "%d,%d" % (time.ticks_add(0, -1), time.ticks_diff(0, TICKS_MAX)),
            "ms_ok": 0 < time.ticks_diff(time.ticks_ms(), start) < 60000}
