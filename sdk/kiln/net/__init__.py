"""Kiln's socket core: Cython over the Linux socket syscalls.

Modules, one concern each:

- ``libc.pxd``   C declarations of every libc call and constant the core uses.
- ``errors``     errno / EAI codes -> Python exceptions (the only place exceptions are built).
- ``wait``       the monotonic clock and the one helper that waits for readiness (``poll(2)``).
- ``args``       argument conversion: every refusal of a bad argument, naming call and argument.
- ``buffers``    buffer acquisition: data to send, buffers to receive into.
- ``addr``       socket addresses: tuples/paths <-> ``struct sockaddr``, ``SockAddr``,
                 ``getaddrinfo``, ``inet_pton``, ``inet_ntop``.
- ``core``       ``SocketCore``: fd lifetime, blocking/timeout mode, the I/O primitives.
- ``const``      the constants both faces export (values from the target's C headers).
- ``zsocket``    the Zerynth face (``networking.socket``): milliseconds, recv waits for bufsize.
- ``usocket``    the MicroPython face (``usocket``): seconds, stream methods, OSError(errno).
- ``tlsload``    the TLS layer for the faces' TLS modules, or an ImportError naming the fix on
                 an image built without TLS.
"""
