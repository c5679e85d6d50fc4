"""Command-line harness shared by the Python client variants of ``bench/socket_bench.py``.

A variant module defines one generator function per measurement::

    pingpong(port, batch)  bulk_send(port, batch)  bulk_recv(port, batch)
    eagain(port, batch)    create_close(port, batch)

Each generator sets up its socket, then repeatedly runs ``batch`` iterations of the measured loop
and yields how much that batch did (round trips, bytes, EAGAIN calls or create+close pairs).  It
raises ``RuntimeError`` when the peer misbehaves.  Closing the generator closes its socket.

The harness runs a generator for WARMUP seconds unmeasured, then for SECONDS measured, reading the
clock once per batch (exactly like ``bench/c/client.c``), and prints
``{"ops": N, "seconds": T, "cpu_seconds": C}``: C is the CPU time this process and the peer (pid in
the environment variable KILN_BENCH_PEER_PID, if set) used during the measured T seconds.
"""
import json
import os
import sys
import time

MEASURES = ("pingpong", "bulk_send", "bulk_recv", "eagain", "create_close")
USAGE = "usage: VARIANT.py check | VARIANT.py MEASURE PORT SECONDS WARMUP BATCH"


def cpu_clock(peer_pid):
    """A function returning the CPU seconds used so far by this process plus ``peer_pid`` (if
    not None), read from the kernel's per-process CPU clocks (nanosecond resolution)."""
    if peer_pid is None:
        return time.process_time
    # Linux's clock_getcpuclockid(pid): MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED).
    peer_clock = ((~peer_pid) << 3) | 2
    return lambda: time.process_time() + time.clock_gettime(peer_clock)


def run_timed(batches, warmup, seconds, cpu_now=time.process_time):
    """Drive the ``batches`` generator: ``warmup`` s unmeasured, then ``seconds`` s measured.

    Blocks for about ``warmup + seconds`` seconds (at least one batch each).  Returns
    ``(ops, elapsed_seconds, cpu_seconds)`` of the measured part, ``cpu_seconds`` by ``cpu_now``.
    Exceptions from the generator propagate.
    """
    clock = time.perf_counter
    end = clock() + warmup
    for _ in batches:
        if clock() >= end:
            break
    ops = 0
    cpu_start = cpu_now()
    start = clock()
    end = start + seconds
    for done in batches:
        ops += done
        if clock() >= end:
            break
    elapsed = clock() - start
    return ops, elapsed, cpu_now() - cpu_start


def _parse(argv):
    if len(argv) != 5 or argv[0] not in MEASURES:
        raise SystemExit(f"{USAGE}\nMEASURE is one of {', '.join(MEASURES)}; got {argv!r}")
    try:
        port, seconds, warmup, batch = int(argv[1]), float(argv[2]), float(argv[3]), int(argv[4])
    except ValueError as exc:
        raise SystemExit(f"{USAGE}\nbad number: {exc}") from None
    if not 0 <= port <= 65535 or seconds <= 0 or warmup < 0 or batch <= 0:
        raise SystemExit(f"{USAGE}\nneed 0<=PORT<=65535, SECONDS>0, WARMUP>=0, BATCH>0; got {argv!r}")
    return argv[0], port, seconds, warmup, batch


def main(variant):
    """Entry point of a variant script; ``variant`` is the variant module itself.

    ``check`` exits 0 (the variant's imports already succeeded).  Otherwise runs one measurement
    and prints its JSON result on stdout.  Bad arguments exit with a usage message.
    """
    argv = sys.argv[1:]
    if argv == ["check"]:
        return
    measure, port, seconds, warmup, batch = _parse(argv)
    peer = os.environ.get("KILN_BENCH_PEER_PID")
    try:
        cpu_now = cpu_clock(int(peer) if peer else None)
        cpu_now()
    except (ValueError, OSError) as exc:
        raise SystemExit(f"KILN_BENCH_PEER_PID must be the pid of a live process, got {peer!r}: {exc}")
    batches = getattr(variant, measure)(port, batch)
    try:
        ops, elapsed, cpu = run_timed(batches, warmup, seconds, cpu_now)
    finally:
        batches.close()
    print(json.dumps({"ops": ops, "seconds": elapsed, "cpu_seconds": cpu}))
