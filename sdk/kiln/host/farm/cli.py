"""kiln farm: a labgrid board farm on loopback, and Kiln's system tests through it.

Subcommands:

* ``kiln farm start [--board B] [--places N] [--listen HOST:PORT]`` -- run a coordinator, the
  board host and an exporter with N QEMU places of board B (``B-1`` ... ``B-N``, tagged
  ``board=B``) until Ctrl-C; everything is stopped and removed then.
* ``kiln farm places`` -- the coordinator's places, their tags, matches and who holds them.
* ``kiln farm test --place P [--place P2 ...] [PYTEST_ARGS]`` -- acquire the places, run the
  system tests against them through ``RemotePlace`` (one pytest process per place, the tests
  split between them), release them.  Default tests: the Ethernet system tests of the places'
  board (``tests/system/test_system_qemu.py -k <board tag>``).  ``--start N`` runs them on a
  throwaway farm of N places instead.
* ``kiln farm client ARGS`` -- ``labgrid-client ARGS`` with the farm's resource classes known
  (``kiln farm client -p qemu-aarch64-1 power get``).
* ``kiln farm check-env FILE`` -- load an environment file (with placeholders for per-boot
  variables) and print its targets' drivers and what they bind, activating nothing.

The coordinator is ``--coordinator``, else ``$LG_COORDINATOR``, else labgrid's default
127.0.0.1:20408 (where ``kiln farm start`` listens by default).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_COORDINATOR = "127.0.0.1:20408"


def register(subparsers) -> None:
    """Add the ``farm`` subcommand to the ``kiln`` parser's ``subparsers``."""
    p = subparsers.add_parser(
        "farm", help="a labgrid board farm on loopback; the system tests through it",
        description="Start a labgrid coordinator and exporter with QEMU places on loopback, "
                    "list places, and run Kiln's system tests against places through the "
                    "coordinator (the same tests, another labgrid environment file).",
        epilog="Needs root. See docs/farm.md.")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    sub = p.add_subparsers(dest="farm_command", metavar="COMMAND")

    start = sub.add_parser("start", help="run a loopback farm until Ctrl-C",
                           description="Run labgrid-coordinator, the board host and "
                                       "labgrid-exporter with QEMU places until Ctrl-C.")
    start.add_argument("--board", default="qemu-aarch64", help="board of every place "
                       "(a QEMU initramfs board; default qemu-aarch64)")
    start.add_argument("--places", type=int, default=2, metavar="N",
                       help="number of places (default 2)")
    start.add_argument("--listen", default=DEFAULT_COORDINATOR, metavar="HOST:PORT",
                       help=f"the coordinator's address (default {DEFAULT_COORDINATOR}, "
                            "labgrid's default; 127.0.0.1:0 for a free port)")
    start.set_defaults(func=cmd_start)

    places = sub.add_parser("places", help="list the coordinator's places")
    _coordinator_option(places)
    places.set_defaults(func=cmd_places)

    test = sub.add_parser(
        "test", help="run the system tests against places through the coordinator",
        description="Acquire the places, run pytest against them through RemotePlace "
                    "(--lg-env, one process per place, tests split between them), release.",
        epilog="Pytest arguments go last (after --); default: the Ethernet system tests of "
               "the places' board tag.")
    _coordinator_option(test)
    test.add_argument("--place", action="append", default=[], metavar="NAME",
                      help="a place to run on (repeatable)")
    test.add_argument("--start", type=int, metavar="N",
                      help="start a throwaway loopback farm of N places and run on all of them")
    test.add_argument("--board", default="qemu-aarch64",
                      help="with --start: the places' board (default qemu-aarch64)")
    test.add_argument("--env", type=Path, metavar="FILE",
                      help="the places' environment file (default "
                           "tests/system/envs/farm-qemu.yaml)")
    test.add_argument("--junitxml", type=Path, metavar="PATH",
                      help="write the merged JUnit report of every place there")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="PYTEST_ARGS")
    test.set_defaults(func=cmd_test)

    # prefix_chars="+": every argument, "-x ..." included, is labgrid-client's.
    client = sub.add_parser("client", help="labgrid-client with the farm's resource classes",
                            add_help=False, prefix_chars="+")
    client.add_argument("client_args", nargs=argparse.REMAINDER)
    client.set_defaults(func=cmd_client)

    check = sub.add_parser(
        "check-env", help="load an environment file and resolve its drivers (no hardware)",
        description="Open a labgrid environment file, with a placeholder for every LG_* "
                    "variable it uses that is not set, build its targets and print each "
                    "driver and what it binds.  Nothing is activated; a RemotePlace must be "
                    "acquired by you.")
    check.add_argument("env", type=Path, help="the environment file")
    _coordinator_option(check)
    check.add_argument("--place", help="sets LG_PLACE (a RemotePlace's name)")
    check.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                       help="an LG_* variable (repeatable)")
    check.set_defaults(func=cmd_check_env)


