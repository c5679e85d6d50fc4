"""tests/parallel.py on a small suite run with two xdist workers, as scripts/kiln-dev runs it.

A boot shared by a module stays on one worker; a module-scoped fixture parametrized by board
makes one group per board; the longest group is handed out first; each worker has a private
TMPDIR that is gone after the run.  (pytest 9.2 silently broke xdist's own grouping,
pytest-dev/pytest-xdist#1386: this is what would notice the next such break.)
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SYSTEM_MODULE = '''
import os, time, pytest
@pytest.fixture(scope="module")
def built():
    time.sleep(1.0)
    return os.getpid()
@pytest.mark.parametrize("i", range(4))
def test_shared_build(built, i):
    assert built == os.getpid()
'''
BOARD_MODULE = '''
import os, pytest
@pytest.fixture(scope="module", params=["a", "b"])
def board(request):
    return request.param, os.getpid()
def test_x(board):
    assert board[1] == os.getpid()
def test_y(board):
    assert board[1] == os.getpid()
'''
HOST_MODULE = '''
import os, tempfile, json, pytest
@pytest.mark.parametrize("i", range(12))
def test_single(i, tmp_path):
    with open(os.environ["PLAN_LOG"], "a") as log:
        log.write(json.dumps([os.environ["TMPDIR"], tempfile.gettempdir()]) + "\\n")
'''


def test_groups_order_and_private_temp_dirs_under_two_workers(tmp_path):
    suite = tmp_path / "suite"
    (suite / "tests" / "system").mkdir(parents=True)
    shutil.copy(HERE / "parallel.py", suite / "tests" / "parallel.py")
    (suite / "tests" / "conftest.py").write_text('pytest_plugins = ["parallel"]\n')
    (suite / "tests" / "system" / "test_buildroot_qemu.py").write_text(SYSTEM_MODULE)
    (suite / "tests" / "system" / "test_boards.py").write_text(BOARD_MODULE)
    (suite / "tests" / "test_host.py").write_text(HOST_MODULE)
    (suite / "pyproject.toml").write_text("")
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    plan_log = tmp_path / "temps.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-n", "2", "--dist", "loadgroup", "-v",
         "-p", "no:cacheprovider", "-p", "no:labgrid"],
        cwd=suite, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(temp_root), "PLAN_LOG": str(plan_log)})
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    placed = re.findall(r"^\[(gw\d)\](?: \[\s*\d+%\])? PASSED (\S+)", run.stdout, re.M)
    assert len(placed) == 4 + 4 + 12, out
    workers = {}
    for worker, nodeid in placed:
        workers.setdefault(nodeid.split("[")[0].split("::")[0] + (
            "[" + nodeid.split("[")[1][0] + "]" if "test_boards" in nodeid else ""), set()
        ).add(worker)
    # the shared build and each board's boot stay on one worker
    assert len(workers["tests/system/test_buildroot_qemu.py"]) == 1, placed
    assert len(workers["tests/system/test_boards.py[a]"]) == 1, placed
    assert len(workers["tests/system/test_boards.py[b]"]) == 1, placed
    # the order handed out: the longest group (COST_S: test_buildroot_qemu.py) first, the other
    # groups next, single tests last
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "no:labgrid"], cwd=suite, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(temp_root)}).stdout.split()
    ids = [i for i in listed if "::" in i]
    assert [i.split("::")[0] for i in ids] == (["tests/system/test_buildroot_qemu.py"] * 4
                                               + ["tests/system/test_boards.py"] * 4
                                               + ["tests/test_host.py"] * 12), ids
    # every worker had a private TMPDIR under the run's directory, removed afterwards
    temps = {tuple(json.loads(line)) for line in plan_log.read_text().splitlines()}
    assert len(temps) in (1, 2), temps
    for env_tmp, py_tmp in temps:
        assert env_tmp == py_tmp, temps
        private = Path(env_tmp)
        assert private.parent.parent == temp_root and private.parent.name.startswith("kiln-run-")
        assert private.name in ("gw0", "gw1"), temps
    left = [p.name for p in temp_root.iterdir() if not p.name.startswith("pytest-of-")]
    assert left == [], left                 # (pytest's own tmp_path root stays, as pytest keeps it)
