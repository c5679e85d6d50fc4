"""Checks run under every API face (zerynth, micropython, cpython)."""
