#!/usr/bin/env python3
"""Socket benchmark: Kiln's Zerynth and MicroPython faces vs CPython's socket vs raw C syscalls.

Measurements (each client variant runs the same loop shape; see bench/README.md):
  a       64-byte ping-pong round trips/s against an echo peer (TCP_NODELAY)
  b.send  bulk MiB/s: the client sendall()s 64 KiB chunks into a sink peer
  b.recv  bulk MiB/s: the client recv_into()s a preallocated 64 KiB buffer from a source peer
  c       non-blocking recv(64) calls/s that fail with EAGAIN (exception included)
  d       socket create+close pairs/s

Every run is a fresh client process and a fresh C peer (bench/c/peer.c, the same peer for every
client variant, so only the client implementation differs), both pinned to the same CPU with
``taskset``.  Repetitions interleave the variants; the tables show medians and the ratio of each
median to the C client's median, per elapsed second (wall) and per CPU second that the client and
its peer used (cpu; robust against other programs loading the machine).

Usage: .venv/bin/python bench/socket_bench.py [--reps 5] [--seconds 1] [--only a,b,c,d]
                                              [--variants c,cpython,zerynth,micropython]
                                              [--clock both|wall|cpu]
                                              [--json out.json] [--plot out.png]
"""
import argparse
import os
import select
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import socket_bench_report as report

BENCH = Path(__file__).resolve().parent
C_SOURCES = BENCH / "c"
BUILD_DIR = BENCH / "results" / "bin"
VARIANTS_DIR = BENCH / "variants"
PEER_START_TIMEOUT = 10.0  # s, until the peer printed its port
PEER_EXIT_TIMEOUT = 10.0  # s, after the client finished


class BenchError(Exception):
    """A benchmark run could not be carried out; the message says what to fix."""


@dataclass(frozen=True)
class Measurement:
    key: str  # what --only selects ("b" selects b.send and b.recv)
    title: str
    client_measure: str  # MEASURE argument of the C client and of the Python variants
    peer_mode: str | None  # peer.c MODE, None when no peer is needed
    unit: str
    scale: float  # converts ops/s into `unit`
    batch: int  # loop iterations between two clock reads (identical for every variant)
    target: float  # required ratio to C (issue #2)


MEASUREMENTS = (
    Measurement("a", "(a) ping-pong 64 B", "pingpong", "echo", "round trips/s", 1.0, 64, 0.97),
    Measurement("b.send", "(b) bulk sendall 64 KiB", "bulk_send", "sink", "MiB/s", 2.0**-20, 16, 0.98),
    Measurement("b.recv", "(b) bulk recv_into 64 KiB", "bulk_recv", "source", "MiB/s", 2.0**-20, 16, 0.98),
    Measurement("c", "(c) recv -> EAGAIN", "eagain", "idle", "calls/s", 1.0, 256, 0.60),
    Measurement("d", "(d) socket create+close", "create_close", None, "pairs/s", 1.0, 64, 0.95),
)


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    script: str | None  # bench/variants/<script>, None for the C client
    default: bool = True  # run without --variants


VARIANTS = (
    Variant("c", "C syscalls", None),
    Variant("cpython", "CPython socket", "cpython_socket.py"),
    Variant("zerynth", "Kiln Zerynth", "kiln_zerynth.py"),
    Variant("micropython", "Kiln MicroPython", "kiln_micropython.py"),
    # The thinnest client CPython can run (os.write/os.readv on the fd, _socket.socket): a floor
    # for any Python client, not an API.  Only with --variants ...,floor.
    Variant("floor", "CPython floor", "cpython_floor.py", default=False),
)


