"""Zerynth v2's wireless API: ``from wireless import wifi`` (see :mod:`wireless.wifi`)."""
