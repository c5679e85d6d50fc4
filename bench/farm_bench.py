#!/usr/bin/env python3
"""Board farm benchmark: the same system tests locally, through one farm place, through two.

Runs the Ethernet system tests of one board (``tests/system/test_system_qemu.py -k <board>``)

  local     one pytest process, the local QEMU place (envs/qemu.yaml, today's default)
  1 place   through a loopback ``kiln farm`` (labgrid-coordinator, board host, labgrid-exporter)
            with one place of the board: ``--lg-env envs/farm-qemu.yaml``, RemotePlace
  2 places  the same farm setup with two places of the board: one pytest process per place,
            each acquiring its own place, the tests dealt out between them

and reports, per configuration, the wall-clock time of the tests (first pytest process start to
last end: what a developer waits for; the farm's own start-up, ~10 s, is reported apart), the
whole ``kiln farm test`` time (acquire, collect, release included), and whether the outcome of
every test is the same as in the local run.  The tests' image is built (or reused) first; ``--rounds
N`` repeats the three configurations, interleaved (local, 1, 2, local, 1, 2, ...), and reports
medians.  The host's load average is recorded before
each run: QEMU's emulation is CPU-bound, so other people's work on the machine inflates every time.

Needs root.  Usage (from the repository root):
  .venv/bin/python bench/farm_bench.py [--board qemu-aarch64] [--rounds 1] [--json PATH]
Prints a Markdown table for docs/performance.md ("Board farm").
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sdk"))

from kiln.host.farm import testrun  # noqa: E402
from kiln.host.farm.farm import Farm  # noqa: E402


def load() -> float:
    return os.getloadavg()[0]


def warm_up(board_name: str) -> None:
    """Build (or reuse) the tests' image first, so that no configuration pays for a build."""
    sys.path.insert(0, str(ROOT / "tests" / "system"))
    from image_cache import locked
    from layout import APPS, image_dir

    from kiln import boards
    from kiln.host import image
    board = boards.load(board_name)
    with locked(image_dir(board)):
        image.ensure(board, app=APPS / "lab_checks.py", out_dir=image_dir(board), progress=True)


def run_local(args: list[str]) -> dict:
    """The tests in one pytest process on the local QEMU place."""
    with tempfile.TemporaryDirectory(prefix="kiln-bench-local-") as tmp:
        junit = Path(tmp) / "local.xml"
        env = {k: v for k, v in os.environ.items() if k not in ("KILN_LG_ENV", "LG_ENV")}
        before = load()
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *args, f"--junitxml={junit}", f"--basetemp={Path(tmp) / 't'}"],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.monotonic() - t0
        outcomes = testrun.read_junit(junit)
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-2000:], file=sys.stderr)
    return {"config": "local", "tests_s": wall, "wall_s": wall, "load_before": before,
            "outcomes": outcomes, "returncode": proc.returncode}


def run_farm(board: str, places: int, args: list[str]) -> dict:
    """The tests through a fresh loopback farm of ``places`` places."""
    before = load()
    t0 = time.monotonic()
    farm = Farm(board, places).start()
    startup = time.monotonic() - t0
    try:
        with open(os.devnull, "w") as quiet:
            result = testrun.run(farm.coordinator, farm.places, args, repo=ROOT, output=quiet)
    finally:
        farm.close()
    return {"config": f"{places} place" + ("s" if places > 1 else ""), "places": places,
            "tests_s": result.tests_s, "wall_s": result.wall_s, "farm_start_s": startup,
            "load_before": before, "outcomes": result.outcomes,
            "returncode": 0 if result.ok else 1, "shards": result.shards}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="qemu-aarch64")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repetitions of the farm configurations (interleaved)")
    parser.add_argument("--json", type=Path, help="also write every run as JSON there")
    opts = parser.parse_args()
    args = testrun.default_args(opts.board)

    warm_up(opts.board)
    runs = []
    for _ in range(opts.rounds):
        runs.append(run_local(args))
        print(f"local: {runs[-1]['tests_s']:.1f} s", flush=True)
        for places in (1, 2):
            runs.append(run_farm(opts.board, places, args))
            print(f"{runs[-1]['config']}: {runs[-1]['tests_s']:.1f} s", flush=True)

    reference = runs[0]["outcomes"]
    lines = ["| configuration | tests (wall clock) | whole `kiln farm test` | farm start-up | "
             "tests passed | same outcomes as local | load avg before |",
             "|---|---|---|---|---|---|---|"]
    for config in ("local", "1 place", "2 places"):
        mine = [r for r in runs if r["config"] == config]
        tests = statistics.median(r["tests_s"] for r in mine)
        whole = statistics.median(r["wall_s"] for r in mine)
        start = (f"{statistics.median(r['farm_start_s'] for r in mine):.1f} s"
                 if "farm_start_s" in mine[0] else "-")
        passed = "/".join(f"{sum(o == 'passed' for o in r['outcomes'].values())} of "
                          f"{len(r['outcomes'])}" for r in mine)
        same = all(r["outcomes"] == reference for r in mine)
        loads = "/".join(f"{r['load_before']:.1f}" for r in mine)
        lines.append(f"| {config} | **{tests:.1f} s** | "
                     f"{whole:.1f} s | {start} | {passed} | {'yes' if same else 'NO'} | "
                     f"{loads} |")
    one = statistics.median(r["tests_s"] for r in runs if r["config"] == "1 place")
    two = statistics.median(r["tests_s"] for r in runs if r["config"] == "2 places")
    print()
    print(f"Host: {platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; board {opts.board}; "
          f"{len(reference)} tests; rounds {opts.rounds}")
    print("\n".join(lines))
    print(f"\n2 places / 1 place: {two / one:.2f} of the wall-clock time")
    if opts.json:
        opts.json.write_text(json.dumps(runs, indent=2))
    ok = all(r["returncode"] == 0 and r["outcomes"] == reference for r in runs)
    return 0 if ok and reference else 1


if __name__ == "__main__":
    sys.exit(main())
