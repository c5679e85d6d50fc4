#!/usr/bin/env python3
"""Wi-Fi benchmark: what Wi-Fi adds to the production image, and seconds from ``wifi.start()``
to an address under TCG (WPA2-PSK and WPA3-SAE).

1. Size: the board's production image (demo app) is built twice -- without a radio, and from a
   copy of the board file whose radio is on board (``[bsp] wifi_radio = "onboard"``, as on a
   Raspberry Pi: the recipe's ``[wifi]`` part, wpa_supplicant and the CCMP/CMAC ciphers, goes
   in) -- and the compressed initramfs sizes are compared.
2. Time: the Wi-Fi lab image boots once with a WPA2 and a WPA3 access point (the test lab,
   ``--lab wifi``); its app runs ``wifi.configure(...); wifi.start()`` ``--rounds`` times per
   network, stopping in between, and prints the milliseconds each ``start()`` took (association
   + DHCP from the host-side dnsmasq across the tap).

Needs root (network namespaces).  Usage:
  .venv/bin/python bench/wifi_bench.py [--board qemu-aarch64] [--rounds 5] [--update-docs]
``--update-docs`` rewrites the ``## Wi-Fi`` section of docs/performance.md.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sdk"))

from kiln import boards  # noqa: E402
from kiln.host import image  # noqa: E402
from kiln.host.runner import boot  # noqa: E402
from kiln.host.runner.netlab import NetLab  # noqa: E402
from kiln.host.runner.wifilab import LabNetwork, lab_arg  # noqa: E402

DOCS = ROOT / "docs" / "performance.md"
SECTION = "## Wi-Fi"
OUT = ROOT / "out" / "bench"
NETWORKS = {"wpa2": LabNetwork("kiln-bench-wpa2", "wpa2", "bench-passphrase"),
            "wpa3": LabNetwork("kiln-bench-wpa3", "wpa3", "bench sae password")}
TARGETS = {"growth_mb": 2.5, "wpa2": 3.0, "wpa3": 4.0}
APP = '''\
import time
from networking import wifi
ROUNDS = {rounds}
for name, ssid, password, security in {networks!r}:
    for _ in range(ROUNDS):
        wifi.configure(ssid, password, security)
        t0 = time.monotonic()
        wifi.start()
        print("BENCH", name, int((time.monotonic() - t0) * 1000), flush=True)
        wifi.stop()
'''


def image_size(board, out_dir: Path, board_dir: Path | None = None) -> int:
    """Compressed initramfs bytes of ``board``'s demo image (board file from ``board_dir``)."""
    previous = os.environ.get("KILN_BOARD_CONFIGS")
    if board_dir is not None:
        os.environ["KILN_BOARD_CONFIGS"] = str(board_dir)
    try:
        b = boards.load(board)
        return image.ensure(b, out_dir=out_dir, progress=False).initrd_bytes
    finally:
        if board_dir is not None:
            if previous is None:
                del os.environ["KILN_BOARD_CONFIGS"]
            else:
                os.environ["KILN_BOARD_CONFIGS"] = previous


def board_variant(board: str, tmp: Path, radio: str) -> Path:
    """A directory holding ``board``'s file with ``[bsp] wifi_radio = radio``."""
    text = re.sub(r"(?m)^wifi_radio = .*\n", "", boards.load(board).source.read_text())
    text = re.sub(r"(?m)^(wifi_driver = .*\n)", rf'\1wifi_radio = "{radio}"\n', text)
    (tmp / f"{board}.toml").write_text(text)
    return tmp


def start_times(board_name: str, rounds: int) -> dict[str, list[int]]:
    """Milliseconds of each ``wifi.start()`` per network, from one boot of the lab image."""
    board = boards.load(board_name)
    with tempfile.TemporaryDirectory(prefix="kiln-wifi-bench-") as tmp:
        app = Path(tmp) / "main.py"
        app.write_text(APP.format(rounds=rounds, networks=[
            (name, net.ssid, net.password, 3 if net.security == "wpa2" else 6)
            for name, net in NETWORKS.items()]))
        artifacts = image.ensure(board, app=app, out_dir=OUT / f"{board.name}-wifi",
                                 progress=False, labs=("wifi",))
        img = boot.from_artifacts(artifacts, board, Path(tmp))
        lines: list[str] = []

        def on_line(t: float, line: str) -> bool:
            lines.append(line)
            return False

        with NetLab() as lab:
            outcome, _ = boot.boot(board, img, lab, static=False, timeout_s=600,
                                   on_line=on_line,
                                   extra_cmdline=lab_arg(list(NETWORKS.values()))
                                   + " kiln.net=none")
    found: dict[str, list[int]] = {name: [] for name in NETWORKS}
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "BENCH":
            found[parts[1]].append(int(parts[2]))
    if any(len(v) != rounds for v in found.values()):
        raise RuntimeError("the bench app did not finish:\n" + "\n".join(lines[-30:]))
    return found


def section(board: str, with_wifi: int, without: int, times: dict[str, list[int]],
            command: str, load: tuple[float, float]) -> str:
    growth = (with_wifi - without) / 1e6
    rows = [f"| {name.upper()} | {statistics.median(v) / 1000:.2f} s "
            f"({min(v) / 1000:.2f}-{max(v) / 1000:.2f}) | {TARGETS[name]:.0f} s |"
            for name, v in times.items()]
    return "\n".join([
        SECTION, "",
        f"Measured with `{command}` on {board}, {time.strftime('%Y-%m-%d')}; host load "
        f"average {load[0]:.1f} before and {load[1]:.1f} after (2 CPUs).", "",
        "| production initramfs | without Wi-Fi | with Wi-Fi (wpa_supplicant, ciphers) | growth | "
        "goal |", "|---|---|---|---|---|",
        f"| {board} (zstd) | {without / 1e6:.2f} MB | {with_wifi / 1e6:.2f} MB | "
        f"{growth:.2f} MB | <= {TARGETS['growth_mb']} MB |", "",
        "| `wifi.start()` to an address | median (min-max) | goal |", "|---|---|---|",
        *rows, "",
        "`wifi.start()` covers the association (wpa_supplicant's scan, authentication, the "
        "4-way handshake or SAE) and DHCP from the host-side dnsmasq across the tap, under TCG; "
        "the access points run on the guest's second simulated radio (the Wi-Fi test lab).", ""])


def update_docs(text: str) -> None:
    doc = DOCS.read_text()
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    doc = pattern.sub(text, doc) if pattern.search(doc) else doc.rstrip() + "\n\n" + text
    DOCS.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="qemu-aarch64")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kiln-wifi-bench-board-") as tmp:
        without = image_size(args.board, OUT / f"{args.board}-nowifi",
                             board_variant(args.board, Path(tmp), "lab"))
        with_wifi = image_size(args.board, OUT / f"{args.board}-prod",
                               board_variant(args.board, Path(tmp), "onboard"))
    times = start_times(args.board, args.rounds)
    command = "python bench/wifi_bench.py " + " ".join(shlex.quote(a) for a in
                                                       (argv if argv is not None else sys.argv[1:]))
    text = section(args.board, with_wifi, without, times, command.strip(),
                   (load_before, os.getloadavg()[0]))
    print(text)
    if args.update_docs:
        update_docs(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
