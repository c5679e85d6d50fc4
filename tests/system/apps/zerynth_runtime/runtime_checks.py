# A Zerynth-style program for the system tests (kiln.app=runtime_checks.py): the runtime face
# on the board -- streams, thread() with priorities, timers, threading, new_exception, random,
# requests and SocketStream to host-side servers, a socket bound with socket(ifc=...).  Each
# step prints "CHECK zrt-<step> k=v ..."; an unexpected error ends the program (status 1).
# Arguments (kiln.test_*): http=NAME:PORT (an HTTP server by DNS name), lines=IP:PORT (a TCP
# server answering each line upper-cased).
import streams
import threading
import timers
import requests
from networking import eth
from networking import socket
from testargs import arg

streams.serial()


def check(step, **facts):
    print("CHECK zrt-" + step + "".join(" %s=%s" % (k, v) for k, v in facts.items()))


# --- threads and timers ----------------------------------------------------------------------
lock = threading.Lock()
done = threading.Event()
counts = {}


def worker(name, rounds, delay):
    for i in range(rounds):
        lock.acquire()
        counts[name] = counts.get(name, 0) + 1
        lock.release()
        sleep(delay)
    if len(counts) == 2 and all(n == rounds for n in counts.values()):
        done.set()


t1 = thread(worker, "a", 5, 20, prio=PRIO_HIGH)
t2 = thread(worker, "b", 5, 30, prio=PRIO_LOW)
finished = done.wait(10000)
t1.join()
t2.join()
check("threads", done=finished, a=counts.get("a"), b=counts.get("b"),
      alive=t1.is_alive() or t2.is_alive())

ticks = []
tm = timers.timer()
tm.start()
tm.interval(50, lambda: ticks.append(tm.get()))
sleep(400)
tm.clear()
fired = threading.Event()
shot = timers.timer()
shot.one_shot(100, fired.set)
check("timers", ticks=len(ticks), rising=ticks == sorted(ticks), first_ms_ok=ticks[0] >= 50,
      one_shot=fired.wait(2000), now_ok=timers.now() > 400)

# --- builtins --------------------------------------------------------------------------------
new_exception(BoardError, IOError, "the board failed")
try:
    raise BoardError
except IOError as e:
    check("new_exception", name=type(e).__name__, msg=str(e).replace(" ", "_"))
values = [random(0, 3) for _ in range(400)]
check("random", all_in_range=set(values) == {0, 1, 2, 3}, big=random() >= 0,
      hex=hex(255), units="%d,%d,%d" % (MICROS, MILLIS, SECONDS))

# --- the network -----------------------------------------------------------------------------
ifc = eth.configure(dhcp=True)
eth.start()
host, port = arg("lines").split(":")
s = socket.socket(ifc=ifc)
s.connect((host, int(port)))
stream = streams.SocketStream(s)
print("hello from the board", random(0, 9), stream=stream)
answer = stream.readline()
check("socketstream", ifname=ifc.ifname,
      bound=s.getsockopt(SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\0").decode(),
      upper=answer.startswith("HELLO FROM THE BOARD"), eol=answer.endswith("\n"))
stream.close()

name, http_port = arg("http").split(":")
base = "http://%s:%s" % (name, http_port)
r = requests.get(base + "/get", params={"q": "zerynth"})
check("get", status=r.status, path=r.json()["path"], type=r.headers["content-type"])
r = requests.post(base + "/post", json={"board": "kiln"})
check("post", status=r.status, body=r.json()["body"].replace(" ", ""))
try:
    requests.get("http://nowhere.kiln.test/")
    check("unknown", exc="none")
except HTTPConnectionError as e:
    check("unknown", exc=type(e).__name__)
eth.stop()
check("end", ok=True)
