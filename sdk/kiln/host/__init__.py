"""Kiln's host tooling: the ``kiln`` command (:mod:`kiln.host.cli`), the offline image builder
(:mod:`kiln.host.image`) and the QEMU runner with its network lab (:mod:`kiln.host.runner`).

Nothing here runs on a board, and nothing on a board imports it (:mod:`kiln.payload` declares
the split; the image's import check proves it).
"""
