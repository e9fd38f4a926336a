"""Spike-train statistics with the names elephant uses, on Brian2 quantities.

Single trains are 1-D Brian2 time arrays (``[1, 4, 9] * ms``); :func:`spike_trains` cuts
them out of a run's result. Statistics of one train raise :class:`NeuroconvError` when
they are undefined (a CV needs at least two intervals); per-neuron versions over a layer
return ``numpy.ma`` masked arrays, masked exactly where the statistic is undefined, so no
NaN appears unannounced.

- :func:`isi`, :func:`cv`: inter-spike intervals and their coefficient of variation.
- :func:`firing_rates`: spikes / duration per image and neuron, in Hz.
- :func:`fanofactor`: variance / mean of a neuron's spike count across images (trials).
- :func:`first_spike_latency`: time of each neuron's first spike, from the start of its
  layer's window (the run's start for IF; the layer's window/phase for One-Spike and TPP).
- :func:`sttc`: spike time tiling coefficient (Cutts & Eglen 2014) with an explicit tolerance.
- :func:`psth`: population rate in bins.
"""

from __future__ import annotations

import numpy as np
from brian2 import Hz, Quantity, second

from neuroconv.errors import NeuroconvError

__all__ = ["spike_trains", "isi", "cv", "cv_per_neuron", "firing_rates", "fanofactor", "first_spike_latency",
           "sttc", "psth", "layer_windows"]


def _times(train, name="train") -> np.ndarray:
    """A 1-D Brian2 time array -> sorted float seconds."""
    if not isinstance(train, Quantity) or not train.has_same_dimensions(second):
        raise NeuroconvError(f"{name} must be spike times with Brian2 time units (e.g. [1, 4] * ms), got {train!r}.")
    values = np.asarray(train, dtype=np.float64)
    if values.ndim != 1:
        raise NeuroconvError(f"{name} must be one train (1-D), got shape {values.shape}.")
    if not np.all(np.isfinite(values)):
        raise NeuroconvError(f"{name} has non-finite spike times.")
    return np.sort(values)


def layer_windows(snn) -> list:
    """``(first step, length)`` of each hidden layer's firing window (the model's ``window``; IF: the whole run)."""
    return [snn.window(k) for k in range(len(snn.hidden_layers))]


def spike_trains(result, layer, image: int = 0) -> list:
    """One Brian2 time array per neuron of ``layer`` for ``image`` (empty arrays for silent neurons)."""
    k = result.layer_index(layer)
    if not 0 <= image < result.batch_size:
        raise NeuroconvError(f"image {image} out of range: the result holds {result.batch_size} images.")
    neuron, times = result.spike_times(k, image=image)
    n = result.spike_counts[k].shape[1]
    order = np.argsort(neuron, kind="stable")
    neuron, t = neuron[order], np.asarray(times)[order]
    bounds = np.searchsorted(neuron, np.arange(n + 1))
    return [Quantity(t[bounds[j]:bounds[j + 1]], dim=second.dim) for j in range(n)]


def isi(train) -> Quantity:
    """Inter-spike intervals of one train (empty for fewer than two spikes)."""
    return Quantity(np.diff(_times(train)), dim=second.dim)


def cv(train) -> float:
    """Coefficient of variation of the intervals, ``std / mean`` (population std, as elephant).

    Needs at least two intervals (three spikes); raises otherwise.
    """
    times = _times(train)
    if times.size < 3:
        raise NeuroconvError(f"cv needs at least 3 spikes (2 intervals); the train has {times.size}.")
    intervals = np.diff(times)
    return float(np.std(intervals) / np.mean(intervals))


def cv_per_neuron(trains) -> np.ma.MaskedArray:
    """CV of every train in a list; masked where a train has fewer than three spikes."""
    values = np.zeros(len(trains))
    mask = np.zeros(len(trains), dtype=bool)
    for j, train in enumerate(trains):
        if len(train) < 3:
            mask[j] = True
        else:
            values[j] = cv(train)
    return np.ma.MaskedArray(values, mask=mask)


def firing_rates(result, layer, duration=None) -> Quantity:
    """Spikes per second of every image and neuron, ``(batch, n)`` in Hz.

    ``duration`` defaults to the whole run (``run_steps * dt``); pass a layer's window
    length for phase-coded or two-phase networks if you want the rate within it.
    """
    k = result.layer_index(layer)
    if duration is None:
        duration = result.duration
    if not isinstance(duration, Quantity) or not duration.has_same_dimensions(second) or not float(duration) > 0:
        raise NeuroconvError(f"duration must be a positive Brian2 time, got {duration!r}.")
    return result.spike_counts[k] / duration


