"""Kiln's host tooling: what builds, boots, flashes and tests images; none of it runs on a board.

* :mod:`kiln.host.cli` -- the ``kiln`` command (each subcommand registered by its module);
  :mod:`kiln.host.boards_cli` -- ``kiln boards``;
* :mod:`kiln.host.image` -- the offline image builder (``kiln image``: stage, then pack);
* :mod:`kiln.host.runner` -- the QEMU runner with its network lab (``kiln run``);
* :mod:`kiln.host.flash` -- writing SD-card images to cards (``kiln flash``);
* :mod:`kiln.host.farm` -- a labgrid board farm on loopback and the tests through it
  (``kiln farm``);
* :mod:`kiln.host.buildroot` -- the Buildroot br2-external tree: generated defconfigs,
  Buildroot's checks, the offline build (``kiln buildroot``).

Nothing here runs on a board, and nothing on a board imports it (:mod:`kiln.payload` declares
the split; the image's import check proves it).  Layers and import directions:
``docs/architecture.md``.
"""
