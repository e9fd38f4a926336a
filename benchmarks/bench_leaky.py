"""A leaky IF neuron written as Brian2 strings (NeuronModel.from_brian2): accuracy and spikes against tau.

    python benchmarks/bench_leaky.py --out docs/bench/leaky_digits.json

The shipped digits MLP (64-64-32-10, max calibration on the training split, 540 test
digits) converted with the leaky model of the README (``v <- exp(-dt/tau) v + I + b`` every
step, soft reset, membrane started at theta/2 like IF's shift), for each tau in --taus (ms;
``inf`` is IF) at each T in --timesteps. Accuracy and hidden spikes per image come from the
numpy reference (the model's reference_step); Brian2 runtime (numpy) runs the first
--brian2-images images of every setting and must give the same spike counts (reported as
``brian2_equal``). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from _report import command, emit, machine

import neuroconv as nc
from neuroconv.equations import NeuronModel
from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp

EQUATIONS = """
dv/dt = (v * (exp(-dt / tau) - 1) + I + b) / dt : 1  # v <- exp(-dt/tau) v + I + b, once per step
I : 1
b : 1 (constant)
theta : 1 (constant)
"""


def leaky_if(tau_ms: float, dt_ms: float = 1.0):
    """The README's leaky IF (tau in ms; inf gives IF with the shift)."""
    from brian2 import ms

    decay = math.exp(-dt_ms / tau_ms)

    def step(v, drive, theta):
        v *= decay
        v += drive
        spikes = v >= theta
        v -= theta * spikes
        return spikes

    return NeuronModel.from_brian2(EQUATIONS, threshold="v >= theta", reset="v -= theta",
                                   namespace={"tau": tau_ms * ms}, initial_v=0.5, reference_step=step,
                                   name=f"leaky_if_tau{tau_ms:g}ms")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--taus", type=float, nargs="+", default=[math.inf, 200, 50, 20, 10, 5])
    parser.add_argument("--timesteps", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--brian2-images", type=int, default=20)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    x_train, x_test, y_train, y_test = load_digits_split()
    net = shipped_digits_mlp()
    ann_accuracy = float(np.mean(net.forward(x_test).argmax(1) == y_test))
    rows = []
    for T in args.timesteps:
        for tau in args.taus:
            snn = nc.convert(net, neuron=leaky_if(tau), timesteps=T, calibration_data=x_train)
            t0 = time.perf_counter()
            ref = snn.run(x_test, device="reference", record_spikes=False, progress=False)
            seconds = time.perf_counter() - t0
            n = args.brian2_images
            b2 = snn.run(x_test[:n], device="runtime", record_spikes=False, progress=False)
            equal = all(np.array_equal(a[:n], b) for a, b in zip(ref.spike_counts, b2.spike_counts))
            rows.append({"timesteps": T, "tau_ms": None if math.isinf(tau) else tau,
                         "accuracy": ref.accuracy(y_test),
                         "hidden_spikes_per_image": float(sum(c.sum() for c in ref.spike_counts) / len(x_test)),
                         "reference_seconds": round(seconds, 3), "brian2_images": n, "brian2_equal": bool(equal)})
            print(rows[-1], flush=True)
    emit({"command": command(argv), "machine": machine(), "network": "shipped digits MLP 64-64-32-10",
          "n_images": int(len(x_test)), "ann_accuracy": ann_accuracy, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
