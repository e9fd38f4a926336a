"""The demo: a small MLP on scikit-learn's digits, converted to IF neurons and run in Brian2.

``neuroconv demo`` loads the MLP shipped in ``neuroconv/data/digits_mlp.npz`` (trained by
:func:`train_digits_mlp` with a fixed seed; ``--retrain`` trains it again), converts it
with max-activation threshold balancing, runs the Brian2 network for each T and prints
ANN accuracy, SNN accuracy, the loss and wall time per T.
"""

from __future__ import annotations

import json
import platform
import time
from importlib.resources import files

import numpy as np

from neuroconv import ann
from neuroconv.conversion.converter import convert
from neuroconv.equations import IF

__all__ = ["load_digits_split", "train_digits_mlp", "shipped_digits_mlp", "run_demo", "DEMO_TIMESTEPS"]

DEMO_TIMESTEPS = (4, 8, 16, 32, 64)
HIDDEN = (64, 32)
SEED = 0


def load_digits_split(test_size: float = 0.3, seed: int = SEED):
    """scikit-learn's 8x8 digits scaled to [0, 1]: ``(x_train, x_test, y_train, y_test)``, stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    return train_test_split(x / 16.0, y, test_size=test_size, random_state=seed, stratify=y)


def train_digits_mlp(x_train, y_train, seed: int = SEED) -> ann.Sequential:
    """Train the demo MLP (64-64-32-10, ReLU) with scikit-learn, deterministically for a given seed."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=HIDDEN, max_iter=400, alpha=1e-3, random_state=seed)
        clf.fit(x_train, y_train)
    return ann.from_sklearn(clf)


def shipped_digits_mlp() -> ann.Sequential:
    """The demo MLP as shipped with the package (see :func:`train_digits_mlp`)."""
    return ann.from_npz(files("neuroconv") / "data" / "digits_mlp.npz")


def run_demo(timesteps=DEMO_TIMESTEPS, device: str = "runtime", retrain: bool = False, progress: bool = True,
             raster_timesteps: int = 32, raster_image: int = 0):
    """Run the demo; returns ``(report dict, result of the raster run)``."""
    from tqdm.auto import tqdm

    x_train, x_test, y_train, y_test = load_digits_split()
    t0 = time.perf_counter()
    net = train_digits_mlp(x_train, y_train) if retrain else shipped_digits_mlp()
    ann_acc = float(np.mean(net.predict(x_test) == y_test))
    rows, raster = [], None
    for T in tqdm(list(timesteps), desc="demo: T", unit="T", disable=not progress):
        snn = convert(net, neuron=IF(), timesteps=int(T), calibration_data=x_train, method="max")
        res = snn.run(x_test, device=device, progress=progress)
        acc = res.accuracy(y_test)
        rows.append({"timesteps": int(T), "snn_accuracy": acc, "loss_pp": 100 * (ann_acc - acc),
                     "wall_time_s": res.wall_time, "build_time_s": res.build_time,
                     "spikes_per_image": float(sum(c.sum() for c in res.spike_counts) / res.batch_size)})
        if T == raster_timesteps or raster is None:
            raster = res
    report = {
        "dataset": "sklearn digits (8x8), 70/30 stratified split, seed 0",
        "n_test": int(len(y_test)),
        "network": "64-" + "-".join(str(h) for h in HIDDEN) + "-10 MLP, ReLU",
        "model": "trained now" if retrain else "shipped neuroconv/data/digits_mlp.npz",
        "neuron": "IF(reset='subtract', shift=True)",
        "calibration": "max activation per layer on the training set",
        "device": device,
        "ann_accuracy": ann_acc,
        "rows": rows,
        "total_time_s": time.perf_counter() - t0,
        "versions": _versions(),
    }
    return report, raster


def _versions():
    import brian2

    from neuroconv._version import __version__

    return {"neuroconv": __version__, "brian2": brian2.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def format_table(report) -> str:
    lines = [f"ANN accuracy: {100 * report['ann_accuracy']:.2f}% on {report['n_test']} test digits "
             f"({report['network']}, device={report['device']})",
             "",
             "|   T | SNN accuracy | loss (pp) | spikes/image | wall time (s) |",
             "|----:|-------------:|----------:|-------------:|--------------:|"]
    for r in report["rows"]:
        lines.append(f"| {r['timesteps']:3d} | {100 * r['snn_accuracy']:11.2f}% | {r['loss_pp']:9.2f} | "
                     f"{r['spikes_per_image']:12.1f} | {r['wall_time_s']:13.2f} |")
    lines.append("")
    lines.append(f"total {report['total_time_s']:.1f} s")
    return "\n".join(lines)


def save_figure(report, raster, path, formats=None) -> list:
    """The demo figure (a: accuracy vs T, b: spike raster of the first test digit) in the package's figure
    style; writes ``path`` and, with ``formats`` (e.g. ``("png", "pdf")``), the other formats beside it.
    Returns the paths written."""
    import os

    from neuroconv.analysis import plot_accuracy_vs_timesteps, plot_raster
    from neuroconv.experiments.figures import style

    with style.context():
        fig, axes = style.figure(1, 2, height=2.6, width_ratios=(1, 1.4))
        ax1, ax2 = axes[0]
        ts = [r["timesteps"] for r in report["rows"]]
        plot_accuracy_vs_timesteps(ts, [r["snn_accuracy"] for r in report["rows"]], report["ann_accuracy"], ax=ax1,
                                   label="SNN (IF, Brian2)")
        ax1.set_ylabel(f"test accuracy (%), {report['n_test']} digits")
        plot_raster(raster, image=0, ax=ax2, markersize=2.0)
        ax2.set_xlabel(f"time (ms), T = {raster.timesteps}, first test digit")
        style.panel_letters(axes)
        ext = os.path.splitext(str(path))[1].lstrip(".").lower() or "png"
        return style.save(fig, path, formats=[ext] + [f for f in (formats or ()) if f != ext])


def write_json(report, path) -> None:
    with open(path, "w") as fh:
        json.dump(report, fh, indent=2)
