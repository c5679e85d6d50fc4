"""Command-line harness shared by the Python client variants of ``bench/tls_bench.py``.

A variant module defines one generator function per measurement::

    handshake(port, batch, cafile, ktls)   bulk_send(...)   bulk_recv(...)

Each sets up its context (and, for bulk, its connection), then repeatedly runs ``batch``
iterations of the measured loop and yields what the batch did (handshakes or bytes).  A bulk
generator stores ``(send, receive)`` kernel-TLS offload of its connection in ``INFO["ktls"]``.

The harness runs a generator WARMUP seconds unmeasured, then SECONDS measured (one clock read per
batch, as ``bench/c/tls_client.c``), and prints ``{"ops", "seconds", "cpu_seconds",
"client_cpu_seconds", "ktls"}``: CPU of this process plus the peer (KILN_BENCH_PEER_PID), and
of this process alone.
"""
import json
import os
import sys
import time

MEASURES = ("handshake", "bulk_send", "bulk_recv")
USAGE = "usage: VARIANT.py check | VARIANT.py MEASURE PORT SECONDS WARMUP BATCH CAFILE ktls|noktls"
INFO = {"ktls": None}


def _peer_clock(peer_pid):
    if peer_pid is None:
        return lambda: 0.0
    clock = ((~peer_pid) << 3) | 2          # Linux's clock_getcpuclockid(pid)
    return lambda: time.clock_gettime(clock)


def main(variant):
    """Entry point of a variant script (``variant`` is the module); see the module docstring."""
    argv = sys.argv[1:]
    if argv == ["check"]:
        return
    if len(argv) != 7 or argv[0] not in MEASURES or argv[6] not in ("ktls", "noktls"):
        raise SystemExit(f"{USAGE}\ngot {argv!r}")
    measure, port, seconds, warmup, batch = (argv[0], int(argv[1]), float(argv[2]),
                                             float(argv[3]), int(argv[4]))
    peer = os.environ.get("KILN_BENCH_PEER_PID")
    peer_cpu = _peer_clock(int(peer) if peer else None)
    batches = getattr(variant, measure)(port, batch, argv[5], argv[6] == "ktls")
    clock, own_cpu = time.perf_counter, time.process_time
    try:
        end = clock() + warmup
        for _ in batches:
            if clock() >= end:
                break
        ops = 0
        k0, p0, start = own_cpu(), peer_cpu(), clock()
        end = start + seconds
        for done in batches:
            ops += done
            if clock() >= end:
                break
        elapsed = clock() - start
        client = own_cpu() - k0
        total = client + peer_cpu() - p0
    finally:
        batches.close()
    print(json.dumps({"ops": ops, "seconds": elapsed, "cpu_seconds": total,
                      "client_cpu_seconds": client, "ktls": INFO["ktls"]}))
