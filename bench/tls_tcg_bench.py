#!/usr/bin/env python3
"""TLS under TCG: bench/tls_bench.py's handshake and bulk measurements on an emulated board,
so the ratios of Kiln's TLS (kTLS on and off) and CPython's ``ssl`` to OpenSSL from C can be
read for the board's CPU as QEMU emulates it (issue 19: "the same ratio under TCG for one
board").

The host cross-builds bench/c/tls_peer.c and tls_client.c with the board's cross compiler
against the target's ``libssl-dev`` (the image builder's package cache), puts them, the Python
client variants (bench/variants/tls_*.py) and tls_bench's test PKI into an app
(bench/tls_tcg_app/), builds the board's image with it and boots it once under QEMU.  On the
guest, each run is a fresh C peer and a fresh client over the guest's loopback; repetitions
interleave the variants.  Numbers are guest time under TCG: compare variants within the run.

Usage: .venv/bin/python bench/tls_tcg_bench.py [--board qemu-aarch64] [--reps 3]
                                               [--seconds 2] [--variants c,kiln,...]
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "sdk"))
sys.path.insert(0, str(REPO / "bench"))

import tls_bench  # noqa: E402
from kiln import boards  # noqa: E402
from kiln.host import image  # noqa: E402
from kiln.host.image.layout import out_root  # noqa: E402
from kiln.host.runner import boot  # noqa: E402
from kiln.host.runner.netlab import NetLab  # noqa: E402

APP = REPO / "bench" / "tls_tcg_app"
VARIANT_FILES = ("tls_harness.py", "tls_kiln_micropython.py", "tls_cpython.py")
LINE_RE = re.compile(r"BENCH (\S+) (\S+) (\{.*\})")
LABELS = {"c": "C OpenSSL", "kiln": "Kiln tls (kTLS on)", "kiln-noktls": "Kiln tls (kTLS off)",
          "cpython": "CPython ssl"}


def cross_build(board, work: Path) -> Path:
    """``work/bin`` with tls_peer and tls_client built for ``board`` against the target's
    OpenSSL (``libssl-dev`` and ``libssl3`` from the image builder's package cache)."""
    debs = out_root() / "cache" / "debs" / board.debian_arch
    sysroot = work / "sysroot"
    for package in ("libssl-dev", "libssl3"):
        found = sorted(debs.glob(f"{package}_*_{board.debian_arch}.deb"))
        if not found:
            raise SystemExit(f"{package} for {board.debian_arch} is not in {debs}: build a "
                             f"TLS image of {board.name} first (kiln build --board "
                             f"{board.name} --with tls)")
        subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(sysroot)], check=True)
    t = board.triplet
    libdir = sysroot / "usr" / "lib" / t
    bin_dir = work / "bin"
    bin_dir.mkdir()
    for name in ("tls_peer", "tls_client"):
        subprocess.run([board.cross_cc, "-O2", "-Wall", "-Wextra", "-Werror",
                        f"-I{sysroot}/usr/include", f"-I{sysroot}/usr/include/{t}",
                        "-o", str(bin_dir / name), str(tls_bench.C_SOURCES / f"{name}.c"),
                        f"-L{libdir}", f"-Wl,-rpath-link,{libdir}", "-lssl", "-lcrypto"],
                       check=True)
    return bin_dir


def run(board_name: str, reps: int, seconds: float, variants: str, only: str) -> list:
    """One boot of ``board_name`` running the measurements; ``(measure, variant, result)``."""
    board = boards.load(board_name)
    with tempfile.TemporaryDirectory(prefix="tls-tcg-") as tmp:
        work = Path(tmp)
        app = work / "app"
        shutil.copytree(APP, app)
        shutil.copytree(cross_build(board, work), app / "bin")
        (app / "variants").mkdir()
        for name in VARIANT_FILES:
            shutil.copy(tls_bench.VARIANTS_DIR / name, app / "variants" / name)
        pki = tls_bench.make_pki()
        (app / "pki").mkdir()
        for name in ("ca.pem", "ec.pem", "ec.key", "rsa.pem", "rsa.key"):
            shutil.copy(pki / name, app / "pki" / name)
        artifacts = image.ensure(board, app=app, out_dir=REPO / "out" / "bench" /
                                 f"{board_name}-tls-tcg", progress=False)
        img = boot.from_artifacts(artifacts, board, work / "boot")
        results = []

        def on_line(_t: float, line: str) -> bool:
            m = LINE_RE.search(line)
            if m:
                results.append((m.group(1), m.group(2), json.loads(m.group(3))))
            elif "BENCH-INFO" in line:
                print(line.strip().replace("BENCH-INFO", "guest:"), flush=True)
            return "BENCH done" in line

        with NetLab() as lab:
            outcome, _ = boot.boot(board, img, lab, static=False, timeout_s=7200,
                                   on_line=on_line,
                                   extra_cmdline=f"kiln.net=none kiln.api=cpython "
                                                 f"kiln.tlsbench_reps={reps} "
                                                 f"kiln.tlsbench_seconds={seconds} "
                                                 f"kiln.tlsbench_variants={variants} "
                                                 f"kiln.tlsbench_only={only}")
        if not any("BENCH done" in line for _, line in outcome.lines):
            raise SystemExit("the bench did not finish:\n" + boot.qemu_exit_hint(outcome))
        return results


def table(results) -> str:
    """Per measurement: each variant's median rate (wall and client CPU) and its ratio to C."""
    scale = {m.key: (m.scale, m.unit, m.target) for m in tls_bench.MEASUREMENTS}
    rows = ["| measurement | client | rate (median, wall) | vs C | per client CPU s | vs C |",
            "|---|---|---:|---:|---:|---:|"]
    for measure in dict.fromkeys(r[0] for r in results):
        factor, unit, _ = scale[measure]
        rates = {}
        for m, v, res in results:
            if m == measure:
                rates.setdefault(v, ([], []))
                rates[v][0].append(res["ops"] * factor / res["seconds"])
                rates[v][1].append(res["ops"] * factor / res["client_cpu_seconds"])
        med = {v: (statistics.median(w), statistics.median(c)) for v, (w, c) in rates.items()}
        c_wall, c_cpu = med.get("c", (None, None))
        for v, (w, c) in med.items():
            rows.append(f"| {measure} ({unit}) | {LABELS.get(v, v)} | {w:,.1f} | "
                        f"{w / c_wall if c_wall else float('nan'):.2f} | {c:,.1f} | "
                        f"{c / c_cpu if c_cpu else float('nan'):.2f} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--board", default="qemu-aarch64")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--variants", default="c,kiln,kiln-noktls,cpython")
    p.add_argument("--only", default="hs.ecdsa,hs.rsa,bulk.send,bulk.recv")
    p.add_argument("--json", help="also write every run's client result here")
    args = p.parse_args(argv)
    t0 = time.monotonic()
    results = run(args.board, args.reps, args.seconds, args.variants, args.only)
    print(table(results))
    ktls = {v: sorted({json.dumps(r[2].get("ktls")) for r in results if r[1] == v})
            for v in dict.fromkeys(r[1] for r in results)}
    print(f"(one boot of {args.board}, {args.reps} repetitions of {args.seconds:g} s each, "
          f"{time.monotonic() - t0:.0f} s; kTLS as each client reported it: {ktls})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
