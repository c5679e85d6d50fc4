"""The program-test app (tests/system/test_programs.py): checks of programs as MicroPython and
Zerynth users write them, all in one boot.

For each API face of the launcher it starts the launcher again, as the image's init does, on
``face.py`` (``python3 -c 'from kiln.app import main; main()' --api FACE /app/face.py``): the
checks of ``checks/common/`` and ``checks/<face>/`` run there with that face's builtins and
imports.  Every check prints ``CHECK <face>.<check> ok k=v ...`` or ``CHECK <face>.<check>
FAIL <reason>``; each face ends with ``CHECK face.<face> ok`` or ``... FAIL exit status N``.
Then Zerynth's published examples run, unmodified, each as the app of a board whose network
it owns (``harness/examples.py``: the boot's network is released first, so they come last):
``CHECK example.<name> ok ...``.  The app exits with status 0 only when every face and every
example did.
"""
import os
import subprocess
import sys

from harness.examples import run_examples

FACES = ("zerynth", "micropython", "cpython")
HERE = os.path.dirname(os.path.abspath(__file__))

failed = []
for face in FACES:
    status = subprocess.call(
        [sys.executable, "-c", "from kiln.app import main; main()", "--api", face,
         os.path.join(HERE, "face.py")],
        env=dict(os.environ, PROGRAMS_FACE=face))
    if status == 0:
        print("CHECK face.%s ok" % face, flush=True)
    else:
        failed.append(face)
        print("CHECK face.%s FAIL exit status %d" % (face, status), flush=True)
failed += run_examples()
sys.exit(1 if failed else 0)
