"""A data file of the app served to the host: ``www/index.html``, read by a path relative to
the app, over a blocking ``usocket`` server (``import socket`` under --api micropython) that
the host connects to when told (``ctx.event``: the host side is ``WebPagePeer`` in
tests/system/test_programs.py)."""
import socket

TIMEOUT = 90


def run(ctx):
    port = int(ctx.args["test_web_port"])
    with open("www/index.html", "rb") as f:
        page = f.read()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(socket.getaddrinfo("0.0.0.0", port)[0][-1])
        server.listen(1)
        server.settimeout(60)
        ctx.event("listening", port=port)
        conn, peer = server.accept()
    finally:
        server.close()
    try:
        conn.settimeout(20)
        request = conn.readline()
        while True:                                 # the request's header lines
            line = conn.readline()
            if not line or line == b"\r\n":
                break
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(page) + page)
    finally:
        conn.close()
    return {"request": request.decode().strip(), "bytes": len(page), "peer": str(peer[0])}
