"""Regression tests for the socket hardening issue, one group per finding of the adversarial run
(data loss on timeouts is covered by ``test_socket_faults.py``; every argument of every public
callable by ``test_socket_bad_args.py``)."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

import pytest

from socket_faces import load_face

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")


# -- 2. timeouts ------------------------------------------------------------------------------
def test_zerynth_fractional_millisecond_timeout_reads_back(zerynth):
    with zerynth.module.socket() as s:
        s.settimeout(0.5)
        assert s.gettimeout() == 0.5
        s.settimeout(250)
        assert s.gettimeout() == 250 and isinstance(s.gettimeout(), int)


@pytest.mark.parametrize("face_name,tiny", [("zerynth", 1e-7), ("usocket", 1e-10)])
def test_tiny_positive_timeout_times_out_instead_of_going_non_blocking(face_name, tiny, peers):
    face = load_face(face_name)
    ks, _ = peers.stream_pair(face, "ipv4")
    ks.settimeout(tiny)
    assert ks.gettimeout() > 0
    with pytest.raises(TimeoutError) as info:
        ks.recv(1)
    assert info.value.errno == errno.ETIMEDOUT


@pytest.mark.parametrize("face_name,unit_ns,name", [("zerynth", 10**6, "timeout"),
                                                     ("usocket", 10**9, "value")])
def test_timeout_limit_is_one_limit_named_in_the_refusal(face_name, unit_ns, name):
    face = load_face(face_name)
    limit = (2**63 - 1) // unit_ns
    with face.module.socket() as s:
        s.settimeout(limit)                  # the largest accepted timeout works ...
        assert s.gettimeout() == limit
        for too_big in (limit + 1, 2**50 * unit_ns // 10**6, 1e300, float("inf")):
            with pytest.raises(ValueError) as info:   # ... and one more is refused, clearly
                s.settimeout(too_big)
            message = str(info.value)
            assert "settimeout()" in message and f"'{name}'" in message and str(limit) in message


# -- 3. closed sockets --------------------------------------------------------------------------
ZERO_LENGTH_AFTER_CLOSE = {
    "zerynth": {"recv(0)": lambda s: s.recv(0),
                "recv_into(bytearray(0))": lambda s: s.recv_into(bytearray(0)),
                'sendall(b"")': lambda s: s.sendall(b"")},
    "usocket": {"recv(0)": lambda s: s.recv(0),
                "recv_into(bytearray(0))": lambda s: s.recv_into(bytearray(0)),
                'sendall(b"")': lambda s: s.sendall(b""),
                "read(0)": lambda s: s.read(0),
                "readinto(bytearray(0))": lambda s: s.readinto(bytearray(0)),
                'write(b"")': lambda s: s.write(b"")},
}


@pytest.mark.parametrize("face_name,call", [(f, c) for f, calls in ZERO_LENGTH_AFTER_CLOSE.items()
                                            for c in calls])
def test_zero_length_calls_after_close_raise_ebadf(face_name, call):
    s = load_face(face_name).module.socket()
    s.close()
    with pytest.raises(OSError) as info:
        ZERO_LENGTH_AFTER_CLOSE[face_name][call](s)
    assert info.value.errno == errno.EBADF


# -- 5. IPv6 scope text ------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["::1%lo\x00junk", "::1%\u00b2", "::1%\u0663", "::1%",
                                  "::1%4294967296", "fe80::1%no-such-if"])
def test_bad_ipv6_scope_is_refused_naming_the_address(face, host):
    with face.module.socket(face.module.AF_INET6) as s:
        with pytest.raises(ValueError) as info:
            s.connect((host, 9))
    assert isinstance(info.value, OSError) and info.value.errno == errno.EINVAL
    assert "connect()" in str(info.value) and "'address'" in str(info.value)


@pytest.mark.parametrize("scope", ["lo", "1"])
def test_numeric_and_named_scopes_still_work(usock, scope):
    with usock.module.socket(usock.module.AF_INET6, usock.module.SOCK_DGRAM) as s:
        s.connect((f"::1%{scope}", 9))   # UDP: sets the peer, sends nothing
        assert tuple(s.getpeername())[:2] == ("::1", 9)


# -- 6. buffer types ---------------------------------------------------------------------------
READ_ONLY_OR_STRIDED = {"bytes": lambda: b"abcd",
                        "read-only memoryview": lambda: memoryview(bytearray(4)).toreadonly(),
                        "non-contiguous memoryview": lambda: memoryview(bytearray(8))[::2]}


@pytest.mark.parametrize("kind", READ_ONLY_OR_STRIDED)
@pytest.mark.parametrize("face_name,method", [("zerynth", "recv_into"),
                                              ("zerynth", "recvfrom_into"),
                                              ("usocket", "recv_into"),
                                              ("usocket", "recvfrom_into"),
                                              ("usocket", "readinto")])
def test_unusable_receive_buffer_is_a_type_error(face_name, method, kind, peers):
    face = load_face(face_name)
    ks, _ = peers.stream_pair(face, "ipv4")
    with pytest.raises(TypeError) as info:
        getattr(ks, method)(READ_ONLY_OR_STRIDED[kind]())
    assert f"{method}()" in str(info.value)


# -- 7. impossible sizes -------------------------------------------------------------------------
def test_impossible_size_is_refused_before_allocating(face, peers):
    ks, _ = peers.stream_pair(face, "ipv4")
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for size in (memory + 1, 2**62, 2**64):
        with pytest.raises(ValueError, match=r"recv\(\) argument 'bufsize' must be at most"):
            ks.recv(size)


def test_huge_sizes_never_print_a_system_error():
    """CPython 3.11 mishandles a failed bytearray allocation ("deallocated bytearray object has
    exported buffers", about one call in 400): an impossible size must not reach it."""
    program = textwrap.dedent("""
        import socket, networking.socket as z, usocket as u
        for m in (z, u):
            a, b = socket.socketpair()
            s = m.socket(m.AF_UNIX) if m is u else m.socket(fileno=a.detach())
            s.setblocking(False)
            for _ in range(3000):
                try:
                    s.recv(2**62)
                except ValueError:
                    pass
            s.close(); a.close(); b.close()
        print("done")
    """)
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "done", run.stderr
    assert run.stderr == ""


# -- 8. SockAddr equality ---------------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_sockaddr_equals_only_its_full_tuple_and_hashes_alike(usock, host):
    addr = usock.module.getaddrinfo(host, 80, 0, usock.module.SOCK_STREAM)[0][-1]
    full = tuple(addr)
    assert addr == full and hash(addr) == hash(full)
    assert addr != () and addr != full[:1]
    if len(full) == 4:
        assert addr != full[:2]
    assert {addr, full} == {full}


# -- 9. messages -----------------------------------------------------------------------------
def test_nbytes_of_wrong_type_is_named(usock, peers):
    ks, _ = peers.stream_pair(usock, "ipv4")
    with pytest.raises(TypeError, match=r"recv_into\(\) argument 'nbytes' must be an int or None, "
                                        r"not str"):
        ks.recv_into(bytearray(4), "x")


def test_non_ascii_port_is_named(usock):
    with pytest.raises(ValueError, match=r"getaddrinfo\(\) argument 'port'"):
        usock.module.getaddrinfo("127.0.0.1", "\uff18\uff10")


# -- found by the fuzzer -------------------------------------------------------------------------
def test_empty_unix_path_is_the_bare_family_as_in_cpython(face):
    """An empty AF_UNIX path used to become the abstract name "" (connect: ECONNREFUSED); as in
    CPython it is the bare family: connect fails with EINVAL, bind autobinds."""
    m = face.module
    with m.socket(m.AF_UNIX, m.SOCK_DGRAM) as s:
        with pytest.raises(OSError) as info:
            s.connect("")
        assert info.value.errno == errno.EINVAL
    with m.socket(m.AF_UNIX, m.SOCK_DGRAM) as s:
        s.bind("")
        name = s.getsockname()
        assert isinstance(name, bytes) and name[:1] == b"\0" and len(name) == 6