def fanofactor(counts) -> np.ma.MaskedArray:
    """Fano factor per neuron: variance / mean of its spike count across images (``counts``: (images, n)).

    Needs at least two images; masked where a neuron never fires (mean 0).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim == 1:
        counts = counts[:, None]
    if counts.ndim != 2 or counts.shape[0] < 2:
        raise NeuroconvError(f"fanofactor needs counts of shape (images >= 2, neurons), got {counts.shape}.")
    mean = counts.mean(axis=0)
    var = counts.var(axis=0)
    silent = mean == 0
    return np.ma.MaskedArray(np.divide(var, mean, out=np.zeros_like(mean), where=~silent), mask=silent)


def first_spike_latency(snn, result, layer) -> Quantity:
    """Time from the start of each neuron's firing window to its first spike, ``(batch, n)``.

    A masked Quantity is not available in Brian2, so silent neurons get ``inf`` seconds
    (documented, not NaN); use ``np.isfinite`` to select the neurons that fired.
    """
    k = result.layer_index(layer)
    start, _ = layer_windows(snn)[k]
    first = result.first_spike_steps(k)
    steps = np.where(first >= 0, first - start, np.inf).astype(np.float64)
    return Quantity(steps * float(result.dt), dim=second.dim)


def sttc(train_a, train_b, dt, t_start, t_stop) -> float:
    """Spike time tiling coefficient (Cutts & Eglen 2014) of two trains within ``[t_start, t_stop]``.

    Two spikes are coincident when ``|t_a - t_b| <= dt`` (compared in units of the
    tolerance, not by float equality). 1 for identical trains, about 0 for independent
    ones, -1 for perfectly anti-correlated. Raises if either train is empty (undefined).
    """
    a, b = _times(train_a, "train_a"), _times(train_b, "train_b")
    for name, value in (("dt", dt), ("t_start", t_start), ("t_stop", t_stop)):
        if not isinstance(value, Quantity) or not value.has_same_dimensions(second) or np.shape(value) != ():
            raise NeuroconvError(f"{name} must be a Brian2 time, got {value!r}.")
    tol, t0, t1 = float(dt), float(t_start), float(t_stop)
    if not tol > 0 or not t1 > t0:
        raise NeuroconvError(f"need dt > 0 and t_stop > t_start, got dt={dt}, [{t_start}, {t_stop}].")
    if a.size == 0 or b.size == 0:
        raise NeuroconvError("sttc is undefined for an empty train (no spikes in train_a or train_b).")
    eps = 1e-9 * tol  # spikes exactly dt apart count as coincident despite rounding

    def covered(train):
        # total length of the union of [t - dt, t + dt] clipped to [t0, t1], over the duration
        lo, hi = np.maximum(train - tol, t0), np.minimum(train + tol, t1)
        total, end = 0.0, -np.inf
        for s, e in zip(lo, hi):
            s = max(s, end)
            if e > s:
                total += e - s
                end = e
        return total / (t1 - t0)

    def proportion(x, y):
        # fraction of spikes of x within dt of some spike of y
        idx = np.searchsorted(y, x)
        left = np.abs(x - y[np.clip(idx - 1, 0, y.size - 1)])
        right = np.abs(y[np.clip(idx, 0, y.size - 1)] - x)
        return float(np.mean(np.minimum(left, right) <= tol + eps))

    ta, tb = covered(a), covered(b)
    pa, pb = proportion(a, b), proportion(b, a)

    def term(p, t):
        return 0.0 if p * t == 1 else (p - t) / (1 - p * t)

    return 0.5 * (term(pa, tb) + term(pb, ta))


def psth(result, layer, bin_size=None):
    """Population rate of ``layer`` over time: ``(bin_edges, rate)`` Quantities, rate per neuron
    averaged over neurons and images, in Hz. ``bin_size`` defaults to one timestep."""
    k = result.layer_index(layer)
    if result.spikes is None:
        raise NeuroconvError("psth needs spike trains: run with record_spikes=True.")
    dt = float(result.dt)
    width = dt if bin_size is None else bin_size
    if bin_size is not None:
        if not isinstance(bin_size, Quantity) or not bin_size.has_same_dimensions(second) or not float(bin_size) > 0:
            raise NeuroconvError(f"bin_size must be a positive Brian2 time, got {bin_size!r}.")
        width = float(bin_size)
    duration = result.run_steps * dt
    n_bins = int(np.ceil(duration / width - 1e-9))
    edges = np.arange(n_bins + 1) * width
    counts, _ = np.histogram((result.spikes[k].step + 0.5) * dt, bins=edges)  # a step's spikes: its centre
    n_neurons = result.spike_counts[k].shape[1] * result.batch_size
    return Quantity(edges, dim=second.dim), counts / (n_neurons * width) * Hz
