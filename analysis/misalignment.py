"""Temporal misalignment (Bojkovic, Wu & Gu, ICML 2025): does shuffling spike times between layers help?

The experiment: run an IF-converted network one population at a time; after the chosen
layers, permute each neuron's spike train in time (a random permutation of its ``T``
steps per neuron and image, so every count is kept) and feed the permuted trains to the
next layer. Compare the accuracy with the unpermuted network and with TPP neurons (which
fire at random times by construction), over repeats, for each T.

The measures say *why*: how far each neuron's cumulative count strays from the
uniform-rate line ``n * (t+1) / T`` (IF neurons in deeper layers fire late, after their
membranes have charged), and where in its window the spikes fall on average.

Layer-by-layer runs use the numpy reference (``device="reference"``) or Brian2's runtime
mode (``device="runtime"``), where a ``SpikeGeneratorGroup`` replays the (permuted) trains
of the layer below; without permutation both reproduce the full network's run exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm.auto import tqdm

from neuroconv.equations.model import check_timesteps
from neuroconv.errors import NeuroconvError

from neuroconv.analysis.stats import layer_windows

__all__ = ["permute_trains", "layerwise_run", "permutation_experiment", "misalignment_measures",
           "plot_cumulative_counts"]

_DEVICES = ("reference", "runtime")


def permute_trains(trains: np.ndarray, rng) -> np.ndarray:
    """Shuffle each neuron's spike train in time: ``trains`` is bool ``(T, batch, n)``; counts are kept."""
    rng = np.random.default_rng(rng)
    order = np.argsort(rng.random(trains.shape), axis=0)
    return np.take_along_axis(trains, order, axis=0)


def _check_if(snn):
    if snn.neuron.pipelined:
        raise NeuroconvError(f"the misalignment experiment runs networks whose layers work together (such as IF); "
                             f"{type(snn.neuron).__name__} layers work one window apart. Convert with neuron=IF() "
                             "(TPP networks are compared with tpp=True).")


def _layer_indices(snn, layers) -> list[int]:
    names = [layer.name for layer in snn.hidden_layers]
    if layers == "all":
        return list(range(len(names)))
    if isinstance(layers, (str, int, np.integer)):
        layers = [layers]
    out = []
    for layer in layers:
        if isinstance(layer, str):
            if layer not in names:
                raise NeuroconvError(f"no spiking hidden layer named {layer!r} to permute; layers are {names}.")
            out.append(names.index(layer))
        elif isinstance(layer, (int, np.integer)) and not isinstance(layer, bool) and 0 <= layer < len(names):
            out.append(int(layer))
        else:
            raise NeuroconvError(f"layer {layer!r} to permute does not exist: use names {names} or indices "
                                 f"0..{len(names) - 1}.")
    return sorted(set(out))


def layerwise_run(snn, x, permute=(), device="reference", rng=None):
    """Run an IF network one population at a time, permuting the trains of the hidden layers in ``permute``.

    Returns ``(output, trains)``: the readout on the ANN scale and each hidden layer's spike
    trains as fed on (bool ``(T, batch, n)``, after permutation where applied).
    """
    _check_if(snn)
    if device not in _DEVICES:
        raise NeuroconvError(f"layerwise_run: device must be one of {_DEVICES}, got {device!r}.")
    permute = _layer_indices(snn, permute) if permute else []
    x = snn.ann.check_input(x)
    rng = np.random.default_rng(rng)
    if device == "reference":
        from neuroconv.simulation.reference import run_population
    else:
        from neuroconv.simulation.brian2.run import run_population
    inputs = x.reshape(x.shape[0], -1)
    trains = []
    for k, layer in enumerate(snn.layers):
        out = run_population(snn, k, inputs)
        if layer is snn.output_layer:
            if layer.spiking:  # spike-count readout
                out = snn.neuron.value_of(layer.theta, snn.timesteps, counts=out.sum(axis=0))
            return out, trains
        if k in permute:
            out = permute_trains(out, rng)
        trains.append(out)
        inputs = out


