"""The program-test app's checks: checks/common/ run under every API face, checks/<face>/ under
that face only (see harness)."""
