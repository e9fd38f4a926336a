"""The figure of a sweep: accuracy against latency (timesteps to the readout) from its results table."""

from __future__ import annotations

import os

import numpy as np

from neuroconv.experiments.sweep.table import read_table

__all__ = ["plot_accuracy_vs_timesteps", "draw_accuracy_vs_latency"]

_GROUP = ("model", "dataset", "neuron", "device", "calibration")
# the sweep's neuron names as the figures' family names (same colour and marker in every figure)
_FAMILIES = {"if": "IF", "tpp": "TPP", "tpp_unbiased": "TPP unbiased", "one_spike": "One-Spike", "lif": "LIF"}


def _latency(row) -> int:
    value = row.get("latency_steps")
    return int(float(value)) if value not in (None, "") else int(row["timesteps"])


def draw_accuracy_vs_latency(rows, ax):
    """Draw finished sweep rows on ``ax``: accuracy against latency, one line per (model, dataset, neuron, device,
    calibration), mean over seeds with bars from the lowest to the highest seed; the ANN dotted. Returns ``ax``."""
    from neuroconv.experiments.figures import style

    groups = {}
    for r in rows:
        key = tuple(r[k] for k in _GROUP)
        groups.setdefault(key, {}).setdefault(_latency(r), []).append(100 * float(r["accuracy"]))
    # the legend names only what differs between the lines
    varying = [k for k, values in zip(_GROUP, zip(*groups)) if len(set(values)) > 1]
    seeds = max(len(v) for by_lat in groups.values() for v in by_lat.values())
    for k, (key, by_lat) in enumerate(sorted(groups.items())):
        lat = sorted(by_lat)
        mean = [np.mean(by_lat[t]) for t in lat]
        lo = [max(0.0, np.mean(by_lat[t]) - np.min(by_lat[t])) for t in lat]
        hi = [max(0.0, np.max(by_lat[t]) - np.mean(by_lat[t])) for t in lat]
        parts = dict(zip(_GROUP, key))
        parts["neuron"] = _FAMILIES.get(parts["neuron"], parts["neuron"])
        label = ", ".join(str(parts[g]) for g in varying) or parts["neuron"]
        fam = style.FAMILY.get(parts["neuron"], {"color": style.color(k), "marker": "os^vD"[k % 5]})
        if "neuron" not in varying and len(groups) > 1:
            fam = {"color": style.color(k), "marker": "os^vD"[k % 5]}
        ax.errorbar(lat, mean, yerr=[lo, hi], label=label, **fam)
    anns = {(r["model"], r["dataset"]): 100 * float(r["ann_accuracy"]) for r in rows}
    for n, acc in enumerate(anns.values()):
        ax.axhline(acc, label="ANN" if n == 0 else None, **style.ANN)
    from neuroconv.experiments.figures.plots import pow2_ticks

    style.log2_axis(ax, pow2_ticks([_latency(r) for r in rows]))
    ax.set_xlabel("latency (timesteps to the readout)")
    ax.set_ylabel("test accuracy (%)" + (f", mean over {seeds} seeds" if seeds > 1 else ""))
    if seeds > 1:
        ax.plot([], [], ls="none", label="bars: lowest to highest seed")
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: (labels[i] == "ANN" or labels[i].startswith("bars:"), i))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="lower right")
    ax.grid(alpha=0.3)
    return ax


def plot_accuracy_vs_timesteps(table, path, formats=None) -> str | None:
    """Accuracy against latency (IF: T; TPP: one phase of T per hidden layer; One-Spike: two windows), one
    line per (model, dataset, neuron, device, calibration), mean and range over seeds; the ANN's accuracy dotted.
    Writes ``path`` (and the other ``formats`` beside it, e.g. ``("png", "pdf")``). Near-silent cells
    are drawn too (they are measurements). Returns the figure's path (None if no row is ok or silent)."""
    from neuroconv.experiments.figures import style

    rows = [r for r in read_table(table) if r.get("status") in ("ok", "silent")]  # silent cells are data too
    if not rows:
        return None
    with style.context():
        fig, axes = style.figure(1, 1, width=style.ONE_COLUMN * 1.4, height=3.0)
        draw_accuracy_vs_latency(rows, axes[0, 0])
        ext = os.path.splitext(str(path))[1].lstrip(".").lower() or "png"
        wanted = [ext] + [f for f in (formats or ()) if f != ext]
        style.save(fig, path, formats=wanted)
    return os.path.splitext(str(path))[0] + "." + ext
