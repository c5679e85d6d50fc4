"""Fixtures of the system tests: images, network labs, labgrid-driven guests, leak checks.

The network lab (:class:`kiln.host.runner.netlab.NetLab` in tap mode: namespace, tap, dnsmasq,
host-side servers) and the target (a labgrid place driven through ``KilnStrategy``, see
``labgrid_env.py`` and ``kiln_labgrid.py``) are separate fixtures, so the same tests can later
get a real board from a labgrid coordinator.  The boards are those of ``board_configs/`` with a
``[qemu]`` table.

Everything here needs root, /dev/net/tun, qemu-system-arm and dnsmasq (``.ci/run`` installs
them through requirements/apt.txt).  Nothing skips: a missing piece fails with the fix named.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))      # tests/: helpers shared with the host tier (tls_pki)
sys.path.insert(0, str(HERE / "apps"))
sys.path.insert(0, str(HERE))

from kiln import boards  # noqa: E402
from kiln.host.runner import netns, preflight  # noqa: E402
from kiln.host.runner.boot import BootImage  # noqa: E402
from kiln.host.runner.netlab import TAP_NAME, NetLab  # noqa: E402

from guest import Guest, GuestStarter, running as _running  # noqa: E402
from image_cache import session_image  # noqa: E402
from layout import APPS, image_dir, initramfs_qemu_boards  # noqa: E402


class SessionResources:
    """Every namespace and QEMU (or other lab) process the session created, for the final
    leak check.  Only the session's own are checked: other people's labs may run alongside."""

    def __init__(self) -> None:
        self.namespaces: set[str] = set()
        self.qemu_pids: set[int] = set()


def pytest_configure(config):
    """labgrid's ``--lg-env FILE`` chooses the place as ``$KILN_LG_ENV`` does (labgrid_env.py)."""
    from labgrid_env import take_labgrid_options
    take_labgrid_options(config)


@pytest.fixture(scope="session")
def resources():
    """Session bookkeeping; at the end asserts no namespace, tap or QEMU of ours is left."""
    res = SessionResources()
    yield res
    assert_nothing_left(res)


def assert_nothing_left(res: SessionResources) -> None:
    """Fail if a namespace or QEMU process created by this session still exists."""
    left_ns = sorted(res.namespaces & set(netns.list_names()))
    live = sorted(pid for pid in res.qemu_pids if _running(pid))
    host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    host_taps = [TAP_NAME] if f" {TAP_NAME}:" in host_links else []
    assert not (left_ns or live or host_taps), (
        f"left behind: namespaces {left_ns}, processes {live}, taps in the host namespace "
        f"{host_taps}")


@pytest.fixture(scope="session", params=initramfs_qemu_boards())
def board(request):
    """Each initramfs QEMU board in turn (read from board_configs/); its host prerequisites
    checked.  (SD-card boards: test_sdcard_boards.py.)"""
    b = boards.load(request.param)
    problems = preflight.problems_for_run(b)
    assert not problems, "host not ready for system tests:\n" + "\n".join(problems)
    return b


@pytest.fixture(scope="session")
def image(board, tmp_path_factory) -> BootImage:
    """The board's image with ``apps/lab_checks.py`` as its app, built in ``image_dir(board)``
    only when its inputs changed (``kiln run --out-dir`` there reuses it); the session boots a
    private copy, safe from a concurrent session rebuilding it."""
    return session_image(board, APPS / "lab_checks.py", image_dir(board),
                         tmp_path_factory.mktemp(f"image-{board.name}"))


@pytest.fixture
def lab(resources):
    """A fresh network lab for one test; its namespace is gone afterwards (asserted)."""
    with NetLab() as netlab:
        resources.namespaces.add(netlab.name)
        yield netlab
    assert not netns.exists(netlab.name), f"namespace {netlab.name} survived close()"


@pytest.fixture
def boot_guest(board, image, lab, resources):
    """``boot_guest(static=False, **test_args)`` boots the image with ``kiln.test_*`` args.

    Returns a started :class:`guest.Guest`; it is powered off at the end of the test.
    """
    from kiln.host.runner.boot import guest_cmdline
    starter = GuestStarter(board, image, resources)

    def boot(static: bool = False, **test_args) -> Guest:
        extra = " ".join(f"kiln.{k}={v}" for k, v in test_args.items())
        return starter.start(lab, guest_cmdline(image, lab, static, extra))

    yield boot
    starter.close_all()
