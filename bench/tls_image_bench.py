#!/usr/bin/env python3
"""TLS image growth: how much the recipe's ``[tls]`` part adds to a board's image.

For each board, three images of the builder (built or reused in ``out/bench/tls/``):

  without   the demo app, ``--without tls`` (the Ethernet image every board gets by default)
  with      the demo app, ``--with tls``: Kiln's TLS module with OpenSSL (Kiln's own inside it,
            or Debian's libssl3 where the image has it anyway), the CA bundle, kernel TLS and
            its ciphers
  app       a two-line app that imports ``ssl`` (TLS chosen by the builder from the app; the
            stdlib scan also keeps CPython's ``ssl``/``_ssl``, which ``--api cpython`` uses)

and the growth of each over ``without``: the board's compressed image (initramfs, or the SD
card's root filesystem image), uncompressed, and which files the TLS part adds, each compressed
alone with ``zstd -19`` (the initramfs compressor) to show where the bytes go.  A board with an
on-board radio (rpi3b) already ships libssl/libcrypto for wpa_supplicant: TLS shares them.

Usage (no root needed; builds take ~30 s each warm):
  .venv/bin/python bench/tls_image_bench.py [--boards qemu-aarch64,qemu-arm,rpi3b]
                                            [--update-docs]
``--update-docs`` rewrites the ``## TLS image growth`` section of docs/performance.md.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sdk"))

from kiln import boards  # noqa: E402
from kiln.host import image  # noqa: E402
from kiln.host.image import elf  # noqa: E402

DOCS = ROOT / "docs" / "performance.md"
SECTION = "## TLS image growth"
OUT = ROOT / "out" / "bench" / "tls"
GOAL_MB = 1.5
APP = "import ssl\nprint(ssl.OPENSSL_VERSION)\n"


def build(board: str, variant: str, app: Path):
    """The image of ``variant`` (without / with / app) for ``board``, built or reused."""
    tls, app_path = {"without": (False, None), "with": (True, None), "app": (None, app)}[variant]
    return image.ensure(board, app=app_path, out_dir=OUT / f"{board}-{variant}", tls=tls,
                        progress=False)


def compressed_size(artifacts) -> int:
    """The board's compressed root: the initramfs, or an SD card's root filesystem image."""
    return artifacts.root_bytes if artifacts.sdcard else artifacts.initrd_bytes


def board_root(board: str, variant: str) -> Path:
    """The staged root tree of ``variant``'s image."""
    return OUT / f"{board}-{variant}" / "work" / "rootfs"


def openssl_needed(path: Path) -> bool:
    """Whether the ELF file ``path`` loads OpenSSL's shared libraries."""
    return bool({"libssl.so.3", "libcrypto.so.3"} & set(elf.read(path).needed))


def tree_bytes(board: str, variant: str) -> int:
    """Bytes of the regular files of ``variant``'s staged root tree (what the image holds)."""
    root = board_root(board, variant)
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def added_files(board: str) -> list[tuple[str, int, int]]:
    """``(image path, bytes, zstd -19 bytes)`` of the files ``with`` has and ``without`` lacks,
    largest compressed first."""
    roots = {v: board_root(board, v) for v in ("without", "with")}

    def files(root):
        return {p.relative_to(root).as_posix() for p in root.rglob("*")
                if p.is_file() and not p.is_symlink()}
    rows = []
    for rel in sorted(files(roots["with"]) - files(roots["without"])):
        path = roots["with"] / rel
        packed = subprocess.run(["zstd", "-19", "-q", "-c", str(path)], capture_output=True,
                                check=True).stdout
        rows.append((rel, path.stat().st_size, len(packed)))
    return sorted(rows, key=lambda r: -r[2])


def measure(board: str, app: Path) -> dict:
    arts = {v: build(board, v, app) for v in ("without", "with", "app")}
    base = arts["without"]
    return {"board": board, "arts": arts,
            "growth": {v: compressed_size(a) - compressed_size(base) for v, a in arts.items()},
            "growth_raw": {v: tree_bytes(board, v) - tree_bytes(board, "without")
                           for v in arts},
            "added": added_files(board)}


