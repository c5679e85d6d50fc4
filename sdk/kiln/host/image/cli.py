"""kiln image: build and inspect firmware images.

    kiln image build --board B [--app main.py|DIR] [--out DIR] [--with tls | --without tls]
                     [--lab NAME] [--refresh] [--quiet]
    kiln image info  --board B [--out DIR]
    kiln image boards
"""
from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    """Add the ``image`` command and its subcommands to the ``kiln`` parser."""
    image = subparsers.add_parser("image", help="build and inspect firmware images",
                                  description=__doc__.splitlines()[0])
    sub = image.add_subparsers(dest="image_command", metavar="SUBCOMMAND")
    image.set_defaults(func=lambda args: image.print_help() or 2)

    b = sub.add_parser("build", help="build a board's image, offline from Debian .debs: an initramfs (QEMU "
                        "boards) or an SD card (Raspberry Pi boards)")
    b.add_argument("--board", required=True, help="board name (see `kiln image boards`)")
    b.add_argument("--app", help="the app's main.py, or a directory holding main.py, copied whole "
                        "(packages, lib/, data files), run at boot (default: the demo app)")
    b.add_argument("--out", "--out-dir", dest="out", help="output directory (default: out/<board>/)")
    b.add_argument("--refresh", action="store_true",
                   help="refresh the Debian package index even if it is recent")
    b.add_argument("--if-changed", action="store_true",
                   help="reuse the existing image when no input changed")
    b.add_argument("--lab", action="append", default=[], metavar="NAME",
                   help="add a test-lab part of the recipe (wifi: simulated radios and an "
                        "access point; never for production images); repeatable")
    b.add_argument("--with", dest="with_parts", action="append", default=[], choices=["tls"],
                   help="add an optional part of the recipe: tls (OpenSSL, the CA bundle, "
                        "kernel TLS and Kiln's ssl/tls modules; by default an image gets TLS "
                        "when its app imports ssl, tls or ussl, or uses IPPROTO_SEC)")
    b.add_argument("--without", dest="without_parts", action="append", default=[],
                   choices=["tls"], help="leave an optional part out even if the app uses it")
    b.add_argument("--quiet", action="store_true", help="no progress lines")
    b.set_defaults(func=_build)

    i = sub.add_parser("info", help="show the last image built for a board")
    i.add_argument("--board", required=True)
    i.add_argument("--out", "--out-dir", dest="out", help="output directory (default: out/<board>/)")
    i.set_defaults(func=_info)

    n = sub.add_parser("boards", help="list the known boards (as `kiln boards`)")
    n.set_defaults(func=_boards)


def tls_choice(with_parts: list[str], without_parts: list[str]) -> bool | None:
    """``--with tls`` -> True, ``--without tls`` -> False, neither -> None (the app decides);
    both: a :class:`kiln.errors.KilnError`."""
    from kiln.errors import KilnError
    if "tls" in with_parts and "tls" in without_parts:
        raise KilnError("--with tls and --without tls exclude each other; give one")
    return True if "tls" in with_parts else False if "tls" in without_parts else None


def _build(args: argparse.Namespace) -> int:
    import kiln.host.image as image
    artifacts = None
    tls = tls_choice(args.with_parts, args.without_parts)
    if args.if_changed:
        artifacts = image.cached(args.board, args.app, args.out, args.lab, tls)
        changed = (image.changed_inputs(args.board, args.app, args.out, args.lab, tls)
                   if not artifacts else None)
        if changed and not args.quiet:
            shown = ", ".join(c.split(":", 1)[-1] for c in changed[:5])
            more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
            print(f"kiln: rebuilding, changed inputs: {shown}{more}", file=sys.stderr)
    if artifacts is None:
        artifacts = image.build(args.board, args.app, args.out, progress=not args.quiet,
                                refresh_index=args.refresh, labs=args.lab, tls=tls)
    print(artifacts.summary())
    return 0


def _info(args: argparse.Namespace) -> int:
    from kiln import boards
    from kiln.errors import KilnError
    from kiln.host.image.artifacts import ImageArtifacts
    from kiln.host.image.layout import OutLayout
    board = boards.load(args.board)
    layout = OutLayout.for_board(board.name, board.debian_arch, args.out)
    out, record = layout.out_dir, layout.record
    if not record.is_file():
        raise KilnError(f"no image built for {board.name} in {out}; run "
                        f"`kiln image build --board {board.name}`")
    print(ImageArtifacts.load(record).summary())
    return 0


def _boards(args: argparse.Namespace) -> int:
    from kiln.host.boards_cli import table
    print(table())
    return 0
