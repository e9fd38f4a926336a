"""Plots of converted networks' runs. Each function takes ``ax=None`` and returns the Axes."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_raster", "plot_accuracy_vs_timesteps"]


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
    ax.set_xlim(-0.5, result.timesteps * float(result.dt / ms) - 0.5)
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
