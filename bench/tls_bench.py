#!/usr/bin/env python3
"""TLS benchmark: Kiln's TLS layer (kernel TLS on and off) vs CPython's ``ssl`` vs OpenSSL from C.

Measurements (same loop shape in every client; see bench/README.md, "TLS benchmark"):
  hs.ecdsa   full TLS 1.3 handshakes/s, server certificate ECDSA P-256 (chain verified, name
             checked, close_notify, close; no session resumption)
  hs.rsa     the same with an RSA-2048 server certificate
  bulk.send  MiB/s: the client writes 64 KiB chunks into a TLS sink
  bulk.recv  MiB/s: the client fills a 64 KiB buffer from a TLS source

Every run is a fresh client process and a fresh C TLS server (bench/c/tls_peer.c, the same for
every client), both pinned to one CPU (``taskset``).  Repetitions interleave the variants; the
tables show medians and ratios to the C client (bench/c/tls_client.c, OpenSSL used directly)
per elapsed second (wall) and per CPU second of the client alone (client-cpu: what the client
implementation costs, robust when other programs load the machine).  Kernel TLS: Kiln and the C
client enable it (SSL_OP_ENABLE_KTLS); the header says whether this kernel offers it -- where it
does not, "kTLS on" falls back to OpenSSL's record layer and equals "kTLS off".

``--instructions`` counts instead, with callgrind, the user-space instructions each client
executes per handshake or per 64 KiB chunk (two runs of different length, subtracted: start-up
and imports cancel out).  Deterministic, so it shows what the client implementation costs when
the wall-clock and CPU-time rates of a shared machine swing by tens of percent.

Usage: .venv/bin/python bench/tls_bench.py [--reps 3] [--seconds 1] [--only hs,bulk]
                                           [--variants c,kiln,kiln-noktls,zerynth,cpython]
                                           [--json out.json] [--instructions]
"""
import argparse
import json
import os
import platform
import select
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
C_SOURCES = BENCH / "c"
BUILD_DIR = BENCH / "results" / "bin"
PKI_DIR = BENCH / "results" / "tls-pki"
VARIANTS_DIR = BENCH / "variants"
TCP_ULP = 31


class BenchError(Exception):
    """The benchmark could not be carried out; the message says what to fix."""


@dataclass(frozen=True)
class Measurement:
    key: str
    title: str
    client_measure: str
    peer_mode: str
    cert: str            # server certificate: "ec" or "rsa"
    unit: str
    scale: float
    batch: int
    target: float        # goal: ratio to C (issue 19)


MEASUREMENTS = (
    Measurement("hs.ecdsa", "handshakes, ECDSA P-256", "handshake", "handshakes", "ec",
                "handshakes/s", 1.0, 8, 0.90),
    Measurement("hs.rsa", "handshakes, RSA-2048", "handshake", "handshakes", "rsa",
                "handshakes/s", 1.0, 8, 0.90),
    Measurement("bulk.send", "bulk send 64 KiB", "bulk_send", "sink", "ec", "MiB/s", 2.0**-20,
                16, 0.95),
    Measurement("bulk.recv", "bulk recv 64 KiB", "bulk_recv", "source", "ec", "MiB/s", 2.0**-20,
                16, 0.95),
)


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    script: str | None       # bench/variants/<script>; None: the C client
    ktls: bool = True


VARIANTS = (
    Variant("c", "C OpenSSL", None),
    Variant("kiln", "Kiln tls (kTLS on)", "tls_kiln_micropython.py", True),
    Variant("kiln-noktls", "Kiln tls (kTLS off)", "tls_kiln_micropython.py", False),
    Variant("zerynth", "Kiln Zerynth ssl", "tls_kiln_zerynth.py", True),
    Variant("cpython", "CPython ssl", "tls_cpython.py", True),
)


# ---- set-up ----------------------------------------------------------------------------------
def build_c_programs(cc="gcc"):
    """Compile tls_peer.c and tls_client.c against OpenSSL into bench/results/bin (if stale)."""
    if shutil.which(cc) is None:
        raise BenchError(f"C compiler '{cc}' not found; install build-essential")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    binaries = {}
    for name in ("tls_peer", "tls_client"):
        src, exe = C_SOURCES / f"{name}.c", BUILD_DIR / name
        if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
            cmd = [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(src), "-lssl",
                   "-lcrypto"]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise BenchError(f"compiling {src} failed (libssl-dev installed?):\n"
                                 f"{done.stderr}")
        binaries[name] = exe
    return binaries


