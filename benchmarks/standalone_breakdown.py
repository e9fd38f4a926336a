"""Where the time of one standalone run goes: whole binary vs the simulated network itself.

    python benchmarks/standalone_breakdown.py --device cpp_standalone --network digits_cnn --batch-size 256

Builds the project (or takes the binary from the build cache), then runs ``./main`` three
times and prints JSON: the binary's wall time and the network time Brian2 reports in
``results/last_run_info.txt``; the difference is start-up (reading data files, creating
synapses, device set-up) and writing results.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import neuroconv as nc

sys.path.insert(0, os.path.dirname(__file__))
from bench_speed import _networks  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpp_standalone", choices=["cpp_standalone", "cuda_standalone"])
    parser.add_argument("--network", default="digits_mlp", choices=["digits_mlp", "digits_cnn"])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--timesteps", type=int, default=32)
    args = parser.parse_args()
    nets, _ = _networks([args.network])
    net, x_cal, _ = nets[args.network]
    snn = nc.convert(net, timesteps=args.timesteps, calibration_data=x_cal)
    t0 = time.perf_counter()
    directory = snn.build(device=args.device, batch_size=args.batch_size, record_spikes=False)
    build = time.perf_counter() - t0
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(["./main"], cwd=directory, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        with open(os.path.join(directory, "results", "last_run_info.txt")) as fh:
            network_s = float(fh.read().split()[0])
        runs.append({"binary_wall_s": round(wall, 4), "network_s": round(network_s, 4)})
    print(json.dumps({"benchmark": "standalone_breakdown",
                      "command": shlex.join(["python", "benchmarks/standalone_breakdown.py"] + sys.argv[1:]),
                      "device": args.device, "network": args.network, "batch_size": args.batch_size,
                      "synapses": snn.n_synapses * args.batch_size, "build_s": round(build, 2), "runs": runs},
                     indent=2))


if __name__ == "__main__":
    main()
