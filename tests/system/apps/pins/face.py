"""Entry point of one API face's run (started by main.py with ``--api $PROGRAMS_FACE``)."""
import os

from harness import run_checks

run_checks(os.environ["PROGRAMS_FACE"])
