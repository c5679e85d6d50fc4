#!/usr/bin/env python3
"""TLS cipher speed per board CPU: ChaCha20-Poly1305 against AES-GCM, with the board's own
OpenSSL (Debian's ``openssl`` and ``libssl3`` for the board's architecture) under qemu-user.

Why: the Raspberry Pi boards' Cortex-A53/A72 have no ARMv8 crypto extensions as Raspberry Pi
ships them, so the board files put ChaCha20-Poly1305 first in the client's preference
(``[tls]``); the QEMU boards keep OpenSSL's default, AES-GCM first.  For each board this runs
``openssl speed -evp <cipher>`` (16 KiB records, the TLS maximum) under
``qemu-<arch>-static -cpu <the board's CPU>``:

- ``crypto ext.``: as QEMU emulates the CPU, with the ARMv8 AES/PMULL instructions (arm64);
- ``no AES/PMULL``: ``OPENSSL_armcap`` limited to NEON, i.e. without them -- what the Raspberry
  Pi's SoCs offer.  (32-bit ARMv7 CPUs have no such instructions either way.)

Emulation runs every instruction in software, so absolute MB/s are far below hardware and the
ratio between ciphers is only indicative (an emulated AES instruction costs more than a
hardware one); the direction -- which cipher is faster without the AES instructions -- is what
the board data rests on.  ``openssl speed`` counts CPU time, so host load matters little.

Usage (no root; downloads the three packages per architecture once into out/cache/debs):
  .venv/bin/python bench/tls_cipher_bench.py [--boards rpi3b,rpi4b,qemu-aarch64,qemu-arm]
                                             [--seconds 3] [--update-docs]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sdk"))

from kiln import boards  # noqa: E402
from kiln.host.image import qemu_user, recipe as recipe_mod, rootfs  # noqa: E402
from kiln.host.image.layout import OutLayout  # noqa: E402
from kiln.host.image.packages import resolve  # noqa: E402
from kiln.host.image.progress import Progress  # noqa: E402
from kiln.host.image.stage import private_apt  # noqa: E402

DOCS = ROOT / "docs" / "performance.md"
SECTION = "## TLS ciphers per board CPU"
CIPHERS = ("chacha20-poly1305", "aes-128-gcm", "aes-256-gcm")
NEON_ONLY = "0x1"          # OPENSSL_armcap: ARMV7_NEON only (no AES, PMULL, SHA)


def openssl_root(board) -> Path:
    """Debian's openssl, libssl3 and libc6 for ``board``'s architecture, unpacked once."""
    recipe = recipe_mod.load()
    layout = OutLayout.for_board(board.name, board.debian_arch)
    root = layout.root / "bench" / "tls-speed" / board.debian_arch
    if (root / "usr/bin/openssl").is_file():
        return root
    apt = private_apt(layout, recipe)
    progress = Progress(False)
    apt.update(progress)
    index = apt.load_index()
    # (the image recipe excludes the openssl command; this bench wants it)
    packages = resolve(index, ["openssl"], [e for e in recipe.exclude if e != "openssl"])
    rootfs.unpack(apt.download(packages, progress), root)
    return root


def speed(board, root: Path, cipher: str, seconds: int, armcap: str | None) -> float:
    """MB/s (1e6 bytes) of ``openssl speed -evp cipher`` on 16 KiB blocks, CPU time."""
    libs = ":".join(str(root / d) for d in rootfs.library_dirs(board.triplet))
    cpu = board.qemu.cpu if board.qemu else "max"
    cmd = [board.qemu_user, "-cpu", cpu, str(qemu_user.loader(root)), "--library-path", libs,
           str(root / "usr/bin/openssl"), "speed", "-mr", "-seconds", str(seconds),
           "-bytes", "16384", "-evp", cipher]
    env = {"PATH": os.environ["PATH"], "QEMU_LD_PREFIX": "/nonexistent",
           "OPENSSL_CONF": "/dev/null"}
    if armcap is not None:
        env["OPENSSL_armcap"] = armcap
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("+F:"):
            return float(line.split(":")[-1]) / 1e6
    raise RuntimeError(f"no +F line from openssl speed:\n{out}")


def measure(name: str, seconds: int) -> list[dict]:
    board = boards.load(name)
    root = openssl_root(board)
    modes = [("crypto ext.", None), ("no AES/PMULL", NEON_ONLY)] \
        if board.debian_arch == "arm64" else [("ARMv7", None)]
    rows = []
    for label, armcap in modes:
        rates = {c: speed(board, root, c, seconds, armcap) for c in CIPHERS}
        rows.append({"board": name, "cpu": board.qemu.cpu if board.qemu else "?",
                     "mode": label, "armcap": armcap, **rates,
                     "preference": (board.tls_ciphersuites.split(":")[0]
                                    if board.tls_ciphersuites else "OpenSSL default")})
        print(rows[-1], flush=True)
    return rows


def section(rows: list[dict], command: str) -> str:
    lines = [SECTION, "", "Produced by:", "", f"    {command}", "",
             f"Debian 12's OpenSSL for each board's architecture under qemu-user "
             f"(`-cpu` = the board's CPU), `openssl speed -evp` on 16 KiB records, MB/s of CPU "
             f"time; measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.  Emulated: "
             f"compare ciphers within a row, not with hardware.", "",
             "| board (CPU) | instructions | ChaCha20-Poly1305 | AES-128-GCM | AES-256-GCM | "
             "ChaCha20 / AES-128-GCM | client's first choice |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['board']} ({r['cpu']}) | {r['mode']}"
                     f"{' (`OPENSSL_armcap=' + r['armcap'] + '`)' if r['armcap'] else ''} | "
                     f"{r['chacha20-poly1305']:.1f} | {r['aes-128-gcm']:.1f} | "
                     f"{r['aes-256-gcm']:.1f} | "
                     f"{r['chacha20-poly1305'] / r['aes-128-gcm']:.2f} | {r['preference']} |")
    shipped = [r for r in rows if r["armcap"] == NEON_ONLY]
    if shipped:
        low = min(r["chacha20-poly1305"] / r["aes-128-gcm"] for r in shipped)
        lines += ["", f"- Without the ARMv8 AES instructions (the Raspberry Pi boards as shipped) "
                      f"ChaCha20-Poly1305 is at least {low:.0f}x AES-128-GCM here: OpenSSL's "
                      f"AES-GCM then has neither hardware AES nor carry-less multiply, while "
                      f"ChaCha20-Poly1305 needs only NEON.  Hence `[tls]` of rpi3b, rpi4b and "
                      f"rpi-zero2w asks for it first."]
    lines += ["- With the instructions, emulation still puts ChaCha20 ahead (an emulated AES "
              "instruction is a helper call, not a cycle): these rows cannot rank the ciphers "
              "for CPUs that have them, and the QEMU boards keep OpenSSL's default order "
              "(AES-GCM first), as their board files say."]
    return "\n".join(lines) + "\n"


def update_docs(text: str, path: Path = DOCS) -> None:
    """Replace the section of ``path`` (append it if absent); other sections stay as they are."""
    old = path.read_text()
    start = old.find(SECTION + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + (old[end:] if end >= 0 else "")
    path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", default="rpi3b,rpi4b,qemu-aarch64,qemu-arm")
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args(argv)
    rows = [row for name in args.boards.split(",") if name for row in measure(name, args.seconds)]
    command = ".venv/bin/python bench/tls_cipher_bench.py" + "".join(
        f" --{k} {v}" for k, v in (("boards", args.boards), ("seconds", args.seconds))
        if v != parser.get_default(k))
    text = section(rows, command)
    print(text)
    if args.update_docs:
        update_docs(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
