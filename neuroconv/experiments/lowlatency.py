"""Low-latency conversion with 1-8 timesteps, after Yan, Zhou & Wong (IEEE TNNLS, arXiv 2211.08410).

The ANN is fine-tuned with the activation a T-step IF layer computes exactly, then
converted without calibration. Our reading of the paper's ingredients:

* clamp-and-quantise activation ``y = floor(tau * clamp(z, 0, T/tau)) / tau`` with a
  straight-through gradient: :class:`neuroconv.training.QCFS` with ``levels = T``,
  ``shift = 0`` and ``threshold = T / tau`` (trainable);
* per-channel thresholds, started where the quantisation of each channel's ReLU output has
  the least squared error (:func:`neuroconv.training.calibrate_thresholds` with ``q="mse"``;
  the 99.9th percentile leaves almost every value in level 0 when T is 1 or 2);
* weight/threshold scaling: each layer's threshold is its trained ``T / tau``; synapses carry
  ``w * theta_pre`` (neuroconv's normalisation), and ``IF(shift=False)`` (membrane starts at
  0, soft reset) run for ``T`` steps emits ``clip(floor(T z / theta), 0, T)`` spikes on a
  constant input ``z``: exactly the activation's level. At ``T = 1`` there is no timing, so
  every layer is exact; for ``T > 1`` the first spiking layer is exact and deeper layers
  differ where spikes arrive early or late (:func:`exactness` counts them).

:func:`fine_tune` runs the recipe on a torch model; :func:`convert_low_latency` imports and
converts the result.
"""

from __future__ import annotations

import numpy as np

from neuroconv.errors import NeuroconvError

__all__ = ["fine_tune", "convert_low_latency", "exactness"]


def fine_tune(model, timesteps: int, x_train, y_train, epochs: int = 3, lr: float = 1e-4, per_channel: bool = True,
              shift: float = 0.0, seed: int = 0, progress: bool = True):
    """A copy of the torch ``model`` whose ReLUs compute what a ``timesteps``-step IF layer does,
    fine-tuned on ``(x_train, y_train)``. Returns the fine-tuned model (eval mode)."""
    from neuroconv.experiments.training import QCFS, calibrate_thresholds, fit, swap_activations

    if isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer)) or timesteps < 1:
        raise NeuroconvError(f"timesteps must be a positive int, got {timesteps!r}.")
    tuned = swap_activations(model, lambda: QCFS(levels=int(timesteps), shift=shift))
    if calibrate_thresholds(tuned, x_train[:2000], q="mse", per_channel=per_channel) == 0:
        raise NeuroconvError(f"{type(model).__name__} has no ReLU to replace; low-latency conversion needs ReLUs.")
    if epochs:
        fit(tuned, x_train, y_train, epochs=epochs, lr=lr, seed=seed, progress=progress)
    return tuned.eval()


def convert_low_latency(model, input_shape, dt=None):
    """Import a model from :func:`fine_tune` and convert it to an IF network of ``T = levels`` steps,
    with ``IF(shift=...)`` matching the activation's shift and the trained thresholds."""
    from neuroconv.ann.importers.torch_importer import from_torch
    from neuroconv.conversion.converter import convert
    from neuroconv.equations import IF

    net = from_torch(model, input_shape)
    relus = [layer for layer in net.layers if type(layer).__name__ == "ReLU"]
    levels = {layer.levels for layer in relus}
    shifts = {layer.shift for layer in relus}
    if None in levels or len(levels) != 1 or len(shifts) != 1 or shifts - {0.0, 0.5}:
        raise NeuroconvError(f"every ReLU must be a quantised activation with the same levels and a shift of 0 or "
                             f"1/2 (got levels {sorted(levels, key=str)}, shifts {sorted(shifts)}); run fine_tune first.")
    kwargs = {} if dt is None else {"dt": dt}
    return convert(net, neuron=IF(shift=shifts.pop() == 0.5), timesteps=levels.pop(), **kwargs)


def exactness(snn, result, x) -> list:
    """Per spiking hidden layer: how the SNN's spike counts compare with the quantised ANN's levels.

    For a layer whose ANN activation is ``ReLU(threshold, levels=T)`` the level of a neuron is
    ``activation * T / threshold`` (an integer); the SNN's count should equal it. Returns one
    dict per layer: ``layer``, ``fraction_differing``, ``fraction_early`` (count above the
    level: spikes fired on input that arrived early), ``fraction_late`` (below), and
    ``mean_abs_difference``. Layers without a quantised ANN activation are skipped.
    """
    graph = snn.ann
    x = graph.check_input(x)
    _, acts = graph.forward(x, return_activations=True)
    if len(result.spike_counts) != len(snn.hidden_layers) or result.batch_size != len(x):
        raise NeuroconvError("result does not come from running this network on x.")
    rows = []
    for layer, counts in zip(snn.hidden_layers, result.spike_counts):
        relu = graph.layers[layer.node]
        if layer.kind != "neuron" or getattr(relu, "levels", None) != snn.timesteps:
            continue
        a = acts[layer.node].reshape(len(x), -1)
        level = np.rint(a * relu.levels / layer.theta[None, :]).astype(np.int64)
        diff = counts - level
        rows.append({"layer": layer.name, "neurons": int(layer.size), "fraction_differing": float(np.mean(diff != 0)),
                     "fraction_early": float(np.mean(diff > 0)), "fraction_late": float(np.mean(diff < 0)),
                     "mean_abs_difference": float(np.mean(np.abs(diff)))})
    return rows
