"""Throughput of every device side by side, and build cost against network size.

    python benchmarks/bench_speed.py                       # digits MLP + digits CNN, all CPU devices
    python benchmarks/bench_speed.py --devices reference cpp_standalone cuda_standalone --batch-size 256
    python benchmarks/bench_speed.py --scaling             # build time / peak memory at 1e5, 1e6, 1e7 synapses
    python benchmarks/bench_speed.py --batch-sizes 1 8 64 256   # cpp_standalone: copies x rounds trade-off
    python benchmarks/bench_speed.py --builds              # compiles for 1..8192 images, per-call overhead
    python benchmarks/bench_speed.py --threads 1 2         # cpp_standalone OpenMP speed-up
    python benchmarks/bench_speed.py --recording           # what recording costs (reference, runtime, cpp_standalone)
    python benchmarks/bench_speed.py --peer spikingjelly   # zoo models: SpikingJelly vs reference vs cpp_standalone
    python benchmarks/bench_speed.py --reference-batches 16 64 256 1024   # the reference's batch size
    python benchmarks/bench_speed.py --resnet18 DIR        # torchvision resnet18 on cpp_standalone (DIR: bench_models.py)

Prints one JSON object (and writes it to --out if given). For each network and device:
``wall_s`` (the whole run() call), ``build_s`` (standalone: generate + compile or fetch the
cached binary), ``images_per_s`` (including build) and ``run_images_per_s`` (excluding it),
and ``agree`` (identical predictions and spike counts to the numpy reference). Standalone
devices are run twice, ``cold`` with an empty build cache and ``warm`` with the cache
filled by the cold run. ``cpp_standalone`` runs time-multiplexed by default (a small batch
of copies, many rounds per binary run; ``--batch-size`` fixes the copies, ``--rounds`` the
rounds); ``cpp_standalone/rounds=1`` is the one-batch-per-binary-run scheme for comparison.
The slow lines (runtime targets, ``cpp_standalone/rounds=1``) simulate ``--slow-images``;
every row reports its own image count. The CNN has random weights (He init, fixed seed, max
calibration on digits): its accuracy is meaningless, its activity and synapse count are
realistic.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time

import numpy as np

import neuroconv as nc
from neuroconv import ann
from neuroconv.experiments.bench import _equal, device_throughput
from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp

CPU_DEVICES = ["reference", "runtime/numpy", "runtime/cython", "cpp_standalone", "cpp_standalone/rounds=1"]


def digits_cnn(seed: int = 0) -> ann.Sequential:
    """Conv(1->16, 3x3) - ReLU - AvgPool2 - Conv(16->32, 3x3) - ReLU - AvgPool2 - Flatten - Dense(128->10)."""
    rng = np.random.default_rng(seed)

    def he(*shape):
        fan_in = int(np.prod(shape[1:]))
        return rng.normal(0, np.sqrt(2.0 / fan_in), shape)

    return ann.Sequential([
        ann.Conv2d(he(16, 1, 3, 3), np.zeros(16), padding=1), ann.ReLU(), ann.AvgPool2d(2),
        ann.Conv2d(he(32, 16, 3, 3), np.zeros(32), padding=1), ann.ReLU(), ann.AvgPool2d(2),
        ann.Flatten(), ann.Dense(he(10, 128), np.zeros(10)),
    ], input_shape=(1, 8, 8))


def _networks(names):
    """The benchmark networks by name: (ANN, calibration inputs, test inputs). ``fashion_cnn`` and
    ``fashion_resnet`` are the trained zoo models (torch extra, Fashion-MNIST installed)."""
    x_train, x_test, _, y_test = load_digits_split()
    nets = {"digits_mlp": (shipped_digits_mlp(), x_train.reshape(-1, 64), x_test.reshape(-1, 64)),
            "digits_cnn": (digits_cnn(), x_train.reshape(-1, 1, 8, 8), x_test.reshape(-1, 1, 8, 8))}
    for name in ("fashion_cnn", "fashion_resnet"):
        if name in names:
            from neuroconv.experiments import zoo

            model = zoo.load(name)
            nets[name] = (model.to_ann(), model.dataset.x_train[:2000], model.dataset.x_test)
    return {k: v for k, v in nets.items() if k in names}, y_test


def throughput(args):
    nets, _ = _networks(args.networks)
    out = {}
    for name, (net, x_cal, x_test) in nets.items():
        snn = nc.convert(net, timesteps=args.timesteps, calibration_data=x_cal)
        print(f"# {name}: {snn.n_synapses} synapses per image", file=sys.stderr, flush=True)
        out[name] = device_throughput(args.devices, images=args.images, snn=snn, x=x_test, batch_size=args.batch_size,
                                      rounds=args.rounds, slow_images=args.slow_images,
                                      max_synapses=args.max_synapses,
                                      log=lambda line: print(f"# {name} {line}", file=sys.stderr, flush=True))
    return out


def batch_trade_off(args):
    """cpp_standalone (warm) at several copies per build, each with as many rounds as the images need."""
    nets, _ = _networks(args.networks)
    out = {}
    for name, (net, x_cal, x_test) in nets.items():
        x = np.concatenate([x_test] * int(np.ceil(args.images / len(x_test))))[: args.images]
        snn = nc.convert(net, timesteps=args.timesteps, calibration_data=x_cal)
        t0 = time.perf_counter()
        ref = snn.run(x, device="reference", progress=False, record_spikes=False)
        rows = {"reference": {"images_per_s": round(len(x) / (time.perf_counter() - t0), 1)}}
        for b in args.batch_sizes:
            snn.run(x, device="cpp_standalone", batch_size=b, progress=False, record_spikes=False)  # compile
            t0 = time.perf_counter()
            res = snn.run(x, device="cpp_standalone", batch_size=b, progress=False, record_spikes=False)
            wall = time.perf_counter() - t0
            rows[f"batch_size={b}"] = {"synapses": b * snn.n_synapses, "wall_s": round(wall, 3),
                                       "run_images_per_s": round(len(x) / max(wall - res.build_time, 1e-9), 1),
                                       "agree": _equal(res, ref, len(x))}
            print(f"# {name} batch_size={b}: {rows[f'batch_size={b}']}", file=sys.stderr, flush=True)
        out[name] = {"images": len(x), "synapses_per_image": snn.n_synapses, "rows": rows}
    return out


_SCALING_CHILD = """
import resource, sys, time, numpy as np
import neuroconv as nc
from neuroconv import ann
n_syn = int(float(sys.argv[1]))
width = 1000  # input (n) -> 1000 hidden -> output (n): n*1000 + 1000*n synapses
n = max(1, n_syn // (2 * width))
rng = np.random.default_rng(0)
net = ann.Sequential([ann.Dense(rng.normal(0, 1 / np.sqrt(n), (width, n))), ann.ReLU(),
                      ann.Dense(rng.normal(0, 0.03, (n, width)))], input_shape=(n,))
snn = nc.convert(net, timesteps=8, thresholds=[1.0])
t0 = time.perf_counter()
b2 = snn.to_brian2(batch_size=1)
build = time.perf_counter() - t0
syn = sum(len(o) for o in b2.objects if o.__class__.__name__ == "Synapses")
t0 = time.perf_counter()
b2.run(snn.timesteps * snn.dt, namespace={})
first_run = time.perf_counter() - t0
print(syn, build, first_run, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def scaling(sizes):
    rows = []
    for n in sizes:
        proc = subprocess.run([sys.executable, "-c", _SCALING_CHILD, str(n)], capture_output=True, text=True)
        if proc.returncode != 0:
            rows.append({"target_synapses": n, "error": proc.stderr.strip().splitlines()[-1]})
            continue
        syn, build, first_run, rss_kb = proc.stdout.split()
        rows.append({"target_synapses": n, "synapses": int(syn), "build_s": round(float(build), 3),
                     "first_run_s (runtime/numpy, 8 steps)": round(float(first_run), 3),
                     "peak_rss_mib": round(int(rss_kb) / 1024, 1)})
        print(f"# scaling {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def _fresh_cache():
    """A new, empty build cache for this process (``NEUROCONV_CACHE``) and the folder its binaries go to."""
    import tempfile

    root = tempfile.mkdtemp(prefix="neuroconv_bench_cache_")
    os.environ["NEUROCONV_CACHE"] = root
    return os.path.join(root, "standalone")


def builds_and_overhead(args):
    """cpp_standalone on the digits MLP in one process with an empty build cache: the compiles needed for every
    image count from 1 to 8192, and the per-call cost of the ready binary on one image (median of 30 calls),
    split into the binary's own run and the rest."""
    from neuroconv.simulation.brian2 import program

    nets, _ = _networks(["digits_mlp"])
    net, x_cal, x_test = nets["digits_mlp"]
    snn = nc.convert(net, timesteps=args.timesteps, calibration_data=x_cal)
    x = np.concatenate([x_test] * int(np.ceil(8192 / len(x_test))))[:8192]
    cache = _fresh_cache()
    ref = snn.run(x, device="reference", progress=False)
    calls = []
    for n in (1, 7, 64, 100, 360, 540, 1000, 4096, 8192, 3):
        res = snn.run(x[:n], device="cpp_standalone", progress=False)
        calls.append({"images": n, "build_s": round(res.build_time, 3), "simulation_s": round(res.simulation_time, 3),
                      "images_per_s": round(res.images_per_second, 1), "agree": _equal(res, ref, n)})
        print(f"# builds {calls[-1]}", file=sys.stderr, flush=True)
    walls, binary = [], []
    for _ in range(30):
        t0 = time.perf_counter()
        snn.run(x[:1], device="cpp_standalone", progress=False)
        walls.append(time.perf_counter() - t0)
        binary.append(next(reversed(program._PROGRAMS.values())).last_binary_seconds)
    return {"network": "digits_mlp", "timesteps": snn.timesteps, "calls": calls,
            "compiles": len([d for d in os.listdir(cache) if not d.startswith(".")]),
            "calls_that_built": sum(c["build_s"] > 0 for c in calls),
            "per_call_1_image_s": {"median": round(float(np.median(walls)), 4), "min": round(min(walls), 4),
                                   "binary_median": round(float(np.median(binary)), 4),
                                   "rest_median": round(float(np.median(np.subtract(walls, binary))), 4)}}


def thread_speedup(args):
    """cpp_standalone (warm) with each of ``--threads``: images/s and agreement with the reference."""
    nets, _ = _networks(args.networks)
    out = {}
    for name, (net, x_cal, x_test) in nets.items():
        snn = nc.convert(net, timesteps=args.timesteps, calibration_data=x_cal)
        x = np.concatenate([x_test] * int(np.ceil(args.images / len(x_test))))[: args.images]
        ref = snn.run(x, device="reference", progress=False, record_spikes=False)
        rows = {}
        for threads in args.threads:
            snn.run(x[:1], device="cpp_standalone", progress=False, record_spikes=False, threads=threads)  # build
            res = snn.run(x, device="cpp_standalone", progress=False, record_spikes=False, threads=threads)
            rows[f"threads={threads}"] = {"images_per_s": round(res.images_per_second, 1), "agree": _equal(res, ref, len(x))}
            print(f"# {name} threads={threads}: {rows[f'threads={threads}']}", file=sys.stderr, flush=True)
        base = rows[f"threads={args.threads[0]}"]["images_per_s"]
        out[name] = {"images": len(x), "rows": rows,
                     "speed_up": {k: round(r["images_per_s"] / base, 3) for k, r in rows.items()}}
    return out


def recording_cost(args):
    """Images/s with and without recording (``record=True``, the default, and ``record=False``) on the reference,
    Brian2's runtime mode (cython; ``--slow-images`` images) and cpp_standalone (warm, one binary for both):
    five pairs of runs, each pair one without and one with recording back to back; the best images/s of each,
    and the median of the five pairs' time ratios (this machine's speed drifts from run to run: a pair's two
    runs see the same machine)."""
    from neuroconv.experiments.bench import device_options

    nets, _ = _networks(args.networks)
    out = {}
    for name, (net, x_cal, x_test) in nets.items():
        snn = nc.convert(net, timesteps=args.timesteps, calibration_data=x_cal)
        x = np.concatenate([x_test] * int(np.ceil(args.images / len(x_test))))[: args.images]
        rows = {}
        for label in ("reference", "runtime/cython", "cpp_standalone"):
            device, options = device_options(label, None, None)
            xs = x[:args.slow_images] if device == "runtime" else x
            for record in (False, True):
                snn.run(xs[:2], device=device, progress=False, record=record, **options)  # build / warm up
            speed = {False: [], True: []}
            for _ in range(5):
                for record in (False, True):
                    res = snn.run(xs, device=device, progress=False, record=record, **options)
                    speed[record].append(res.images_per_second)
            ratios = [off / on for off, on in zip(speed[False], speed[True])]
            rows[label] = {"images": len(xs), "images_per_s_recording": round(max(speed[True]), 1),
                           "images_per_s_not_recording": round(max(speed[False]), 1),
                           "time_ratio": round(float(np.median(ratios)), 3),
                           "time_ratios_of_pairs": [round(r, 3) for r in ratios]}
            print(f"# {name} {label}: {rows[label]}", file=sys.stderr, flush=True)
        out[name] = {"images": len(x), "rows": rows}
    return out


def synaptic_events(snn, x, counts) -> int:
    """Synaptic events of a run: each spike of a population times its synapses out, plus the input's one spike
    per non-zero pixel (the analog input is delivered once) times its synapses out."""
    total = 0
    for layer in snn.layers:
        for source, matrix in zip(layer.sources, layer.pathways[0]):
            out_degree = np.diff(matrix.tocsc().indptr)
            if source < 0:
                total += int(((x.reshape(len(x), -1) != 0) @ out_degree).sum())
            else:
                total += int((counts[source] @ out_degree).sum())
    return total


def _zoo_case(name, n_images, timesteps):
    """A zoo model, its conversion (max thresholds on 1000 training images) and ``n_images`` test images
    (repeated where the test set is smaller)."""
    from neuroconv.experiments import zoo

    model = zoo.load(name, progress=False)
    data = model.dataset
    x_cal = data.x_train[:1000]
    x = np.concatenate([data.x_test] * int(np.ceil(n_images / len(data.x_test))))[:n_images]
    return model, nc.convert(model.to_ann(), timesteps=timesteps, calibration_data=x_cal, progress=False), x_cal, x


def reference_batches(args):
    """The reference's images/s (recording spikes, the default) at its default batch
    (:func:`neuroconv.simulation.reference.default_batch`), the same on one core (its batches otherwise run one
    per core at once), and at ``--reference-batches``, each twice, alternating; the better of the two runs."""
    from neuroconv import _checks
    from neuroconv.simulation.reference import default_batch

    cores = _checks.usable_cores

    def run(snn, x, b):
        _checks.usable_cores = (lambda: 1) if b == "one core" else cores
        try:
            return snn.run(x, device="reference", batch_size=None if b == "one core" else b,
                           progress=False).images_per_second
        finally:
            _checks.usable_cores = cores

    out = {}
    for name, n_images in (("digits_mlp", args.images), ("fashion_cnn_avg", args.peer_images)):
        _, snn, _, x = _zoo_case(name, n_images, args.timesteps)
        snn.run(x[:16], device="reference", progress=False)  # warm-up
        sizes = [None, "one core"] + [b for b in args.reference_batches if b]
        speed = {b: [] for b in sizes}
        for _ in range(2):
            for b in sizes:
                speed[b].append(run(snn, x, b))
        default = default_batch(snn, len(x))
        rows = {(f"default ({default}, {cores()} cores)" if b is None else
                 f"default ({default}), one core" if b == "one core" else str(b)): round(max(v), 1)
                for b, v in speed.items()}
        out[name] = {"images": len(x), "images_per_s_by_batch": rows}
        print(f"# {name}: {out[name]}", file=sys.stderr, flush=True)
    return out


def peer_comparison(args):
    """The zoo's torch models (digits MLP; Fashion-MNIST CNN with average pooling) converted by neuroconv and by
    SpikingJelly 2.0 (``max`` thresholds both), simulated on the same images at T = ``--timesteps``: images/s of
    SpikingJelly (batch 256), the reference (recording spikes, the default, and not) and cpp_standalone (warm),
    and cpp_standalone's synaptic events/s."""
    import _spikingjelly

    ok, version = _spikingjelly.available()
    out = {"spikingjelly": version if ok else None}
    for name, n_images in (("digits_mlp", args.images), ("fashion_cnn_avg", args.peer_images)):
        model, snn, x_cal, x = _zoo_case(name, n_images, args.timesteps)
        rows = {}
        if ok:
            rows["spikingjelly (batch 256)"] = _spikingjelly.throughput(model.module, x_cal, x, args.timesteps)
        snn.run(x[:64], device="reference", progress=False)  # warm-up: the first run pays one-time costs
        for record in (True, False, True):  # the recording row kept is the one after the run without
            res = snn.run(x, device="reference", progress=False, record_spikes=record)
            rows[f"reference (record_spikes={record})"] = {"images_per_s": round(res.images_per_second, 1)}
        counts = [c for c in res.spike_counts] + ([res.output_spike_counts] if res.output_spike_counts is not None
                                                  else [])
        snn.run(x[:1], device="cpp_standalone", progress=False, record_spikes=False)  # build
        res = snn.run(x, device="cpp_standalone", progress=False, record_spikes=False)
        events = synaptic_events(snn, x, counts)
        rows["cpp_standalone (warm, record_spikes=False)"] = {
            "images_per_s": round(res.images_per_second, 1), "synaptic_events": events,
            "synaptic_events_per_s": float(f"{events / res.simulation_time:.3g}")}
        if ok:
            sj = rows["spikingjelly (batch 256)"]["images_per_s"]
            rows["ratios to spikingjelly"] = {k: round(r["images_per_s"] / sj, 3) for k, r in rows.items()
                                              if k != "spikingjelly (batch 256)"}
        out[name] = {"images": len(x), "synapses_per_image": snn.n_synapses, "rows": rows}
        print(f"# peer {name}: {rows}", file=sys.stderr, flush=True)
    return out


def resnet18_run(args):
    """torchvision's resnet18 at 3x32x32 (random weights, BatchNorm statistics from random inputs, see
    bench_models.py) on cpp_standalone: build seconds, images/s and peak memory (this process and its children),
    with the default synapse budget (the memory budget's)."""
    import resource

    from bench_models import build, load_models
    from neuroconv.ann import from_torch

    models = load_models(args.resnet18)
    net = from_torch(build(models, "resnet18"), (3, 32, 32))
    rng = np.random.default_rng(0)
    x, x_cal = rng.uniform(0, 1, (4, 3, 32, 32)), rng.uniform(0, 1, (32, 3, 32, 32))
    snn = nc.convert(net, timesteps=args.timesteps, calibration_data=x_cal, method="99.9%", per_channel=True,
                     progress=False)
    _fresh_cache()
    res = snn.run(x, device="cpp_standalone", progress=False, record_spikes=False)
    ref = snn.run(x, device="reference", progress=False, record_spikes=False)
    return {"synapses_per_image": snn.n_synapses, "images": len(x), "timesteps": snn.timesteps,
            "build_s": round(res.build_time, 1), "simulation_s": round(res.simulation_time, 2),
            "images_per_s": round(res.images_per_second, 3), "agree": _equal(res, ref, len(x)),
            "peak_rss_mib": {"python": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                             "compiler and binary": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=["digits_mlp", "digits_cnn"],
                        choices=["digits_mlp", "digits_cnn", "fashion_cnn", "fashion_resnet"])
    parser.add_argument("--devices", nargs="+", default=CPU_DEVICES)
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--slow-images", type=int, default=1024,
                        help="images for the slow lines (runtime targets, cpp_standalone/rounds=1)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None, help="cpp_standalone rounds per binary run")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                        help="only the cpp_standalone copies-per-build trade-off, at these batch sizes")
    parser.add_argument("--timesteps", type=int, default=32)
    parser.add_argument("--max-synapses", type=float, default=1e9, help="synapse budget per build")
    parser.add_argument("--scaling", action="store_true", help="only the build-cost scaling part")
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    parser.add_argument("--builds", action="store_true",
                        help="only: compiles needed for 1..8192 images and the per-call overhead (cpp_standalone)")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="only: cpp_standalone images/s with these OpenMP thread counts")
    parser.add_argument("--recording", action="store_true",
                        help="only: the cost of record_spikes on the reference and cpp_standalone")
    parser.add_argument("--peer", choices=["spikingjelly"], default=None,
                        help="only: the zoo's torch models against SpikingJelly's ann2snn, same run")
    parser.add_argument("--peer-images", type=int, default=500, help="Fashion-MNIST images for --peer")
    parser.add_argument("--reference-batches", type=int, nargs="+", default=None,
                        help="only: the reference's images/s at its default batch and at these batch sizes")
    parser.add_argument("--resnet18", metavar="TORCHVISION_DIR", default=None,
                        help="only: torchvision's resnet18 on cpp_standalone (see bench_models.py for the folder)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    report = {"benchmark": "bench_speed", "command": shlex.join(["python", "benchmarks/bench_speed.py"] + sys.argv[1:]),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "neuroconv": nc.__version__,
                          "node": platform.node()}}
    if args.builds:
        report["builds_and_overhead"] = builds_and_overhead(args)
    elif args.recording:
        report["recording"] = recording_cost(args)
    elif args.threads:
        report["threads"] = thread_speedup(args)
    elif args.peer:
        report["peer"] = peer_comparison(args)
    elif args.reference_batches:
        report["reference_batches"] = reference_batches(args)
    elif args.resnet18:
        report["resnet18"] = resnet18_run(args)
    elif args.scaling:
        report["scaling"] = scaling([int(s) for s in args.sizes])
    elif args.batch_sizes:
        report["batch_trade_off"] = batch_trade_off(args)
    else:
        report["throughput"] = throughput(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
