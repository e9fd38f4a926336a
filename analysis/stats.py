"""Spike-train statistics with the names elephant uses, on Brian2 quantities.

Single trains are 1-D Brian2 time arrays (``[1, 4, 9] * ms``); :func:`spike_trains` cuts
them out of a run's result. Statistics of one train raise :class:`NeuroconvError` when
they are undefined (a CV needs at least two intervals); per-neuron versions over a layer
return ``numpy.ma`` masked arrays, masked exactly where the statistic is undefined, so no
NaN appears unannounced.

Count statistics say what they vary over (``across=``, kept in the result's ``.across``):
``"images"``, the spread over different inputs (stimulus variability; the only one a
deterministic network has), or ``"trials"``, the spread over repeated runs of the same
image with different noise seeds (trial-to-trial variability; stochastic models only,
collected by :func:`run_trials`). The ISI CV is within one train (``.across ==
"intervals"``): a train is one trial of one image.

- :func:`isi`, :func:`cv`, :func:`cv_per_neuron`: inter-spike intervals and their coefficient
  of variation.
- :func:`firing_rates`: spikes / duration per image and neuron, in Hz.
- :func:`run_trials`: the same images run ``n_trials`` times with different seeds, a :class:`Trials`.
- :func:`fanofactor`, :func:`count_cv`: variance / mean and std / mean of spike counts, across
  images or across trials; an :class:`AcrossArray` (a masked array with ``.across``).
- :func:`first_spike_latency`: time of each neuron's first spike, from the start of its
  layer's window (the run's start for IF; the layer's window/phase for One-Spike and TPP).
- :func:`sttc`: spike time tiling coefficient (Cutts & Eglen 2014) with an explicit tolerance.
- :func:`psth`: population rate in bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import Hz, Quantity, second

from neuroconv.errors import NeuroconvError

__all__ = ["spike_trains", "isi", "cv", "cv_per_neuron", "firing_rates", "fanofactor", "count_cv", "run_trials",
           "Trials", "AcrossArray", "ACROSS", "first_spike_latency", "sttc", "psth", "layer_windows"]

#: What a count statistic can be computed across (``fanofactor``/``count_cv`` ``across=``).
ACROSS = ("images", "trials")


class AcrossArray(np.ma.MaskedArray):
    """A ``numpy.ma`` masked array that says what its statistic was computed across.

    ``.across``: ``"images"`` (stimulus variability), ``"trials"`` (trial-to-trial variability
    of one image) or ``"intervals"`` (ISI CV, within one train). Everything else is ``np.ma``;
    slices, arithmetic and pickling keep the label (held in ``np.ma``'s ``_optinfo``); reductions
    over an axis (``.mean(axis=0)``) drop it.
    """

    def __new__(cls, data, mask=np.ma.nomask, across=None, **kwargs):
        obj = super().__new__(cls, data, mask=mask, **kwargs)
        obj._optinfo["across"] = across
        return obj

    @property
    def across(self):
        return self._optinfo.get("across")

    def __reduce__(self):
        function, args, state = super().__reduce__()
        return function, args, (state, self.across)

    def __setstate__(self, state):
        inner, across = state
        super().__setstate__(inner)
        self._optinfo["across"] = across


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


def cv_per_neuron(trains) -> AcrossArray:
    """CV of every train in a list; masked where a train has fewer than three spikes.

    Each value is over one train's intervals (``.across == "intervals"``): one trial of one
    image, so neither across images nor across trials. For the variability of spike counts
    over images or over trials use :func:`count_cv` or :func:`fanofactor`.
    """
    values = np.zeros(len(trains))
    mask = np.zeros(len(trains), dtype=bool)
    for j, train in enumerate(trains):
        if len(train) < 3:
            mask[j] = True
        else:
            values[j] = cv(train)
    return AcrossArray(values, mask=mask, across="intervals")


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


def _counts_across(counts, across, layer, what):
    """``counts`` (an array or a :class:`Trials` with ``layer``) as floats, and the axis ``across`` reduces."""
    if not isinstance(across, str) or across not in ACROSS:
        raise NeuroconvError(f"{what}: across must be one of {ACROSS} ('images': over different inputs, 'trials': "
                             f"over repeated runs of one input, see run_trials), got {across!r}.")
    if isinstance(counts, Trials):
        if layer is None:
            raise NeuroconvError(f"{what} of a Trials needs layer= (a name or position; the spiking layers are "
                                 f"{list(counts.layer_names)}).")
        counts = counts.counts(layer)
    elif layer is not None:
        raise NeuroconvError(f"{what}: layer= picks a layer of a Trials; with an array of counts leave it out.")
    counts = np.asarray(counts, dtype=np.float64)
    if across == "images":
        if counts.ndim == 1:
            counts = counts[:, None]
        if counts.ndim not in (2, 3) or counts.shape[-2] < 2:
            raise NeuroconvError(f"{what}(across='images') needs counts of shape (images >= 2, neurons) or "
                                 f"(trials, images >= 2, neurons), got {counts.shape}.")
        return counts, counts.ndim - 2
    if counts.ndim != 3 or counts.shape[0] < 2:
        raise NeuroconvError(f"{what}(across='trials') needs counts of shape (trials >= 2, images, neurons) or a "
                             f"Trials with layer=, got {counts.shape} (the trials of one image: counts[:, None, :]).")
    return counts, 0


def _ratio(numerator, mean, across) -> AcrossArray:
    silent = mean == 0
    return AcrossArray(np.divide(numerator, mean, out=np.zeros_like(mean), where=~silent), mask=silent, across=across)


def fanofactor(counts, across: str = "images", *, layer=None) -> AcrossArray:
    """Fano factor of spike counts: variance / mean (population variance, as elephant).

    Parameters
    ----------
    counts : array or Trials
        ``(images, neurons)`` counts (a run's ``spike_counts[k]``), ``(trials, images, neurons)``
        counts, or a :class:`Trials` from :func:`run_trials` with ``layer``.
    across : {"images", "trials"}
        ``"images"`` (default): over the images, per neuron -> ``(neurons,)`` (``(trials, neurons)``
        for 3-D counts); stimulus variability, needs at least two images. ``"trials"``: over
        repeated trials of each image -> ``(images, neurons)``; trial-to-trial variability (1 for
        Poisson counts, 0 for a deterministic network), needs at least two trials.
    layer : int or str
        The spiking layer, when ``counts`` is a :class:`Trials`.

    Returns an :class:`AcrossArray` (``.across`` as asked), masked where the mean count is 0.
    """
    values, axis = _counts_across(counts, across, layer, "fanofactor")
    return _ratio(values.var(axis=axis), values.mean(axis=axis), across)


def count_cv(counts, across: str, *, layer=None) -> AcrossArray:
    """Coefficient of variation of spike counts, std / mean (population std), across images or trials.

    ``counts``, ``across`` and ``layer`` as in :func:`fanofactor` (``across`` has no default: say
    which); masked where the mean count is 0. ``count_cv ** 2 * mean == fanofactor``. Not the ISI
    CV of :func:`cv`, which is within one train.
    """
    values, axis = _counts_across(counts, across, layer, "count_cv")
    return _ratio(values.std(axis=axis), values.mean(axis=axis), across)


@dataclass(frozen=True, eq=False)
class Trials:
    """Repeated runs of the same images with different seeds (:func:`run_trials`); arrays are read-only.

    Attributes
    ----------
    spike_counts : tuple of int ndarrays (trials, images, neurons)
        One per spiking hidden layer, in order.
    output : ndarray (trials, images, n_out)
        Each trial's readout.
    predictions : ndarray (trials, images)
        Each trial's ``argmax`` of ``output``.
    seeds : tuple of int
        The seed of each trial (``snn.run(x, seed=seeds[i])`` reproduces trial ``i``).
    layer_names : tuple of str
        Names of the spiking hidden layers.
    results : tuple of SimulationResult or None
        Every trial's full result, kept only with ``record_spikes=True``.
    """

    spike_counts: tuple
    output: np.ndarray
    predictions: np.ndarray
    seeds: tuple
    layer_names: tuple
    results: tuple | None = None

    @property
    def n_trials(self) -> int:
        return self.output.shape[0]

    @property
    def n_images(self) -> int:
        return self.output.shape[1]

    def layer_index(self, layer) -> int:
        """Index of a spiking layer given by position or by name."""
        if isinstance(layer, str):
            if layer not in self.layer_names:
                raise NeuroconvError(f"no spiking layer named {layer!r}; layers are {list(self.layer_names)}.")
            return self.layer_names.index(layer)
        k = int(layer)
        if not -len(self.layer_names) <= k < len(self.layer_names):
            raise NeuroconvError(f"layer {layer} out of range: the network has {len(self.layer_names)} spiking layers.")
        return k % len(self.layer_names)

    def counts(self, layer) -> np.ndarray:
        """``(trials, images, neurons)`` spike counts of one layer (by position or name)."""
        return self.spike_counts[self.layer_index(layer)]


def _frozen(array) -> np.ndarray:
    array = np.asarray(array)
    array.setflags(write=False)
    return array


def _stochastic_models() -> str:
    from neuroconv.equations.registry import MODELS

    names = []
    for cls in MODELS.values():
        flag = getattr(cls, "stochastic", False)
        if flag is True:
            names.append(cls.__name__)
        elif isinstance(flag, property):  # decided per instance by the model's parameters
            names.append(f"{cls.__name__} (depending on its parameters)")
    return ", ".join(names + ["NeuronModel.from_brian2 models whose strings call rand() or randn()"])


def run_trials(snn, x, n_trials: int, seeds=None, device: str = "reference", *, record_spikes: bool = False,
               progress: bool = True, **run_kwargs) -> Trials:
    """Run the same images ``x`` ``n_trials`` times with different seeds of a stochastic network.

    Parameters
    ----------
    snn : SpikingNetwork
        A network with at least one stochastic population (``snn.model_of(k).stochastic``, e.g.
        ``neuron=TPP()``); a deterministic one is refused, since every trial would be identical.
    x : array (images, *input_shape)
        The input(s), the same in every trial.
    n_trials : int
        Trials, at least 2.
    seeds : sequence of int, optional
        One distinct seed per trial; default ``0 .. n_trials - 1``.
    device : str
        As in :meth:`SpikingNetwork.run`; default the numpy reference simulator.
    record_spikes : bool
        Keep every trial's :class:`SimulationResult` (with its spikes) in ``results``; off by
        default to keep memory to the counts.
    progress : bool
        A progress bar over trials (the runs themselves show none).
    **run_kwargs
        Passed to every :meth:`SpikingNetwork.run` (``batch_size``, ``codegen_target``, ...); not ``seed``.
    """
    if isinstance(n_trials, (bool, np.bool_)) or not isinstance(n_trials, (int, np.integer)) or n_trials < 2:
        raise NeuroconvError(f"n_trials must be an int >= 2 (a trial-to-trial statistic needs two trials), "
                             f"got {n_trials!r}.")
    if "seed" in run_kwargs:
        raise NeuroconvError("run_trials sets each trial's seed: pass seeds=[...] (one per trial), not seed=.")
    if not (hasattr(snn, "model_of") and hasattr(snn, "layers") and hasattr(snn, "run")):
        raise NeuroconvError(f"run_trials needs a SpikingNetwork (neuroconv.convert(...)), got {type(snn).__name__}.")
    models = [snn.model_of(k) for k in range(len(snn.layers))]
    if not any(getattr(m, "stochastic", False) for m in models):
        used = sorted({type(m).__name__ for m in models})
        raise NeuroconvError(
            f"run_trials: every trial would be identical: no population of this network is stochastic (its models: "
            f"{', '.join(used)}). Stochastic models: {_stochastic_models()}. Convert with one of them "
            "(e.g. neuron=TPP()), or use fanofactor(counts, across='images') on one run for stimulus variability.")
    if seeds is None:
        seeds = list(range(int(n_trials)))
    else:
        seeds = list(seeds)
        if len(seeds) != n_trials:
            raise NeuroconvError(f"seeds must hold one seed per trial: {len(seeds)} seeds for n_trials={n_trials}.")
        for s in seeds:
            if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or not 0 <= s < 2**64:
                raise NeuroconvError(f"seeds must be ints in [0, 2**64), got {s!r}.")
        if len(set(int(s) for s in seeds)) != len(seeds):
            raise NeuroconvError(f"seeds must be distinct (a repeated seed repeats its trial exactly), got {seeds}.")
        seeds = [int(s) for s in seeds]

    from tqdm.auto import tqdm

    results = []
    for seed in tqdm(seeds, desc="trials", unit="trial", disable=not progress):
        results.append(snn.run(x, device=device, seed=seed, record_spikes=record_spikes, progress=False, **run_kwargs))
    first = results[0]
    spike_counts = tuple(_frozen(np.stack([r.spike_counts[k] for r in results]))
                         for k in range(len(first.spike_counts)))
    return Trials(spike_counts=spike_counts, output=_frozen(np.stack([r.output for r in results])),
                  predictions=_frozen(np.stack([r.predictions for r in results])), seeds=tuple(seeds),
                  layer_names=tuple(first.layer_names), results=tuple(results) if record_spikes else None)


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
