"""Fashion-MNIST CNNs (max-pooling, residual) converted to IF networks: accuracy vs T, plain ReLU vs QCFS.

For each zoo model and variant: the ANN's test accuracy, then the IF network's accuracy at
every T from one reference run per model (a run is causal, so the readout after t steps
is the run of length t; :func:`neuroconv.reference.readouts_over_time`). The plain-ReLU
networks are calibrated on 1000 training images (``--method``, per channel); the QCFS
networks use their trained thresholds. Models come from :mod:`neuroconv.zoo` (trained on
first use and cached). Prints JSON.

    python benchmarks/bench_fashion.py --out docs/bench/fashion_mnist.json
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import neuroconv as nc
from neuroconv.experiments import zoo
from neuroconv.simulation.reference import readouts_over_time

from _report import command, emit, machine

TIMESTEPS = (4, 8, 16, 32, 64)


def measure(name, variant, levels, timesteps, n_test, method, progress):
    t0 = time.perf_counter()
    model = zoo.load(name, variant=variant, levels=levels, progress=progress)
    net = model.to_ann()
    data = model.dataset
    x, y = data.x_test[:n_test], data.y_test[:n_test]
    ann_acc = float(np.mean(net.predict(x) == y))
    kwargs = {} if variant == "qcfs" else dict(method=method, per_channel=True)
    snn = nc.convert(net, timesteps=max(timesteps), calibration_data=data.x_train[:1000], **kwargs)
    t1 = time.perf_counter()
    outs = readouts_over_time(snn, x, timesteps, progress=progress)
    snn_acc = {int(t): float(np.mean(np.argmax(out, axis=1) == y)) for t, out in outs.items()}
    return {
        "model": name, "variant": variant, "levels": levels if variant == "qcfs" else None,
        "populations": [f"{l.name}:{l.kind}:{l.size}" for l in snn.layers],
        "residual_pathways": sum(len(l.sources) > 1 for l in snn.layers),
        "maxpool_relays": sum(l.kind == "maxpool" for l in snn.layers),
        "synapses_per_image": snn.n_synapses, "train_info": model.info, "n_test": int(len(x)),
        "ann_accuracy": ann_acc, "snn_accuracy": snn_acc,
        "loss_pp": {t: round(100 * (ann_acc - a), 2) for t, a in snn_acc.items()},
        "simulate_seconds": round(time.perf_counter() - t1, 1), "total_seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["fashion_cnn", "fashion_resnet"], choices=sorted(zoo.MODELS))
    parser.add_argument("--variants", nargs="+", default=["relu", "qcfs"], choices=["relu", "qcfs"])
    parser.add_argument("--levels", type=int, default=8, help="QCFS levels L")
    parser.add_argument("--timesteps", type=int, nargs="+", default=list(TIMESTEPS))
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--method", default="99.9%", help="calibration of the plain-ReLU networks")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    rows = [measure(m, v, args.levels, args.timesteps, args.n_test, args.method, not args.no_progress)
            for m in args.models for v in args.variants]
    emit({"command": command(argv), "benchmark": "fashion_mnist_if", "machine": machine(), "rows": rows}, args.out)


if __name__ == "__main__":
    main()
