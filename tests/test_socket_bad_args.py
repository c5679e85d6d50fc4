"""Bad-input suite generated from the public signatures of both faces (see ``socket_badargs``).

Every argument of every public callable of ``networking.socket`` and ``usocket`` gets wrong types
and out-of-range values; every socket method is called on a closed socket.  A refusal must have
the documented exception type and name the function and the argument.  Cases run in a worker
process (``socket_worker``): a crash or hang fails that case only, and the worker is restarted.
"""
from __future__ import annotations

import errno
import importlib
import re

import pytest

from socket_badargs import (CLOSED_QUERIES, FACES, MODULES, build_cases, unclassified)
from socket_signatures import public_callables
from socket_worker import Worker

pytestmark = pytest.mark.usefixtures("watchdog")

CASES = build_cases()


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    try:
        yield w
    finally:
        w.close()


# ---- the stubs are the implementation's public surface ---------------------------------------
@pytest.mark.parametrize("face", FACES)
def test_stubs_list_every_public_callable(face):
    module = importlib.import_module(MODULES[face])
    runtime = {f"socket.{n}" for n in dir(module.socket)
               if not n.startswith("_") and callable(getattr(module.socket, n))}
    runtime |= {n for n in module.__all__ if callable(getattr(module, n))
                and not isinstance(getattr(module, n), type)} | {"socket"}
    stubs = {sig.id for sig in public_callables(face)}
    assert stubs == runtime


def _embedded_parameters(obj) -> list[str]:
    """Parameter names of the signature Cython embeds in the docstring's first line."""
    first = (obj.__doc__ or "").split("\n", 1)[0]
    match = re.fullmatch(r"[\w.]*\((.*)\)", first)
    assert match, f"no embedded signature in {first!r}"
    names = [p.split("=")[0].strip().lstrip("*") for p in match.group(1).split(",") if p.strip()]
    return [n for n in names if n not in ("self", "/")]


@pytest.mark.parametrize("face", FACES)
def test_stub_parameters_match_the_compiled_signatures(face):
    module = importlib.import_module(MODULES[face])
    for sig in public_callables(face):
        if sig.id == "socket":
            obj = module.socket
        elif sig.owner == "socket":
            obj = getattr(module.socket, sig.name)
        else:
            obj = getattr(module, sig.name)
        assert [p.name for p in sig.params] == _embedded_parameters(obj), sig.id


def test_every_parameter_has_bad_values_and_a_valid_value():
    assert unclassified() == []


def test_the_suite_is_big_enough_to_mean_something():
    assert len(CASES) > 500


# ---- the generated cases -------------------------------------------------------------------
def _check(outcome: dict, case) -> None:
    assert "died" not in outcome, f"worker crashed or hung: {outcome['died']}"
    assert outcome["leaked_fds"] == 0, f"{outcome['leaked_fds']} descriptor(s) leaked"
    name = case.sig.name
    if case.param is None and not case.closed:            # the valid call
        refused = outcome["raised"] and set(outcome["mro"]) & {"TypeError", "ValueError",
                                                                "OverflowError"}
        assert not refused, f"the valid call was refused: {outcome}"
    elif case.closed:
        if name in CLOSED_QUERIES:
            assert not outcome["raised"], outcome
            if CLOSED_QUERIES[name] != "any":
                assert outcome["result"] == repr(CLOSED_QUERIES[name])
        else:
            assert outcome["raised"] and "OSError" in outcome["mro"], outcome
            assert outcome["errno"] == errno.EBADF, outcome
    else:
        expected = case.bad.raises.__name__
        assert outcome["raised"], f"accepted: returned {outcome['result']}"
        assert expected in outcome["mro"], (
            f"expected {expected}, got {outcome['mro'][0]}: {outcome['message']}")
        assert f"{name}()" in outcome["message"], f"message does not name {name}(): " \
                                                  f"{outcome['message']!r}"
        assert f"'{case.param}'" in outcome["message"], (
            f"message does not name the argument '{case.param}': {outcome['message']!r}")


@pytest.mark.parametrize("case_id", list(CASES))
def test_case(case_id, worker):
    case = CASES[case_id]
    _check(worker.run(case_id), case)
