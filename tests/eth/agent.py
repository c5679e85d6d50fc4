"""Runs ``networking.eth`` calls inside a network namespace for the host tests.

Started as ``ip netns exec NS python -m tests.eth.agent``.  Protocol: one JSON object per line on
stdin, ``{"fn": "start", "args": [...], "kwargs": {...}}``; one JSON line per call on stdout,
``{"ok": result, "elapsed": s}`` or ``{"exc": "ConnectionTimeoutError", "msg": "...",
"elapsed": s}``.  ``fn`` is any public function of ``networking.eth``; named-tuple
results (events) are sent as dicts, the interface ``configure`` returns as
``{"ifname": name}``.  EOF on stdin stops the interface and exits.
"""
import json
import sys
import time

from networking import eth


def call(request: dict) -> dict:
    fn = getattr(eth, request["fn"])
    start = time.monotonic()
    try:
        result = fn(*request.get("args", []), **request.get("kwargs", {}))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which asserts on it
        return {"exc": type(exc).__name__, "msg": str(exc), "args": list(map(str, exc.args)),
                "elapsed": time.monotonic() - start}
    if hasattr(result, "_asdict"):          # NamedTuple results (events)
        result = result._asdict()
    elif hasattr(result, "ifname"):         # the interface configure() returns
        result = {"ifname": result.ifname}
    return {"ok": result, "elapsed": time.monotonic() - start}


def main() -> None:
    for line in sys.stdin:
        print(json.dumps(call(json.loads(line))), flush=True)
    eth.stop()


if __name__ == "__main__":
    main()
