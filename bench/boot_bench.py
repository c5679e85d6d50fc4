#!/usr/bin/env python3
"""Boot benchmark: image sizes and seconds from QEMU start to the app's first line of output.

For each QEMU board: the image (demo app, built or reused in ``out/bench/<board>``) sizes --
compressed initramfs, uncompressed initramfs, kernel -- and, for a static address and for DHCP,
the median (and min/max) over N boots of:

  init    seconds from starting QEMU to the guest init's ``KILN: app start`` line
  app     seconds from starting QEMU to the first line the app prints (the line after it)
  cpu     CPU seconds (user + system, all threads) QEMU had used when that first app line
          arrived: emulation is CPU-bound, so on a busy host this stays close to the boot time
          an idle host would see, while the wall-clock times above grow with the load

Each boot gets a fresh network lab (namespace, tap, dnsmasq) set up before QEMU starts, so lab
setup is not counted; QEMU is stopped as soon as the app's first line arrives.  With
``--clean-build`` the image is also built once from scratch into a temporary directory (the
Debian package cache stays warm) and that build is timed.  With ``--compare-compression`` the
same initramfs is also repacked without compression and with gzip, lz4 and zstd, and booted
with a static address (N boots each) to show what decompression costs under emulation.

Needs root (network namespaces).  Usage:
  .venv/bin/python bench/boot_bench.py [--boards qemu-aarch64,qemu-arm] [--boots 5]
                                       [--clean-build] [--compare-compression] [--update-docs]
``--update-docs`` rewrites the ``## Images and boot`` section of docs/performance.md (and
nothing else in that file) with the table and the command line.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sdk"))

from kiln import boards  # noqa: E402
from kiln.host import image  # noqa: E402
from kiln.host.runner import boot, preflight  # noqa: E402
from kiln.host.runner.netlab import NetLab  # noqa: E402

DOCS = ROOT / "docs" / "performance.md"
SECTION = "## Images and boot"
OUT = ROOT / "out" / "bench"
APP_START = "KILN: app start"
BOOT_TIMEOUT_S = 120.0
TARGETS = {  # issue #3: qemu-aarch64 boot targets and image size target
    "static": 3.0, "dhcp": 4.0, "initrd_mb": 8.0, "clean_build_s": 120.0,
}


@dataclass
class BootTimes:
    """Seconds from QEMU start to the init's app-start line and to the app's first line, and
    QEMU's CPU seconds at the app's first line."""

    init: list[float] = field(default_factory=list)
    app: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


@dataclass
class BoardResult:
    board: str
    initrd_bytes: int
    initrd_uncompressed_bytes: int
    kernel_bytes: int
    compression: str
    clean_build_s: float | None
    times: dict[str, BootTimes]
    loads: list[float]  # 1-minute load average sampled before each boot
    # initramfs repacking -> (bytes, static boots); empty unless --compare-compression
    repacked: dict[str, tuple[int, BootTimes]] = field(default_factory=dict)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_boot(board, img: boot.BootImage, static: bool) -> tuple[float, float, float]:
    """One boot in a fresh lab; returns (seconds to ``KILN: app start``, to the app's first
    line, QEMU CPU seconds at that line).  Raises RuntimeError with the console tail if the
    app prints nothing in time."""
    marks: dict[str, float] = {}
    qemu: list[int] = []

    def on_line(t: float, line: str) -> bool:
        if APP_START in line:
            marks["init"] = t
            return False
        if "init" in marks and line.strip():
            marks["app"] = t
            marks["cpu"] = cpu_seconds(qemu[0])
            return True  # stop: QEMU is killed right away
        return False

    with NetLab() as lab:
        outcome, started = boot.boot(board, img, lab, static=static, timeout_s=BOOT_TIMEOUT_S,
                                     on_line=on_line, on_spawn=lambda p: qemu.append(p.pid))
    if "app" not in marks:
        raise RuntimeError(f"{board.name}: no app output within {BOOT_TIMEOUT_S} s; console:\n"
                           + boot.qemu_exit_hint(outcome))
    return marks["init"] - started, marks["app"] - started, marks["cpu"]


def clean_build_seconds(board) -> float:
    """Wall seconds of a from-scratch build of ``board``'s demo image from a warm package cache.

    The build gets an empty output root (``$KILN_OUT``) that shares only the Debian package
    index and downloaded packages of ``out/``: the kernel extraction and Kiln's cross build
    are redone, not taken from ``out/cache``.
    """
    shared = ROOT / "out"
    with tempfile.TemporaryDirectory(prefix=f"kiln-bench-{board.name}-") as tmp:
        root = Path(tmp)
        (root / "cache").mkdir()
        for rel in ("apt", "cache/debs"):
            if (shared / rel).is_dir():
                (root / rel).symlink_to(shared / rel)
        previous = os.environ.get("KILN_OUT")
        os.environ["KILN_OUT"] = str(root)
        try:
            start = time.monotonic()
            image.build(board, app=None, out_dir=root / board.name, progress=False)
            return time.monotonic() - start
        finally:
            if previous is None:
                del os.environ["KILN_OUT"]
            else:
                os.environ["KILN_OUT"] = previous


# Repacking commands: name -> (argv reading the cpio on stdin, writing the result on stdout).
# lz4 needs the legacy frame format (-l) that the kernel's unpacker understands.
REPACK = {
    "none": None,
    "gzip": ["gzip", "-6", "-c"],
    "lz4": ["lz4", "-l", "-9", "-c"],
    "zstd": ["zstd", "-19", "-q", "-c"],
}
UNPACK = {"zstd": ["zstd", "-d", "-c"], "xz": ["xz", "-d", "-c"], "gzip": ["gzip", "-d", "-c"]}


def compression_variants(initrd: Path, compression: str, workdir: Path) -> dict[str, Path]:
    """The initramfs ``initrd`` (compressed with ``compression``) repacked as each of
    :data:`REPACK` in ``workdir``.  Raises FileNotFoundError naming a missing packer."""
    for argv in [UNPACK[compression], *filter(None, REPACK.values())]:
        if shutil.which(argv[0]) is None:
            raise FileNotFoundError(f"{argv[0]} not found: apt-get install {argv[0]}")
    raw = workdir / "initramfs.cpio"
    with open(initrd, "rb") as src, open(raw, "wb") as dst:
        subprocess.run(UNPACK[compression], stdin=src, stdout=dst, check=True)
    variants = {"none": raw}
    for name, argv in REPACK.items():
        if argv is None:
            continue
        out = workdir / f"initramfs.cpio.{name}"
        with open(raw, "rb") as src, open(out, "wb") as dst:
            subprocess.run(argv, stdin=src, stdout=dst, check=True)
        variants[name] = out
    return variants


def bench_compression(board, img: boot.BootImage, compression: str, boots: int
                      ) -> dict[str, tuple[int, BootTimes]]:
    """Static-address boots of ``img`` with its initramfs repacked each way (interleaved)."""
    results: dict[str, tuple[int, BootTimes]] = {}
    with tempfile.TemporaryDirectory(prefix=f"kiln-bench-{board.name}-initrd-") as tmp:
        variants = compression_variants(img.initrd, compression, Path(tmp))
        for name, path in variants.items():
            results[name] = (path.stat().st_size, BootTimes())
        for i in range(boots):
            for name, path in variants.items():
                init_s, app_s, cpu_s = measure_boot(
                    board, dataclasses.replace(img, initrd=path), static=True)
                times = results[name][1]
                times.init.append(init_s)
                times.app.append(app_s)
                times.cpu.append(cpu_s)
                print(f"  {board.name} boot {i + 1}/{boots} initramfs {name:5s} app "
                      f"{app_s:5.2f} s  QEMU CPU {cpu_s:5.2f} s", file=sys.stderr, flush=True)
    return results


def bench_board(name: str, boots: int, clean_build: bool, compare_compression: bool = False
                ) -> BoardResult:
    """All measurements of one board (see the module docstring)."""
    board = boards.load(name)
    preflight.check_run(board)
    built_s = clean_build_seconds(board) if clean_build else None
    if board.qemu.min_version:
        from kiln.host.runner import qemutool
        qemutool.ensure(board)                  # raspi4b: the private newer QEMU
    artifacts = image.ensure(board, app=None, out_dir=OUT / name, progress=False)
    # SD-card boards (raspi machines) boot what the card's boot partition holds.
    img = boot.from_artifacts(artifacts, board, OUT / name / "bench-boot")
    if artifacts.sdcard:
        print(f"  {name}: sdcard.img {artifacts.image_bytes / 2**20:.0f} MiB, "
              f"{artifacts.mapped_bytes / 1e6:.1f} MB mapped (bmap)", file=sys.stderr, flush=True)
    times = {"static": BootTimes(), "dhcp": BootTimes()}
    loads = []
    for i in range(boots):
        for mode in ("static", "dhcp"):  # interleaved, so drift hits both modes alike
            loads.append(os.getloadavg()[0])
            init_s, app_s, cpu_s = measure_boot(board, img, static=(mode == "static"))
            times[mode].init.append(init_s)
            times[mode].app.append(app_s)
            times[mode].cpu.append(cpu_s)
            print(f"  {name} boot {i + 1}/{boots} {mode:6s} init {init_s:5.2f} s  "
                  f"app {app_s:5.2f} s  QEMU CPU {cpu_s:5.2f} s", file=sys.stderr, flush=True)
    result = BoardResult(name, artifacts.initrd_bytes, artifacts.initrd_uncompressed_bytes,
                         artifacts.kernel_bytes, artifacts.compression, built_s, times, loads)
    if compare_compression:
        result.repacked = bench_compression(board, img, artifacts.compression, boots)
    return result


def _stat(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def table(results: list[BoardResult], boots: int) -> str:
    """The results as a Markdown table (medians, min-max in parentheses)."""
    mb = 1e6
    lines = [
        "| board | initramfs | unpacked | kernel | clean build |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        build = f"{r.clean_build_s:.0f} s" if r.clean_build_s is not None else "not measured"
        lines.append(
            f"| {r.board} | {r.initrd_bytes / mb:.2f} MB ({r.compression}) "
            f"| {r.initrd_uncompressed_bytes / mb:.1f} MB | {r.kernel_bytes / mb:.1f} MB "
            f"| {build} |")
    lines += ["", "| board | network | init | **app (first line)** | QEMU CPU at first line |",
              "|---|---|---|---|---|"]
    for r in results:
        for mode, label in (("static", "static"), ("dhcp", "DHCP")):
            t = r.times[mode]
            lines.append(f"| {r.board} | {label} | {_stat(t.init)} s | **{_stat(t.app)} s** "
                         f"| {_stat(t.cpu)} s |")
    if any(r.repacked for r in results):
        lines += ["", "Same image, initramfs repacked (static address):", "",
                  "| board | initramfs | size | **app (first line)** | QEMU CPU at first line |",
                  "|---|---|---|---|---|"]
        for r in results:
            for name, (size, t) in r.repacked.items():
                lines.append(f"| {r.board} | {name} | {size / mb:.2f} MB | **{_stat(t.app)} s** "
                             f"| {_stat(t.cpu)} s |")
    lines.append("")
    lines.append(f"Seconds from QEMU start; median of {boots} boots per cell, (min-max). "
                 "*init*: the guest init's `KILN: app start`; *app*: the app's first line; "
                 "*QEMU CPU*: CPU seconds (user + system, all threads) QEMU had used by then. "
                 "Emulation is CPU-bound, so QEMU CPU time grows much less than wall-clock time "
                 "when other programs compete for the CPUs; on an idle host the two should be "
                 "close. MB = 10^6 bytes.")
    for r in results:
        lines.append(f"Host 1-minute load average before {r.board}'s boots: "
                     f"{min(r.loads):.1f}-{max(r.loads):.1f} on {_nproc()} CPUs "
                     "(emulation is CPU-bound: a busy host inflates every time).")
    return "\n".join(lines)


def section(results: list[BoardResult], boots: int, command: str) -> str:
    """The whole ``## Images and boot`` section of docs/performance.md."""
    host = f"{platform.machine()}, {_cpu_model()}, {_nproc()} CPUs, {platform.release()}"
    verdicts = []
    for r in results:
        if r.board != "qemu-aarch64":
            continue
        for mode, label in (("static", "static"), ("dhcp", "DHCP")):
            wall = statistics.median(r.times[mode].app)
            cpu = statistics.median(r.times[mode].cpu)
            target = TARGETS[mode]
            verdicts.append(
                f"- qemu-aarch64 {label}: first app line after {wall:.2f} s wall clock "
                f"(target <= {target:.0f} s: {'met' if wall <= target else 'NOT met'}); "
                f"QEMU CPU {cpu:.2f} s ({'within' if cpu <= target else 'over'} the target).")
    for r in results:
        size = r.initrd_bytes / 1e6
        verdicts.append(f"- {r.board} compressed initramfs {size:.2f} MB (target <= "
                        f"{TARGETS['initrd_mb']:.0f} MB: "
                        f"{'met' if size <= TARGETS['initrd_mb'] else 'NOT met'}).")
        if r.clean_build_s is not None:
            verdicts.append(f"- {r.board} clean build from a warm package cache "
                            f"{r.clean_build_s:.0f} s (target <= {TARGETS['clean_build_s']:.0f} s: "
                            f"{'met' if r.clean_build_s <= TARGETS['clean_build_s'] else 'NOT met'}).")
    return "\n".join([
        SECTION, "",
        "Produced by (as root):", "",
        f"    {command}", "",
        f"Host: {host}; QEMU software emulation (TCG), "
        f"{_qemu_version()}; measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
        table(results, boots), "",
        *verdicts, "",
    ])


