"""Checks run only under --api zerynth."""
