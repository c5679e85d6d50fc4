"""A short fuzz run of every socket and TLS fuzz target (``socket_targets``, ``tls_targets``) in
the normal test run.

Each target runs for ``SECONDS`` under atheris in its own process (in a private network
namespace, see ``fuzz_socket.py``); the test fails on any finding, showing the input and the
Python traceback.  The long run is ``make fuzz`` (bench/fuzz_socket.sh).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

FUZZER = Path(__file__).with_name("fuzz_socket.py")
TARGETS = ["address", "inet", "getaddrinfo", "cadata", "cert-chain", "zssl-context"]
SECONDS = 20         # per target: the six stay under three minutes


@pytest.mark.parametrize("target", TARGETS)
def test_short_fuzz_run_finds_nothing(target, tmp_path):
    run = subprocess.run(
        [sys.executable, str(FUZZER), target, f"-max_total_time={SECONDS}", "-timeout=10",
         "-rss_limit_mb=2048", "-print_final_stats=1", f"-artifact_prefix={tmp_path}/"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=SECONDS + 120,
        stdin=subprocess.DEVNULL)
    findings = sorted(p.name for p in tmp_path.iterdir())
    start = run.stdout.find("=== Uncaught")
    report = run.stdout[start:][:4000] if start >= 0 else run.stdout[-4000:]
    assert run.returncode == 0 and not findings, (
        f"fuzz target {target!r} found something (exit {run.returncode}, {findings}):\n{report}")
    executed = re.search(r"stat::number_of_executed_units:\s*(\d+)", run.stdout)
    assert executed and int(executed.group(1)) > 1000, run.stdout[-2000:]
