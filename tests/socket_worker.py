"""Worker process of the bad-input suites: runs cases of ``socket_badargs`` (or of the suite
module named on its command line, e.g. ``tls_badargs``) on request.

Protocol (one JSON object per line): it prints ``{"ready": true}`` once, then for each case id
read on stdin prints the case's outcome.  A crash (segfault, abort) ends the process: the test
that sent the case reports it and starts a new worker for the next case.
"""
from __future__ import annotations

import importlib
import json
import os
import select
import socket as std
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))


class Worker:
    """The test side: runs cases in a worker process, restarting it when it dies or hangs."""

    def __init__(self, case_timeout: float = 10.0, suite: str = "socket_badargs") -> None:
        self.case_timeout = case_timeout
        self.suite = suite
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, self.suite], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     bufsize=1)
        ready = self._read_line(60.0)
        if ready is None or not json.loads(ready).get("ready"):
            raise RuntimeError(f"socket worker did not start: {self._end()}")

    def _read_line(self, timeout: float) -> str | None:
        assert self.proc is not None and self.proc.stdout is not None
        readable, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not readable:
            return None
        line = self.proc.stdout.readline()
        return line or None

    def _end(self) -> str:
        """Stop the worker; describe how it ended (exit status and the end of its stderr)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return "not running"
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        err = proc.stderr.read() if proc.stderr else ""
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream:
                stream.close()
        return f"exit status {proc.returncode}; stderr: {err[-2000:]!r}"

    def run(self, case_id: str) -> dict[str, Any]:
        """The outcome of one case; ``{"died": ...}`` if the worker crashed or hung on it."""
        if self.proc is None:
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(case_id + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return {"id": case_id, "died": self._end()}
        line = self._read_line(self.case_timeout)
        if line is None:
            return {"id": case_id, "died": self._end()}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self._end()


def main() -> int:
    """Serve the cases of the suite module named on the command line (default
    ``socket_badargs``).  A suite with a ``worker_env()`` gets its result as ``run_case``'s
    second argument; otherwise that is a listening stdlib TCP socket on 127.0.0.1."""
    sys.path.insert(0, HERE)
    suite = importlib.import_module(sys.argv[1] if len(sys.argv) > 1 else "socket_badargs")
    cases = suite.build_cases()
    out = sys.stdout
    with std.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        env = suite.worker_env() if hasattr(suite, "worker_env") else listener
        out.write(json.dumps({"ready": True}) + "\n")
        out.flush()
        for line in sys.stdin:
            case_id = line.strip()
            if not case_id:
                continue
            outcome = suite.run_case(cases[case_id], env)
            out.write(json.dumps(outcome) + "\n")
            out.flush()
        if env is not listener:
            env.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
