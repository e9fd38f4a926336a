"""Threshold balancing: activation statistics of each spiking layer on sample data."""

from __future__ import annotations

import numpy as np

from neuroconv.ann.layers import ReLU, Sequential
from neuroconv.errors import NeuroconvError

__all__ = ["calibrate", "spiking_layer_indices", "parse_method"]


def spiking_layer_indices(net: Sequential) -> list[int]:
    """Indices of the layers whose outputs are spiking-layer activations (each ReLU)."""
    return [k for k, layer in enumerate(net.layers) if isinstance(layer, ReLU)]


def trained_threshold(layer):
    """The threshold a ReLU learnt in training (ClipReLU/QCFS, NIR): a scalar or one per channel/neuron;
    None for a plain ReLU."""
    trained = getattr(layer, "threshold", None)
    if trained is None:
        return None
    return np.asarray(trained if trained.size > 1 else trained[0], dtype=np.float64)


def parse_method(method) -> float:
    """``"max"`` -> 100; ``99.9``, ``"99.9"`` or ``"99.9%"`` -> 99.9 (a percentile in (0, 100])."""
    if isinstance(method, str):
        text = method.strip().rstrip("%")
        if text == "max":
            return 100.0
        try:
            value = float(text)
        except ValueError:
            raise NeuroconvError(f"calibration method {method!r}: use 'max' or a percentile such as 99.9 or '99.9%'.") from None
    elif isinstance(method, (int, float, np.integer, np.floating)) and not isinstance(method, bool):
        value = float(method)
    else:
        raise NeuroconvError(f"calibration method {method!r}: use 'max' or a percentile such as 99.9.")
    if not (0.0 < value <= 100.0):
        raise NeuroconvError(f"method={method!r}: a calibration percentile must be in (0, 100].")
    return value


def _statistic(act: np.ndarray, q: float, per_channel: bool) -> np.ndarray:
    """Per-layer scalar (shape ()) or per-channel vector (shape (channels,))."""
    if per_channel:
        moved = np.moveaxis(act, 1, 0).reshape(act.shape[1], -1)
        return np.percentile(moved, q, axis=1) if q < 100 else moved.max(axis=1)
    return np.asarray(np.percentile(act, q) if q < 100 else act.max())


def calibrate(net: Sequential, data, method="max", per_channel: bool = False,
              include_output: bool = False) -> list[np.ndarray]:
    """Thresholds for each spiking layer from the ANN's activations on ``data``.

    Parameters
    ----------
    net : Sequential
    data : array, shape (n, *net.input_shape)
        Calibration inputs (typically a few hundred training samples).
    method : "max" or float
        ``"max"`` or a percentile of the activations (``99.9``, ``"99.9%"``).
    per_channel : bool
        One threshold per channel (per neuron for Dense layers) instead of one per layer.
        Channels that never activate take the layer-wide value.
    include_output : bool
        Also return a threshold for the output layer's positive part (spike-count readout).

    A ReLU with a trained ``threshold`` (clipped or QCFS activation) keeps it: that layer's
    entry is the threshold, whatever ``method`` says.

    Returns
    -------
    list of arrays, one per spiking layer: shape () per layer or (channels,) per channel.
    """
    q = parse_method(method)
    x = net.check_input(data, name="calibration_data")
    if not np.any(x):
        raise NeuroconvError(f"calibration_data is all zero ({x.shape[0]} input(s)): thresholds from it would "
                             "only reflect the biases; pass real sample inputs (e.g. training images).")
    _, acts = net.forward(x, return_activations=True)
    indices = spiking_layer_indices(net)
    selected = [(k, acts[k]) for k in indices]
    if include_output:
        selected.append((len(net.layers) - 1, np.maximum(acts[-1], 0.0)))
    thresholds = []
    for k, act in selected:
        trained = trained_threshold(net.layers[k])
        if trained is not None:  # a clip level learnt in training (neuroconv.training) is the threshold
            thresholds.append(trained)
            continue
        layer_value = _statistic(act, q, False)
        if not layer_value > 0:
            raise NeuroconvError(
                f"layer {k} ({type(net.layers[k]).__name__}) never activates on the calibration data "
                f"(its {method} activation is {float(layer_value):g}); pass thresholds=[...] explicitly or use other data."
            )
        if per_channel:
            value = _statistic(act, q, True)
            value = np.where(value > 0, value, layer_value)
        else:
            value = layer_value
        thresholds.append(np.asarray(value, dtype=np.float64))
    return thresholds
