"""Images per second of each device on the demo network (digits MLP 64-64-32-10) at T=32.

    python benchmarks/bench_devices.py [--timesteps 32] [--images 540] [--devices runtime/numpy ...]

Prints one JSON object. Each device converts the same network and runs the same test
images in one call; ``wall_s`` is the whole call (build + all batches), ``build_s`` the
standalone generate+compile part, ``images_per_s`` = images / wall_s and
``run_images_per_s`` = images / (wall_s - build_s). The cython target is run twice: the
first call includes compiling (unless Cython's cache is warm), the second shows the warm
speed. All devices must give identical predictions; ``agree`` reports it.
"""

import argparse
import json
import os
import platform
import shlex
import sys
import time

import numpy as np

import neuroconv as nc
from neuroconv.demo import load_digits_split, shipped_digits_mlp

DEVICES = ["reference", "runtime/numpy", "runtime/cython", "runtime/cython (warm)", "cpp_standalone"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=32)
    parser.add_argument("--images", type=int, default=540)
    parser.add_argument("--devices", nargs="+", default=DEVICES, choices=DEVICES)
    args = parser.parse_args()

    x_train, x_test, _, y_test = load_digits_split()
    x, y = x_test[: args.images], y_test[: args.images]
    net = shipped_digits_mlp()
    snn = nc.convert(net, timesteps=args.timesteps, calibration_data=x_train)
    rows, predictions = {}, {}
    for name in args.devices:
        device, _, target = name.partition("/")
        target = target.split(" ")[0] or "numpy"
        t0 = time.perf_counter()
        res = snn.run(x, device=device, codegen_target=target, progress=False)
        wall = time.perf_counter() - t0
        rows[name] = {
            "wall_s": round(wall, 3),
            "build_s": round(res.build_time, 3),
            "images_per_s": round(len(x) / wall, 1),
            "run_images_per_s": round(len(x) / max(wall - res.build_time, 1e-9), 1),
            "accuracy": res.accuracy(y),
        }
        predictions[name] = res.predictions
    first = next(iter(predictions.values()))
    print(json.dumps({
        "benchmark": "bench_devices",
        "command": shlex.join(["python", "benchmarks/bench_devices.py"] + sys.argv[1:]),
        "network": "digits MLP 64-64-32-10 (shipped), IF, max calibration",
        "timesteps": args.timesteps,
        "images": len(x),
        "synapses_per_image": snn.n_synapses,
        "ann_accuracy": float(np.mean(net.predict(x) == y)),
        "devices": rows,
        "agree": all(np.array_equal(p, first) for p in predictions.values()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "neuroconv": nc.__version__},
    }, indent=2))


if __name__ == "__main__":
    main()
