"""Running pytest against places of a board farm.

:func:`run` acquires every place with ``labgrid-client``, runs one pytest process per place with
the place's environment file (``--lg-env``, ``LG_PLACE``, ``LG_COORDINATOR``), and releases the
places again whatever happens.  With several places the collected tests are dealt out round
robin, each process deselecting the others' (``--deselect``), so the places share the suite and
the run ends when the slowest finishes.  Each process writes a JUnit XML report; the outcomes
are merged per test (:class:`RunResult`).

The processes run in their own sessions with private ``--basetemp`` directories (removed
afterwards); Ctrl-C (KeyboardInterrupt) is passed on to them as SIGINT so their fixtures tear
down their network labs.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, TextIO

from kiln.host import proc as process
from kiln.host.farm.farm import FarmError, labgrid_client

ENV_RELATIVE = Path("tests/system/envs/farm-qemu.yaml")
ETHERNET_TESTS = "tests/system/test_system_qemu.py"
SHARD_STOP_GRACE_S = 60.0


@dataclass
class RunResult:
    """What a run gave: per test (``classname::name`` of the JUnit report) its outcome
    (``passed``, ``failed``, ``error``, ``skipped``), per place pytest's exit status."""

    places: list[str]
    outcomes: dict[str, str] = field(default_factory=dict)
    returncodes: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0          # acquire, collect, tests, release
    tests_s: float = 0.0         # from the first pytest process's start to the last one's end
    shards: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every pytest process passed and ran at least one test, every test passed."""
        return (bool(self.outcomes) and all(rc == 0 for rc in self.returncodes.values())
                and all(o == "passed" for o in self.outcomes.values()))

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        text = ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "no tests ran"
        return (f"{text} on {len(self.places)} place(s) ({', '.join(self.places)}): tests "
                f"{self.tests_s:.1f} s, whole run {self.wall_s:.1f} s")


def default_repo() -> Path:
    """The checkout holding ``tests/system`` (the one Kiln runs from, else the current
    directory)."""
    checkout = Path(__file__).resolve().parents[4]
    return checkout if (checkout / "tests" / "system").is_dir() else Path.cwd()


def place_tags(coordinator: str, place: str) -> dict[str, str]:
    """The tags of ``place`` (``labgrid-client show``)."""
    shown = labgrid_client(coordinator, "-p", place, "show").stdout
    match = re.search(r"^\s*tags:\s*(.*)$", shown, re.M)
    pairs = match.group(1).split(",") if match else []
    return dict(p.strip().split("=", 1) for p in pairs if "=" in p)


def default_args(board: str) -> list[str]:
    """The Ethernet system tests of ``board`` (test_system_qemu.py, that board's tests)."""
    return [ETHERNET_TESTS, "-k", board]


def collect(pytest_args: Sequence[str], repo: Path) -> list[str]:
    """The node ids ``pytest pytest_args`` selects (``--collect-only``)."""
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                             "-p", "no:cacheprovider", *pytest_args], cwd=repo,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    ids = [line.strip() for line in result.stdout.splitlines() if "::" in line]
    if result.returncode != 0 or not ids:
        raise FarmError(f"pytest collected nothing for {' '.join(pytest_args)}:\n"
                        f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return ids


def junit_key(nodeid: str) -> str:
    """The ``classname::name`` a JUnit report gives test ``nodeid``."""
    path, _, rest = nodeid.partition("::")
    classname = path[:-3].replace("/", ".") if path.endswith(".py") else path
    *classes, name = rest.split("::")
    return "::".join([".".join([classname, *classes]), name])


def read_junit(path: Path) -> dict[str, str]:
    """Outcome per test of a JUnit XML report (empty when the file is missing)."""
    try:
        root = ET.parse(path).getroot()
    except (FileNotFoundError, ET.ParseError):
        return {}
    outcomes = {}
    for case in root.iter("testcase"):
        kinds = {child.tag for child in case}
        outcome = ("failed" if "failure" in kinds else "error" if "error" in kinds
                   else "skipped" if "skipped" in kinds else "passed")
        key = f"{case.get('classname')}::{case.get('name')}"
        # A test failing at setup and erroring at teardown appears twice: keep the worst.
        if outcomes.get(key, "passed") == "passed":
            outcomes[key] = outcome
    return outcomes


def merge_junit(reports: Sequence[Path], dest: Path) -> None:
    """Write the test suites of ``reports`` as one ``<testsuites>`` file ``dest``."""
    merged = ET.Element("testsuites")
    for report in reports:
        try:
            root = ET.parse(report).getroot()
        except (FileNotFoundError, ET.ParseError):
            continue
        suites = [root] if root.tag == "testsuite" else list(root)
        merged.extend(suites)
    ET.ElementTree(merged).write(dest, encoding="utf-8", xml_declaration=True)


def run(coordinator: str, places: Sequence[str], pytest_args: Sequence[str], *,
        repo: Path | None = None, env_file: Path | None = None, junitxml: Path | None = None,
        output: TextIO = sys.stdout) -> RunResult:
    """Run ``pytest pytest_args`` against ``places`` (see the module docstring).

    ``env_file``: the place's environment file (default ``tests/system/envs/farm-qemu.yaml``).
    ``junitxml``: also write the merged JUnit report there.  Blocks until every process ends.
    Raises :class:`FarmError` when a place cannot be acquired (the others are released).
    """
    if not places:
        raise ValueError("no place to run on")
    repo = Path(repo or default_repo()).resolve()
    env_file = Path(env_file or repo / ENV_RELATIVE).resolve()
    result = RunResult(list(places))
    started = time.monotonic()
    acquired: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="kiln-farm-run-"))
    try:
        for place in places:
            labgrid_client(coordinator, "-p", place, "acquire")
            acquired.append(place)
        ids = collect(pytest_args, repo) if len(places) > 1 else []
        for i, place in enumerate(places):
            result.shards[place] = ids[i::len(places)]
        reports = _run_shards(coordinator, places, list(pytest_args), ids, result, repo,
                              env_file, workdir, output)
        for report in reports:
            result.outcomes.update(read_junit(report))
        if junitxml is not None:
            merge_junit(reports, Path(junitxml))
    finally:
        errors = []
        for place in acquired:
            released = labgrid_client(coordinator, "-p", place, "release", check=False)
            if released.returncode != 0:
                errors.append(f"{place}: {released.stderr.strip()}")
        shutil.rmtree(workdir, ignore_errors=True)
        result.wall_s = time.monotonic() - started
        if errors:
            raise FarmError("could not release: " + "; ".join(errors))
    return result


