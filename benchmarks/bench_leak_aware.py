"""Leak-aware conversion (LIF(tau, v_rest=0.5)) against the plain leaky conversion (LIF(tau)) and IF.

    python benchmarks/bench_leak_aware.py --out docs/bench/leak_aware.json

A leak towards 0 costs a regularly firing soft-reset neuron ``(1 - exp(-dt/tau)) * vt/2`` per
step on average (its membrane sits between 0 and its threshold); resting at half the
threshold (``v_rest=0.5``, equations/lif.py) cancels that to first order. For each network
(the shipped digits MLP on its 540 test digits; with ``--fashion`` also the zoo's Fashion-MNIST
CNN (conv-BN-ReLU-maxpool x2) on ``--fashion-images`` test images, which needs the Debian package
dataset-fashion-mnist), each T and each tau: accuracy, hidden spikes per image and the mean
absolute difference of every neuron's count from IF's (the ANN's rate code), from the numpy
reference; Brian2 runtime (numpy) runs the first ``--brian2-images`` images of every setting and
must give the same counts (``brian2_equal``). Max calibration on the training split. Prints JSON.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _report import command, emit, machine
from brian2 import ms, second

import neuroconv as nc
from neuroconv.equations import LIF


def networks(args):
    """``(name, ann, x_calibration, x_test, y_test)`` of each network measured."""
    from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp

    x_train, x_test, _, y_test = load_digits_split()
    yield "digits MLP 64-64-32-10", shipped_digits_mlp(), x_train, x_test, y_test
    if args.fashion:
        from neuroconv.experiments import zoo

        model = zoo.load("fashion_cnn")
        data = model.dataset
        n = args.fashion_images
        yield "Fashion-MNIST CNN (max pool)", model.to_ann(), data.x_train[:2000], data.x_test[:n], data.y_test[:n]


def measure(ann, x_cal, x_test, y_test, model, T, baseline, n_brian2):
    snn = nc.convert(ann, neuron=model, timesteps=T, calibration_data=x_cal)
    t0 = time.perf_counter()
    ref = snn.run(x_test, device="reference", record_spikes=False, progress=False)
    seconds = time.perf_counter() - t0
    row = {"accuracy": ref.accuracy(y_test),
           "hidden_spikes_per_image": float(sum(c.sum() for c in ref.spike_counts) / len(x_test)),
           "reference_seconds": round(seconds, 2)}
    if baseline is not None:
        row["mean_abs_count_difference_from_if"] = float(np.mean(
            [np.abs(a - b).mean() for a, b in zip(ref.spike_counts, baseline.spike_counts)]))
    if n_brian2:
        b2 = snn.run(x_test[:n_brian2], device="runtime", record_spikes=False, progress=False)
        row["brian2_equal"] = bool(all(np.array_equal(a[:n_brian2], b) for a, b in zip(ref.spike_counts,
                                                                                         b2.spike_counts)))
    return row, ref


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--taus", type=float, nargs="+", default=[200, 50, 20, 10, 5, 2])
    parser.add_argument("--timesteps", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--brian2-images", type=int, default=10)
    parser.add_argument("--fashion", action="store_true")
    parser.add_argument("--fashion-images", type=int, default=300)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    rows = []
    for name, ann, x_cal, x_test, y_test in networks(args):
        ann_accuracy = float(np.mean(ann.forward(x_test).argmax(1) == y_test))
        for T in args.timesteps:
            base_row, base = measure(ann, x_cal, x_test, y_test, LIF(float("inf") * second), T, None,
                                     args.brian2_images)
            rows.append({"network": name, "ann_accuracy": ann_accuracy, "timesteps": T, "tau_ms": None,
                         "v_rest": 0.0, **base_row})
            print(rows[-1], flush=True)
            for tau in args.taus:
                for v_rest in (0.0, 0.5):
                    row, _ = measure(ann, x_cal, x_test, y_test, LIF(tau * ms, v_rest=v_rest), T, base,
                                     args.brian2_images)
                    rows.append({"network": name, "ann_accuracy": ann_accuracy, "timesteps": T, "tau_ms": tau,
                                 "v_rest": v_rest, **row})
                    print(rows[-1], flush=True)
    emit({"command": command(argv), "machine": machine(), "rows": rows}, args.out)


if __name__ == "__main__":
    main()
