"""How the suite runs on several workers (pytest-xdist) and beside other suites on one machine.

``scripts/kiln-dev test`` runs ``pytest tests -n 2 --dist loadgroup``: two worker processes,
each test sent to whichever is free, except that tests sharing an expensive set-up travel
together.  This plugin (loaded by ``tests/conftest.py``) decides which tests travel together and
in what order the work is handed out, and gives every test process its own temporary directory.
Plain ``pytest`` (no ``-n``) runs the same tests in the same order.

**Groups** (xdist's ``xdist_group`` mark; a test that already has one keeps it):

* every module of ``tests/system`` is one group -- its boots, labs and images are shared
  through module- and session-scoped fixtures -- split by board where a module- or
  session-scoped fixture is parametrized (``test_wifi.py`` boots each board once: the two
  boards' boots are two groups and may run on the two workers at once);
* a host-tier module whose tests use a module- or class-scoped fixture (an image build, an
  installed wheel) is one group, so that set-up happens once.

Every other test is its own unit of work.  A new system test module needs nothing: it is grouped
by this rule.  Mark ``@pytest.mark.xdist_group("name")`` only to group across modules.

**Order**: the groups known to be long start first (:data:`COST_S`, the measured serial seconds
of docs/performance.md: the Buildroot build, the farm, the Wi-Fi and SD-card boots...), then the
other groups, then the single tests, which fill both workers until the end.

**Scheduler**: with ``--dist loadgroup`` the controller uses ``GroupScheduling``, xdist's
group scheduler reading the groups from the workers (each writes its collection's groups to
``groups-<worker>.json`` in the run's directory) instead of from a ``@group`` suffix xdist adds
to every node id -- a suffix pytest 9.2's structured node ids silently drop
(pytest-dev/pytest-xdist#1386: every test then runs alone and two workers build the same
Buildroot configuration).  It hands the units out in the collection order above (xdist's own
reordering, biggest group first, is off).

**Temporary files**: each process that runs tests gets ``TMPDIR`` (and :mod:`tempfile`'s
default) set to a private directory, ``<tmp>/kiln-run-XXXXXXXX/<worker>`` (``gw0``, ``gw1``,
or ``main`` without xdist), inherited by every program a test starts (``kiln farm``, labgrid,
QEMU's wrappers, a nested pytest); it is removed when the process ends.  So a check such as
"no ``kiln-farm-*`` directory is left behind" sees this worker's directories only, never another
suite's running at the same time.  pytest's own ``tmp_path`` stays where pytest puts it
(``PYTEST_DEBUG_TEMPROOT`` is pinned to the original temporary root).

Names of network namespaces, ports and socket paths are already unique per use (random lab
names ``kiln-XXXXXXXX`` checked against ``/run/netns``, ports chosen by the kernel, paths in
private directories); the image and package caches shared by the workers are guarded by file
locks (:mod:`kiln.host.filelock`).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

#: Serial seconds of the longest groups (module file name -> seconds, docs/performance.md's
#: first table); only their relative size matters: the longest units start first.
COST_S = {
    "test_buildroot_qemu.py": 1500,     # the offline Buildroot build with TLS (cold: ~20-25 min)
    "test_sdcard_boards.py": 230,
    "test_pins_qemu.py": 330,           # three boots (qemu-aarch64, qemu-arm, rpi3b), one group
    "test_farm.py": 160,
    "test_wifi.py": 120,                # per board
    "test_installed_package.py": 92,
    "test_tls_qemu.py": 60,             # per board
    "test_programs.py": 60,             # per board
    "test_zerynth_runtime_apps.py": 60,
    "test_kiln_run.py": 60,
    "test_system_qemu.py": 40,          # per board
    "test_image_tls.py": 30,
    "test_image_boot.py": 40,
    "test_image_build.py": 30,
    "test_zerynth_apps.py": 40,
    "test_buildroot_tree.py": 60,
}
#: Cost of a group not in :data:`COST_S` (groups still start before single tests).
DEFAULT_GROUP_COST_S = 10
_SHARED_SCOPES = ("module", "class", "package", "session")
_RUN_DIR_ENV = "KILN_TEST_RUN_DIR"


# ------------------------------------------------------------------------------------------
# Private temporary directory per run and worker
# ------------------------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    """Point ``TMPDIR`` at this process's private directory (see the module docstring)."""
    root = tempfile.gettempdir()
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", root)     # pytest's basetemp stays put
    # xdist's worker id from the config, not $PYTEST_XDIST_WORKER: a pytest started by a test
    # (kiln farm test) inherits that variable without being a worker.
    worker = getattr(config, "workerinput", {}).get("workerid")
    run_dir = os.environ.get(_RUN_DIR_ENV) if worker else None
    owns_run_dir = run_dir is None or not os.path.isdir(run_dir)
    if owns_run_dir:
        run_dir = tempfile.mkdtemp(prefix="kiln-run-", dir=root)
        os.environ[_RUN_DIR_ENV] = run_dir          # inherited by xdist's workers
    private = Path(run_dir) / (worker or "main")
    private.mkdir(exist_ok=True)
    config.stash[_private_key] = (private, Path(run_dir) if owns_run_dir else None)
    os.environ["TMPDIR"] = str(private)
    tempfile.tempdir = str(private)
    config.pluginmanager.register(LongGroupsFirst(Path(run_dir), worker),
                                  "kiln-long-groups-first")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(GroupSchedulerPlugin(Path(run_dir)), "kiln-group-scheduler")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the private directory (and the run's, in the process that made it)."""
    private, run_dir = config.stash.get(_private_key, (None, None))
    for path in (private, run_dir):
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)


