"""MicroPython's asyncio over Kiln sockets, in one event loop: a TCP server
(``asyncio.start_server``) that the host connects to several times at once, and a client
(``asyncio.open_connection``) to the host's exchange server by its DNS name, both speaking
``checks/exchange.py`` (the host's side: ``ExchangePeer`` in tests/system/test_programs.py).
The server tells the host where it listens with ``ctx.event("listening", port=...)``; every
connection's bytes are checked on both ends (digests here, the reply's content there).  Times
with ``time.ticks_ms``/``ticks_diff`` and ``asyncio.sleep_ms``."""
import asyncio
import os
import time

from checks import exchange

TIMEOUT = 120
#: Connections the host opens to the server at once (ExchangePeer.CLIENTS).
HOST_CLIENTS = 3
SIZE = 40000


async def serve_one(reader, writer, served):
    """One host connection: its bytes checked by their digest, then the reply."""
    name, n, sha = exchange.parse_hello(await reader.readline())
    payload = await reader.readexactly(n)
    if exchange.hexsha(payload) != sha:
        raise ValueError("%s: the bytes received do not match their digest" % name)
    go = await reader.readline()
    if go != b"GO\n":
        raise ValueError("%s: expected GO, got %r" % (name, go))
    own = os.urandom(exchange.OWN)
    writer.write(exchange.reply(payload, own))
    await writer.drain()
    bye = await reader.readline()
    if bye != b"BYE\n":
        raise ValueError("%s: expected BYE, got %r" % (name, bye))
    served[name] = (sha, exchange.hexsha(own), writer.get_extra_info("peername")[0])


async def exchange_with_host(host, port):
    """The client: ``(sha of the bytes sent, sha of the host's own bytes)``."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        payload = os.urandom(SIZE)
        writer.write(exchange.hello("asyncio", payload) + payload + b"GO\n")
        await writer.drain()
        head = await reader.readexactly(exchange.REPLY_HEAD)
        body = await reader.readexactly(int(head.split()[1]))
        own = exchange.parse_reply(head + body, payload)
        writer.write(b"BYE\n")
        await writer.drain()
        end = await asyncio.wait_for(reader.read(1), 30)
        if end != b"":
            raise ValueError("data after the host's reply: %r" % end)
    finally:
        writer.close()
        await writer.wait_closed()
    return exchange.hexsha(payload), exchange.hexsha(own)


async def main(ctx):
    port = int(ctx.args["test_async_port"])
    host, host_port = ctx.args["test_exchange"].split(":")
    t0 = time.ticks_ms()
    await asyncio.sleep_ms(100)
    slept = time.ticks_diff(time.ticks_ms(), t0)
    served, errors = {}, []
    all_served = asyncio.Event()

    async def serve(reader, writer):
        try:
            await serve_one(reader, writer, served)
        except Exception as e:              # a callback's error would only be printed
            errors.append("%s: %s" % (type(e).__name__, e))
        finally:
            writer.close()
            await writer.wait_closed()
            if len(served) + len(errors) == HOST_CLIENTS:
                all_served.set()

    server = await asyncio.start_server(serve, "0.0.0.0", port)
    try:
        ctx.event("listening", port=port)       # the host connects HOST_CLIENTS clients at once
        client, _ = await asyncio.gather(exchange_with_host(host, int(host_port)),
                                         asyncio.wait_for(all_served.wait(), 60))
    finally:
        server.close()
        await server.wait_closed()
    if errors:
        raise AssertionError("; ".join(errors))
    facts = {"sent_sha": client[0], "own_sha": client[1], "slept_ms_ok": 100 <= slept < 5000,
             "served": ",".join(sorted(served))}
    for name, (sha, own, peer) in served.items():
        facts.update({"from_" + name: sha, "to_" + name: own, "peer_" + name: peer})
    return facts


def run(ctx):
    return asyncio.run(main(ctx))