def build_c_programs(cc="gcc"):
    """Compile bench/c/peer.c and client.c with ``cc -O2`` into bench/results/bin (if stale).

    Blocks while compiling.  Returns ``{"peer": Path, "client": Path}``.  Raises BenchError when
    the compiler is missing or fails.
    """
    if shutil.which(cc) is None:
        raise BenchError(f"C compiler '{cc}' not found; install build-essential (requirements/apt.txt)")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    binaries = {}
    for name in ("peer", "client"):
        src, exe = C_SOURCES / f"{name}.c", BUILD_DIR / name
        if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
            cmd = [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(src)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise BenchError(f"compiling {src} failed:\n{done.stderr}")
        binaries[name] = exe
    return binaries


def client_command(variant, python, binaries):
    """argv prefix that starts ``variant``'s client (the MEASURE... arguments follow)."""
    if variant.script is None:
        return [str(binaries["client"])]
    return [python, str(VARIANTS_DIR / variant.script)]


def check_variant(variant, python, binaries):
    """Raise BenchError unless ``variant``'s client starts (imports work).  Blocks < 30 s."""
    if variant.script is None:
        return
    try:
        done = subprocess.run(client_command(variant, python, binaries) + ["check"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"{variant.label} variant cannot start: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BenchError(
            f"{variant.label} variant cannot start: {last}\n"
            f"Build Kiln first (.venv/bin/pip install --no-build-isolation -e .) or leave the "
            f"variant out, e.g. --variants c,cpython")


def _start_peer(mode, cpu, binaries):
    peer = subprocess.Popen(["taskset", "-c", str(cpu), str(binaries["peer"]), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([peer.stdout], [], [], PEER_START_TIMEOUT)
    line = peer.stdout.readline() if ready else ""
    if not line.startswith("PORT "):
        peer.kill()
        _, err = peer.communicate()
        raise BenchError(f"peer {mode} did not start (said {line!r}): {err.strip()}")
    return peer, int(line.split()[1])


def run_once(measurement, variant, *, cpu, seconds, warmup, python, binaries, wrapper=()):
    """Run one measurement of one variant: fresh peer + fresh client, both pinned to ``cpu``.

    Blocks for about ``warmup + seconds`` seconds plus process start-up.  ``wrapper`` is an argv
    prefix for the client (e.g. valgrind).  Returns the client's
    ``{"ops": N, "seconds": wall T, "cpu_seconds": CPU time of client + peer during T}``.
    Raises BenchError (with the processes' stderr) when the client or the peer fails or hangs;
    both processes are gone when this returns or raises.
    """
    peer, port = (None, 0)
    if measurement.peer_mode is not None:
        peer, port = _start_peer(measurement.peer_mode, cpu, binaries)
    argv = (["taskset", "-c", str(cpu)] + list(wrapper) + client_command(variant, python, binaries)
            + [measurement.client_measure, str(port), repr(seconds), repr(warmup),
               str(measurement.batch)])
    what = f"{variant.label} / {measurement.title}"
    try:
        try:
            env = dict(os.environ, KILN_BENCH_PEER_PID=str(peer.pid) if peer else "")
            done = subprocess.run(argv, capture_output=True, text=True, env=env,
                                  timeout=seconds + warmup + 60)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{what}: the client hung (killed after {seconds + warmup + 60:.0f} s)") from None
        if done.returncode != 0:
            raise BenchError(f"{what}: client failed (exit {done.returncode}):\n{done.stderr.strip()}")
        if peer is not None:
            try:
                peer.wait(timeout=PEER_EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise BenchError(f"{what}: the peer did not exit after the client closed") from None
            if peer.returncode != 0:
                raise BenchError(f"{what}: peer failed (exit {peer.returncode}): {peer.stderr.read().strip()}")
    finally:
        if peer is not None:
            if peer.poll() is None:
                peer.kill()
            peer.communicate()
    try:
        return report.parse_client_output(done.stdout, what)
    except ValueError as exc:
        raise BenchError(str(exc)) from None


CLOCKS = {"wall": "seconds", "cpu": "cpu_seconds"}


def run_all(measurements, variants, *, reps, progress=None, **run_args):
    """Run ``reps`` interleaved repetitions of every (measurement, variant) pair.

    Each repetition rotates the variant order so no variant always runs first.  Blocks for about
    ``reps * len(measurements) * len(variants) * (seconds + warmup)`` seconds.  Returns
    ``{clock: {measurement.key: {variant.key: [rate, ...]}}}`` for both clocks: ``"wall"`` (per
    elapsed second) and ``"cpu"`` (per CPU second used by client + peer, insensitive to other load
    on the machine).  Raises BenchError on the first failure.  ``progress``, if given, is called
    with a short text line after every run.
    """
    samples = {clock: {m.key: {v.key: [] for v in variants} for m in measurements}
               for clock in CLOCKS}
    for rep in range(reps):
        for m in measurements:
            shift = rep % len(variants)
            for v in variants[shift:] + variants[:shift]:
                result = run_once(m, v, **run_args)
                for clock, field in CLOCKS.items():
                    samples[clock][m.key][v.key].append(result["ops"] / result[field] * m.scale)
                if progress:
                    wall, cpu = (samples[c][m.key][v.key][-1] for c in CLOCKS)
                    progress(f"rep {rep + 1}/{reps} {m.title:<28} {v.label:<17} {wall:14,.1f} "
                             f"{m.unit} (per CPU-s {cpu:14,.1f}; CPU/wall "
                             f"{result['cpu_seconds'] / result['seconds']:.2f})")
    return samples


def _select(items, spec, option):
    if spec is None:
        return tuple(i for i in items if getattr(i, "default", True))
    wanted = [w.strip() for w in spec.split(",") if w.strip()]
    known = {i.key for i in items}
    known_groups = known | {k.split(".")[0] for k in known}
    bad = [w for w in wanted if w not in known_groups]
    if bad or not wanted:
        raise BenchError(f"{option}: unknown {', '.join(bad) or '(empty)'}; choose from "
                         f"{', '.join(sorted(known_groups))}")
    return tuple(i for i in items if i.key in wanted or i.key.split(".")[0] in wanted)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5, help="repetitions per variant (default 5)")
    p.add_argument("--seconds", type=float, default=1.0, help="measured seconds per run (default 1)")
    p.add_argument("--warmup", type=float, default=0.2, help="unmeasured seconds before each run (default 0.2)")
    p.add_argument("--only", help="measurements to run, e.g. a,b (default a,b,c,d; b = b.send + b.recv)")
    p.add_argument("--variants", help="clients to run (default c,cpython,zerynth,micropython; also: floor, "
                                      "the thinnest possible CPython client); c is always run")
    p.add_argument("--clock", choices=sorted(CLOCKS) + ["both"], default="both",
                   help="table of rates per elapsed second (wall), per CPU second used by the "
                        "client and its peer (cpu: robust when other programs load the CPU), or "
                        "both tables (default)")
    p.add_argument("--cpu", type=int, default=0, help="CPU that every client and peer is pinned to (default 0)")
    p.add_argument("--python", default=sys.executable, help="interpreter of the Python variants (default: this one)")
    p.add_argument("--json", type=Path, help="also write samples, medians and ratios to this JSON file")
    p.add_argument("--plot", type=Path, help="also draw the ratios to C as a PNG (needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no per-run progress lines on stderr")
    args = p.parse_args(argv)
    if args.reps < 1:
        p.error(f"--reps must be >= 1, got {args.reps}")
    if args.seconds <= 0 or args.warmup < 0:
        p.error(f"--seconds must be > 0 and --warmup >= 0, got {args.seconds} and {args.warmup}")
    if args.cpu not in os.sched_getaffinity(0):
        p.error(f"--cpu {args.cpu} is not available; usable CPUs: {sorted(os.sched_getaffinity(0))}")
    return args


def main(argv=None):
    """Run the benchmark from the command line; returns the process exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        measurements = _select(MEASUREMENTS, args.only, "--only")
        variants = _select(VARIANTS, args.variants, "--variants")
        if variants[0].key != "c":
            variants = (VARIANTS[0],) + variants  # ratios need the C reference
        if shutil.which("taskset") is None:
            raise BenchError("taskset not found; install util-linux (requirements/apt.txt)")
        if args.plot is not None:
            try:
                report.require_matplotlib()
            except ImportError as exc:
                raise BenchError(str(exc)) from None
        binaries = build_c_programs()
        facts = report.machine_facts(args.cpu, args.python)
        for v in variants:
            check_variant(v, args.python, binaries)
        progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
        samples = run_all(measurements, variants, reps=args.reps, progress=progress, cpu=args.cpu,
                          seconds=args.seconds, warmup=args.warmup, python=args.python,
                          binaries=binaries)
    except BenchError as exc:
        print(f"socket_bench: {exc}", file=sys.stderr)
        return 1
    facts["loadavg_end"] = os.getloadavg()[0]
    summaries = {clock: report.summarize(measurements, variants, samples[clock]) for clock in CLOCKS}
    command = " ".join(["bench/socket_bench.py"] + (sys.argv[1:] if argv is None else list(argv)))
    shown = list(CLOCKS) if args.clock == "both" else [args.clock]
    print(report.format_header(facts, reps=args.reps, seconds=args.seconds, cpu=args.cpu,
                               command=command))
    for clock in shown:
        print("\n" + report.format_table(summaries[clock], clock))
    if args.json is not None:
        report.write_json(args.json, summaries, facts, vars(args) | {"command": command})
    if args.plot is not None:
        report.plot_ratios(args.plot, summaries[shown[-1]], shown[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