_private_key = pytest.StashKey[tuple]()


# ------------------------------------------------------------------------------------------
# Groups and order
# ------------------------------------------------------------------------------------------
def _shared_fixtures(item: pytest.Item) -> list[tuple[str, object]]:
    """``(name, FixtureDef)`` of the fixtures ``item`` uses whose instance outlives one test."""
    info = getattr(item, "_fixtureinfo", None)
    shared = []
    for name in getattr(item, "fixturenames", ()):
        defs = info.name2fixturedefs.get(name) if info else None
        if defs and defs[-1].scope in _SHARED_SCOPES:
            shared.append((name, defs[-1]))
    return shared


def group_of(item: pytest.Item, module_shares: bool) -> str | None:
    """The ``xdist_group`` of ``item`` by the rules of the module docstring, or None when it
    can run alone.  ``module_shares``: a test of its module uses a module- or class-scoped
    fixture."""
    module = item.nodeid.split("::", 1)[0]
    system = module.startswith("tests/system/") or "/tests/system/" in module
    if not (system or module_shares):
        return None
    shared = _shared_fixtures(item)
    callspec = getattr(item, "callspec", None)
    params = sorted(f"{name}={callspec.indices[name]}" for name, d in shared
                    if callspec is not None and name in callspec.indices and d.params)
    return module + (f"[{','.join(params)}]" if params else "")


def _cost(group: str | None) -> float:
    if group is None:
        return 0.0
    name = group.split("[", 1)[0].rsplit("/", 1)[-1]
    return float(COST_S.get(name, DEFAULT_GROUP_COST_S))


_group_key = pytest.StashKey[object]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test's group, before xdist reads the marks (a test already marked keeps its
    mark)."""
    sharing = {item.nodeid.split("::", 1)[0] for item in items
               if any(d.scope in ("module", "class", "package") for _, d in _shared_fixtures(item))}
    for item in items:
        explicit = item.get_closest_marker("xdist_group")
        if explicit is None:
            group = group_of(item, item.nodeid.split("::", 1)[0] in sharing)
            if group is not None:
                item.add_marker(pytest.mark.xdist_group(group))
        else:
            group = str(explicit.args[0] if explicit.args else explicit.kwargs.get("name"))
        item.stash[_group_key] = group


class LongGroupsFirst:
    """The second half of the collection hook, registered by :func:`pytest_configure`: it
    must run after pytest has ordered the tests by fixture (a module holds one hook per name).
    In an xdist worker it also writes the groups for the controller's scheduler."""

    def __init__(self, run_dir: Path, worker: str | None) -> None:
        self.run_dir, self.worker = run_dir, worker

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Put the long groups first, then the other groups, then the single tests.

        Otherwise stable (pytest's order within a group and among single tests), so every
        worker collects the same sequence, as xdist requires.
        """
        groups = [item.stash.get(_group_key, None) for item in items]
        first_seen: dict[object, int] = {}
        for i, group in enumerate(groups):
            first_seen.setdefault(group, i)
        order = sorted(range(len(items)), key=lambda i: (
            (-_cost(groups[i]), first_seen[groups[i]], i) if groups[i] is not None
            else (1, 0, i)))
        if self.worker is not None:
            write_groups(self.run_dir, self.worker, {item.nodeid: group for item, group
                                                     in zip(items, groups) if group is not None})
        items[:] = [items[i] for i in order]


def write_groups(run_dir: Path, worker: str, groups: dict[str, object]) -> None:
    """Publish ``worker``'s ``nodeid -> group`` map (written aside, then renamed)."""
    staging = run_dir / f".groups-{worker}.json"
    staging.write_text(json.dumps({k: str(v) for k, v in groups.items()}))
    staging.replace(run_dir / f"groups-{worker}.json")


def read_groups(run_dir: Path) -> dict[str, str] | None:
    """The groups the workers published (they collect the same tests: any one will do);
    None when none did."""
    for path in sorted(run_dir.glob("groups-*.json")):
        return json.loads(path.read_text())
    return None


class GroupSchedulerPlugin:
    """Makes xdist's controller use :class:`GroupScheduling` for ``--dist loadgroup``."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log):
        if config.getvalue("dist") != "loadgroup":
            return None
        config.option.loadscopereorder = False       # keep the collection order
        return _group_scheduling_class()(config, log, self.run_dir)


def _group_scheduling_class():
    """:class:`GroupScheduling`, defined on first use (xdist is imported only where used)."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        """xdist's scope scheduling with the workers' groups as scopes (a test without a group
        is a scope of its own)."""

        def __init__(self, config: pytest.Config, log, run_dir: Path) -> None:
            super().__init__(config, log)
            self.run_dir = run_dir
            self.groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:         # first call: every worker has collected by now
                self.groups = read_groups(self.run_dir)
                if self.groups is None:
                    raise RuntimeError(f"no test groups published in {self.run_dir}: the "
                                       "workers did not load tests/parallel.py")
            plain = nodeid.rsplit("@", 1)[0] if nodeid.rfind("@") > nodeid.rfind("]") else nodeid
            group = self.groups.get(nodeid) or self.groups.get(plain)
            return f"group:{group}" if group is not None else nodeid

    return GroupScheduling
