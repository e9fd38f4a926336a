"""The figure of a sweep: accuracy against T from its results table."""

from __future__ import annotations

import numpy as np

from neuroconv.experiments.sweep.table import read_table

__all__ = ["plot_accuracy_vs_timesteps"]

_GROUP = ("model", "dataset", "neuron", "device", "calibration")


def plot_accuracy_vs_timesteps(table, path) -> str | None:
    """Accuracy against T, one line per (model, dataset, neuron, device, calibration), mean and range over
    seeds; the ANN's accuracy dashed. Returns the figure's path (None if the table has no ok rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_table(table) if r.get("status") == "ok"]
    if not rows:
        return None
    groups = {}
    for r in rows:
        key = tuple(r[k] for k in _GROUP)
        groups.setdefault(key, {}).setdefault(int(r["timesteps"]), []).append(100 * float(r["accuracy"]))
    # the legend names only what differs between the lines
    varying = [k for k, values in zip(_GROUP, zip(*groups)) if len(set(values)) > 1]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, by_t in sorted(groups.items()):
        ts = sorted(by_t)
        mean = [np.mean(by_t[t]) for t in ts]
        lo = [max(0.0, np.mean(by_t[t]) - np.min(by_t[t])) for t in ts]
        hi = [max(0.0, np.max(by_t[t]) - np.mean(by_t[t])) for t in ts]
        label = ", ".join(str(dict(zip(_GROUP, key))[k]) for k in varying) or key[2]
        ax.errorbar(ts, mean, yerr=[lo, hi], marker="o", capsize=3, label=label)
    anns = {(r["model"], r["dataset"]): 100 * float(r["ann_accuracy"]) for r in rows}
    for acc in anns.values():
        ax.axhline(acc, ls="--", lw=1, color="grey")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("T (IF: timesteps, TPP: phase length, One-Spike: window)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("accuracy vs T (dashed: ANN)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
