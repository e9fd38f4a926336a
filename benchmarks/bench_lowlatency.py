"""Accuracy at T = 1, 2, 4, 8: plain-ReLU IF conversion, QCFS, and Yan et al.'s clamp-and-quantise recipe.

For each dataset's zoo CNN (plain ReLU, trained and cached by neuroconv.zoo) and each T:

* ``relu``: the plain-ReLU CNN converted to ``IF()`` (theta/2 start) with per-channel 99.9%
  calibration on 1000 training images, run for T steps;
* ``qcfs``: its ReLUs swapped for QCFS (L = T, shift 1/2), thresholds started at the
  least-squared-error percentile, per channel, fine-tuned (``--epochs``), ``IF()`` for T steps;
* ``yan``: the same with shift 0 (clamp-and-quantise), ``IF(shift=False)`` for T steps.

Reported: the full-precision ANN, each quantised ANN, each SNN (numpy reference, full test
set), and for the quantised ones the fraction of neurons per layer whose spike count differs
from the quantised ANN's level (early: more spikes, late: fewer). Prints JSON.

    python benchmarks/bench_lowlatency.py --out docs/bench/lowlatency.json
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import neuroconv as nc
from neuroconv.experiments import lowlatency, zoo
from neuroconv.equations import IF

from _report import command, emit, machine

MODELS = {"mnist5k": "mnist_cnn", "fashion_mnist": "fashion_cnn", "digits": "digits_cnn"}  # digits: a quick check


def run_chunks(snn, x, y, chunk=1000):
    """Accuracy and exactness rows (neuron-weighted means) over the test set, in chunks (counts are big)."""
    correct, rows, n = 0, None, 0
    for start in range(0, len(x), chunk):
        xs, ys = x[start:start + chunk], y[start:start + chunk]
        res = snn.run(xs, device="reference", record_spikes=False, progress=False)
        correct += int(np.sum(res.predictions == ys))
        part = lowlatency.exactness(snn, res, xs)
        if rows is None:
            rows = [dict(r) for r in part]
        else:
            for r, p in zip(rows, part):
                for key in ("fraction_differing", "fraction_early", "fraction_late", "mean_abs_difference"):
                    r[key] = (r[key] * n + p[key] * len(xs)) / (n + len(xs))
        n += len(xs)
    return correct / len(x), rows


def brian2_check(snn, x):
    """The first images on Brian2 runtime/numpy: identical counts to the reference, and its exactness rows."""
    ref = snn.run(x, device="reference", record_spikes=False, progress=False)
    b2 = snn.run(x, device="runtime", record_spikes=False, progress=False)
    same = all(np.array_equal(a, b) for a, b in zip(ref.spike_counts, b2.spike_counts))
    return {"images": int(len(x)), "counts_identical_to_reference": bool(same),
            "exactness": lowlatency.exactness(snn, b2, x)}


def measure(dataset, timesteps, epochs, lr, n_test, progress, brian2_images=0):
    base = zoo.load(MODELS[dataset], progress=progress)
    data = base.dataset
    x, y = data.x_test[:n_test], data.y_test[:n_test]
    net = base.to_ann()
    out = {"dataset": dataset, "model": MODELS[dataset], "n_test": int(len(x)), "train_info": base.info,
           "ann_accuracy": float(np.mean(net.predict(x) == y)), "rows": []}
    plain = nc.convert(net, timesteps=max(timesteps), calibration_data=data.x_train[:1000], method="99.9%",
                       per_channel=True)
    for T in timesteps:
        t0 = time.perf_counter()
        row = {"timesteps": T, "relu_snn_accuracy": run_chunks(plain.with_timesteps(T), x, y)[0]}
        for name, shift in (("qcfs", 0.5), ("yan", 0.0)):
            tuned = lowlatency.fine_tune(base.module, T, data.x_train, data.y_train, epochs=epochs, lr=lr, shift=shift,
                                         progress=progress)
            snn = lowlatency.convert_low_latency(tuned, data.input_shape)
            assert snn.neuron == IF(shift=shift == 0.5)
            acc, rows = run_chunks(snn, x, y)
            row[f"{name}_ann_accuracy"] = float(np.mean(snn.ann.predict(x) == y))
            row[f"{name}_snn_accuracy"] = acc
            row[f"{name}_exactness"] = rows
            if brian2_images:
                row[f"{name}_brian2"] = brian2_check(snn, x[:brian2_images])
        row["seconds"] = round(time.perf_counter() - t0, 1)
        out["rows"].append(row)
        if progress:
            print(dataset, row["timesteps"], {k: v for k, v in row.items() if k.endswith("accuracy")}, flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist5k", "fashion_mnist"], choices=list(MODELS))
    parser.add_argument("--timesteps", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs per T and variant")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--brian2-images", type=int, default=0,
                        help="also run this many test images on Brian2 runtime/numpy and compare with the reference")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    results = [measure(d, args.timesteps, args.epochs, args.lr, args.n_test, not args.no_progress, args.brian2_images)
               for d in args.datasets]
    emit({"command": command(argv), "benchmark": "lowlatency", "machine": machine(), "results": results,
          "total_s": round(time.perf_counter() - t0, 1)}, args.out)


if __name__ == "__main__":
    main()
