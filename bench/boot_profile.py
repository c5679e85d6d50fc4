#!/usr/bin/env python3
"""Where a QEMU board's boot goes, stage by stage (issue 16: "profile before changing").

One boot of the board's demo image (``out/bench/<board>``, built or reused as
bench/boot_bench.py does) with the kernel's ``initcall_debug`` and CPython's
``PYTHONPROFILEIMPORTTIME=1`` on the command line (the kernel hands unknown ``KEY=value``
arguments to init as environment variables, which the init passes on to the launcher), and a
host clock on every console line.  Reported:

  stages    seconds from QEMU start to the kernel's ``Run /init``, the init's ``KILN: board``
            (before modules), ``KILN: net`` (modules loaded, network up), ``KILN: app start``,
            the app's first line
  initcalls the kernel's slowest initcalls (built-in and module ``init`` functions), from
            ``initcall_debug``'s "returned ... after N usecs"
  imports   the launcher's slowest imports up to the app's first line (cumulative
            microseconds of ``-X importtime``), top-level packages

The instrumentation itself costs time (the console prints every initcall and import), so the
stage times here are longer than bench/boot_bench.py's; the breakdown is what to read.

Needs root (network namespaces).  Usage:
  .venv/bin/python bench/boot_profile.py [--board qemu-aarch64] [--top 12]
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sdk"))

from kiln import boards  # noqa: E402
from kiln.host import image  # noqa: E402
from kiln.host.runner import boot  # noqa: E402
from kiln.host.runner.netlab import NetLab  # noqa: E402

OUT = ROOT / "out" / "bench"
INITCALL_RE = re.compile(r"initcall (\S+?)(?:\+0x\S+)?(?: \[(\S+)\])? returned -?\d+ after "
                         r"(\d+) usecs")
IMPORT_RE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")
STAGES = (("kernel: Run /init", "Run /init as init process"),
          ("init: KILN: board", "KILN: board"),
          ("launcher: KILN: net", "KILN: net"),
          ("launcher: KILN: app start", "KILN: app start"))


def profile(board_name: str) -> tuple[dict, list, list, str]:
    """One instrumented boot: (stage -> seconds, initcalls, imports, the app's first line)."""
    board = boards.load(board_name)
    artifacts = image.ensure(board, out_dir=OUT / board_name, progress=False)
    img = boot.from_artifacts(artifacts, board, OUT / board_name / "profile-boot")
    stages: dict[str, float] = {}
    initcalls: list[tuple[int, str]] = []
    imports: list[tuple[int, int, str]] = []
    first: list[str] = []

    def on_line(t: float, line: str) -> bool:
        for name, marker in STAGES:
            if marker in line and name not in stages:
                stages[name] = t
        m = INITCALL_RE.search(line)
        if m:
            initcalls.append((int(m.group(3)), m.group(2) or m.group(1)))
        m = IMPORT_RE.search(line)
        if m:
            depth = len(m.group(3)) // 2
            imports.append((int(m.group(2)), depth, m.group(4)))
            return False
        if "launcher: KILN: app start" in stages and "KILN: app start" not in line \
                and not line.startswith("[") and line.strip():
            stages["app: first line"] = t
            first.append(line.strip())
            return True
        return False

    with NetLab() as lab:
        outcome, started = boot.boot(board, img, lab, static=False, timeout_s=300,
                                     on_line=on_line,
                                     extra_cmdline="initcall_debug loglevel=8 "
                                                   "PYTHONPROFILEIMPORTTIME=1")
    if "app: first line" not in stages:
        raise SystemExit("the app did not start:\n" + boot.qemu_exit_hint(outcome))
    return ({k: v - started for k, v in stages.items()}, sorted(initcalls, reverse=True),
            imports, first[0])


def report(board_name: str, top: int) -> str:
    stages, initcalls, imports, first = profile(board_name)
    out = [f"One instrumented boot of {board_name} (DHCP; the app's first line: {first!r}).", "",
           "| stage reached | s from QEMU start | since the previous |", "|---|---:|---:|"]
    previous = 0.0
    for name, t in sorted(stages.items(), key=lambda kv: kv[1]):
        out.append(f"| {name} | {t:.2f} | {t - previous:.2f} |")
        previous = t
    total_us = sum(us for us, _ in initcalls)
    out += ["", f"Slowest initcalls (of {len(initcalls)}, {total_us / 1e6:.2f} s in all):", "",
            "| initcall (module) | ms |", "|---|---:|"]
    out += [f"| {name} | {us / 1000:.1f} |" for us, name in initcalls[:top]]
    top_level = sorted(((us, name) for us, depth, name in imports if depth == 0), reverse=True)
    total = sum(us for us, _ in top_level)
    out += ["", f"Slowest top-level imports before the app's first line ({total / 1e6:.2f} s "
                f"cumulative, {len(imports)} modules):", "",
            "| module | cumulative ms |", "|---|---:|"]
    out += [f"| {name} | {us / 1000:.1f} |" for us, name in top_level[:top]]
    # What the slowest top-level imports spend their time on: their own imports, one level down
    # (-X importtime prints children before their parent, indented one step more).
    out += ["", "Inside the five slowest (their direct imports over 10 ms):", ""]
    for us, name in top_level[:5]:
        at = next(i for i, (u, d, n) in enumerate(imports) if d == 0 and n == name and u == us)
        children = []
        for u, d, n in reversed(imports[:at]):
            if d == 0:
                break
            if d == 1 and u >= 10_000:
                children.append(f"{n} {u / 1000:.0f}")
        out.append(f"- {name} ({us / 1000:.0f} ms): {', '.join(children) or '(its own code)'}")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--board", default="qemu-aarch64")
    p.add_argument("--top", type=int, default=12)
    args = p.parse_args(argv)
    print(report(args.board, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
