"""Plots of converted networks' runs. Each function takes ``ax=None`` and returns the Axes."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_raster", "plot_accuracy_vs_timesteps", "plot_rate_histogram", "plot_cv_histogram",
           "plot_conversion_error", "plot_misalignment"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def plot_raster(result, image: int = 0, ax=None, layers=None, markersize: float = 3.0):
    """Spike raster of one image, all spiking hidden layers stacked (layer 0 at the bottom).

    Time on the x axis in ms; neurons of successive layers are offset vertically and the
    layer names label the y axis.
    """
    from brian2 import ms

    ax = _axes(ax)
    names = result.layer_names if layers is None else [result.layer_names[result.layer_index(l)] for l in layers]
    offset = 0
    ticks, labels = [], []
    for k, name in enumerate(names):
        neuron, times = result.spike_times(name, image=image)
        n = result.spike_counts[result.layer_index(name)].shape[1]
        ax.plot(np.asarray(times / ms), neuron + offset, "|", markersize=markersize, color=f"C{k}", label=name)
        ticks.append(offset + n / 2)
        labels.append(name)
        offset += n
        ax.axhline(offset - 0.5, color="0.8", lw=0.5)
    ax.set_yticks(ticks, labels)
    ax.set_xlim(-0.5, result.run_steps * float(result.dt / ms) - 0.5)
    ax.set_ylim(-0.5, offset - 0.5)
    ax.set_xlabel("time (ms)")
    ax.set_title(f"spikes of image {image}, T = {result.timesteps}")
    return ax


def plot_accuracy_vs_timesteps(timesteps, snn_accuracy, ann_accuracy=None, ax=None, label="SNN"):
    """Accuracy (in %) against the number of timesteps T, log-2 x axis, the ANN as a dashed line."""
    ax = _axes(ax)
    ax.plot(timesteps, 100 * np.asarray(snn_accuracy), "o-", label=label)
    if ann_accuracy is not None:
        ax.axhline(100 * ann_accuracy, ls="--", color="k", label="ANN")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(timesteps), [str(t) for t in timesteps])
    ax.set_xlabel("timesteps T")
    ax.set_ylabel("accuracy (%)")
    ax.legend()
    return ax


def plot_rate_histogram(result, layers=None, ax=None, bins: int = 20):
    """Distribution of firing rates (Hz, over images and neurons), one histogram per spiking layer."""
    from brian2 import Hz

    ax = _axes(ax)
    names = result.layer_names if layers is None else [result.layer_names[result.layer_index(l)] for l in layers]
    for name in names:
        rates = np.asarray(result.rates(name) / Hz).ravel()
        ax.hist(rates, bins=bins, histtype="step", lw=1.5, label=name)
    ax.set_xlabel("firing rate (Hz)")
    ax.set_ylabel("neurons x images")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return ax


def plot_cv_histogram(result, layer=0, ax=None, bins: int = 20, max_images: int = 50):
    """Distribution of the CV of inter-spike intervals over the neurons (with >= 3 spikes) of the first images."""
    from neuroconv.analysis.stats import cv_per_neuron, spike_trains

    ax = _axes(ax)
    values = [cv_per_neuron(spike_trains(result, layer, image=i)).compressed()
              for i in range(min(result.batch_size, max_images))]
    values = np.concatenate(values) if values else np.zeros(0)
    name = result.layer_names[result.layer_index(layer)]
    ax.hist(values, bins=bins, range=(0, max(1.5, values.max(initial=0))), color="C0")
    ax.set_xlabel("CV of inter-spike intervals")
    ax.set_ylabel("neurons x images")
    ax.set_title(f"{name}: {values.size} trains with >= 3 spikes (Poisson: 1, regular: 0)", fontsize=9)
    return ax


def plot_conversion_error(snn, result, x, layer=0, ax=None, max_points: int = 5000):
    """Scatter of the SNN's effective activation against the ANN activation, with the diagonal."""
    from neuroconv.analysis.conversion_error import conversion_error, effective_activations

    ax = _axes(ax)
    k = result.layer_index(layer)
    hidden = snn.hidden_layers[k]
    a = np.maximum(snn.ann.forward(snn.ann.check_input(x), return_activations=True)[1][hidden.ann_index], 0.0)
    a = a.reshape(a.shape[0], -1).ravel()
    eff = effective_activations(snn, result)[k].ravel()
    step = max(1, a.size // max_points)
    ax.plot(a[::step], eff[::step], ".", ms=2, alpha=0.4)
    top = max(a.max(initial=0), eff.max(initial=0))
    ax.plot([0, top], [0, top], "k--", lw=1)
    stats = conversion_error(snn, result, x)["layers"][k]
    ax.set_xlabel("ANN activation")
    ax.set_ylabel("SNN effective activation")
    ax.set_title(f"{hidden.name}: MAE {stats['mae']:.3g}, r = {stats['correlation'] or float('nan'):.3f}", fontsize=9)
    return ax


def plot_misalignment(measures, ax=None):
    """Per layer, the misalignment measures of :func:`neuroconv.analysis.misalignment_measures`:
    cumulative-count deviation (bars, left axis) and mean relative spike time (dots, right axis; 0.5 = centred)."""
    ax = _axes(ax)
    names = [m["layer"] for m in measures]
    xs = np.arange(len(names))
    ax.bar(xs, [m["cumulative_deviation"] for m in measures], color="C0", alpha=0.7)
    ax.set_ylabel("max |cumulative count - uniform line| (spikes)", color="C0")
    ax.set_xticks(xs, names)
    twin = ax.twinx()
    twin.plot(xs, [m["mean_relative_time"] for m in measures], "o-", color="C3")
    twin.axhline(0.5, color="C3", ls=":", lw=1)
    twin.set_ylim(0, 1)
    twin.set_ylabel("mean spike time / window", color="C3")
    return ax
