"""kiln buildroot: Kiln's br2-external tree for Buildroot (images/buildroot/).

    kiln buildroot defconfigs [--check]     write (or compare) configs/kiln_*_defconfig
    kiln buildroot check [--only WHAT]      Buildroot's own checks of the tree
    kiln buildroot build [--board B] [--app main.py] [--force]
                                            offline build of a QEMU board, cached per machine
    kiln buildroot tree                     the Buildroot tree the checks use
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

CHECKS = ("defconfigs", "check-package", "load", "show-info")


def register(subparsers) -> None:
    """Add the ``buildroot`` command and its subcommands to the ``kiln`` parser."""
    br = subparsers.add_parser("buildroot", help="Kiln's Buildroot br2-external tree: "
                               "defconfigs, checks, offline build",
                               description=__doc__.splitlines()[0])
    sub = br.add_subparsers(dest="buildroot_command", metavar="SUBCOMMAND")
    br.set_defaults(func=lambda args: br.print_help() or 2)

    d = sub.add_parser("defconfigs", help="generate configs/kiln_*_defconfig from board_configs/")
    d.add_argument("--check", action="store_true",
                   help="only compare the committed files with the generator (status 1: differ)")
    d.set_defaults(func=_defconfigs)

    c = sub.add_parser("check", help="check the tree with Buildroot's own tools")
    c.add_argument("--only", choices=CHECKS, action="append",
                   help="run only this check (repeatable; default: all)")
    c.add_argument("--out", help="output directory for the loaded configurations "
                   "(default: a temporary directory)")
    c.set_defaults(func=_check)

    b = sub.add_parser("build", help="offline Buildroot build of a QEMU board (CI)")
    b.add_argument("--board", default="qemu-aarch64", help="QEMU board (default qemu-aarch64)")
    b.add_argument("--app", help="the app's main.py, or a directory holding it "
                   "(default: the demo app)")
    b.add_argument("--force", action="store_true", help="rebuild from scratch")
    b.add_argument("--quiet", action="store_true", help="no progress lines")
    b.set_defaults(func=_build)

    t = sub.add_parser("tree", help="print the Buildroot tree the checks and builds use")
    t.set_defaults(func=_tree)


def _defconfigs(args: argparse.Namespace) -> int:
    from kiln.host.buildroot import defconfigs
    if args.check:
        problems = defconfigs.check()
        for p in problems:
            print(f"kiln: {p}; run `kiln buildroot defconfigs`", file=sys.stderr)
        return 1 if problems else 0
    for path in defconfigs.write():
        print(path)
    return 0


def _check(args: argparse.Namespace) -> int:
    from kiln.host.buildroot import checks, defconfigs, tree
    wanted = args.only or list(CHECKS)
    failed = 0
    if "defconfigs" in wanted:
        problems = defconfigs.check()
        failed += bool(problems)
        print(f"defconfigs: {'OK' if not problems else 'FAIL'}")
        for p in problems:
            print(f"  {p}")
    if not set(wanted) - {"defconfigs"}:
        return 1 if failed else 0
    buildroot = tree.find()
    print(f"buildroot: {buildroot}")
    if "check-package" in wanted:
        result = checks.check_package(buildroot)
        failed += result.warnings > 0
        print(f"check-package: {len(result.files)} files, {result.warnings} warnings")
        if result.warnings:
            print(result.output)
    if {"load", "show-info"} & set(wanted):
        with tempfile.TemporaryDirectory(prefix="kiln-br-") as tmp:
            out_root = Path(args.out) if args.out else Path(tmp)
            for g in defconfigs.generate():
                name = Path(g.path).name
                out = out_root / name
                loaded = checks.load_defconfig(buildroot, name, out)
                problems = [f"dropped: {d}" for d in loaded.dropped]
                if loaded.value("BR2_PACKAGE_PYTHON_KILN") != "y":
                    problems.append("python-kiln is not enabled")
                if "show-info" in wanted:
                    problems += checks.python_kiln_problems(checks.show_info(buildroot, out))
                failed += bool(problems)
                print(f"{name}: {'OK' if not problems else 'FAIL'}")
                for p in problems:
                    print(f"  {p}")
    return 1 if failed else 0


def _build(args: argparse.Namespace) -> int:
    from kiln.host.buildroot import build
    build.build(args.board, Path(args.app) if args.app else None,
                log=None if args.quiet else (lambda m: print(m, file=sys.stderr)),
                force=args.force)
    return 0


def _tree(args: argparse.Namespace) -> int:
    from kiln.host.buildroot import tree
    found = tree.find()
    print(f"{found} (Buildroot {tree.version(found)})")
    return 0