def _openssl(*args):
    done = subprocess.run(["openssl", *args], cwd=PKI_DIR, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"openssl {' '.join(args)}: {done.stderr.strip()}")


def make_pki():
    """A CA (EC P-256) and two server certificates for localhost signed by it: ``ec.pem``
    (P-256) and ``rsa.pem`` (RSA-2048), with keys.  Made once into bench/results/tls-pki."""
    PKI_DIR.mkdir(parents=True, exist_ok=True)
    if all((PKI_DIR / f).exists() for f in ("ca.pem", "ec.pem", "rsa.pem")):
        return PKI_DIR
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=bench CA")
    (PKI_DIR / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, algo in (("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                       ("rsa", ["-newkey", "rsa:2048"])):
        _openssl("req", *algo, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", "/CN=localhost")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "3650", "-extfile", "ext")
    return PKI_DIR


def kernel_tls_available():
    """Whether this kernel offers the ``tls`` upper-layer protocol (kernel TLS)."""
    with socket.socket() as ls, socket.socket() as c:
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        c.connect(ls.getsockname())
        conn, _ = ls.accept()
        with conn:
            try:
                c.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"tls")
                return True
            except OSError:
                return False


# ---- runs ------------------------------------------------------------------------------------
def _start_peer(m, cpu, binaries, pki):
    argv = ["taskset", "-c", str(cpu), str(binaries["tls_peer"]), m.peer_mode,
            str(pki / f"{m.cert}.pem"), str(pki / f"{m.cert}.key")]
    peer = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([peer.stdout], [], [], 10)
    line = peer.stdout.readline() if ready else ""
    if not line.startswith("PORT "):
        peer.kill()
        _, err = peer.communicate()
        raise BenchError(f"tls_peer {m.peer_mode} did not start (said {line!r}): {err.strip()}")
    return peer, int(line.split()[1])


def run_once(m, v, *, cpu, seconds, warmup, python, binaries, pki, wrapper=()):
    """One measurement of one variant: a fresh peer and client pinned to ``cpu``; the client's
    JSON result.  ``wrapper``: an argv prefix of the client (valgrind).  Both processes are gone
    when this returns or raises BenchError."""
    peer, port = _start_peer(m, cpu, binaries, pki)
    client = ([str(binaries["tls_client"])] if v.script is None
              else [python, str(VARIANTS_DIR / v.script)])
    argv = (["taskset", "-c", str(cpu)] + list(wrapper) + client +
            [m.client_measure, str(port), repr(seconds), repr(warmup), str(m.batch),
             str(pki / "ca.pem")] + ([] if v.script is None else
                                     ["ktls" if v.ktls else "noktls"]))
    what = f"{v.label} / {m.title}"
    try:
        env = dict(os.environ, KILN_BENCH_PEER_PID=str(peer.pid))
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=env,
                                  timeout=seconds + warmup + (600 if wrapper else 60))
        except subprocess.TimeoutExpired:
            raise BenchError(f"{what}: the client hung") from None
        if done.returncode != 0:
            raise BenchError(f"{what}: client failed (exit {done.returncode}):\n"
                             f"{done.stderr.strip()}")
    finally:
        if m.peer_mode == "handshakes" or peer.poll() is None:
            time.sleep(0.05)
            peer.terminate()
        try:
            peer.wait(10)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()
        peer.communicate()
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["ops"] > 0 and result["seconds"] > 0 and result["client_cpu_seconds"] > 0
    except (IndexError, ValueError, KeyError, AssertionError):
        raise BenchError(f"{what}: client printed {done.stdout!r}") from None
    return result


CLOCKS = {"wall": "seconds", "client-cpu": "client_cpu_seconds", "cpu": "cpu_seconds"}


def run_all(measurements, variants, *, reps, progress, **run_args):
    """``reps`` interleaved repetitions of every (measurement, variant) pair; returns
    ``({clock: {m: {v: [rate...]}}}, {(m, v): ktls of the last run})``."""
    samples = {c: {m.key: {v.key: [] for v in variants} for m in measurements} for c in CLOCKS}
    ktls = {}
    for rep in range(reps):
        for m in measurements:
            shift = rep % len(variants)
            for v in variants[shift:] + variants[:shift]:
                result = run_once(m, v, **run_args)
                for clock, field in CLOCKS.items():
                    samples[clock][m.key][v.key].append(result["ops"] / result[field] * m.scale)
                ktls[(m.key, v.key)] = result.get("ktls")
                if progress:
                    progress(f"rep {rep + 1}/{reps} {m.title:<26} {v.label:<20} "
                             f"{samples['wall'][m.key][v.key][-1]:10,.1f} {m.unit} "
                             f"(per client CPU-s {samples['client-cpu'][m.key][v.key][-1]:10,.1f})")
    return samples, ktls


def instructions_per_op(measurements, variants, *, progress, **run_args):
    """User-space instructions per operation of each client (callgrind; see the docstring):
    ``{m: {v: Ir per op}}``.  Each client runs with no warm-up, so it executes one batch
    unmeasured plus what it reports; two runs (1 s and 3 s under callgrind) are subtracted."""
    if shutil.which("valgrind") is None:
        raise BenchError("valgrind not found (apt install valgrind)")
    import tempfile
    found = {m.key: {} for m in measurements}
    with tempfile.TemporaryDirectory(prefix="tls-bench-cg-") as tmp:
        for m in measurements:
            for v in variants:
                points = []
                for seconds in (1.0, 3.0):
                    out = Path(tmp) / f"{m.key}-{v.key}-{seconds}.out"
                    result = run_once(m, v, seconds=seconds, warmup=0.0,
                                      wrapper=("valgrind", "--tool=callgrind", "--quiet",
                                               f"--callgrind-out-file={out}"), **run_args)
                    per_batch = m.batch * (65536 if m.client_measure != "handshake" else 1)
                    points.append((result["ops"] + per_batch, _total_ir(out)))
                (ops1, ir1), (ops2, ir2) = points
                if ops2 <= ops1:
                    raise BenchError(f"{v.label} / {m.title}: no more operations in the longer "
                                     f"callgrind run ({ops1} vs {ops2})")
                per_op = (ir2 - ir1) / (ops2 - ops1) * (65536 if m.unit == "MiB/s" else 1)
                found[m.key][v.key] = per_op
                if progress:
                    progress(f"{m.title:<26} {v.label:<20} {per_op:14,.0f} instructions per "
                             f"{'64 KiB' if m.unit == 'MiB/s' else 'handshake'}")
    return found


def _total_ir(callgrind_out):
    for line in Path(callgrind_out).read_text().splitlines():
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise BenchError(f"no totals in {callgrind_out}")


def format_instructions(measurements, variants, found):
    lines = ["User-space instructions per operation (callgrind; lower is better) and ratio "
             "C / variant (an efficiency ratio, > 1: fewer instructions than C):", "",
             "| measurement | " + " | ".join(v.label for v in variants) + " |",
             "|" + "---|" * (len(variants) + 1)]
    for m in measurements:
        c = found[m.key]["c"]
        cells = [f"{found[m.key][v.key]:,.0f}" + ("" if v.key == "c" else
                                                 f" **{c / found[m.key][v.key]:.3f}**")
                 for v in variants]
        what = "per 64 KiB" if m.unit == "MiB/s" else "per handshake"
        lines.append(f"| {m.title} ({what}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- report ----------------------------------------------------------------------------------
def format_table(measurements, variants, samples, clock):
    """A Markdown table of medians (± half-range in %) and ratios to C for ``clock``."""
    head = "| measurement | " + " | ".join(v.label for v in variants) + " | goal |"
    per = {"wall": "elapsed second", "client-cpu": "CPU second of the client",
           "cpu": "CPU second of client + server"}[clock]
    lines = [f"Rates per {per} ({clock}); median (±half-range %) and ratio to C OpenSSL:", "",
             head, "|" + "---|" * (len(variants) + 2)]
    for m in measurements:
        c_median = statistics.median(samples[clock][m.key]["c"])
        cells = []
        for v in variants:
            values = samples[clock][m.key][v.key]
            med = statistics.median(values)
            spread = (max(values) - min(values)) / med / 2 * 100
            ratio = "" if v.key == "c" else f" **{med / c_median:.2f}**"
            cells.append(f"{med:,.0f} ±{spread:.0f}%{ratio}")
        lines.append(f"| {m.title} ({m.unit}) | " + " | ".join(cells) + f" | ≥ {m.target} of C |")
    return "\n".join(lines)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    p.add_argument("--seconds", type=float, default=1.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=0.2, help="unmeasured seconds per run")
    p.add_argument("--only", help="measurements: hs, bulk, or keys (hs.ecdsa,bulk.recv...)")
    p.add_argument("--variants", help="clients (default all: c,kiln,kiln-noktls,zerynth,cpython)")
    p.add_argument("--cpu", type=int, default=0, help="CPU client and server are pinned to")
    p.add_argument("--python", default=sys.executable, help="interpreter of the Python clients")
    p.add_argument("--json", type=Path, help="also write every sample to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no per-run progress lines")
    p.add_argument("--instructions", action="store_true",
                   help="count user-space instructions per operation with callgrind instead")
    args = p.parse_args(argv)
    if args.reps < 1 or args.seconds <= 0 or args.warmup < 0:
        p.error("need --reps >= 1, --seconds > 0, --warmup >= 0")
    return args


def _select(items, spec):
    if spec is None:
        return tuple(items)
    wanted = [w.strip() for w in spec.split(",") if w.strip()]
    chosen = tuple(i for i in items if i.key in wanted or i.key.split(".")[0] in wanted)
    if not chosen:
        raise BenchError(f"nothing selected by {spec!r}; keys: {', '.join(i.key for i in items)}")
    return chosen


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    command = " ".join(["bench/tls_bench.py"] + (sys.argv[1:] if argv is None else list(argv)))
    try:
        if shutil.which("taskset") is None or shutil.which("openssl") is None:
            raise BenchError("taskset and openssl are needed (requirements/apt.txt)")
        measurements = _select(MEASUREMENTS, args.only)
        variants = _select(VARIANTS, args.variants)
        if variants[0].key != "c":
            variants = (VARIANTS[0],) + variants
        binaries = build_c_programs()
        pki = make_pki()
        ktls_kernel = kernel_tls_available()
        load_start = os.getloadavg()[0]
        progress = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
        if args.instructions:
            found = instructions_per_op(measurements, variants, progress=progress, cpu=args.cpu,
                                        python=args.python, binaries=binaries, pki=pki)
            print(f"# TLS benchmark: {command}")
            print(format_instructions(measurements, variants, found))
            if args.json is not None:
                args.json.write_text(json.dumps({"command": command, "instructions": found},
                                                indent=1))
            return 0
        samples, ktls = run_all(measurements, variants, reps=args.reps, progress=progress,
                                cpu=args.cpu, seconds=args.seconds, warmup=args.warmup,
                                python=args.python, binaries=binaries, pki=pki)
    except BenchError as exc:
        print(f"tls_bench: {exc}", file=sys.stderr)
        return 1
    from kiln.net import tls
    print(f"# TLS benchmark: {command}")
    print(f"host {platform.machine()}, {os.cpu_count()} CPUs, kernel {platform.release()}; "
          f"{tls.OPENSSL_VERSION_TEXT}; Python {platform.python_version()}; client and server "
          f"pinned to CPU {args.cpu}; {args.reps} reps x {args.seconds} s; load "
          f"{load_start:.1f} -> {os.getloadavg()[0]:.1f}")
    offload = sorted({f"{v}: {tuple(k) if k else '-'}" for (m, v), k in ktls.items()
                      if m.startswith("bulk")})
    kernel = "available" if ktls_kernel else ("NOT available on this kernel (no tls ULP): kTLS "
                                              "on falls back to OpenSSL, kTLS on = off")
    print(f"kernel TLS: {kernel}; (send, receive) offload seen in bulk runs: "
          f"{'; '.join(offload) or 'n/a'}")
    for clock in ("wall", "client-cpu"):
        print()
        print(format_table(measurements, variants, samples, clock))
    if args.json is not None:
        args.json.write_text(json.dumps({"command": command, "samples": samples,
                                         "kernel_tls": ktls_kernel,
                                         "ktls": {f"{m}/{v}": k for (m, v), k in ktls.items()}},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
