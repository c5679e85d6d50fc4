#!/usr/bin/env python3
"""Run one socket or TLS fuzz target (``socket_targets.TARGETS``, ``tls_targets.TARGETS``) under
atheris/libFuzzer.

    python tests/fuzz/fuzz_socket.py TARGET [libFuzzer options] [corpus dirs]

e.g. ``... address -max_total_time=60 -artifact_prefix=/tmp/out/``.  The process first moves into
a private network namespace with only loopback (root needed; it refuses to run otherwise) and into
an empty, already removed working directory, so made-up addresses reach nothing and relative
AF_UNIX names exist nowhere.  With an instrumented ``kiln.net`` first on ``PYTHONPATH``
(``bench/fuzz_socket.sh`` builds one when clang is installed), libFuzzer also sees the coverage
of the Cython core, not only of the Python harness.  Exit status 0: no finding; a finding is written by libFuzzer as
``<artifact_prefix>crash-<sha1>`` with the Python traceback on stderr.
"""
from __future__ import annotations

import ctypes
import importlib
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# The module holding each target (its TARGETS).
TARGET_MODULES = {"address": "socket_targets", "inet": "socket_targets",
                  "getaddrinfo": "socket_targets", "cadata": "tls_targets",
                  "cert-chain": "tls_targets", "zssl-context": "tls_targets"}
TARGET_NAMES = tuple(TARGET_MODULES)
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
    chosen: list = []

    def load_target() -> None:
        """Import the targets (and so kiln.net) once libFuzzer is loaded: an instrumented
        kiln.net (built with -fsanitize=fuzzer-no-link by bench/fuzz_socket.sh) resolves its
        coverage hooks against atheris' libFuzzer, made global here."""
        ctypes.CDLL(_libfuzzer_core(atheris), mode=os.RTLD_NOLOAD | os.RTLD_GLOBAL)
        name = TARGET_MODULES[target]
        with atheris.instrument_imports(include=[name]):
            module = importlib.import_module(name)
        chosen.append(module.TARGETS[target])
        import socket_targets
        socket_targets.enter_private_netns()
        workdir = tempfile.mkdtemp(prefix="kiln-fuzz-")
        os.chdir(workdir)
        os.rmdir(workdir)

    def one_input(data: bytes) -> None:
        if not chosen:
            load_target()
        chosen[0](data)

    if target not in TARGET_NAMES:
        sys.exit(f"unknown target {target!r}; targets: {', '.join(TARGET_NAMES)}")
    atheris.Setup(libfuzzer_args, one_input)
    atheris.Fuzz()


def _libfuzzer_core(atheris) -> str:
    folder = os.path.dirname(atheris.__file__)
    names = [n for n in os.listdir(folder) if n.startswith("core_with_libfuzzer")]
    assert names, f"no core_with_libfuzzer in {folder}"
    return os.path.join(folder, names[0])


if __name__ == "__main__":
    main()
