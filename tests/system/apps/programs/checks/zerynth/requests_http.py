"""Zerynth's ``requests`` to the host's JSON server by its DNS name (``ZerynthServersPeer`` in
tests/system/test_programs.py answers every request with JSON describing it): ``get`` with
``params``, ``post`` with ``json``, and a name nobody answers (``HTTPConnectionError``, a
program-wide name once ``requests`` is imported)."""
import requests


def run(ctx):
    name, port = ctx.args["test_http"].split(":")
    base = "http://%s:%s" % (name, port)
    got = requests.get(base + "/get", params={"q": "zerynth"})
    posted = requests.post(base + "/post", json={"board": "kiln"})
    try:
        requests.get("http://nowhere.kiln.test/")
        unknown = "none"
    except HTTPConnectionError as e:
        unknown = type(e).__name__
    return {"get_status": got.status, "get_path": got.json()["path"],
            "get_type": got.headers["content-type"], "post_status": posted.status,
            "post_method": posted.json()["method"], "post_body": posted.json()["body"],
            "unknown": unknown}
