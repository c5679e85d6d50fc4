"""Guest side of Kiln's system tests: one scenario per boot, chosen on the kernel command line.

Kernel arguments read from /proc/cmdline:
  kiln.test=<scenario>     imports | address | tcp_to_host | tcp_from_host | udp_round_trip;
                           absent: the ``kiln run`` scenario (resolve now.zerynth.com, exit 7)
  kiln.test_host=<name>    host-side server (name or IPv4; names go through the lab's DNS)
  kiln.test_port=<port>    TCP/UDP port of the host-side server, or the port the guest listens on
  kiln.test_seed=<int>     seed of the payloads (see :func:`pattern`)
  kiln.test_size=<int>     payload size in bytes

Prints ``CHECK <scenario> key=value ...`` lines that the host-side test parses and exits with
status 0 (the guest init reports it).  Any failure raises, so the status is non-zero and the
traceback is on the console.  The host side imports :func:`pattern` and :func:`digest` from
here so both ends agree on payloads.
"""
import hashlib
import sys


def pattern(seed, size):
    """``size`` deterministic pseudo-random bytes derived from integer ``seed``."""
    out = bytearray()
    block = 0
    while len(out) < size:
        out += hashlib.sha256(("%d:%d" % (seed, block)).encode()).digest()
        block += 1
    return bytes(out[:size])


def digest(data):
    """Short hex digest used on the console to report what was received."""
    return hashlib.sha256(bytes(data)).hexdigest()[:16]


def reply_for(data):
    """What a host-side server answers to ``data``: the bytes reversed."""
    return bytes(data)[::-1]


def kernel_args(text):
    """``{name: value}`` of the ``kiln.test*`` arguments in a kernel command line."""
    args = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if sep and key.startswith("kiln.test"):
            args[key[len("kiln."):]] = value
    return args


def check(scenario, **facts):
    print("CHECK %s %s" % (scenario, " ".join("%s=%s" % kv for kv in sorted(facts.items()))))


def scenario_imports(args):
    import os
    import kiln.net
    import networking
    import usocket
    from networking import socket as zsocket
    net_dir = os.path.dirname(kiln.net.__file__)
    names = sorted(f.split(".")[0] for f in os.listdir(net_dir) if f.endswith(".so"))
    if not names:
        raise RuntimeError("no extension modules in %s" % net_dir)
    for name in names:
        module = __import__("kiln.net." + name, fromlist=[name])
        check("imports", module="kiln.net." + name, file=os.path.basename(module.__file__))
    check("imports", networking=networking.__name__, usocket=usocket.__name__,
          zsocket=zsocket.__name__, machine=os.uname().machine)


def scenario_address(args):
    import socket as std
    import usocket
    host = args["test_host"]
    resolved = _sockaddr_ip(usocket.getaddrinfo(host, 9)[0][-1])  # via the lab's dnsmasq
    probe = std.socket(std.AF_INET, std.SOCK_DGRAM)
    probe.connect((resolved, 9))  # no packet is sent: this only picks the source address
    check("address", ip=probe.getsockname()[0], resolved=resolved)
    probe.close()


def scenario_tcp_to_host(args):
    """Zerynth face: connect to the host-side server, send a payload, read its reply."""
    from networking import socket
    seed, size = int(args["test_seed"]), int(args["test_size"])
    payload = pattern(seed, size)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20000)  # milliseconds (Zerynth)
    s.connect((args["test_host"], int(args["test_port"])))
    s.sendall(payload)
    reply = s.recv(size)  # Zerynth: waits for all `size` bytes, returns a bytearray
    s.close()
    check("tcp_to_host", sent=size, received=len(reply), type=type(reply).__name__,
          digest=digest(reply))


def scenario_tcp_from_host(args):
    """MicroPython face: listen, accept the host's connection, answer its payload reversed."""
    import usocket
    size = int(args["test_size"])
    server = usocket.socket(usocket.AF_INET, usocket.SOCK_STREAM)
    server.setsockopt(usocket.SOL_SOCKET, usocket.SO_REUSEADDR, 1)
    server.bind(usocket.getaddrinfo("0.0.0.0", int(args["test_port"]))[0][-1])
    server.listen(1)
    server.settimeout(60)  # seconds (MicroPython)
    check("tcp_from_host", listening=args["test_port"])
    conn, peer = server.accept()
    conn.settimeout(20)
    data = bytearray()
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    conn.write(reply_for(data))
    conn.close()
    server.close()
    check("tcp_from_host", received=len(data), digest=digest(data), peer=_sockaddr_ip(peer))


def scenario_udp_round_trip(args):
    """A datagram to the host-side server and its reply, through both socket faces."""
    import usocket
    from networking import socket
    seed, size = int(args["test_seed"]), int(args["test_size"])
    host, port = args["test_host"], int(args["test_port"])

    u = usocket.socket(usocket.AF_INET, usocket.SOCK_DGRAM)
    u.settimeout(20)
    u.sendto(pattern(seed, size), usocket.getaddrinfo(host, port)[0][-1])
    data, _ = u.recvfrom(2048)
    u.close()
    check("udp_round_trip", face="usocket", received=len(data), digest=digest(data))

    z = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    z.settimeout(20000)
    z.sendto(pattern(seed + 1, size), (host, port))
    data, _ = z.recvfrom(2048)
    z.close()
    check("udp_round_trip", face="networking", received=len(data), digest=digest(data))


def _sockaddr_ip(sockaddr):
    """The IPv4 address of a socket address from either face (a tuple or a SockAddr, which
    indexes like its tuple form)."""
    return str(sockaddr[0])


RUN_SCENARIO_STATUS = 7  # distinctive, so a test sees `kiln run` pass the app's status on


def scenario_kiln_run(args):
    """Booted by ``kiln run`` (no kernel arguments of ours): resolve the name the Zerynth demo
    uses through the lab's DNS, then exit with a distinctive status."""
    import usocket
    resolved = _sockaddr_ip(usocket.getaddrinfo("now.zerynth.com", 80)[0][-1])
    check("kiln_run", resolved=resolved)
    sys.exit(RUN_SCENARIO_STATUS)


SCENARIOS = {
    "imports": scenario_imports,
    "address": scenario_address,
    "tcp_to_host": scenario_tcp_to_host,
    "tcp_from_host": scenario_tcp_from_host,
    "udp_round_trip": scenario_udp_round_trip,
    "kiln_run": scenario_kiln_run,
}


def main():
    with open("/proc/cmdline") as f:
        args = kernel_args(f.read())
    name = args.get("test", "kiln_run")
    if name not in SCENARIOS:
        print("lab_checks: kiln.test=%r is not one of %s" % (name, sorted(SCENARIOS)))
        sys.exit(2)
    print("CHECK start scenario=%s" % name)
    SCENARIOS[name](args)
    print("CHECK done scenario=%s" % name)


if __name__ == "__main__":
    main()
