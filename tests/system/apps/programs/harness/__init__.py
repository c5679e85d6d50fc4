"""Runs the check modules of one API face and reports them on the console.

A check is a module ``checks/<folder>/<name>.py`` -- ``common`` runs under every face, the
face's own folder only under it -- with ``run(ctx)`` that raises on failure and may return a
dict of facts for the host (values without whitespace after encoding, see :func:`_encode`).
Optional ``TIMEOUT`` (seconds, default 60).  Checks run one after the other in file-name order,
each on a worker thread: one that hangs is reported ``FAIL timed out`` and the next one runs.

Console lines (parsed by tests/system/test_programs.py):

    CHECK <face>.<name> ok [k=v ...]
    CHECK <face>.<name> FAIL <reason>
    CHECK <face>.<name> event <what> [k=v ...]     (ctx.event: the host acts, e.g. connects)
"""
import importlib
import os
import sys
import traceback

# CPython's threading whatever the face: under --api zerynth an app module's ``import threading``
# is Zerynth's (no daemon threads, timeouts in ms), and the harness is loaded as app code.
threading = importlib.import_module("threading")

DEFAULT_TIMEOUT = 60
APP_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Context:
    """What a check gets: ``face`` (zerynth, micropython or cpython), ``name`` (the check's
    ``<face>.<module>``), ``app_dir`` (the app's folder, /app on the board) and ``args``
    (the ``kiln.test_*`` kernel arguments: ``args["test_port"]`` for ``kiln.test_port=``)."""

    def __init__(self, face, name, args):
        self.face, self.name, self.args = face, name, args
        self.app_dir = APP_DIR

    def event(self, what, **facts):
        """Tell the host something it acts on (``CHECK <name> event <what> k=v ...``)."""
        _line(self.name, "event", what, *_facts(facts))


def kernel_args():
    """``{name: value}`` of the ``kiln.test*`` kernel arguments (``test_port``: ``"1883"``)."""
    try:
        with open("/proc/cmdline") as f:
            words = f.read().split()
    except OSError:
        return {}
    args = {}
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key.startswith("kiln.test"):
            args[key[len("kiln."):]] = value
    return args


def check_modules(face):
    """``[(folder, module name)]`` of the checks to run under ``face``, in order."""
    found = []
    for folder in ("common", face):
        directory = os.path.join(APP_DIR, "checks", folder)
        names = os.listdir(directory) if os.path.isdir(directory) else []
        found += [(folder, n[:-3]) for n in sorted(names)
                  if n.endswith(".py") and n != "__init__.py"]
    return found


def run_checks(face):
    """Run every check of ``face``; exits the process with 0 when all passed, else 1."""
    args = kernel_args()
    failures = 0
    for folder, module_name in check_modules(face):
        name = "%s.%s" % (face, module_name)
        outcome = {}
        try:
            module = importlib.import_module("checks.%s.%s" % (folder, module_name))
            timeout = getattr(module, "TIMEOUT", DEFAULT_TIMEOUT)
            worker = threading.Thread(target=_run_one, daemon=True,
                                      args=(module, Context(face, name, args), outcome))
            worker.start()
            worker.join(timeout)
            if worker.is_alive():
                outcome["error"] = "timed out after %s s" % timeout
        except BaseException as exc:   # the check module does not even import
            traceback.print_exc()
            outcome["error"] = "%s: %s" % (type(exc).__name__, exc)
        if "error" in outcome:
            failures += 1
            _line(name, "FAIL", " ".join(str(outcome["error"]).split()))
        else:
            _line(name, "ok", *_facts(outcome.get("facts") or {}))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if failures else 0)      # a hung check's thread must not keep the face alive


def _run_one(module, ctx, outcome):
    try:
        outcome["facts"] = module.run(ctx)
    except BaseException as exc:
        traceback.print_exc()
        outcome["error"] = "%s: %s" % (type(exc).__name__, exc)


def _encode(value):
    """A fact's value on one console word: ``%`` and whitespace percent-encoded."""
    out = []
    for ch in str(value):
        if ch == "%" or ch.isspace():
            out += ["%%%02X" % b for b in ch.encode("utf-8")]
        else:
            out.append(ch)
    return "".join(out)


def _facts(facts):
    return ["%s=%s" % (key, _encode(value)) for key, value in sorted(facts.items())]


def _line(name, *words):
    print("CHECK %s %s" % (name, " ".join(words)), flush=True)
