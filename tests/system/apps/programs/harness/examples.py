"""Zerynth's published examples, unmodified, each run as a board runs its app -- after every
face's checks (main.py), because an example owns the board's network.

An example is ``examples/<name>/main.py`` in the app: the test copies Zerynth's published file
there byte for byte (tests/fixtures/zerynth-examples/, ``tests/zerynth_examples.py``), alone in
its folder as it is alone in its project.  It runs with the command the image's init runs an
app with when the app owns the network (``kiln.net=none``)::

    python3 -c 'from kiln.app import main; main()' --api zerynth --net none examples/NAME/main.py

First the boot's network is released: the launcher running main.py brought the board's Ethernet
up at boot (``kiln.net=dhcp``: ``eth.configure`` + ``eth.start`` in this process), and
``eth.stop()`` here releases the lease and takes the link down -- the state a ``kiln.net=none``
boot starts in, so the example's own ``eth.configure()``/``eth.start()`` meet what they meet on
a board.  Nothing runs on the network after the examples.

The examples loop forever, as board programs do.  Each line of an example's output goes to the
console as ``EXAMPLE <name> | <line>`` (the host checks them); after ``rounds`` lines equal to
its ``round_end`` line -- printed when a round has let go of the network -- the example is
stopped with SIGTERM.  Then ``CHECK example.<name> ok k=v ...`` (its sha256, the lines, the
rounds), or ``FAIL <reason>`` when it exits by itself, prints nothing for ``TIMEOUT`` seconds
or is missing.
"""
import hashlib
import importlib
import os
import signal
import subprocess
import sys

from harness import APP_DIR, _facts, _line

threading = importlib.import_module("threading")     # CPython's (see harness/__init__.py)

#: name -> (API face, the line ending one round of its loop, rounds to watch)
EXAMPLES = {
    # Zerynth v3: eth.configure(dhcp=True) / eth.start() / socket.socket(ifc=ifc) / an HTTP
    # GET to now.zerynth.com / eth.disconnect(), then sleep(3000) and again.
    "Ethernet_http": ("zerynth", "disconnected...", 2),
}
#: Longest silence of an example's output, in seconds.
TIMEOUT = 120


def release_boot_network():
    """Release the network the launcher brought up at boot; returns whether it was up."""
    from networking import eth
    was_up = eth.is_connected()
    eth.stop()
    return was_up


def run_example(name, api, round_end, rounds):
    """Run example ``name`` for ``rounds`` rounds (see the module docstring); its facts, or
    RuntimeError saying why not."""
    path = example_path(name)
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from kiln.app import main; main()", "--api", api, "--net",
         "none", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = lines = 0
    watchdog = None
    try:
        while seen < rounds:
            watchdog = threading.Timer(TIMEOUT, proc.kill)
            watchdog.start()
            raw = proc.stdout.readline()
            watchdog.cancel()
            if not raw:
                status = proc.wait()
                raise RuntimeError("it ended with status %d after %d rounds%s" % (
                    status, seen, " (silent for %d s: killed)" % TIMEOUT
                    if status == -signal.SIGKILL else ""))
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            print("EXAMPLE %s | %s" % (name, line), flush=True)
            lines += 1
            if line == round_end:
                seen += 1
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        status = proc.wait()
        proc.stdout.close()
    return {"sha256": sha, "rounds": seen, "lines": lines, "status": status}


def example_path(name):
    """Where example ``name`` is in the app."""
    return os.path.join(APP_DIR, "examples", name, "main.py")


def run_examples():
    """Release the boot's network, run every example; the names of those that failed (an
    example missing from the app fails; with none there, the network stays up)."""
    failed = [name for name in sorted(EXAMPLES) if not os.path.isfile(example_path(name))]
    for name in failed:
        _line("example." + name, "FAIL", "%s is not in the app (tests/system/test_programs.py "
              "copies the published file there)" % example_path(name))
    present = [name for name in sorted(EXAMPLES) if name not in failed]
    if not present:
        return failed
    try:
        released = release_boot_network()
    except Exception as exc:
        for name in present:
            _line("example." + name, "FAIL", "releasing the boot's network: %s: %s"
                  % (type(exc).__name__, exc))
        return failed + present
    for name in present:
        try:
            facts = run_example(name, *EXAMPLES[name])
        except Exception as exc:
            failed.append(name)
            reason = "%s: %s" % (type(exc).__name__, exc)
            _line("example." + name, "FAIL", " ".join(reason.split()))
        else:
            facts["boot_net_released"] = released
            _line("example." + name, "ok", *_facts(facts))
    return failed
