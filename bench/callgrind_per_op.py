#!/usr/bin/env python3
"""User-space instructions per operation of one socket_bench client, by function (callgrind).

Perf hardware counters are often unavailable in VMs; callgrind counts every user-space instruction
deterministically.  The client runs twice under ``valgrind --tool=callgrind`` (a short and a long
run, same peer setup as socket_bench) and the per-function instruction counts of the two runs are
subtracted and divided by the difference in operations, which cancels start-up and import costs.
Kernel time is not counted: it is the same syscalls for every variant.

Usage: .venv/bin/python bench/callgrind_per_op.py zerynth c [--top 25] [--inclusive]
  VARIANT  c | cpython | zerynth | micropython
  MEASURE  a | b.send | b.recv | c | d
"""
import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import socket_bench as sb

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.+)$")


def function_costs(callgrind_out, inclusive=False):
    """Per-function Ir of a callgrind output file: ``{"function [object]": instructions}``.

    Recursion levels (``f'2``) are merged.  Blocks while callgrind_annotate runs; raises
    RuntimeError if it fails.
    """
    done = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no",
                           f"--inclusive={'yes' if inclusive else 'no'}", str(callgrind_out)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"callgrind_annotate failed: {done.stderr.strip()}")
    costs = defaultdict(int)
    for line in done.stdout.splitlines():
        match = LINE.match(line)
        if not match or "PROGRAM TOTALS" in line:
            continue
        where, _, obj = match.group(2).partition(" [")
        func = re.sub(r"'\d+$", "", where.rpartition(":")[2])
        costs[f"{func} [{Path(obj.rstrip(']')).name}]" if obj else func] += int(match.group(1).replace(",", ""))
    return dict(costs)


def profile_run(measurement, variant, seconds, out_file, binaries, python, cpu=0):
    """Run the client under callgrind for ``seconds`` (pinned with its peer to ``cpu``); returns
    (ops, per-function costs)."""
    wrapper = ["valgrind", "--tool=callgrind", "--trace-children=yes", f"--callgrind-out-file={out_file}"]
    result = sb.run_once(measurement, variant, cpu=cpu, seconds=seconds, warmup=0.0, python=python,
                         binaries=binaries, wrapper=wrapper)
    return result["ops"], function_costs(out_file)


def per_op(short, long, op_size=1):
    """Subtract two (ops, costs) runs; returns (total Ir/op, [(function, Ir/op)] sorted desc).

    ``op_size`` groups the counted units into one op (65536 counts bytes per 64 KiB chunk).
    """
    ops = (long[0] - short[0]) / op_size
    if ops <= 0:
        raise RuntimeError(f"the long run did not do more operations ({long[0]}) than the short one "
                           f"({short[0]}); raise --long")
    names = set(short[1]) | set(long[1])
    rows = [(n, (long[1].get(n, 0) - short[1].get(n, 0)) / ops) for n in names]
    rows.sort(key=lambda r: -r[1])
    total = (sum(long[1].values()) - sum(short[1].values())) / ops
    return total, rows


def main(argv=None):
    """Command-line entry point; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("variant", choices=[v.key for v in sb.VARIANTS])
    p.add_argument("measure", choices=[m.key for m in sb.MEASUREMENTS])
    p.add_argument("--short", type=float, default=1.0, help="seconds of the short run (default 1)")
    p.add_argument("--long", type=float, default=4.0, help="seconds of the long run (default 4)")
    p.add_argument("--top", type=int, default=25, help="functions to list (default 25)")
    p.add_argument("--inclusive", action="store_true", help="inclusive costs (default: self)")
    p.add_argument("--cpu", type=int, default=0, help="CPU to pin client and peer to (default 0)")
    p.add_argument("--python", default=sys.executable)
    args = p.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("callgrind_per_op: valgrind not found; apt-get install valgrind", file=sys.stderr)
        return 1
    measurement = next(m for m in sb.MEASUREMENTS if m.key == args.measure)
    variant = next(v for v in sb.VARIANTS if v.key == args.variant)
    binaries = sb.build_c_programs()
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for seconds in (args.short, args.long):
            ops, costs = profile_run(measurement, variant, seconds, Path(tmp) / f"cg.{seconds}",
                                     binaries, args.python, args.cpu)
            if args.inclusive:
                costs = function_costs(Path(tmp) / f"cg.{seconds}", inclusive=True)
            runs.append((ops, costs))
    op_size, op_name = (65536, "64 KiB chunk") if measurement.unit == "MiB/s" else (1, "op")
    total, rows = per_op(*runs, op_size=op_size)
    print(f"{variant.label} / {measurement.title}: {total:,.0f} user-space instructions per "
          f"{op_name} ({(runs[1][0] - runs[0][0]) / op_size:,.0f} {op_name}s differenced)")
    for name, cost in rows[: args.top]:
        if abs(cost) >= 0.5:
            print(f"{cost:10,.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
