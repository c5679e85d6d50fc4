"""Guest side of bench/tls_tcg_bench.py: bench/tls_bench.py's measurements run on an emulated
board -- the same C peer and clients (cross-built into ``bin/``), the same Python client
variants (``variants/``), the same PKI (``pki/``) -- peer and client both on the guest, over
its loopback, so every number is TCG guest time.

Prints ``BENCH <measurement> <variant> <client JSON>`` per run, then ``BENCH done``.  What runs
comes from the kernel arguments ``kiln.tlsbench_reps``, ``kiln.tlsbench_seconds`` and
``kiln.tlsbench_variants``.
"""
import json
import os
import select
import ssl  # the image builder ships TLS for an app that imports ssl: the variants need it
import subprocess
import sys

APP = os.path.dirname(os.path.abspath(globals().get("__file__", "/app/main.py")))
# key: (client measure, peer mode, certificate, batch) -- bench/tls_bench.py's MEASUREMENTS
MEASUREMENTS = {
    "hs.ecdsa": ("handshake", "handshakes", "ec", 8),
    "hs.rsa": ("handshake", "handshakes", "rsa", 8),
    "bulk.send": ("bulk_send", "sink", "ec", 16),
    "bulk.recv": ("bulk_recv", "source", "ec", 16),
}
VARIANTS = {"c": None, "kiln": ("tls_kiln_micropython.py", "ktls"),
            "kiln-noktls": ("tls_kiln_micropython.py", "noktls"),
            "cpython": ("tls_cpython.py", "ktls")}
PEER_START_S = 60


def run_once(measure, variant, seconds, warmup):
    client_measure, mode, cert, batch = MEASUREMENTS[measure]
    pki = os.path.join(APP, "pki")
    peer = subprocess.Popen([os.path.join(APP, "bin", "tls_peer"), mode,
                             os.path.join(pki, cert + ".pem"), os.path.join(pki, cert + ".key")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([peer.stdout], [], [], PEER_START_S)
        line = peer.stdout.readline() if ready else ""
        if not line.startswith("PORT "):
            raise RuntimeError("tls_peer %s did not start: %r" % (mode, line))
        port = line.split()[1]
        spec = VARIANTS[variant]
        client = ([os.path.join(APP, "bin", "tls_client")] if spec is None
                  else [sys.executable, os.path.join(APP, "variants", spec[0])])
        argv = client + [client_measure, port, repr(seconds), repr(warmup), str(batch),
                         os.path.join(pki, "ca.pem")] + ([] if spec is None else [spec[1]])
        env = dict(os.environ, KILN_BENCH_PEER_PID=str(peer.pid))
        done = subprocess.run(argv, capture_output=True, text=True, env=env,
                              timeout=seconds + warmup + 300)
        if done.returncode != 0:
            raise RuntimeError("%s/%s failed: %s" % (measure, variant, done.stderr.strip()))
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if peer.poll() is None:
            peer.terminate()
        try:
            peer.wait(20)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()
        peer.communicate()


def main():
    args = dict(a.split("=", 1) for a in open("/proc/cmdline").read().split() if "=" in a)
    reps = int(args.get("kiln.tlsbench_reps", "3"))
    seconds = float(args.get("kiln.tlsbench_seconds", "2"))
    variants = args.get("kiln.tlsbench_variants", ",".join(VARIANTS)).split(",")
    measures = args.get("kiln.tlsbench_only", ",".join(MEASUREMENTS)).split(",")
    print("BENCH-INFO %s, %d CPUs" % (ssl.OPENSSL_VERSION, os.cpu_count()), flush=True)
    for _ in range(reps):
        for measure in measures:
            for variant in variants:
                result = run_once(measure, variant, seconds, seconds / 2)
                print("BENCH %s %s %s" % (measure, variant, json.dumps(result)), flush=True)
    print("BENCH done", flush=True)


main()
