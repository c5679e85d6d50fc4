"""kiln boards: the boards Kiln knows and their facts, read from board_configs/ (host tooling).

    kiln boards            one line per board: name, Debian architecture, image format, QEMU
                           machine, network interfaces
    kiln boards NAME       the facts of one board, and the file they come from
"""
from __future__ import annotations

import argparse

from kiln import boards


def register(subparsers) -> None:
    """Add the ``boards`` command to the ``kiln`` parser."""
    p = subparsers.add_parser("boards", help="list the known boards and their facts",
                              description=__doc__.splitlines()[0])
    p.add_argument("name", nargs="?", help="a board name: show its facts")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    print(describe(boards.load(args.name)) if args.name else table())
    return 0


def table() -> str:
    """One line per known board (the board files' facts), with a heading line."""
    rows = [("BOARD", "ARCH", "IMAGE", "QEMU", "NETWORK", "DESCRIPTION")]
    for name in boards.names():
        b = boards.load(name)
        rows.append((b.name, b.debian_arch, b.image_format,
                     b.qemu.machine if b.qemu else "-", _network(b), b.description))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1]
                     for row in rows)


def describe(b: boards.Board) -> str:
    """The facts of board ``b`` as ``key: value`` lines."""
    facts = [
        ("board", b.name), ("description", b.description), ("file", str(b.source)),
        ("compatible", ", ".join(b.compatible)), ("soc", b.soc or "(from the device)"),
        ("debian", f"{b.debian_arch} ({b.triplet}), kernel {b.kernel_package}"),
        ("image", f"{b.image_format}, {b.compression}"),
        ("console", b.console), ("cmdline", b.cmdline),
        ("kernel modules", ", ".join(b.kernel_modules) or "-"),
        ("network", _network(b)),
    ]
    if b.qemu:
        q = b.qemu
        version = f", QEMU >= {q.min_version}" if q.min_version else ""
        facts.append(("qemu", f"{q.binary} -M {q.machine} -cpu {q.cpu} -m {q.memory_mb} "
                              f"-smp {q.smp}{version}"))
    if b.sdcard:
        s = b.sdcard
        facts += [("sd card", f"boot {s.boot_mb} MB FAT + root {s.root_mb} MB {s.rootfs}"),
                  ("dtbs", ", ".join(s.dtbs)), ("config.txt", "; ".join(s.config_txt))]
    if b.tls_ciphersuites or b.tls_modules:
        facts.append(("tls", f"TLS 1.3 order {b.tls_ciphersuites or 'OpenSSL default'}; "
                             f"kernel TLS crypto {', '.join(b.tls_modules) or '-'}"))
    width = max(len(k) for k, _ in facts)
    return "\n".join(f"{k + ':':{width + 1}} {v}" for k, v in facts)


def _network(b: boards.Board) -> str:
    parts = [f"eth {b.eth_iface}"] if b.eth_iface else []
    if b.wifi_driver:
        lab = " (test lab only)" if b.wifi_radio == "lab" else ""
        parts.append(f"wifi {b.wifi_iface} {b.wifi_driver}{lab}")
    return ", ".join(parts) or "-"
