#!/usr/bin/env python3
"""One boot of a QEMU board's demo image, stopped at the app's first line -- a whole process
an outside timer can compare (A/B: ``--append`` kernel arguments against none, or two images
built beforehand with ``--image``, e.g. before and after a change).  Prints the seconds from
QEMU start to that line.  Needs root (network namespaces).

  .venv/bin/python bench/boot_once.py [--board qemu-aarch64] [--append "ARGS"] [--image DIR]

``--image DIR`` boots the image whose ``build.json`` is in DIR (``kiln image build --out DIR``)
instead of building or reusing the board's demo image in ``out/bench/<board>/``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sdk"))

from kiln import boards  # noqa: E402
from kiln.host import image  # noqa: E402
from kiln.host.image.artifacts import ImageArtifacts  # noqa: E402
from kiln.host.runner import boot  # noqa: E402
from kiln.host.runner.netlab import NetLab  # noqa: E402

APP_START = "KILN: app start"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--board", default="qemu-aarch64")
    p.add_argument("--append", default="", help="kernel arguments added to the image's")
    p.add_argument("--image", type=Path, help="directory of a built image (its build.json)")
    args = p.parse_args(argv)
    board = boards.load(args.board)
    out = ROOT / "out" / "bench" / args.board
    if args.image:
        built = ImageArtifacts.load(args.image / "build.json")
        work = args.image / "once-boot"
    else:
        built, work = image.ensure(board, out_dir=out, progress=False), out / "once-boot"
    img = boot.from_artifacts(built, board, work)
    seen = {}

    def on_line(t: float, line: str) -> bool:
        if "app" in seen:
            seen["first"] = t
            return True
        if APP_START in line:
            seen["app"] = t
        return False

    with NetLab() as lab:
        outcome, started = boot.boot(board, img, lab, static=False, timeout_s=120,
                                     on_line=on_line, extra_cmdline=args.append)
    if "first" not in seen:
        raise SystemExit("no app line:\n" + boot.qemu_exit_hint(outcome))
    print(f"first app line {seen['first'] - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
