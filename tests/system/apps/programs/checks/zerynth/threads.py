"""Zerynth's ``thread()`` builtin with priorities and Zerynth's ``threading`` (``Lock``,
``Event``, ``Thread``, ``Semaphore``; timeouts in ms): two workers at ``PRIO_HIGH`` and
``PRIO_LOW`` count under a lock until an event says both finished, and each records the nice
value Linux gave its thread (Zerynth priority -> nice, docs/zerynth.md)."""
import os
import threading

ROUNDS = 5


def nice():
    """The calling thread's nice value (Linux keeps one per thread: PRIO_PROCESS, 0)."""
    return os.getpriority(os.PRIO_PROCESS, 0)


def run(ctx):
    lock = threading.Lock()
    done = threading.Event()
    counts, nices = {}, {}

    def worker(name, rounds, delay):
        nices[name] = nice()
        for _ in range(rounds):
            lock.acquire()
            counts[name] = counts.get(name, 0) + 1
            lock.release()
            sleep(delay)
        if len(counts) == 2 and all(n == rounds for n in counts.values()):
            done.set()

    base = nice()
    t1 = thread(worker, "a", ROUNDS, 20, prio=PRIO_HIGH)
    t2 = thread(worker, "b", ROUNDS, 30, prio=PRIO_LOW)
    finished = done.wait(10000)
    t1.join()
    t2.join()

    # Zerynth's Thread class: start(prio), join(ms), the value kept by the thread.
    gate = threading.Semaphore(0)
    seen = []

    def waiter():
        seen.append(nice())
        gate.acquire()
        seen.append("released")

    t3 = threading.Thread(target=waiter)
    t3.start(PRIO_HIGHER)
    sleep(50)
    alive_waiting = t3.is_alive()
    gate.release()
    t3.join(5000)
    return {"done": finished, "a": counts.get("a"), "b": counts.get("b"),
            "alive": t1.is_alive() or t2.is_alive(), "nice_high": nices["a"] - base,
            "nice_low": nices["b"] - base, "nice_higher": seen[0] - base,
            "waited": alive_waiting, "released": seen[1:] == ["released"],
            "ended": not t3.is_alive() and t3.exc is None}
