"""Integrate-and-fire rate neurons for ANN-to-SNN conversion (Deng & Gu, ICLR 2021).

The model works on the ANN's activation scale. Each timestep (one Brian2 ``dt``) a neuron
adds its input current ``I`` and bias ``b`` to its membrane ``v``; spikes arriving from
the layer below add ``w * theta_pre`` each. When ``v >= theta`` it spikes and either
subtracts ``theta`` (soft reset, the default: the residual is kept, so the count tracks
the input rate) or returns to zero. With the initial membrane ``theta/2`` (the paper's
shift ``theta/(2T)`` per step, summed over the run) a neuron driven by a constant input
``z`` emits ``clip(floor(T*z/theta + 1/2), 0, T)`` spikes in ``T`` steps: the ANN's
clip-floor-shift quantised ReLU. Without the shift it emits ``clip(floor(T*z/theta), 0, T)``.
``shift="calibrated"`` starts each neuron where the calibration data say it should (from
``theta/2``, corrected by the mean error it makes at this T; :mod:`neuroconv.conversion.membrane`):
the most accurate choice at short T, and no worse at long T.

A Brian2 user can take the strings as they are::

    from brian2 import NeuronGroup, Synapses
    from neuroconv.equations import IF
    model = IF()
    layer = NeuronGroup(100, model.equations, threshold=model.threshold,
                        reset=model.reset_code, method=model.method)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroconv.equations.model import NeuronModel
from neuroconv.errors import NeuroconvError

__all__ = ["IF"]

_RESETS = {"subtract": "v -= theta", "zero": "v = 0"}

_EQUATIONS = """
dv/dt = (I + b) / dt : 1  # integrates I + b once per timestep
I : 1                     # input current per step (set by the input spikes at t=0 for the first layer)
b : 1 (constant)          # bias, added every step
theta : 1 (constant)      # threshold = spike amplitude, on the ANN activation scale
"""

_OUTPUT_EQUATIONS = """
dv/dt = (I + b) / dt : 1  # accumulates the weighted input; the readout is v / T
I : 1
b : 1 (constant)
"""


@dataclass(frozen=True)
class IF(NeuronModel):
    """Integrate-and-fire neuron with soft (``"subtract"``) or hard (``"zero"``) reset.

    Parameters
    ----------
    reset : {"subtract", "zero"}
        ``"subtract"`` (default) subtracts ``theta`` at a spike; ``"zero"`` resets to 0.
    shift : bool or "calibrated"
        Start the membrane at ``theta/2`` (default, Deng & Gu's shift); ``False`` starts at 0;
        ``"calibrated"``: one start per neuron from the calibration data at the network's T
        (``convert`` needs ``calibration_data``; :mod:`neuroconv.conversion.membrane`); its thresholds
        are then, unless ``convert`` is told otherwise, the 99.9th percentile per channel. The most
        accurate IF conversion at every T measured (``benchmarks/bench_accuracy.py``).
    """

    reset: str = "subtract"
    shift: bool | str = True

    #: Brian2 integration method; Euler is exact here because dv/dt does not depend on v.
    method = "euler"
    #: Brian2 threshold condition.
    threshold = "v >= theta"
    #: Equations of every spiking layer.
    equations = _EQUATIONS
    #: Equations of the non-spiking output layer (membrane readout).
    output_equations = _OUTPUT_EQUATIONS
    #: The drive that synaptic delays gate to the population's window.
    drive_term = "(I + b)"

    def __post_init__(self):
        if self.reset not in _RESETS:
            raise NeuroconvError(f"IF(reset={self.reset!r}): reset must be one of {sorted(_RESETS)}.")
        if not isinstance(self.shift, (bool, np.bool_)) and self.shift != "calibrated":
            raise NeuroconvError(f"IF(shift={self.shift!r}): shift must be True, False or 'calibrated'.")

    @property
    def calibrated_start(self) -> bool:
        """Whether ``convert`` calibrates each neuron's initial membrane on the calibration data."""
        return isinstance(self.shift, str)

    @property
    def calibration_method(self) -> str:
        """``convert``'s default threshold statistic: the 99.9th percentile with a calibrated start (short
        runs resolve the bulk of the activations better below an outlier), else the maximum."""
        return "99.9%" if self.calibrated_start else "max"

    @property
    def calibration_per_channel(self) -> bool:
        """``convert``'s default: one threshold per channel with a calibrated start, else one per layer."""
        return self.calibrated_start

    @property
    def reset_code(self) -> str:
        """Brian2 reset statement."""
        return _RESETS[self.reset]

    def initial_v(self, theta: np.ndarray) -> np.ndarray:
        """Initial membrane of a layer with thresholds ``theta`` (``"calibrated"``: before calibration)."""
        return theta / 2.0 if self.shift else np.zeros_like(theta)

    def corrected_start(self, start, theta, error, timesteps):
        """``start + T * error``, at most just below ``theta`` (no spike before any input)."""
        return np.minimum(start + timesteps * error, np.nextafter(theta, -np.inf))

    # --- reference semantics (numpy), used by neuroconv.simulation.reference ----------
    def reference_step(self, v: np.ndarray, drive: np.ndarray, theta: np.ndarray):
        """Advance one timestep in place: ``v += drive``; spike where ``v >= theta``; reset.

        Returns the boolean spike array. ``drive`` is the layer's whole input this step.
        """
        v += drive
        spikes = v >= theta
        if self.reset == "subtract":
            np.subtract(v, theta, out=v, where=spikes)  # v - theta where it fired, no temporary
        else:
            v[spikes] = 0.0
        return spikes

    def ideal(self, a, theta, timesteps: int):
        """The rate a soft-reset layer sends for a constant activation ``a``: ``expected_count * theta / T``."""
        if self.reset != "subtract" or self.calibrated_start:
            return None
        return self.expected_count(a, theta, timesteps) * theta / timesteps

    def expected_count(self, z, theta, timesteps):
        """Spike count of a neuron driven by constant input ``z`` for ``timesteps`` steps."""
        if self.reset != "subtract":
            raise NeuroconvError("expected_count is the closed form of the soft-reset IF neuron only.")
        if self.calibrated_start:
            raise NeuroconvError("IF(shift='calibrated') has no closed form: each neuron starts where the "
                                 "calibration data put it.")
        offset = 0.5 if self.shift else 0.0
        return np.clip(np.floor(timesteps * np.asarray(z) / theta + offset), 0, timesteps).astype(np.int64)