def permutation_experiment(snn, x, y, timesteps=(2, 4, 8, 16, 32), layers="all", repeats=5, seed=0,
                           device="reference", tpp=True, progress=True, calibration_data=None) -> dict:
    """Accuracy of the IF network, of the IF network with permuted layers, and of TPP, for each T.

    Parameters
    ----------
    snn : SpikingNetwork with IF neurons (its thresholds are reused for every T and for TPP).
    x, y : inputs and labels.
    timesteps : the values of T.
    layers : hidden layers whose trains are permuted: ``"all"``, names or indices.
    repeats : permutations (and TPP seeds) per T; mean and standard deviation are reported.
    seed : seeds every permutation and TPP run (reproducible).
    device : ``"reference"`` or ``"runtime"`` (Brian2) for the layer-by-layer runs.
    tpp : also run TPP networks with the same thresholds: ``True`` (``TPP()``), ``False``, or a
        ``TPP`` model such as ``TPP(unbiased=True)``.
    calibration_data : ``IF(shift="calibrated")`` networks: the inputs its starts are measured on again
        at each T (:func:`neuroconv.conversion.membrane.at_timesteps`).

    Returns a dict with ``rows`` (one per T) and the settings.
    """
    from neuroconv.conversion import convert
    from neuroconv.conversion.membrane import at_timesteps
    from neuroconv.equations import TPP

    _check_if(snn)
    if snn.neuron.calibrated_start and calibration_data is None:
        raise NeuroconvError(f"{snn.neuron!r} measures each neuron's start at its T: pass calibration_data (the "
                             "inputs it was converted with) to run it at every T.")
    permute = _layer_indices(snn, layers)
    if tpp is True:
        tpp = TPP()
    elif tpp is not False and not isinstance(tpp, TPP):
        raise NeuroconvError(f"tpp must be True, False or a TPP model, got {tpp!r}.")
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise NeuroconvError(f"repeats must be an int >= 1, got {repeats!r}.")
    timesteps = [check_timesteps(T) for T in np.atleast_1d(timesteps).tolist()]
    if device not in _DEVICES:
        raise NeuroconvError(f"permutation_experiment: device must be one of {_DEVICES}, got {device!r}.")
    x = snn.ann.check_input(x)
    y = np.asarray(y)
    if y.shape != (x.shape[0],):
        raise NeuroconvError(f"y has shape {y.shape}; expected one label per input, ({x.shape[0]},).")
    seeds = np.random.SeedSequence(seed).spawn(len(timesteps))
    rows = []
    for T, seq in zip(tqdm(timesteps, desc="permutation experiment", disable=not progress), seeds):
        net = at_timesteps(snn, T, calibration_data)
        out, trains = layerwise_run(net, x, device=device)
        row = {"timesteps": T, "if_accuracy": float(np.mean(out.argmax(1) == y)),
               "if_measures": misalignment_measures(net, trains)}
        rngs = [np.random.default_rng(s) for s in seq.spawn(repeats)]
        permuted = []
        for rng in rngs:
            out_p, _ = layerwise_run(net, x, permute=permute, device=device, rng=rng)
            permuted.append(float(np.mean(out_p.argmax(1) == y)))
        row.update(permuted_accuracies=permuted, permuted_accuracy_mean=float(np.mean(permuted)),
                   permuted_accuracy_std=float(np.std(permuted)))
        if tpp:
            tnet = convert(snn.ann, neuron=dataclasses.replace(tpp, timesteps=None), timesteps=T, thresholds=snn.thresholds, readout=snn.readout,
                           dt=snn.dt)
            accs = []
            for rep in range(repeats):
                res = tnet.run(x, device=device, seed=int(rngs[rep].integers(2**31)), progress=False)
                accs.append(res.accuracy(y))
                if rep == 0:
                    row["tpp_measures"] = misalignment_measures(tnet, res)
            row.update(tpp_accuracies=accs, tpp_accuracy_mean=float(np.mean(accs)), tpp_accuracy_std=float(np.std(accs)))
        rows.append(row)
    return {"permuted_layers": [snn.hidden_layers[k].name for k in permute], "repeats": int(repeats),
            "tpp": repr(tpp) if tpp else None,
            "seed": seed, "device": device, "n_images": int(x.shape[0]), "rows": rows}