def section(results: list[dict], command: str) -> str:
    lines = [SECTION, "", "Produced by:", "", f"    {command}", "",
             f"Debian 12 packages of {time.strftime('%Y-%m-%d')}; the QEMU boards' `zstd -19` "
             f"initramfs, the SD-card boards' squashfs root (zstd).  Growth over the same "
             f"board's image without TLS (the demo app, `--without tls`); unpacked: the staged "
             f"tree's files.", "",
             "| board | without TLS | `--with tls` | growth | app importing `ssl` | growth | "
             "goal |", "|---|---|---|---|---|---|---|"]
    for r in results:
        a = r["arts"]
        g = r["growth"]
        lines.append(
            f"| {r['board']} | {compressed_size(a['without']) / 1e6:.2f} MB | "
            f"{compressed_size(a['with']) / 1e6:.2f} MB | **+{g['with'] / 1e6:.2f} MB** "
            f"(+{r['growth_raw']['with'] / 1e6:.1f} MB unpacked) | "
            f"{compressed_size(a['app']) / 1e6:.2f} MB | +{g['app'] / 1e6:.2f} MB | "
            f"<= {GOAL_MB} MB: {'met' if g['with'] <= GOAL_MB * 1e6 else 'not met'} |")
    for r in results:
        lines += ["", f"What `--with tls` adds on {r['board']} (each file compressed alone with "
                      f"`zstd -19`):", "", "| file | bytes | zstd -19 |", "|---|---|---|"]
        top = r["added"][:6]
        rest = r["added"][6:]
        for rel, raw, packed in top:
            lines.append(f"| `/{rel}` | {raw:,} | {packed:,} |")
        if rest:
            lines.append(f"| {len(rest)} more files (kernel TLS's cipher modules, "
                         f"`encodings.idna`) | "
                         f"{sum(r_[1] for r_ in rest):,} | {sum(r_[2] for r_ in rest):,} |")
    lines.append("")
    for r in results:
        verdict = "met" if r["growth"]["with"] <= GOAL_MB * 1e6 else "not met"
        head = (f"- {r['board']}: +{r['growth']['with'] / 1e6:.2f} MB with TLS (goal <= {GOAL_MB} "
                f"MB: {verdict})")
        debian = sum(packed for rel, _raw, packed in r["added"]
                     if "/libssl.so" in rel or "/libcrypto.so" in rel)
        module = [(rel, packed) for rel, _raw, packed in r["added"] if "/kiln/net/tls." in rel]
        if debian:
            lines.append(f"{head}; Debian's `libcrypto.so.3` and `libssl.so.3` are "
                         f"{debian / 1e6:.2f} MB of it compressed.")
        elif module and not openssl_needed(board_root(r["board"], "with") / module[0][0]):
            lines.append(f"{head}: nothing else in the image uses OpenSSL, so Kiln's own "
                         f"(`[tls.openssl]` of images/recipe.toml) is linked inside the TLS "
                         f"module, {module[0][1] / 1e6:.2f} MB of it compressed; the CA bundle, "
                         f"kernel TLS and `encodings.idna` are the rest.")
        else:
            lines.append(f"{head}: its Wi-Fi image already ships Debian's `libssl.so.3` and "
                         f"`libcrypto.so.3` (wpa_supplicant), which the TLS module shares.")
    lines.append("- An app that imports `ssl` also keeps CPython's `ssl`/`_ssl` (the "
                 "`--api cpython` module), a second user of OpenSSL: the image then carries "
                 "Debian's libssl3, shared by both (the `app` column).")
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
    parser.add_argument("--boards", default="qemu-aarch64,qemu-arm,rpi3b")
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args(argv)
    names = [b for b in args.boards.split(",") if b]
    for name in names:
        boards.load(name)
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "main.py"
        app.write_text(APP)
        results = [measure(name, app) for name in names]
    command = ".venv/bin/python bench/tls_image_bench.py" + (
        f" --boards {args.boards}" if args.boards != parser.get_default("boards") else "")
    text = section(results, command)
    print(text)
    if args.update_docs:
        update_docs(text)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
