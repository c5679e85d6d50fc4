#!/usr/bin/env python3
"""asyncio benchmark: Kiln's MicroPython asyncio over Kiln sockets vs CPython's asyncio with
CPython sockets, on loopback.

Measurements (each for 1 and for 100 concurrent clients):
  conn   connections/s: a client opens a connection, sends one 16-byte line, reads the echo and
         closes; the server's handler reads the line, echoes it and closes
  echo   echo round trips/s of 64 bytes over connections opened beforehand (write + drain +
         readexactly on the client; read + write + drain on the server)

Both sides (server and clients) run in one process, one event loop, on one CPU (``taskset``):
the rate is what one core does serving and driving the traffic.  The two variants run the same
source (``_conn``/``_echo`` below) with a different ``asyncio`` module:

  kiln     ``import uasyncio as asyncio`` (what ``import asyncio`` gives an app under
           ``--api micropython``): Kiln sockets driven by Kiln's readiness mechanism
  cpython  CPython's ``asyncio`` (selector event loop, streams, CPython's ``socket``)

Every run is a fresh worker process; repetitions interleave the variants; the table shows the
median rate per elapsed second (wall) and per CPU second of the worker (cpu: robust against other
programs loading the machine), and the ratio kiln/cpython.  Every byte echoed is checked.

Usage: .venv/bin/python bench/asyncio_bench.py [--reps 5] [--only conn,echo] [--clients 1,100]
                                               [--conn N] [--echo N] [--cpu 0] [--json out.json]
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

MEASUREMENTS = ("conn", "echo")
VARIANTS = ("kiln", "cpython")
LINE = b"kiln bench line\n"     # 16 bytes
MESSAGE = bytes(range(64))


# ---- the worker: the same code for both variants ------------------------------------------------

async def _conn(asyncio, clients, total):
    """``total`` connections from ``clients`` concurrent clients; returns (wall s, cpu s)."""
    async def handler(reader, writer):
        line = await reader.readline()
        writer.write(line)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    srv = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=1024)
    port = srv.sockets[0].getsockname()[1]

    async def client(count):
        for _ in range(count):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(LINE)
            await writer.drain()
            if await reader.readline() != LINE:
                raise AssertionError("echoed line differs")
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*[client(2) for _ in range(clients)])     # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*[client(total // clients) for _ in range(clients)])
    t1, c1 = time.perf_counter(), time.process_time()
    srv.close()
    await srv.wait_closed()
    return t1 - t0, c1 - c0


async def _echo(asyncio, clients, total):
    """``total`` 64-byte round trips over ``clients`` connections; returns (wall s, cpu s)."""
    async def handler(reader, writer):
        while True:
            data = await reader.read(4096)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    srv = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=1024)
    port = srv.sockets[0].getsockname()[1]
    connected = []
    start = asyncio.Event()

    async def client(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(20):      # warm-up
            writer.write(MESSAGE)
            await writer.drain()
            await reader.readexactly(len(MESSAGE))
        connected.append(1)
        await start.wait()
        for _ in range(count):
            writer.write(MESSAGE)
            await writer.drain()
            if await reader.readexactly(len(MESSAGE)) != MESSAGE:
                raise AssertionError("echoed message differs")
        writer.close()
        await writer.wait_closed()

    tasks = [asyncio.create_task(client(total // clients)) for _ in range(clients)]
    while len(connected) < clients:
        await asyncio.sleep(0.001)
    t0, c0 = time.perf_counter(), time.process_time()
    start.set()
    await asyncio.gather(*tasks)
    t1, c1 = time.perf_counter(), time.process_time()
    srv.close()
    await srv.wait_closed()
    return t1 - t0, c1 - c0


def worker(variant, measurement, clients, total):
    """Run one measurement in this process; print ``wall cpu`` (seconds) on stdout."""
    if variant == "kiln":
        import uasyncio as asyncio
    else:
        import asyncio
    body = _conn if measurement == "conn" else _echo
    wall, cpu = asyncio.run(body(asyncio, clients, total))
    print(f"{wall:.6f} {cpu:.6f}")


# ---- the driver ---------------------------------------------------------------------------------

def run_worker(args, variant, measurement, clients, total):
    cmd = [args.python, os.path.abspath(__file__), "--worker", variant, measurement,
           str(clients), str(total)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", str(args.cpu)] + cmd
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    wall, cpu = map(float, out.stdout.split())
    return total / wall, total / cpu


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--only", default=",".join(MEASUREMENTS))
    p.add_argument("--clients", default="1,100")
    p.add_argument("--conn", type=int, default=3000, help="connections per run")
    p.add_argument("--echo", type=int, default=30000, help="round trips per run")
    p.add_argument("--cpu", type=int, default=0, help="the CPU both ends run on (taskset)")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--json", help="write every sample and the medians to this file")
    p.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        variant, measurement, clients, total = args.worker
        worker(variant, measurement, int(clients), int(total))
        return
    only = [m for m in args.only.split(",") if m]
    counts = [int(c) for c in args.clients.split(",") if c]
    for m in only:
        if m not in MEASUREMENTS:
            p.error(f"--only: unknown measurement {m!r} (choose from {', '.join(MEASUREMENTS)})")
    load_before = os.getloadavg()
    samples = {}
    for rep in range(args.reps):
        for m in only:
            for clients in counts:
                total = args.conn if m == "conn" else args.echo
                total -= total % clients
                order = VARIANTS if rep % 2 == 0 else VARIANTS[::-1]
                for variant in order:
                    wall, cpu = run_worker(args, variant, m, clients, total)
                    samples.setdefault((m, clients, variant), []).append((wall, cpu))
                    print(f"rep {rep + 1}/{args.reps} {m:4} clients={clients:<3} {variant:7} "
                          f"{wall:9.0f}/s wall {cpu:9.0f}/s cpu", file=sys.stderr)
    load_after = os.getloadavg()
    print(f"# asyncio_bench: {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}, {args.reps} reps, CPU {args.cpu}, load "
          f"{load_before[0]:.1f} -> {load_after[0]:.1f}")
    print()
    print("| measurement | clients | Kiln uasyncio wall | CPython asyncio wall | ratio | "
          "Kiln uasyncio cpu | CPython asyncio cpu | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    medians = {}
    for m in only:
        unit = "connections/s" if m == "conn" else "round trips/s"
        for clients in counts:
            row = []
            for clock in (0, 1):
                k = statistics.median(s[clock] for s in samples[(m, clients, "kiln")])
                c = statistics.median(s[clock] for s in samples[(m, clients, "cpython")])
                medians[f"{m}/{clients}/{'wall' if clock == 0 else 'cpu'}"] = {
                    "kiln": k, "cpython": c}
                row += [f"{k:,.0f}", f"{c:,.0f}", f"{k / c:.2f}"]
            print(f"| {m} ({unit}) | {clients} | " + " | ".join(row) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"samples": {f"{m}/{c}/{v}": s for (m, c, v), s in samples.items()},
                       "medians": medians, "load": [load_before, load_after],
                       "args": vars(args)}, f, indent=1)


if __name__ == "__main__":
    main()