def _run_shards(coordinator, places, args, ids, result, repo, env_file, workdir, output):
    lock = threading.Lock()
    procs: dict[str, subprocess.Popen] = {}
    readers = []
    reports = []
    t0 = time.monotonic()
    try:
        for place in places:
            report = workdir / f"junit-{place}.xml"
            reports.append(report)
            others = [f"--deselect={i}" for i in ids if i not in result.shards[place]]
            argv = [sys.executable, "-m", "pytest", *args, *others, "--lg-env", str(env_file),
                    f"--junitxml={report}", f"--basetemp={workdir / ('tmp-' + place)}",
                    "-p", "no:cacheprovider"]
            env = dict(os.environ, LG_PLACE=place, LG_COORDINATOR=coordinator)
            env.pop("LG_ENV", None)
            proc = process.start(argv, cwd=repo, env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            procs[place] = proc
            prefix = f"[{place}] " if len(places) > 1 else ""
            reader = threading.Thread(target=_copy_lines, args=(proc.stdout, output, prefix, lock),
                                      daemon=True)
            reader.start()
            readers.append(reader)
        for place, proc in procs.items():
            result.returncodes[place] = proc.wait()
    except BaseException:
        for proc in procs.values():            # pytest tears its fixtures down on SIGINT
            if proc.poll() is None:
                process.signal_group(proc.pid, signal.SIGINT)
        for proc in procs.values():             # the readers drain and close the pipes
            process.stop(proc, SHARD_STOP_GRACE_S, sig=None, close_pipes=False)
        raise
    finally:
        for reader in readers:
            reader.join(5)
        result.tests_s = time.monotonic() - t0
    return reports


def _copy_lines(stream, output: TextIO, prefix: str, lock: threading.Lock) -> None:
    for raw in iter(stream.readline, b""):
        with lock:
            output.write(prefix + raw.decode(errors="replace"))
            output.flush()
    stream.close()
