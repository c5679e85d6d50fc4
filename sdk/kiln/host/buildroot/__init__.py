"""Kiln's Buildroot br2-external tree (``images/buildroot/``): generation, checks, CI build.

Host tooling behind ``kiln buildroot``:

* :mod:`kiln.host.buildroot.boards` -- what each Kiln board is in Buildroot terms (its
  defconfig name, board folder, and the upstream kernel/firmware/toolchain lines it follows);
* :mod:`kiln.host.buildroot.defconfigs` -- ``configs/kiln_<board>_defconfig`` generated from
  ``board_configs/<board>.toml`` plus that mapping, and the check that the committed files match;
* :mod:`kiln.host.buildroot.tree` -- finding a Buildroot tree: ``$KILN_BUILDROOT``, the tarball
  in ``../shared/buildroot/``, or a clone when the internet is reachable;
* :mod:`kiln.host.buildroot.checks` -- Buildroot's own checks: ``utils/check-package -b`` on every
  file of the tree, each defconfig loaded with nothing dropped, ``make show-info``;
* :mod:`kiln.host.buildroot.sources` -- the pinned, sha256-checked sources of the offline build;
* :mod:`kiln.host.buildroot.offline` -- the offline overlay: local source site, Debian's cross
  toolchain behind a wrapper, source overrides, the Debian kernel and its modules;
* :mod:`kiln.host.buildroot.build` -- the offline build of a QEMU board, cached per machine;
* :mod:`kiln.host.buildroot.cli` -- ``kiln buildroot defconfigs|check|build``.

Nothing here is needed on a board, nor by a Buildroot user with internet: they run
``make BR2_EXTERNAL=<kiln>/images/buildroot kiln_<board>_defconfig && make``.
"""
from __future__ import annotations

#: The Buildroot release the tree is written and checked against (long-term support series).
BUILDROOT_VERSION = "2026.02.3"
#: The LTS series users may build with.
BUILDROOT_SERIES = "2026.02"
