"""Wall time of a 24-cell sweep on 1 and on 2 Dask workers, and the overhead Dask adds per cell.

    python benchmarks/bench_sweep.py --out docs/bench/sweep_2core.json

The 24 cells: the shipped digits MLP on Brian2 runtime (numpy), all 540 test digits, IF /
TPP / One-Spike x T = 8, 16, 32, 64 x seeds 0, 1 (each cell converts and simulates in its
own worker process). For each worker count: the LocalCluster's start-up, the sweep's wall
time (cluster already up), the sum of the cells' own times (``cell_s``, measured inside
the task) and the overhead per cell, ``(wall * workers - sum(cell_s)) / cells`` (scheduling,
transfers, the result table, and idle workers at the end). A second sweep of 24 tiny cells
(reference simulator, 10 images) shows the fixed cost per cell when the work is negligible.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import sys
import tempfile
import time

import neuroconv as nc
from neuroconv.experiments.sweep import load_config, read_table, run_sweep

CONFIG = """
[sweep]
output = "{output}"
calibration_images = 1257
{images}
retries = 0

[grid]
model = ["builtin:digits_mlp"]
dataset = ["digits"]
neuron = ["if", "tpp", "one_spike"]
timesteps = [8, 16, 32, 64]
device = ["{device}"]
seed = [0, 1]
"""


def one_sweep(folder, name, workers, device, images):
    import dask
    from distributed import Client, LocalCluster

    path = os.path.join(folder, f"{name}_{workers}.toml")
    with open(path, "w") as fh:
        fh.write(CONFIG.format(output=f"{name}_{workers}.csv", device=device,
                               images=f"images = {images}" if images else ""))
    cfg = load_config(path)
    t0 = time.perf_counter()
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    client = Client(cluster)
    client.wait_for_workers(workers)
    start = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        report = run_sweep(cfg, client=client, progress=False, figure=False)
        wall = time.perf_counter() - t0
    finally:
        client.close()
        cluster.close()
    rows = read_table(cfg.output)
    cell_s = sum(float(r["cell_s"]) for r in rows if r["status"] == "ok")
    return {"workers": workers, "cells": report.cells, "ok": report.ok, "failed": len(report.failed),
            "cluster_start_s": round(start, 2), "wall_s": round(wall, 2), "sum_cell_s": round(cell_s, 2),
            "overhead_per_cell_s": round((wall * workers - cell_s) / report.cells, 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="neuroconv_bench_sweep_")
    report = {"benchmark": "bench_sweep", "command": shlex.join(["python", "benchmarks/bench_sweep.py"] + sys.argv[1:]),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "neuroconv": nc.__version__}}
    for name, device, images in (("runtime", "runtime", None), ("tiny", "reference", 10)):
        rows = []
        for workers in (1, 2):
            rows.append(one_sweep(folder, name, workers, device, images))
            print(f"# {name}: {rows[-1]}", file=sys.stderr, flush=True)
        report[f"{name}_cells"] = {"rows": rows, "speedup_2_over_1": round(rows[0]["wall_s"] / rows[1]["wall_s"], 2)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
