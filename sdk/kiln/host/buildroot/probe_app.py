"""Probe app of the offline Buildroot image (guest side: runs as /app/main.py under QEMU).

One boot checks what the Buildroot image must do: the launcher brought ``eth`` up by DHCP
(``kiln.net=dhcp``, the default; it prints ``KILN: net dhcp ...``), the lab's DNS answers a
name, and both socket faces --
``networking.socket`` (Zerynth) and ``usocket`` (MicroPython), the Cython core cross-compiled by
Buildroot -- exchange data with host-side TCP servers.  Kernel arguments (``/proc/cmdline``):

  kiln.probe_host=<name>   name of the host side, resolved through the lab's DNS
  kiln.probe_zport=<port>  TCP server for the Zerynth face
  kiln.probe_uport=<port>  TCP server for the MicroPython face
  kiln.probe_seed=<int>    seed of the payloads (see :func:`payload`)
  kiln.probe_size=<int>    payload size in bytes
  kiln.probe_tls=<port>    (optional) the host's HTTP file server holding ``tls_material.py``:
                           then the TLS checks run too (:func:`probe_tls`)

The TLS checks are the TLS system test's guest app (``tests/system/apps/tls/main.py``, which the
test installs as ``/app/tls_checks/`` beside this file): HTTPS, MQTT over TLS with a client
certificate, bulk data with kernel TLS on and off, a TLS server on the board; they print
``CHECK`` lines.  Prints ``PROBE <what> key=value ...`` lines and exits 0; any failure raises
(non-zero status, traceback on the console).  The host-side test imports :func:`payload`,
:func:`digest` and :func:`parse` so both ends agree.  Stdlib and Kiln only; importable on the
host without effect.
"""
import hashlib
import os
import re
import sys

LINE_RE = re.compile(r"^PROBE (\S+)((?: \S+=\S*)*)\s*$")


def payload(seed, size, face):
    """``size`` deterministic bytes for ``face`` ("zerynth" or "usocket") from ``seed``."""
    out = bytearray()
    block = 0
    while len(out) < size:
        out += hashlib.sha256(("%s:%d:%d" % (face, seed, block)).encode()).digest()
        block += 1
    return bytes(out[:size])


def digest(data):
    """Short digest printed on the console for received data."""
    return hashlib.sha256(bytes(data)).hexdigest()[:16]


def parse(text):
    """``{what: {key: value}}`` of the PROBE lines in ``text`` (last one wins)."""
    found = {}
    for line in text.replace("\r", "").splitlines():
        m = LINE_RE.match(line.strip())
        if m:
            found[m.group(1)] = dict(kv.split("=", 1) for kv in m.group(2).split())
    return found


def report(what, **facts):
    print("PROBE %s %s" % (what, " ".join("%s=%s" % kv for kv in sorted(facts.items()))))


def kernel_args():
    with open("/proc/cmdline") as f:
        words = f.read().split()
    return {w.split("=", 1)[0][len("kiln."):]: w.split("=", 1)[1]
            for w in words if w.startswith("kiln.probe_") and "=" in w}


def probe_platform():
    import kiln.net
    net_dir = os.path.dirname(kiln.net.__file__)
    extensions = sorted(f for f in os.listdir(net_dir) if f.endswith(".so"))
    if not extensions:
        raise RuntimeError("no Cython extension modules in %s" % net_dir)
    for name in extensions:
        __import__("kiln.net." + name.split(".")[0])
    report("platform", machine=os.uname().machine, python="%d.%d" % sys.version_info[:2],
           extensions=len(extensions), suffix=extensions[0].split(".", 1)[1])


def probe_network(args):
    import socket as std
    import usocket
    resolved = str(usocket.getaddrinfo(args["probe_host"], 80)[0][-1][0])
    udp = std.socket(std.AF_INET, std.SOCK_DGRAM)
    udp.connect((resolved, 9))       # sends nothing: picks the source address of the route
    address = udp.getsockname()[0]
    udp.close()
    report("network", address=address, resolved=resolved)
    return resolved


def probe_zerynth(host, args):
    from networking import socket
    seed, size = int(args["probe_seed"]), int(args["probe_size"])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20000)                       # milliseconds (Zerynth)
    s.connect((host, int(args["probe_zport"])))
    s.sendall(payload(seed, size, "zerynth"))
    reply = s.recv(size)                      # waits for all `size` bytes, a bytearray
    s.close()
    report("zerynth", received=len(reply), type=type(reply).__name__, digest=digest(reply))


def probe_usocket(host, args):
    import usocket
    seed, size = int(args["probe_seed"]), int(args["probe_size"])
    s = usocket.socket(usocket.AF_INET, usocket.SOCK_STREAM)
    s.settimeout(20)                          # seconds (MicroPython)
    s.connect(usocket.getaddrinfo(host, int(args["probe_uport"]))[0][-1])
    s.write(payload(seed, size, "usocket"))
    reply = bytearray()
    while len(reply) < size:
        chunk = s.recv(size - len(reply))     # returns what arrived
        if not chunk:
            break
        reply += chunk
    s.close()
    report("usocket", received=len(reply), type=type(reply).__name__, digest=digest(reply))


def http_get(host, port, path):
    """The body of ``GET path`` from a plain HTTP/1.0 server (usocket); raises unless 200."""
    import usocket
    s = usocket.socket(usocket.AF_INET, usocket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(usocket.getaddrinfo(host, port)[0][-1])
    s.write(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    response = bytearray()
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        response += chunk
    s.close()
    head, _, body = bytes(response).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if status.split()[1:2] != [b"200"]:
        raise RuntimeError("GET %s: %r" % (path, status))
    return body


def probe_tls(host, args, app_dir="/app/tls_checks", run_dir="/tmp/kiln-tls-checks"):
    """Run the TLS checks: fetch ``tls_material.py`` (the test CA and the board's certificates,
    made at test time, so not part of the image) from the host's file server, put it beside a
    copy of the TLS app, and run that app through Kiln's launcher with the MicroPython API in a
    child process (its ``CHECK`` lines go to the console).  Reports its exit status; raises
    when it failed."""
    import shutil
    import subprocess
    material = http_get(host, int(args["probe_tls"]), "/tls_material.py")
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(app_dir, run_dir)
    with open(os.path.join(run_dir, "tls_material.py"), "wb") as f:
        f.write(material)
    sys.stdout.flush()
    status = subprocess.call([sys.executable, "-m", "kiln.app", "--api", "micropython",
                              os.path.join(run_dir, "main.py")])
    report("tls", status=status)
    if status != 0:
        raise RuntimeError("the TLS checks failed (status %d)" % status)


def main():
    args = kernel_args()
    probe_platform()
    host = probe_network(args)
    probe_zerynth(host, args)
    probe_usocket(host, args)
    if "probe_tls" in args:
        probe_tls(host, args)
    report("done")


if __name__ == "__main__":
    main()
