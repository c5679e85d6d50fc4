"""``python3 -m kiln.app [--api zerynth|micropython|cpython] main.py``: run a Kiln app."""
from kiln.app import main

main()
