"""kiln: build Kiln firmware images and boot them under QEMU (host tooling).

A :class:`kiln.errors.KilnError` raised by a subcommand is printed as ``kiln: <message>`` with
exit status 2 and no traceback.

Each subcommand lives in its own module exposing ``register(subparsers)``; the module adds its
parser and sets ``func`` (called with the parsed namespace, returning an exit status).  Modules
must stay cheap to import: heavy work happens inside ``func``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from kiln import __version__
from kiln.errors import KilnError

# Subcommand modules, in the order ``kiln --help`` lists them.
SUBCOMMAND_MODULES = (
    "kiln.host.image.cli",   # kiln image build ...
    "kiln.host.runner.cli",  # kiln run ...
    "kiln.host.flash",       # kiln flash --board B DEVICE
    "kiln.host.farm.cli",    # kiln farm start|places|test|client|check-env
    "kiln.host.buildroot.cli",  # kiln buildroot defconfigs|check|build
    "kiln.host.boards_cli",  # kiln boards [NAME]
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiln", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kiln {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside the module: show it
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KilnError as exc:
        print(f"kiln: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
