"""Data files of the app open by paths relative to the app: the current directory is the app's
folder.  Reports digests of what was read, for the host to compare with the files it shipped."""
import hashlib
import json
import os


def run(ctx):
    if os.getcwd() != ctx.app_dir:
        raise AssertionError("the current directory is %s, not %s" % (os.getcwd(), ctx.app_dir))
    with open("settings.json", encoding="utf-8") as f:
        settings = json.load(f)
    with open("settings.json", "rb") as f:
        settings_sha = hashlib.sha256(f.read()).hexdigest()
    with open("www/index.html") as f:
        page = f.read()
    with open(os.path.join("data", "sample.bin"), "rb") as f:
        blob = f.read()
    # The app's folder is writable (a RAM file system on the board): a file written by a
    # relative path reads back.
    with open("state.json", "w") as f:
        json.dump({"interval_ms": settings["interval_ms"]}, f)
    with open(os.path.join(ctx.app_dir, "state.json")) as f:
        state = json.load(f)
    os.remove("state.json")
    return {"settings_sha": settings_sha, "greeting": settings["greeting"],
            "motto": settings["motto"], "interval_ms": state["interval_ms"],
            "page_sha": hashlib.sha256(page.encode()).hexdigest(),
            "blob_sha": hashlib.sha256(blob).hexdigest(), "blob_len": len(blob)}
