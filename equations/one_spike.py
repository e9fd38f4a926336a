"""Phase-coded single-spike neurons (One-Spike; Hwang & Kung, arXiv 2403.08786).

Every neuron fires at most once per inference and its value is the *phase* of that spike:
a spike at step ``k`` of the layer's window of ``W`` steps means ``M * base**-k``, where
``M`` is the layer's scale (its calibrated maximum activation).

The membrane grows geometrically, ``dv/dt = v*log(base)/dt``, which Brian2's ``exact``
method integrates to ``v = base*v`` once per timestep. A spike that arrives ``W - k`` growth
steps before the receiving layer's window opens therefore counts ``base**(W-k)`` times its
amplitude ``M * base**-W``: exactly the value ``M * base**-k`` it encodes, times the weight.
When its own window opens, the neuron's membrane holds the ANN pre-activation
``z = sum_j w_j a_j + b``; it keeps growing and the neuron fires at the first step ``k``
where ``z * base**k >= theta``, then resets to 0 (so it never fires again). With
``theta = M * (1 + 1/base) / 2``, the arithmetic midpoint between neighbouring levels,
``z`` is sent as the nearest level ``M * base**-k``; the relative error of one
encode/decode is at most ``(base - 1)/(base + 1)`` for ``z`` between the midpoints
``M * base**-(W-1) * (1 + 1/base)/2`` and ``M * (base + 1)/2``. Smaller values never
reach ``theta`` inside the window and are sent as no spike (0); larger ones are clipped
to ``M`` (a spike at ``k = 0``); negative ones never fire.

Timing: hidden layer ``l`` fires in steps ``[l*W, (l+1)*W)`` and integrates the spikes
of layer ``l-1`` in the window before; the bias is folded into the initial membrane
``b * base**-(l*W + 1)`` so that it too has grown to ``b`` when the window opens. The
analog image goes into layer 0 directly, once, in the first step (input window
``T_in = 0``): the first layer sees the exact pre-activation, as in the IF path, instead
of a phase-coded copy of the pixels that would add one more encode error and one more
window. The latency of ``n`` spiking layers is ``n * W`` steps; with the membrane
readout that is ``(L-1) * W`` for ``L`` weight layers, and the output's readout is
``base * v`` at the end of the run (its membrane one growth step later, when it would
open its own window).

A Brian2 user can take the strings as they are::

    from brian2 import NeuronGroup
    from neuroconv.equations import OneSpike
    model = OneSpike(base=1.1, window=48)
    layer = NeuronGroup(100, model.equations, threshold=model.threshold,
                        reset=model.reset_code, method=model.method)
    layer.base = model.base; layer.first_step = 0; layer.n_steps = model.window
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from neuroconv.equations.model import NeuronModel
from neuroconv.errors import NeuroconvError, NeuroconvWarning

__all__ = ["OneSpike"]

_EQUATIONS = """
dv/dt = v * log(base) / dt : 1          # geometric growth: v = base * v every step (exact)
base : 1 (constant, shared)              # B > 1
theta : 1 (constant)                     # firing threshold M * (1 + 1/B) / 2
amplitude : 1 (constant)                 # what a spike sends: M * B**-W (grows to M * B**-k)
first_step : integer (constant, shared)  # first timestep of this layer's firing window
n_steps : integer (constant, shared)     # window length W
"""

_OUTPUT_EQUATIONS = """
dv/dt = v * log(base) / dt : 1  # grows like a hidden layer; the readout is base * v at the end
base : 1 (constant, shared)
"""

#: A warning names layers that send more than this fraction of their positive calibration activations as zero.
BELOW_RANGE_WARNING = 0.05

#: Largest total growth ``base**steps`` allowed (float64 overflows near 1e308).
_MAX_LOG10_GROWTH = 250.0


@dataclass(frozen=True)
class OneSpike(NeuronModel):
    """Phase-coded neuron that fires at most once per inference (see the module docstring).

    Parameters
    ----------
    base : float
        Growth factor ``B > 1`` per timestep. Smaller values give finer resolution (relative
        error up to ``(B-1)/(B+1)``) but cover a smaller range ``B**(W-1)`` in ``W`` steps.
    window : int
        Timesteps per layer ``W >= 1``.
    dynamic_range : float, optional
        Ratio ``max / min`` of the activations that must be representable; a warning says
        so (with the window that would be needed) when ``base**(window-1)`` is smaller.
    """

    base: float = 1.1
    window: int = 48
    dynamic_range: float | None = None

    #: Brian2 integration method; ``exact`` turns the growth into ``_v = base*v``.
    method = "exact"
    #: Fires only inside its own window (the growth would cross theta later, too).
    threshold = "v >= theta and step >= first_step and step < first_step + n_steps"
    #: Reset to 0: a zero membrane stays zero, so the neuron never fires again in this inference.
    reset_code = "v = 0"
    #: What a spike does at each outgoing synapse.
    on_pre = "v_post += w * amplitude_pre"
    #: The analog input, delivered once in the first step (after the growth, before layer 0's threshold).
    input_on_pre = "v_post += w * ann_input_pre"
    #: Schedule slot of the input spikes: within ``thresholds``, before layer 0 (order 0).
    input_when = "thresholds"
    pipelined = True
    decodes_timing = True
    #: T is the window.
    timesteps_field = "window"
    equations = _EQUATIONS
    output_equations = _OUTPUT_EQUATIONS

    def __post_init__(self):
        base = self.base
        if isinstance(base, bool) or not isinstance(base, (int, float, np.integer, np.floating)):
            raise NeuroconvError(f"OneSpike(base={base!r}): base must be a number > 1, e.g. 1.1.")
        if not (np.isfinite(base) and base > 1):
            raise NeuroconvError(f"OneSpike(base={base!r}): base must be > 1 (and finite); the membrane grows by "
                                 "this factor per step. Typical values are 1.05-2.")
        object.__setattr__(self, "base", float(base))
        w = self.window
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1:
            raise NeuroconvError(f"OneSpike(window={w!r}): window must be an int >= 1 (timesteps per layer).")
        object.__setattr__(self, "window", int(w))
        if self.dynamic_range is not None:
            r = self.dynamic_range
            if isinstance(r, bool) or not isinstance(r, (int, float, np.integer, np.floating)) or not r >= 1:
                raise NeuroconvError(f"OneSpike(dynamic_range={r!r}): must be a number >= 1 (max / min value).")
            covered = self.base ** (self.window - 1)
            if covered < r:
                warnings.warn(
                    f"OneSpike(base={self.base:g}, window={self.window}) covers a dynamic range of "
                    f"base**(window-1) = {covered:.3g}, less than the requested {r:g}; values below "
                    f"max/{covered:.3g} are sent as zero. Use window >= {self.window_for_range(r)} "
                    f"(or a larger base).", NeuroconvWarning, stacklevel=3)

    # --- the code ------------------------------------------------------------------
    @property
    def relative_error_bound(self) -> float:
        """Largest relative error of one encode/decode inside the representable range."""
        return (self.base - 1.0) / (self.base + 1.0)

    def window_for_range(self, dynamic_range: float) -> int:
        """Smallest window whose levels ``M ... M*base**-(W-1)`` span ``dynamic_range``."""
        return int(math.ceil(math.log(dynamic_range) / math.log(self.base) - 1e-12)) + 1

    def threshold_value(self, scale: np.ndarray) -> np.ndarray:
        """Firing threshold for scale ``M``: the midpoint factor ``M * (1 + 1/base) / 2``."""
        return np.asarray(scale, dtype=np.float64) * (1.0 + 1.0 / self.base) / 2.0

    def smallest_sent(self, scale) -> np.ndarray:
        """Smallest value sent as a spike (at the last step of the window); below it: no spike."""
        return self.threshold_value(scale) * self.base ** -(self.window - 1)

    def amplitude(self, scale) -> np.ndarray:
        """The amplitude of a spike, ``M * base**-W``: it has grown to ``M * base**-k`` when the next window opens."""
        return np.asarray(scale, dtype=np.float64) * self.base ** -self.window

    def decode(self, phase, scale) -> np.ndarray:
        """Value of a spike at window step ``phase`` (-1: no spike -> 0)."""
        phase = np.asarray(phase)
        value = np.asarray(scale, dtype=np.float64) * self.base ** -np.maximum(phase, 0).astype(np.float64)
        return np.where(phase >= 0, value, 0.0)

    def check_network(self, snn) -> None:
        """A chain (see NeuronModel.check_network) whose membranes do not overflow float64."""
        super().check_network(snn)
        self.check_latency(snn.n_spiking)

    def check_calibration(self, snn, calibration_data) -> None:
        """Warn, with the numbers, about layers whose window is too short for the calibration data's range."""
        net = snn.ann
        _, acts = net.forward(net.check_input(calibration_data, name="calibration_data"), return_activations=True)
        for layer in snn.layers:
            if not layer.spiking:
                continue
            act = acts[layer.ann_index]  # pre-activation: its positive part is the activation
            act = act.reshape(act.shape[0], -1)
            positive = act > 0
            lost = positive & (act < self.smallest_sent(layer.theta))
            fraction = lost.sum() / max(positive.sum(), 1)
            if fraction > BELOW_RANGE_WARNING:
                ratio = np.percentile((layer.theta / np.where(positive, act, 1.0))[positive], 95)
                warnings.warn(
                    f"OneSpike(base={self.base:g}, window={self.window}): {layer.name} sends {fraction:.1%} of its "
                    f"positive calibration activations as zero (below M*base**-(window-1)*(1+1/base)/2, a range of "
                    f"{self.base ** (self.window - 1):.3g}); covering 95% of them needs a range of {ratio:.3g}, "
                    f"i.e. window >= {self.window_for_range(max(ratio, 1.0))} at this base.",
                    NeuroconvWarning, stacklevel=3)

    def check_latency(self, n_windows: int, where: str = "") -> None:
        """Refuse runs whose membranes would overflow float64 (``base**steps`` too large)."""
        steps = n_windows * self.window + 1
        if steps * math.log10(self.base) > _MAX_LOG10_GROWTH:
            raise NeuroconvError(
                f"OneSpike(base={self.base:g}, window={self.window}){where}: {n_windows} window(s) of growth "
                f"is base**{steps} = 10**{steps * math.log10(self.base):.0f}, which overflows float64 membranes. "
                "Use a smaller base or window, or fewer layers.")

    # --- how the converter uses the model -----------------------------------------------
    def window_start(self, index: int) -> int:
        """First timestep of population ``index``'s firing window (its input window is the one before)."""
        return index * self.window

    def brian2_values(self, layer, index: int, snn) -> dict:
        """Values of the Brian2 variables of population ``index`` (one copy; scalars for shared variables)."""
        start = self.window_start(index)
        # the bias grows with the membrane from t=0 (start + 1 growth steps up to the window's first check)
        values = {"v": layer.bias * self.base ** -(start + 1), "base": self.base}
        if layer.spiking:
            values.update(theta=self.threshold_value(layer.theta), amplitude=self.amplitude(layer.theta),
                          first_step=start, n_steps=self.window)
        return values

    def value_of(self, theta, timesteps: int, counts=None, first_step=None, index: int = 0) -> np.ndarray:
        """The decoded spike of population ``index`` (``first_step``: each neuron's spike step, -1 for none)."""
        start = self.window_start(index)
        return self.decode(np.where(first_step >= 0, first_step - start, -1), theta)

    def membrane_readout(self, v, timesteps: int) -> np.ndarray:
        """``base * v`` at the end of the run: the output's membrane when it would open its own window."""
        return self.base * v

    def ideal(self, a, theta, timesteps: int):
        """The decoded value of the spike a neuron with constant pre-activation ``a`` sends (0: none)."""
        v = np.asarray(a, dtype=np.float64)
        thr = self.threshold_value(theta)
        # first k in [0, W) with a * base**k >= thr; none -> -1 (the growth the Brian2 neuron does)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.ceil(np.log(thr / v) / np.log(self.base) - 1e-12)
        k = np.where(v >= thr, 0, k)
        k = np.where((v > 0) & (k < self.window), k, -1).astype(np.int64)
        return self.decode(k, theta)

    # --- reference semantics ----------------------------------------------------------
    def reference_layer(self, layer, index: int, drive: np.ndarray, timesteps: int, *, seed=None, images=None,
                        record_margin=False):
        """One population's window: its membrane at the window's first step is ``drive`` (the ANN
        pre-activation of the decoded values below); at step ``k`` it has grown to ``drive * base**k``
        (one multiplication per step, as Brian2 does) and the neuron fires at the first ``k`` with
        ``v >= theta``, once. Returns ``(events, counts, value, margin)``: the spikes as
        ``(image, neuron, step)`` arrays, the counts, the decoded values and (``record_margin``) the
        smallest ``|v - theta|`` per neuron."""
        v = drive
        theta = self.threshold_value(layer.theta)
        phase = np.full(v.shape, -1, dtype=np.int64)
        margin = np.full(v.shape, np.inf) if record_margin else None
        for k in range(self.window):
            if k:
                v = self.base * v
            waiting = phase < 0
            if record_margin:
                np.minimum(margin, np.where(waiting, np.abs(v - theta), np.inf), out=margin)
            phase[waiting & (v >= theta)] = k
        fired = phase >= 0
        image, neuron = np.nonzero(fired)
        events = (image, neuron, phase[image, neuron] + self.window_start(index))
        return events, fired.astype(np.int64), self.decode(phase, layer.theta), margin
