"""Plots of converted networks' runs. Each function takes ``ax=None`` and returns the Axes.

They draw in the package's figure style (:mod:`neuroconv.experiments.figures.style`: colour-blind-safe
palette, one-column size when they make their own figure, log-2 axes with plain-number ticks).
Information that used to be a title (a layer's error, the number of spike trains) is a small
annotation in the panel's corner (``ax.texts``), so that panels can be combined into paper figures.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_raster", "plot_accuracy_vs_timesteps", "plot_rate_histogram", "plot_cv_histogram",
           "plot_conversion_error", "plot_misalignment"]


def _style():
    from neuroconv.experiments.figures import style

    return style


def _axes(ax):
    if ax is None:
        style = _style()
        with style.context():
            _, axes = style.figure(1, 1, width=style.ONE_COLUMN)
        ax = axes[0, 0]
    return ax


def _note(ax, text, loc="upper left"):
    """A small annotation in a corner of the panel (instead of a title)."""
    style = _style()
    x, ha = (0.03, "left") if loc.endswith("left") else (0.97, "right")
    y, va = (0.97, "top") if loc.startswith("upper") else (0.03, "bottom")
    return ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=style.SMALL_FONT_SIZE, gid="note",
                   bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8))


def plot_raster(result, image: int = 0, ax=None, layers=None, markersize: float = 3.0, title: bool = False):
    """Spike raster of one image, all spiking hidden layers stacked (layer 0 at the bottom).

    Time on the x axis in ms; the y axis is the neuron index within its layer (ticks at 0 and at
    each layer's last neuron), layers offset vertically, separated by grey lines and named
    at the right. ``title=True`` also writes image and T as a title.
    """
    from brian2 import ms
    from matplotlib.transforms import blended_transform_factory

    style = _style()
    ax = _axes(ax)
    names = result.layer_names if layers is None else [result.layer_names[result.layer_index(l)] for l in layers]
    offset = 0
    ticks, labels = [], []
    with style.context():
        side = blended_transform_factory(ax.transAxes, ax.transData)
        for k, name in enumerate(names):
            neuron, times = result.spike_times(name, image=image)
            n = result.spike_counts[result.layer_index(name)].shape[1]
            ax.plot(np.asarray(times / ms), neuron + offset, "|", markersize=markersize, color=style.color(k),
                    label=name)
            if k == 0:
                ticks.append(0)
                labels.append("0")
            if n > 1 or k > 0:  # each layer's last neuron (the next layer starts above its line)
                ticks.append(offset + n - 1)
                labels.append(str(n - 1))
            ax.text(1.01, offset + n / 2, name, transform=side, rotation=90, ha="left", va="center",
                    fontsize=style.SMALL_FONT_SIZE, color=style.color(k))
            offset += n
            ax.axhline(offset - 0.5, color="0.8", lw=0.5)
        ax.set_yticks(ticks, labels)
        ax.set_xlim(-0.5, result.run_steps * float(result.dt / ms) - 0.5)
        ax.set_ylim(-0.5, offset - 0.5)
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("neuron index (layers stacked)")
        if title:
            ax.set_title(f"spikes of image {image}, T = {result.timesteps}")
    return ax


def plot_accuracy_vs_timesteps(timesteps, snn_accuracy, ann_accuracy=None, ax=None, label="SNN"):
    """Accuracy (in %) against the number of timesteps T, log-2 x axis with plain ticks, the ANN dotted."""
    style = _style()
    ax = _axes(ax)
    with style.context():
        fam = style.FAMILY["IF"]
        ax.plot(timesteps, 100 * np.asarray(snn_accuracy), marker=fam["marker"], color=fam["color"], label=label)
        if ann_accuracy is not None:
            ax.axhline(100 * ann_accuracy, label="ANN", **style.ANN)
        style.log2_axis(ax, list(timesteps))
        ax.set_xlabel("timesteps T (= latency)")
        ax.set_ylabel("accuracy (%)")
        ax.legend(loc="lower right")
    return ax


def plot_rate_histogram(result, layers=None, ax=None, bins: int = 20):
    """Distribution of firing rates (Hz, over images and neurons), one histogram per spiking layer."""
    from brian2 import Hz

    style = _style()
    ax = _axes(ax)
    names = result.layer_names if layers is None else [result.layer_names[result.layer_index(l)] for l in layers]
    with style.context():
        for k, name in enumerate(names):
            rates = np.asarray(result.rates(name) / Hz).ravel()
            ax.hist(rates, bins=bins, histtype="step", lw=1.3, color=style.color(k), label=name)
        ax.set_xlabel("firing rate (Hz)")
        ax.set_ylabel(f"neurons × images ({result.batch_size} images)")
        ax.set_yscale("log")
        ax.legend()
    return ax


def plot_cv_histogram(result, layer=0, ax=None, bins: int = 20, max_images: int = 50):
    """Distribution of the CV of inter-spike intervals over the neurons (with >= 3 spikes) of the first images."""
    from neuroconv.analysis.stats import cv_per_neuron, spike_trains

    style = _style()
    ax = _axes(ax)
    n_images = min(result.batch_size, max_images)
    values = [cv_per_neuron(spike_trains(result, layer, image=i)).compressed() for i in range(n_images)]
    values = np.concatenate(values) if values else np.zeros(0)
    name = result.layer_names[result.layer_index(layer)]
    with style.context():
        ax.hist(values, bins=bins, range=(0, max(1.5, values.max(initial=0))), color=style.color(0))
        ax.set_xlabel("CV of inter-spike intervals (Poisson: 1, regular: 0)")
        ax.set_ylabel(f"spike trains ({n_images} images)")
        _note(ax, f"{name}: {values.size} trains with >= 3 spikes", loc="upper right")
    return ax


def plot_conversion_error(snn, result, x, layer=0, ax=None, max_points: int = 5000):
    """Scatter of the SNN's effective activation against the ANN activation, with the diagonal; the layer's
    mean absolute error and correlation in the upper left corner."""
    from neuroconv.analysis.conversion_error import conversion_error, effective_activations

    style = _style()
    ax = _axes(ax)
    k = result.layer_index(layer)
    hidden = snn.hidden_layers[k]
    a = np.maximum(snn.ann.forward(snn.ann.check_input(x), return_activations=True)[1][hidden.ann_index], 0.0)
    a = a.reshape(a.shape[0], -1).ravel()
    eff = effective_activations(snn, result)[k].ravel()
    step = max(1, a.size // max_points)
    stats = conversion_error(snn, result, x)["layers"][k]
    with style.context():
        ax.plot(a[::step], eff[::step], ".", ms=2, alpha=0.4, color=style.color(0), mew=0)
        top = max(a.max(initial=0), eff.max(initial=0))
        ax.plot([0, top], [0, top], color="k", ls="--", lw=0.8)
        ax.set_xlabel("ANN activation")
        ax.set_ylabel("SNN effective activation")
        _note(ax, f"{hidden.name}: MAE {stats['mae']:.3g}, r = {stats['correlation'] or float('nan'):.3f}")
    return ax


def plot_misalignment(measures, ax=None):
    """Per layer, the misalignment measures of :func:`neuroconv.analysis.misalignment_measures`:
    cumulative-count deviation (bars, left axis) and mean relative spike time (dots, right axis; 0.5 = centred)."""
    style = _style()
    ax = _axes(ax)
    names = [m["layer"] for m in measures]
    xs = np.arange(len(names))
    left, right = style.color(0), style.color(1)
    with style.context():
        ax.bar(xs, [m["cumulative_deviation"] for m in measures], color=left, alpha=0.8, width=0.6)
        ax.set_ylabel("max |cumulative count −\nuniform line| (spikes)", color=left)
        ax.set_xticks(xs, names)
        twin = ax.twinx()
        twin.spines["right"].set_visible(True)
        twin.plot(xs, [m["mean_relative_time"] for m in measures], "o-", color=right)
        twin.axhline(0.5, color=right, ls=":", lw=1)
        twin.set_ylim(0, 1)
        twin.set_ylabel("mean spike time / window", color=right)
    return ax
