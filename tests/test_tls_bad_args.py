"""Bad-input suite of the TLS modules, generated from their stubs (see ``tls_badargs``).

Every argument of every public callable of ``kiln.net.tls``, ``tls`` (``kiln.net.utls``),
MicroPython's ``ssl`` (``kiln.net.ussl``) and Zerynth's ``ssl`` (``kiln.net.zssl``) -- and every
socket method of their TLS sockets -- gets wrong types and out-of-range values: certificates and
keys that are empty, garbage, truncated, of the wrong kind, encrypted or mismatched; paths that
do not exist; host names with NUL bytes or lone surrogates; sockets of the wrong kind.  A refusal
must have the expected exception type and name the call and the argument; the valid call must
not be refused; socket methods on a closed TLS socket raise OSError(EBADF).  Cases run in a
worker process: a crash or hang fails that case only.
"""
from __future__ import annotations

import errno

import pytest

from socket_badargs import CLOSED_QUERIES
from socket_worker import Worker
from tls_badargs import (MODULES, REFUSED_ON_TLS, build_cases, runtime_callables, signatures,
                         unclassified)

pytestmark = pytest.mark.usefixtures("watchdog")

CASES = build_cases()


@pytest.fixture(scope="module")
def worker():
    w = Worker(suite="tls_badargs")
    try:
        yield w
    finally:
        w.close()


@pytest.mark.parametrize("module", list(MODULES))
def test_stubs_list_every_public_callable(module):
    stubs = {s.id for s in signatures(module)}
    runtime = runtime_callables(module)
    assert stubs == runtime


def test_every_parameter_has_bad_values_and_a_valid_value():
    assert unclassified() == []


def test_the_suite_is_big_enough_to_mean_something():
    assert len(CASES) > 600


# Cython's own refusal of a typed parameter of kiln.net.tls's functions (the core's internal
# API, which the faces call after their own checks): it names the argument, not the call.
CYTHON_TYPE_CHECK = "Argument '{param}' has incorrect type"


def _labels(case) -> list[str]:
    """What the refusal message may name as the call."""
    sig = case.sig
    if sig.kind == "socket-method":
        return [f"{sig.name}()" if sig.name != "__init__" else "socket()"]
    labels = [sig.label]
    if sig.module == "tls" and sig.name in ("attach", "wrap"):
        labels.append("wrap_socket()")          # what they implement, for the faces
    if sig.module == "tls" and sig.owner == "module":
        labels.append(CYTHON_TYPE_CHECK.format(param=case.param))
    if sig.name == "__init__" and sig.owner == "sslsocket":
        labels.append("socket()")               # family/type/proto: the Zerynth socket's
    return labels


def _check(outcome: dict, case) -> None:
    assert "died" not in outcome, f"worker crashed or hung: {outcome['died']}"
    assert outcome["leaked_fds"] == 0, f"{outcome['leaked_fds']} descriptor(s) leaked"
    sig = case.sig
    refused_on_tls = REFUSED_ON_TLS.get(sig.name) if sig.kind == "socket-method" else None
    if refused_on_tls is not None and not case.closed:
        # Refused on a TLS socket whatever the arguments (or for the bad one first).
        assert outcome["raised"], outcome
        expected = case.bad.raises.__name__ if case.bad else refused_on_tls.__name__
        assert refused_on_tls.__name__ in outcome["mro"] or expected in outcome["mro"], outcome
        assert f"{sig.name}()" in outcome["message"], outcome
        return
    if case.param is None and not case.closed:
        refused = outcome["raised"] and set(outcome["mro"]) & {"TypeError", "ValueError",
                                                                "OverflowError"}
        assert not refused, f"the valid call was refused: {outcome}"
    elif case.closed:
        if sig.name in CLOSED_QUERIES:
            assert not outcome["raised"], outcome
            if CLOSED_QUERIES[sig.name] != "any":
                assert outcome["result"] == repr(CLOSED_QUERIES[sig.name])
        else:
            assert outcome["raised"] and "OSError" in outcome["mro"], outcome
            assert outcome["errno"] == errno.EBADF, outcome
    else:
        expected = case.bad.raises.__name__
        assert outcome["raised"], f"accepted: returned {outcome['result']}"
        assert expected in outcome["mro"], (
            f"expected {expected}, got {outcome['mro'][0]}: {outcome['message']}")
        if case.bad.label.startswith("closed"):
            assert outcome["errno"] == errno.EBADF, outcome      # the socket itself is bad
            return
        labels = _labels(case)
        assert any(label in outcome["message"] for label in labels), (
            f"message does not name {' or '.join(labels)}: {outcome['message']!r}")
        assert sig.kind == "setter" or f"'{case.param}'" in outcome["message"], (
            f"message does not name the argument '{case.param}': {outcome['message']!r}")


@pytest.mark.parametrize("case_id", list(CASES))
def test_case(case_id, worker):
    case = CASES[case_id]
    _check(worker.run(case_id), case)
