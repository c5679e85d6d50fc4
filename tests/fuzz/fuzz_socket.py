#!/usr/bin/env python3
"""Run one socket fuzz target (``socket_targets.TARGETS``) under atheris/libFuzzer.

    python tests/fuzz/fuzz_socket.py TARGET [libFuzzer options] [corpus dirs]

e.g. ``... address -max_total_time=60 -artifact_prefix=/tmp/out/``.  The process first moves into
a private network namespace with only loopback (root needed; it refuses to run otherwise) and into
an empty, already removed working directory, so made-up addresses reach nothing and relative
AF_UNIX names exist nowhere.  Exit status 0: no finding; a finding is written by libFuzzer as
``<artifact_prefix>crash-<sha1>`` with the Python traceback on stderr.
"""
from __future__ import annotations

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PATH_OPTIONS = ("-artifact_prefix=", "-exact_artifact_path=", "-dict=")


def _absolute(arg: str) -> str:
    """libFuzzer arguments with their paths made absolute (the working directory changes)."""
    for option in PATH_OPTIONS:
        if arg.startswith(option):
            value = arg[len(option):]
            absolute = os.path.abspath(value) + ("/" if value.endswith("/") else "")
            return option + absolute
    return arg if arg.startswith("-") else os.path.abspath(arg)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    target = sys.argv[1]
    libfuzzer_args = [sys.argv[0]] + [_absolute(a) for a in sys.argv[2:]]
    sys.path.insert(0, HERE)
    import atheris
    with atheris.instrument_imports(include=["socket_targets"]):
        import socket_targets
    if target not in socket_targets.TARGETS:
        sys.exit(f"unknown target {target!r}; targets: {', '.join(socket_targets.TARGETS)}")
    socket_targets.enter_private_netns()
    workdir = tempfile.mkdtemp(prefix="kiln-fuzz-")
    os.chdir(workdir)
    os.rmdir(workdir)
    atheris.Setup(libfuzzer_args, socket_targets.TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
