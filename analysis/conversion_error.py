"""Conversion error per layer: the SNN's effective activation against the ANN's, and where the gap comes from.

The effective activation of a spiking layer is what its spikes stand for on the ANN scale:
``count * theta / T`` for IF and TPP (T the phase length), the decoded value
``M * base**-k`` (0 without a spike) for One-Spike. For every hidden layer
:func:`conversion_error` reports the mean absolute error to the ANN activation on the same
inputs and the Pearson correlation, and splits the error into

- ``clipping``: what the layer cannot represent at all, ``mean |a - min(a, top)|`` with
  ``top`` the largest value it can send (theta, or M);
- ``quantisation``: what the same layer would still lose if it received the exact ANN
  input as a constant current: ``mean |ideal(a) - min(a, top)|`` with ``ideal`` the model's
  closed form (IF: ``clip(floor(T a/theta + 1/2), 0, T) theta / T``; One-Spike: one
  encode/decode; TPP: the expected count of its exact count distribution);
- ``propagation``: the rest, ``mean |snn - ideal(a)|``: errors carried up from the layers
  below and the timing of spikes (temporal misalignment) instead of a constant input;
  for TPP also the sampling noise of its random spike counts.

The three parts bound the total by the triangle inequality; they do not add up exactly.
"""

from __future__ import annotations

import numpy as np

from neuroconv.errors import NeuroconvError

__all__ = ["conversion_error", "effective_activations"]


def effective_activations(snn, result) -> list:
    """``(batch, n)`` effective activation of every hidden layer of a run (see module docstring):
    what its spikes stand for on the ANN scale, as the model decodes them (``value_of``)."""
    model = snn.neuron
    out = []
    for k, layer in enumerate(snn.hidden_layers):
        first = result.first_spike_steps(k) if model.decodes_timing else None
        out.append(model.value_of(layer.theta, snn.timesteps, counts=result.spike_counts[k], first_step=first,
                                  index=k))
    return out


def _ideal(snn, a, theta):
    return snn.neuron.ideal(a, theta, snn.timesteps)


def conversion_error(snn, result, x) -> dict:
    """Per hidden layer and for the readout: error of the SNN run ``result`` on inputs ``x`` against the ANN.

    Returns ``{"layers": [dict per hidden layer], "output": {...}}``; each layer dict has
    ``layer``, ``mae``, ``correlation`` (None when either side is constant), ``clipping``,
    ``quantisation`` and ``propagation`` (the latter two None for IF with reset to zero,
    which has no closed form).
    """
    x = snn.ann.check_input(x)
    if x.shape[0] != result.batch_size:
        raise NeuroconvError(f"x holds {x.shape[0]} inputs but the result {result.batch_size}; pass the inputs of the run.")
    if snn.neuron.decodes_timing and result.spikes is None:
        raise NeuroconvError(f"{type(snn.neuron).__name__} activations are decoded from spike times: run with "
                             "record_spikes=True.")
    out_ann, acts = snn.ann.forward(x, return_activations=True)
    layers = []
    for k, (layer, eff) in enumerate(zip(snn.hidden_layers, effective_activations(snn, result))):
        a = np.maximum(acts[layer.ann_index], 0.0).reshape(x.shape[0], -1)
        top = np.broadcast_to(layer.theta, a.shape)
        clipped = np.minimum(a, top)
        ideal = _ideal(snn, a, layer.theta)
        corr = None
        if eff.std() > 0 and a.std() > 0:
            corr = float(np.corrcoef(eff.ravel(), a.ravel())[0, 1])
        layers.append({
            "layer": layer.name,
            "mae": float(np.mean(np.abs(eff - a))),
            "correlation": corr,
            "clipping": float(np.mean(a - clipped)),
            "quantisation": None if ideal is None else float(np.mean(np.abs(ideal - clipped))),
            "propagation": None if ideal is None else float(np.mean(np.abs(eff - ideal))),
        })
    output = {"mae": float(np.mean(np.abs(result.output - out_ann))),
              "agreement": float(np.mean(result.predictions == out_ann.argmax(axis=1)))}
    return {"layers": layers, "output": output}
