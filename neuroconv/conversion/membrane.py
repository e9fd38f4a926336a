"""Calibrated initial membranes: ``IF(shift="calibrated")`` (and ``TPP(calibrated=True)``).

Deng & Gu's shift starts every IF neuron at ``theta/2``, which makes a neuron driven by a
constant input round its rate to the nearest level. Deeper in a network the input is not
constant: spikes arrive unevenly, early spikes push neurons over threshold that a negative
input would have held back, and the error each layer makes is passed on and grows. Its mean
can be measured. This module does so on the calibration data, one population at a time in
order, at the network's own T (the potential correction of Li et al., ICML 2021, "A free lunch
from ANN: towards efficient, accurate spiking neural networks calibration"):

1. simulate the network (the numpy reference, up to population ``k`` only) on the calibration
   inputs, with the populations before ``k`` already corrected;
2. per neuron, the mean over the inputs of ``min(a, theta) - count * theta / T``, where ``a`` is
   the ANN's activation (the rate the neuron should send) and ``count * theta / T`` the rate it sent;
3. start the neuron ``T`` times that error higher (a rate is the membrane's total input over T):
   IF from ``theta/2``, at most just below ``theta`` (no spike before any input); TPP's accumulated
   potential from 0 (the model's ``corrected_start``). Stochastic models draw their random numbers
   from a fixed seed here (:data:`SEED`), so a conversion is reproducible.

The result is one initial membrane per neuron (``SpikingLayer.v_init``), used by the Brian2
objects (``v``'s initial value) and the reference alike; it holds for the T it was computed at
(``with_timesteps`` refuses another T). Nothing else changes: weights, thresholds and biases
are the ANN's.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuroconv._checks import real_array, require_memory
from neuroconv.errors import NeuroconvError

__all__ = ["calibrate_membrane", "calibrated_populations", "set_initial_v", "at_timesteps"]

#: Calibration inputs simulated together.
BATCH = 256
#: The random numbers of stochastic models (TPP) during calibration: fixed, so a conversion is reproducible.
SEED = 0


def calibrated_populations(snn) -> list:
    """Indices of the populations that get a calibrated start: every spiking neuron population
    (hidden layers and a spiking output; max-pool relays relay their source's spikes)."""
    return [k for k, layer in enumerate(snn.layers) if layer.kind == "neuron" and layer.spiking]


def calibrate_membrane(snn, calibration_data, progress: bool = True, batch_size: int = BATCH):
    """``snn`` with each spiking neuron population's initial membrane corrected on ``calibration_data``
    (see the module docstring); returns a new network."""
    from tqdm.auto import tqdm

    from neuroconv.simulation.reference import simulate

    x = snn.ann.check_input(calibration_data, name="calibration_data")
    x_flat = x.reshape(len(x), -1)
    n = len(x_flat)
    batch = min(batch_size, n)
    neurons = sum(layer.size for layer in snn.layers)
    activations = float(sum(np.prod(shape, dtype=np.float64) for shape in snn.ann.shapes))
    require_memory(8.0 * batch * (6 * neurons + activations),
                   f"calibrating the initial membranes on {batch} inputs at a time", "use a smaller network.")
    todo = calibrated_populations(snn)
    T = snn.timesteps
    targets = {k: np.zeros(snn.layers[k].size) for k in todo}  # summed min(ANN activation, theta)
    for start in range(0, n, batch):
        _, acts = snn.ann.forward(x[start:start + batch], return_activations=True)
        for k in todo:
            layer = snn.layers[k]
            value = np.maximum(acts[layer.node].reshape(len(acts[layer.node]), -1), 0.0)
            targets[k] += np.minimum(value, layer.theta).sum(axis=0)
    layers = list(snn.layers)
    with tqdm(total=n * len(todo), desc=f"calibrating initial membranes (T={T})", unit="img",
              disable=not progress) as bar:
        for k in todo:
            current = dataclasses.replace(snn, layers=tuple(layers))
            counts = np.zeros(layers[k].size)
            for start in range(0, n, batch):
                result = simulate(current, x_flat[start:start + batch], record_spikes=False, last=k, seed=SEED,
                                  image_offset=start)
                counts += result.spike_counts[k].sum(axis=0)
                bar.update(min(batch, n - start))
            layer = layers[k]
            error = (targets[k] - counts * layer.theta / T) / n  # per neuron, on the ANN scale
            before = snn.neuron.start_v(layer)
            layers[k] = dataclasses.replace(layer, v_init=snn.neuron.corrected_start(before, layer.theta, error, T))
    return dataclasses.replace(snn, layers=tuple(layers))


def set_initial_v(snn, initial_v):
    """``snn`` with the given initial membranes (one array per :func:`calibrated_populations` entry, one
    value per neuron): how saved networks get theirs back."""
    todo = calibrated_populations(snn)
    if isinstance(initial_v, (str, bytes)) or not np.iterable(initial_v):
        raise NeuroconvError(f"initial_v must be a list of arrays, one per spiking neuron population, got {initial_v!r}.")
    values = list(initial_v)
    if len(values) != len(todo):
        raise NeuroconvError(f"initial_v has {len(values)} entries; this network has {len(todo)} spiking neuron "
                             "population(s).")
    layers = list(snn.layers)
    for k, value in zip(todo, values):
        arr = real_array(value, f"initial_v of {layers[k].name}").reshape(-1)
        if arr.size != layers[k].size or not np.all(np.isfinite(arr)):
            raise NeuroconvError(f"initial_v of {layers[k].name} must hold {layers[k].size} finite values, "
                                 f"got {np.shape(value)}.")
        layers[k] = dataclasses.replace(layers[k], v_init=arr)
    return dataclasses.replace(snn, layers=tuple(layers))


def at_timesteps(snn, timesteps: int, calibration_data=None, progress: bool = False):
    """``snn`` with T = ``timesteps``: :meth:`~neuroconv.SpikingNetwork.with_timesteps`, and for a model with a
    calibrated start the initial membranes measured again at that T on ``calibration_data`` (same thresholds)."""
    if not snn.neuron.calibrated_start:
        return snn.with_timesteps(timesteps)
    if calibration_data is None:
        raise NeuroconvError(f"{snn.neuron!r} measures each neuron's start at its T: pass calibration_data to run "
                             f"it at T = {timesteps}.")
    if timesteps == snn.timesteps:
        return snn
    bare = dataclasses.replace(snn, layers=tuple(dataclasses.replace(layer, v_init=None) for layer in snn.layers))
    return calibrate_membrane(bare.with_timesteps(timesteps), calibration_data, progress=progress)
