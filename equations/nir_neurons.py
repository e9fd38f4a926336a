"""NIR's spiking neurons (IF, LIF, LI readout) with per-population, per-neuron parameters.

The model of networks read by :meth:`neuroconv.SpikingNetwork.from_nir`. NIR describes
``tau dv/dt = (v_leak - v) + r I`` (LIF), fires when ``v > v_threshold`` and resets to
``v_reset``. Discretised with forward Euler over one step ``dt``, as snnTorch simulates the
graphs it exports (``beta = 1 - dt/tau``; documented per library in the README)::

    v <- a * v + c * (W s + bias) + (1 - a) * v_leak,   a = 1 - dt/tau,  c = r * dt / tau

then ``v > v_threshold`` spikes and ``v = v_reset`` (``reset="subtract"``: ``v -= v_threshold`` instead,
for files whose writer simulates a subtract reset but can only write ``v_reset``, as Sinabs does). ``tau = inf`` is IF (``a = 1``; with
``r = inf`` too, as snnTorch writes ``Leaky(beta=1)``, ``c = 1``). The gain ``c`` is folded
into the synaptic weights and bias at import, so here a step is
``v <- v + ((I + b) - (1 - a) * v + (1 - a) * v_leak)`` with ``I`` the input current and the
spikes from below added within the step, as for IF. Spikes carry ``theta = v_threshold`` (the
weights were divided by it), so ``w * theta_pre`` is NIR's unit spike through ``c W``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroconv.equations.model import NeuronModel, ReferencePopulation
from neuroconv.errors import NeuroconvError

__all__ = ["NIRNeurons"]

_RESETS = {"value": "v = v_reset", "subtract": "v -= theta"}

_EQUATIONS = """
dv/dt = ((I + b) - (1 - a) * v + (1 - a) * v_leak) / dt : 1  # forward Euler of tau dv/dt = v_leak - v + r I
I : 1                  # input current per step (the first layer's input, times c)
b : 1 (constant)       # bias, times c
theta : 1 (constant)   # v_threshold (a spike carries it: the weights were divided by it)
a : 1 (constant)       # 1 - dt/tau
v_leak : 1 (constant)
v_reset : 1 (constant)
"""

_OUTPUT_EQUATIONS = """
dv/dt = ((I + b) - (1 - a) * v) / dt : 1  # the readout integrates (I) or leaks (LI); readout v / T
I : 1
b : 1 (constant)
a : 1 (constant)
"""


@dataclass(frozen=True, eq=False)
class NIRNeurons(NeuronModel):
    """Per-population NIR neuron parameters: ``params[node]`` holds ``a``, ``v_leak``, ``v_reset`` (one value
    or one per neuron) of the population whose ANN node is ``node``; the output's ``a`` under ``"output"``.
    ``reset``: ``"value"`` (NIR's: ``v = v_reset``) or ``"subtract"`` (``v -= v_threshold``)."""

    params: dict
    reset: str = "value"

    method = "euler"
    threshold = "v > theta"
    equations = _EQUATIONS
    output_equations = _OUTPUT_EQUATIONS

    def __post_init__(self):
        if self.reset not in _RESETS:
            raise NeuroconvError(f"reset={self.reset!r}: use 'value' (NIR's v = v_reset) or 'subtract' "
                                 "(v -= v_threshold, for Sinabs files).")

    @property
    def reset_code(self) -> str:
        return _RESETS[self.reset]

    def __repr__(self):
        return f"NIRNeurons({len(self.params)} populations, reset={self.reset!r})"

    def spec(self) -> dict:
        raise NeuroconvError("a network read from NIR is saved as NIR: use neuroconv.to_nir or keep the .nir file "
                             "(its neurons carry per-neuron parameters that the saved-network format does not hold).")

    def _of(self, layer, snn):
        key = "output" if layer is snn.output_layer else layer.node
        if key not in self.params:
            raise NeuroconvError(f"{layer.name}: no NIR neuron parameters for ANN node {key!r}.")
        return self.params[key]

    def brian2_values(self, layer, index: int, snn) -> dict:
        p = self._of(layer, snn)
        if not layer.spiking:
            return {"b": layer.bias, "a": _per_neuron(p["a"], layer.size)}
        return {"theta": layer.theta, "v": np.zeros(layer.size), "b": layer.bias, "a": _per_neuron(p["a"], layer.size),
                "v_leak": _per_neuron(p["v_leak"], layer.size), "v_reset": _per_neuron(p["v_reset"], layer.size)}

    def membrane_readout(self, v, timesteps: int):
        return v / timesteps

    def reference_population(self, layer, index: int, snn, batch: int, *, seed=None, images=None):
        return _NIRPopulation(self._of(layer, snn), layer, batch, self.reset == "subtract")

    @property
    def has_reference(self) -> bool:
        return True

    def reference_output_step(self, v, drive, layer, snn):
        """The non-spiking output: ``v <- v + (drive - (1 - a) v)`` (an LI readout leaks, an I readout sums)."""
        loss = 1.0 - _per_neuron(self._of(layer, snn)["a"], layer.size)
        v += drive - loss * v


def _per_neuron(value, size):
    return np.broadcast_to(np.asarray(value, dtype=np.float64).reshape(-1) if np.size(value) > 1 else
                           np.asarray(value, dtype=np.float64), (size,)).copy()


class _NIRPopulation(ReferencePopulation):
    def __init__(self, p, layer, batch, subtract=False):
        n = layer.size
        self.subtract = subtract
        self.theta = layer.theta
        self.loss = 1.0 - _per_neuron(p["a"], n)
        self.v_leak = _per_neuron(p["v_leak"], n)
        self.v_reset = _per_neuron(p["v_reset"], n)
        self.v = np.zeros((batch, n))

    def _new(self, drive):
        return self.v + (drive - self.loss * self.v + self.loss * self.v_leak)

    def margin(self, drive, t):
        return np.abs(self._new(drive) - self.theta)

    def step(self, drive, t, fire=True):
        self.v[...] = self._new(drive)
        spikes = self.v > self.theta
        if not fire:
            spikes[...] = False
        if self.subtract:
            self.v -= self.theta * spikes
        else:
            self.v[...] = np.where(spikes, self.v_reset, self.v)
        return spikes