def update_docs(text: str, path: Path = DOCS) -> None:
    """Replace the ``## Images and boot`` section of ``path`` (append it if absent); other
    sections are left byte-for-byte unchanged."""
    old = path.read_text() if path.exists() else "# Performance\n\n"
    start = old.find(SECTION + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(SECTION))
        tail = old[end + 1:] if end >= 0 else ""
        new = old[:start] + text + ("\n" + tail if tail else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)


def _cpu_model() -> str:
    """The host CPU's model name (bsp.identity reads it the way board summaries do)."""
    from bsp.identity import cpu_name
    return cpu_name(Path("/"))


def _nproc() -> int:
    return len(os.sched_getaffinity(0))


def _qemu_version() -> str:
    exe = shutil.which("qemu-system-aarch64") or shutil.which("qemu-system-arm")
    if not exe:
        return "QEMU not found"
    return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", default="qemu-aarch64,qemu-arm",
                        help="comma-separated board names (default: both QEMU boards)")
    parser.add_argument("--boots", type=int, default=5, help="boots per board and mode (>= 1)")
    parser.add_argument("--clean-build", action="store_true",
                        help="also time a from-scratch image build per board")
    parser.add_argument("--compare-compression", action="store_true",
                        help="also boot the initramfs repacked as none/gzip/lz4/zstd")
    parser.add_argument("--update-docs", action="store_true",
                        help=f"rewrite the '{SECTION}' section of {DOCS.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if args.boots < 1:
        parser.error("--boots must be at least 1")
    results = [bench_board(name, args.boots, args.clean_build, args.compare_compression)
               for name in filter(None, args.boards.split(","))]
    command = "sudo .venv/bin/python bench/boot_bench.py " + shlex.join(
        a for a in (argv if argv is not None else sys.argv[1:]))
    print(table(results, args.boots))
    if args.update_docs:
        update_docs(section(results, args.boots, command.strip()))
        print(f"updated {DOCS.relative_to(ROOT)} ({SECTION})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
