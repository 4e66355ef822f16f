"""The hold model in SimPy, the peer figure for `make bench` (test-only; never used by FedSim).

N events are pending; each fired event schedules one more at now + Exp(1). Two SimPy idioms are
timed, and both reported: `process` (N generator processes, each `yield env.timeout(...)` in a
loop; how SimPy models are written) and `callback` (bare Timeout events with a callback that
schedules the next one; SimPy's cheapest path). Prints one JSON object.

usage: simpy_hold.py PENDING EVENTS SEED [both|process|callback]
"""
import json
import random
import sys
import time

import simpy


def run_process(pending, events, seed):
    rng = random.Random(seed)
    env = simpy.Environment()
    state = {"left": events}
    done = env.event()

    def holder(env):
        while True:
            yield env.timeout(rng.expovariate(1.0))
            state["left"] -= 1
            if state["left"] == 0:
                done.succeed()

    for _ in range(pending):
        env.process(holder(env))
    env.run(until=env.timeout(0))  # start every process: each is now waiting on its first timeout
    start = time.perf_counter()
    env.run(until=done)
    return time.perf_counter() - start


def run_callback(pending, events, seed):
    rng = random.Random(seed)
    env = simpy.Environment()
    state = {"left": events}
    done = env.event()

    def fire(_event):
        state["left"] -= 1
        if state["left"] == 0:
            done.succeed()
        else:
            env.timeout(rng.expovariate(1.0)).callbacks.append(fire)

    for _ in range(pending):
        env.timeout(rng.expovariate(1.0)).callbacks.append(fire)
    start = time.perf_counter()
    env.run(until=done)
    return time.perf_counter() - start


def main():
    pending, events, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    which = sys.argv[4] if len(sys.argv) > 4 else "both"
    out = {"pending": pending, "events": events, "simpy": simpy.__version__}
    for name, fn in (("process", run_process), ("callback", run_callback)):
        if which not in ("both", name):
            continue
        # Best of three runs, as FedSim's side is timed.
        seconds = min(fn(pending, events, seed + k) for k in range(3))
        out[name] = {"seconds": seconds, "events_per_second": events / seconds}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
