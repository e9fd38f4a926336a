"""Interrupting and racing standalone builds, shared by tests/test_interrupts.py and benchmarks/reliability.py.

Every helper runs the shipped digits MLP on ``cpp_standalone`` in child processes, each in
its own session (so the signals reach exactly what a terminal or a notebook would signal),
with ``TMPDIR`` and ``NEUROCONV_CACHE`` pointing into a scratch folder, and reports what
was left behind: processes of the child's session, temporary build folders, half-written
cache entries.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

SCRIPT = """
import json, sys
import neuroconv as nc
from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp
x_train, x_test, _, _ = load_digits_split()
snn = nc.convert(shipped_digits_mlp(), timesteps=int(sys.argv[1]), calibration_data=x_train)
print("start", flush=True)
res = snn.run(x_test[:int(sys.argv[2])], device="cpp_standalone", progress=False)
print(json.dumps({"predictions": res.predictions.tolist(), "counts": [c.tolist() for c in res.spike_counts],
                  "build_time": res.build_time}), flush=True)
"""


def environment(scratch) -> dict:
    tmp = os.path.join(scratch, "tmp")
    os.makedirs(tmp, exist_ok=True)
    return {**os.environ, "TMPDIR": tmp, "NEUROCONV_CACHE": os.path.join(scratch, "cache")}


def start(scratch, timesteps=8, images=40):
    """A child running SCRIPT; returns the Popen once it has printed "start" (the build begins)."""
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(timesteps), str(images)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment(scratch), start_new_session=True)
    line = proc.stdout.readline().strip()
    if line != "start":
        proc.kill()
        raise RuntimeError(f"the child did not start: {line!r} {proc.stderr.read()[-2000:]}")
    return proc


def session_processes(sid: int) -> list:
    """PIDs still alive in session ``sid`` (the child's, whose leader may be gone)."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat="], capture_output=True, text=True).stdout
    return [int(p) for p, s, stat in (line.split()[:3] for line in out.splitlines() if line.strip())
            if int(s) == sid and not stat.startswith("Z")]


def leftovers(scratch, sid=None) -> dict:
    """What an interrupted child left: live processes, temporary build folders, half cache entries."""
    tmp = os.path.join(scratch, "tmp")
    cache = os.path.join(scratch, "cache", "standalone")
    processes = []
    if sid is not None:
        for _ in range(50):  # give orphans a moment to die
            processes = session_processes(sid)
            if not processes:
                break
            time.sleep(0.1)
    return {"processes": processes,
            "temp_dirs": sorted(n for n in os.listdir(tmp) if n.startswith("neuroconv_")) if os.path.isdir(tmp) else [],
            "half_cache_entries": sorted(n for n in os.listdir(cache) if n.startswith(".tmp-"))
            if os.path.isdir(cache) else []}


def interrupt(scratch, delay: float, how: str = "group", timeout: float = 60.0) -> dict:
    """Start a build, send SIGINT after ``delay`` s: to the child's whole process group (``"group"``,
    a terminal's Ctrl-C) or to the Python process only (``"process"``, a notebook's interrupt).

    Returns the exit status, seconds from the signal to exit, and :func:`leftovers`.
    """
    proc = start(scratch)
    time.sleep(delay)
    sent = time.perf_counter()
    if how == "group":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return {"returncode": None, "exit_s": None, "finished": False, **leftovers(scratch, proc.pid)}
    out = proc.stdout.read()
    return {"returncode": proc.returncode, "exit_s": round(time.perf_counter() - sent, 2),
            "finished": '"predictions"' in out, **leftovers(scratch, proc.pid)}


def kill(scratch, delay: float, timesteps=8, images=40) -> dict:
    """SIGKILL the child's whole group after ``delay`` s (a killed job): only the cache's state matters."""
    proc = start(scratch, timesteps, images)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return leftovers(scratch)


def concurrent(scratch, n: int = 2, timesteps=8, images=40) -> list:
    """``n`` children building the same network into one empty cache at once; their results."""
    procs = [start(scratch, timesteps, images) for _ in range(n)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"a concurrent build failed: {err[-2000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def reference(timesteps=8, images=40) -> dict:
    """What the children must print: the reference simulator's predictions and counts."""
    import neuroconv as nc
    from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp

    x_train, x_test, _, _ = load_digits_split()
    snn = nc.convert(shipped_digits_mlp(), timesteps=timesteps, calibration_data=x_train)
    res = snn.run(x_test[:images], device="reference", progress=False)
    return {"predictions": res.predictions.tolist(), "counts": [c.tolist() for c in res.spike_counts]}


def same(result: dict, expected: dict) -> bool:
    return result["predictions"] == expected["predictions"] and all(
        np.array_equal(a, b) for a, b in zip(result["counts"], expected["counts"]))