def _coordinator_option(parser) -> None:
    parser.add_argument("--coordinator", metavar="HOST:PORT",
                        default=os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR,
                        help="the labgrid coordinator (default $LG_COORDINATOR or "
                             f"{DEFAULT_COORDINATOR})")


def cmd_start(args: argparse.Namespace) -> int:
    import time

    from kiln.host.farm.farm import Farm
    from kiln.host.runner import signals

    farm = Farm(args.board, args.places, listen=args.listen)
    with signals.terminate_raises():        # SIGTERM/SIGHUP: the farm is still torn down
        try:
            farm.start()
            print(f"kiln farm: coordinator {farm.coordinator}, exporter {farm.exporter_name}, "
                  f"board host {farm.board_host_info['url']}")
            print(f"places ({args.board}): {' '.join(farm.places)}")
            print(f"  export LG_COORDINATOR={farm.coordinator}")
            print("  kiln farm places")
            print(f"  kiln farm test --place {farm.places[0]}"
                  + (f" --place {farm.places[1]}" if len(farm.places) > 1 else ""))
            print(f"  labgrid-client -p {farm.places[0]} show")
            print("Ctrl-C stops the farm.", flush=True)
            while True:
                dead = farm.exited_services()
                if dead:
                    print(f"kiln farm: {', '.join(dead)} exited; stopping", file=sys.stderr)
                    return 1
                time.sleep(0.5)
        except KeyboardInterrupt:
            return 0
        finally:
            farm.close()
            print("kiln farm: stopped", file=sys.stderr)


def cmd_places(args: argparse.Namespace) -> int:
    from kiln.host.farm.farm import labgrid_client
    result = labgrid_client(args.coordinator, "-v", "places")
    print(result.stdout, end="")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from kiln.errors import KilnError
    from kiln.host.runner import signals

    pytest_args = list(args.pytest_args)
    if pytest_args[:1] == ["--"]:
        pytest_args = pytest_args[1:]
    if bool(args.start) == bool(args.place):
        raise KilnError("kiln farm test: give --place NAME (repeatable) or --start N")
    # SIGTERM/SIGHUP raise: the pytest processes get SIGINT, the places are released.
    with signals.terminate_raises():
        return _test(args, pytest_args)


def _test(args: argparse.Namespace, pytest_args: list[str]) -> int:
    from kiln.errors import KilnError
    from kiln.host.farm import testrun
    from kiln.host.farm.farm import Farm

    farm = None
    try:
        if args.start:
            farm = Farm(args.board, args.start).start()
            coordinator, places = farm.coordinator, farm.places
            print(f"kiln farm: throwaway farm at {coordinator}: {' '.join(places)}", flush=True)
        else:
            coordinator, places = args.coordinator, args.place
        if not pytest_args:
            boards = {testrun.place_tags(coordinator, p).get("board") for p in places}
            if len(boards) != 1 or None in boards:
                raise KilnError(f"places {', '.join(places)} do not share one board tag: "
                                "give the pytest arguments")
            pytest_args = testrun.default_args(boards.pop())
        result = testrun.run(coordinator, places, pytest_args, env_file=args.env,
                             junitxml=args.junitxml)
    finally:
        if farm is not None:
            farm.close()
    print(f"kiln farm: {result.summary()}", flush=True)
    return 0 if result.ok else 1


def cmd_client(args: argparse.Namespace) -> int:
    import kiln.host.farm.labgrid_parts  # noqa: F401 - registers the farm's resource classes
    from labgrid.remote.client import main as client_main
    sys.argv = ["labgrid-client", *args.client_args]
    try:
        client_main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def cmd_check_env(args: argparse.Namespace) -> int:
    import json

    from kiln.host.farm.envcheck import check_environment
    variables = dict(v.split("=", 1) for v in args.var)
    if args.place:
        variables["LG_PLACE"] = args.place
    variables.setdefault("LG_COORDINATOR", args.coordinator)
    print(json.dumps(check_environment(args.env, variables), indent=2))
    return 0
