"""``python3 -m kiln.app [--api zerynth|micropython|cpython] main.py``: run a Kiln app."""
import argparse
import sys

from kiln.app import APIS, run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m kiln.app", description=__doc__)
    parser.add_argument("--api", choices=APIS, default="zerynth",
                        help="which API the app's globals and 'import socket' follow")
    parser.add_argument("app", help="path to the app's main.py")
    args = parser.parse_args(argv)
    sys.argv = [args.app]
    run(args.app, args.api)
    return 0


sys.exit(main())
