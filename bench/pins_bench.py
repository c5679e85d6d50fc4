"""Pins and buses on an emulated board: Kiln's ``machine`` face against libgpiod v2's Python
bindings (PyPI ``gpiod``), ``smbus2`` and ``spidev`` (PyPI), the same guest, one run.

    .venv/bin/python bench/pins_bench.py [--board rpi3b] [-n 2000] [--edge-board qemu-aarch64]

The host downloads the three libraries' source distributions from PyPI (``pip download
--no-binary``), cross-compiles ``spidev`` and ``gpiod`` (with its vendored libgpiod) with the
board's cross compiler against the target's ``libpython3.11-dev`` (from the image builder's
package cache) into the bench app's ``lib/`` (``smbus2`` is pure Python), builds the board's
image with ``bench/pins_app/`` and boots it once under QEMU (``raspi3b``: BCM2835 GPIO 17, the
emulated TMP105 on i2c1, the N25Q128 on spi0).  Each library does the same operations: GPIO
toggles (two value writes), I2C register reads (a 1-byte write + 2-byte read, one combined
transaction), 7-byte full-duplex SPI transfers; then, on a second boot (``--edge-board``, a QEMU ``virt``
board), the latency from the kernel's timestamp of a rising edge on BTN0 (the host presses
QEMU's power button over QMP) to the program holding the event.  Numbers are operations per second of guest
time under TCG on this host -- relative between libraries, not a Raspberry Pi's speed.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "sdk"))

from kiln import boards  # noqa: E402
from kiln.host import image  # noqa: E402
from kiln.host.image.layout import out_root  # noqa: E402
from kiln.host.runner import boot, qemutool, qmp  # noqa: E402
from kiln.host.runner.netlab import NetLab  # noqa: E402

APP = REPO / "bench" / "pins_app"
DOCS = REPO / "docs" / "performance.md"
PACKAGES = {"gpiod": "gpiod==2.5.0", "smbus2": "smbus2==0.6.1", "spidev": "spidev==3.8"}
GPIOD_LIB = ["chip.c", "chip-info.c", "edge-event.c", "info-event.c", "internal.c",
             "line-config.c", "line-info.c", "line-request.c", "line-settings.c", "misc.c",
             "request-config.c"]
LINE_RE = re.compile(r"BENCH (\S+) (\S+) (\d+) ([\d.]+)")


def cross_libraries(board, work: Path) -> Path:
    """``work/lib`` holding gpiod, smbus2 and spidev for ``board`` (cross-built)."""
    src = work / "src"
    src.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--no-binary", ":all:", "-d", str(src), *PACKAGES.values()], check=True)
    for tarball in src.glob("*.tar.gz"):
        subprocess.run(["tar", "xzf", str(tarball), "-C", str(src)], check=True)
    debs = out_root() / "cache" / "debs" / board.debian_arch
    pydev_deb = sorted(debs.glob("libpython3.11-dev_*.deb"))[-1]   # cached by the image build
    pydev = work / "pydev"
    subprocess.run(["dpkg-deb", "-x", str(pydev_deb), str(pydev)], check=True)
    t = board.triplet
    flags = ["-shared", "-fPIC", "-O2", "-fwrapv", "-DNDEBUG",
             f"-I{pydev}/usr/include/python3.11", f"-I{pydev}/usr/include/{t}/python3.11",
             f"-I{pydev}/usr/include"]
    suffix = f".cpython-311-{t}.so"
    lib = work / "lib"
    (lib / "gpiod").mkdir(parents=True)
    spidev = next(p for p in src.glob("spidev-*") if p.is_dir())
    subprocess.run([board.cross_cc, *flags, str(spidev / "spidev_module.c"), "-o",
                    str(lib / f"spidev{suffix}")], check=True)
    gpiod = next(p for p in src.glob("gpiod-*") if p.is_dir())
    version = (gpiod / "libgpiod-version.txt").read_text().strip()
    subprocess.run([board.cross_cc, *flags, "-D_GNU_SOURCE=1",
                    f'-DGPIOD_API_VERSION_STR="{version}"', "-Iinclude", "-Ilib", "-Igpiod/ext",
                    *sorted(str(p.relative_to(gpiod)) for p in (gpiod / "gpiod/ext").glob("*.c")),
                    *(f"lib/{c}" for c in GPIOD_LIB), "-o",
                    str(lib / "gpiod" / f"_ext{suffix}")], check=True, cwd=gpiod)
    for py in (gpiod / "gpiod").glob("*.py"):
        shutil.copy(py, lib / "gpiod")
    shutil.copytree(next(p for p in src.glob("smbus2-*") if p.is_dir()) / "smbus2",
                    lib / "smbus2")
    return lib


def run(board_name: str, n: int, parts: str = "gpio,i2c,spi",
        gpio: str = "/dev/gpiochip0:17:D17") -> tuple[list, dict]:
    """One boot of ``board_name`` running ``parts``; returns the throughput results and the
    edge latencies (library -> microseconds)."""
    board = boards.load(board_name)
    qemutool.ensure(board)
    with tempfile.TemporaryDirectory(prefix="pins-bench-") as tmp:
        work = Path(tmp)
        app = work / "app"
        shutil.copytree(APP, app)
        shutil.copytree(cross_libraries(board, work / "cross"), app / "lib")
        artifacts = image.ensure(board, app=app, out_dir=REPO / "out" / "bench" /
                                 f"{board_name}-pins", progress=False)
        img = boot.from_artifacts(artifacts, board, work / "boot")
        results = []
        latencies: dict[str, list[int]] = {}
        qmp_socket = work / "qmp.sock"

        def on_line(_t: float, line: str) -> bool:
            m = LINE_RE.search(line)
            if m:
                results.append((m.group(1), m.group(2), int(m.group(3)), float(m.group(4))))
            m = re.search(r"BENCH edge_latency_us (\S+) ([\d,]+)", line)
            if m:
                latencies[m.group(1)] = [int(v) for v in m.group(2).split(",")]
            if "BENCH press" in line:          # the board's button: QEMU's power button
                time.sleep(0.2)
                qmp.command(qmp_socket, "system_powerdown")
            return "BENCH done" in line

        with NetLab() as lab:
            outcome, _ = boot.boot(board, img, lab, static=False, timeout_s=900,
                                   on_line=on_line, qmp_socket=qmp_socket,
                                   extra_cmdline=f"kiln.net=none kiln.api=micropython "
                                                 f"kiln.bench={parts} kiln.bench_n={n} "
                                                 f"kiln.bench_gpio={gpio}")
        if not outcome.lines or not any("BENCH done" in line for _, line in outcome.lines):
            raise SystemExit("the bench did not finish:\n" + "\n".join(
                line for _, line in outcome.lines if "BENCH" in line) + "\n" +
                boot.qemu_exit_hint(outcome))
        return results, latencies


def table(results, board_name: str, n: int) -> str:
    """Markdown rows: per operation and library, the median of its rounds' rates (and the
    rounds), relative to Kiln's ``machine`` face."""
    rates: dict[tuple[str, str], list[float]] = {}
    for what, lib, ops, s in results:
        rates.setdefault((what, lib), []).append(ops / s)
    median = {key: sorted(v)[len(v) // 2] for key, v in rates.items()}
    rows = ["| operation | library | ops/s (median) | rounds | vs Kiln |",
            "|---|---|---:|---|---:|"]
    for (what, lib), values in rates.items():
        rounds = ", ".join(f"{v:,.0f}" for v in values)
        rows.append(f"| {what} | {lib} | {median[(what, lib)]:,.0f} | {rounds} | "
                    f"{median[(what, lib)] / median[(what, 'kiln')]:.2f}x |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--board", default="rpi3b")
    p.add_argument("-n", type=int, default=2000)
    p.add_argument("--edge-board", default="qemu-aarch64",
                   help="board whose power button gives the edges (a second boot; '' skips)")
    args = p.parse_args(argv)
    t0 = time.monotonic()
    results, _ = run(args.board, args.n)
    print(table(results, args.board, args.n))
    print(f"(one boot of {args.board}, {args.n} operations each, {time.monotonic() - t0:.0f} s)")
    if args.edge_board:
        t0 = time.monotonic()
        _, latencies = run(args.edge_board, args.n, "edge", "/dev/gpiochip0:3:BTN0")
        print("| library | edge -> program, median us | min | max | presses |")
        print("|---|---:|---:|---:|---:|")
        for lib, values in latencies.items():
            values = sorted(values)
            print(f"| {lib} | {values[len(values) // 2]} | {values[0]} | {values[-1]} | "
                  f"{len(values)} |")
        print(f"(one boot of {args.edge_board}, {time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