def _trains_from_result(snn, result):
    trains = []
    for k, ((start, length), layer) in enumerate(zip(layer_windows(snn), snn.hidden_layers)):
        rec = result.spikes[k]
        t = np.zeros((length, result.batch_size, layer.size), dtype=bool)
        t[rec.step - start, rec.image, rec.neuron] = True
        trains.append(t)
    return trains


def misalignment_measures(snn, trains_or_result) -> list[dict]:
    """Per hidden layer: how the spikes are spread over the layer's window.

    ``trains_or_result``: a SimulationResult (with spikes) or a list of bool trains
    ``(T, batch, n)`` per hidden layer (as :func:`layerwise_run` returns them). For every
    neuron with ``n > 0`` spikes in its window of ``L`` steps:

    - ``cumulative_deviation``: ``max_t |c(t) - n (t+1)/L|``, in spikes, where ``c(t)``
      counts the spikes up to step ``t``: 0 for perfectly even firing (IF with a constant
      input comes within 1 of it), large when spikes bunch up early or late. Mean over neurons.
    - ``mean_relative_time``: mean of ``(t + 0.5) / L`` over its spikes (0.5 = centred);
      averaged over neurons. Above 0.5: the layer fires late.
    - ``first_spike_time``: mean of ``(t_first + 0.5) / L``.
    - ``active_fraction``: fraction of (image, neuron) pairs with at least one spike.
    """
    if isinstance(trains_or_result, (list, tuple)):
        trains = list(trains_or_result)
    else:
        if trains_or_result.spikes is None:
            raise NeuroconvError("misalignment_measures needs spike trains: run with record_spikes=True.")
        trains = _trains_from_result(snn, trains_or_result)
    if len(trains) != len(snn.hidden_layers):
        raise NeuroconvError(f"got trains for {len(trains)} layers; the network has {len(snn.hidden_layers)} hidden.")
    out = []
    for layer, t in zip(snn.hidden_layers, trains):
        L = t.shape[0]
        cum = np.cumsum(t, axis=0, dtype=np.float64)
        n = cum[-1]
        active = n > 0
        line = n[None] * (np.arange(1, L + 1)[:, None, None] / L)
        dev = np.max(np.abs(cum - line), axis=0)
        centre = (np.arange(L)[:, None, None] + 0.5) / L
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_time = (t * centre).sum(axis=0) / n
        first = (np.argmax(t, axis=0) + 0.5) / L
        out.append({
            "layer": layer.name,
            "cumulative_deviation": float(dev[active].mean()) if active.any() else 0.0,
            "mean_relative_time": float(mean_time[active].mean()) if active.any() else float("nan"),
            "first_spike_time": float(first[active].mean()) if active.any() else float("nan"),
            "active_fraction": float(active.mean()),
        })
    return out


def plot_cumulative_counts(snn, trains_or_result, layer=0, image: int = 0, ax=None, max_neurons: int = 30):
    """Each active neuron's cumulative spike count (normalised by its total) against the uniform-rate line.

    Curves above the diagonal fire early, below it late. Returns the Axes.
    """
    from neuroconv.analysis.plotting import _axes

    trains = (list(trains_or_result) if isinstance(trains_or_result, (list, tuple))
              else _trains_from_result(snn, trains_or_result))
    names = [l.name for l in snn.hidden_layers]
    k = names.index(layer) if isinstance(layer, str) and layer in names else layer
    if not isinstance(k, (int, np.integer)) or not 0 <= k < len(names):
        raise NeuroconvError(f"layer {layer!r} does not exist; layers are {names}.")
    t = trains[k][:, image, :]
    L = t.shape[0]
    n = t.sum(axis=0)
    ax = _axes(ax)
    steps = np.arange(1, L + 1)
    for j in np.nonzero(n)[0][:max_neurons]:
        ax.step(steps, np.cumsum(t[:, j]) / n[j], where="post", color="C0", alpha=0.4, lw=1)
    ax.plot([0, L], [0, 1], "k--", lw=1, label="uniform rate")
    ax.set_xlabel("step in the layer's window")
    ax.set_ylabel("cumulative spikes / total")
    ax.set_title(f"{names[k]}, image {image}")
    ax.legend(loc="upper left", fontsize=8)
    return ax
