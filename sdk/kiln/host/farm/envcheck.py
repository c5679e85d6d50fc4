"""Loading a labgrid environment file and resolving its drivers, activating nothing.

What a lab admin checks before a place is used, and what the tests check of the example
environment of a real Raspberry Pi 4 place on a machine without the Pi: the file parses, every
``imports:`` module loads, every resource is created (a ``RemotePlace`` expands to the place's
resources, which needs the place acquired by you) and every driver binds to what it needs --
without touching hardware (no driver is activated).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import attr

PLACEHOLDER = "kiln-check-env"
_TEMPLATE_RE = re.compile(r"\$\{?(LG_[A-Za-z0-9_]+)")


@contextlib.contextmanager
def labgrid_variables(variables: dict[str, str]) -> Iterator[None]:
    """Set ``variables`` in the process environment for the ``with`` block only: labgrid reads
    its ``LG_*`` substitutions from there while it parses a file, and nothing started later
    (QEMU, services) should inherit them.  The previous values are restored."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def check_environment(path: Path, variables: dict[str, str]) -> dict:
    """Load environment file ``path`` with ``variables`` (an ``LG_*`` variable it uses that is
    given neither here nor in the process environment gets a placeholder) and describe its
    targets: ``{"file": ..., "placeholders": [...], "targets": {name: {"resources": [...],
    "drivers": {class: {binding: bound}}}}}``.

    ``path``'s directory and its parent are put on ``sys.path`` first (``imports:`` names
    such as ``kiln_labgrid`` live beside the ``envs/`` folder).  Raises what labgrid raises
    for a broken file, an unknown class or a failed binding.
    """
    from labgrid import Environment

    path = Path(path).resolve()
    needed = set(_TEMPLATE_RE.findall(path.read_text()))
    values = {name: os.environ[name] for name in needed if os.environ.get(name)}
    placeholders = sorted(needed - set(values) - set(variables))
    values.update({name: PLACEHOLDER for name in placeholders})
    values.update(variables)
    for folder in (path.parent.parent, path.parent):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    with labgrid_variables(values):
        env = Environment(config_file=str(path))
        report = {"file": str(path), "placeholders": placeholders, "targets": {}}
        for name in env.config.get_targets():
            target = env.get_target(name)
            report["targets"][name] = {
                "resources": [_describe(r) for r in target.resources],
                "drivers": {type(d).__name__: {b: _describe(getattr(d, b, None))
                                               for b in d.bindings}
                            for d in target.drivers},
            }
        env.cleanup()
        return report


def _describe(obj) -> dict | None:
    if obj is None:
        return None
    described = {"class": type(obj).__name__}
    if hasattr(obj, "avail"):
        described["avail"] = obj.avail
    for field in attr.fields(type(obj)):
        if field.name in ("target", "name", "avail", "state"):
            continue
        value = getattr(obj, field.name, None)
        if isinstance(value, (str, int, float, bool)) or value is None:
            described[field.name] = value
    return described
