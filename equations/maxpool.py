"""The spiking max-pool relay: a population that passes on the spikes of its window's running maximum count.

A ``MaxPool2d`` after a ReLU converts (with rate models whose layers work together, such as
IF) into a relay population. In Brian2 it is a group of integer counters: each synapse
counts its presynaptic spikes in ``c``; a spike from a window member whose count equals the
window's running maximum ``m`` raises ``top``; the relay fires when ``top > 0`` and its
reset raises ``m``. So it fires exactly when the maximum of its window's spike counts grows,
and its count is always that maximum (ties cannot double-count: at most one spike per neuron
per step), with an order-independent ``+=`` that is safe under Brian2's vectorisation and
CUDA's parallel updates. Its spikes carry the source's threshold ``theta`` on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroconv.equations.model import NeuronModel

__all__ = ["MaxPoolRelay"]

_EQUATIONS = """
m : integer          # running maximum of the window's spike counts (= this relay's spike count)
top : integer        # spikes this step from window members whose count equalled m
theta : 1 (constant) # the source's threshold (the relay's spikes carry it on)
"""


@dataclass(frozen=True)
class MaxPoolRelay(NeuronModel):
    """Spiking max pooling over the spike counts of the population below (see the module docstring)."""

    equations = _EQUATIONS
    threshold = "top > 0"
    reset_code = "m += 1\ntop = 0"
    #: Each synapse counts its presynaptic spikes in ``c`` (0 at the start of every inference).
    synapse_model = "c : integer"
    #: A spike from a member at the running maximum raises ``top``.
    on_pre = "top_post += int(c == m_post)\nc += 1"
    #: The reference drives the relay with its source's spike counts, not their amplitudes.
    reads_counts = True

    def brian2_values(self, layer, index: int, snn) -> dict:
        return {"theta": layer.theta}

    def reference_drive(self, layer, source_counts: np.ndarray) -> np.ndarray:
        """The running maximum of each window's spike counts (so far, this step included)."""
        pool = layer.graph.layers[layer.node]
        below = layer.graph.shape_of(layer.source_nodes[0])
        running_max = pool.forward(source_counts.reshape((-1,) + below).astype(np.float64))
        return running_max.reshape(source_counts.shape[0], -1)

    def reference_margin(self, v, drive, theta):
        return None  # integer counts: no float ties

    def reference_step(self, v: np.ndarray, drive: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """``v`` is the relay's own count: it fires when the running maximum exceeds it."""
        spikes = drive > v
        v += spikes
        return spikes


#: The one relay every max-pool population uses.
MAXPOOL_RELAY = MaxPoolRelay()
