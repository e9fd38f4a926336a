"""Leaky integrate-and-fire neurons on the converted network's scale: leak, refractoriness, noise, heterogeneity.

The IF neuron of Deng & Gu (:class:`neuroconv.equations.IF`) with the biophysics a Brian2 user
asks about. Each timestep (one ``dt``), in this order:

1. **Leak and drive.** ``v <- v + (I + b - (1 - decay) * (v - v_rest) + noise)``, i.e.
   ``v <- v_rest + decay * (v - v_rest) + I + b + noise`` with ``decay = exp(-dt / tau)``: the
   membrane keeps ``exp(-dt/tau)`` of its distance from rest over one step (rest: ``v_rest`` times
   the neuron's threshold, 0 by default), then adds the step's input current ``I`` (the
   first layer's constant input), the bias ``b`` and, with ``noise = sigma > 0``, a Gaussian
   kick ``sigma * theta * N(0, 1)``. Spikes from the layer below then add ``w * theta_pre``
   each (within the step, before this layer's threshold, as for IF).
2. **Threshold.** ``v >= vt``: the neuron spikes and sends ``theta`` (the layer's threshold on
   the ANN scale, the value the next layer's weights were calibrated for). ``vt`` is the
   neuron's own firing threshold: ``theta``, or with ``threshold_jitter = j > 0``
   ``theta * max(1 + j * N(0, 1), 0.05)``, drawn once per network from ``jitter_seed``
   (the same for every image, run and device).
3. **Reset.** ``v -= vt`` (``reset="subtract"``, the residual is kept) or ``v = 0``.
4. **Refractoriness** (Brian2's, ``refractory > 0``): after a spike at step ``s`` the neuron is
   refractory while ``step - s < refractory / dt``: its membrane is frozen (no leak, no input,
   no noise; spikes arriving then are lost) and it cannot spike. So spikes are at least
   ``refractory / dt`` steps apart and a neuron fires at most ``ceil(T / (refractory/dt))``
   times in ``T`` steps (``refractory = dt`` changes nothing).

The membrane starts at ``vt / 2`` (``shift=True``, Deng & Gu's shift) or 0. The output
layer of the membrane readout does not leak: it sums its input, readout ``v / T`` as IF.

Leak-aware conversion (``v_rest=0.5``): a soft-reset neuron's membrane spends its time between
0 and its threshold, about ``vt/2`` on average once it fires regularly (it starts there with the
shift), so a leak towards 0 removes ``(1 - decay) * vt/2`` per step on average and lowers the
rate below what the ANN activation asks. Resting at half the threshold makes the leak pull the
residual up as often as down: the rate of a regularly firing neuron is preserved to first order
in ``1 - decay``, while a silent neuron still relaxes to rest below threshold and stays silent.
``benchmarks/bench_leak_aware.py`` measures it against the plain conversion.

Noise is counter-based (:mod:`neuroconv.equations._random`): the kick of a neuron at a step
is a pure function of (seed, layer, neuron, image, step), computed by Box-Muller from two
counter-based uniforms, the same in numpy, Cython, C++ and CUDA. So ``run(seed=...)`` gives
the same spikes on every device and in the reference, and another seed gives another trial.

``LIF(tau=inf * second)`` (and no noise, jitter or refractoriness) is IF, step for step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from brian2 import Quantity, second

from neuroconv.equations import _random
from neuroconv.equations.model import NeuronModel, ReferencePopulation
from neuroconv.errors import NeuroconvError

__all__ = ["LIF"]

_RESETS = {"subtract": "v -= vt", "zero": "v = 0"}

#: Jittered thresholds are clipped at this fraction of theta (a threshold must stay positive).
MIN_RELATIVE_THRESHOLD = 0.05

_OUTPUT_EQUATIONS = """
dv/dt = (I + b) / dt : 1  # accumulates the weighted input (no leak); the readout is v / T
I : 1
b : 1 (constant)
"""


def _time(value, name, allow_inf=False) -> Quantity:
    if not isinstance(value, Quantity) or not value.has_same_dimensions(second) or np.shape(value) != ():
        raise NeuroconvError(f"LIF({name}={value!r}): give a Brian2 time, e.g. 20*ms.")
    seconds = float(value / second)
    if math.isnan(seconds) or seconds < 0 or (math.isinf(seconds) and not allow_inf):
        raise NeuroconvError(f"LIF({name}={value!r}) must be {'positive' if allow_inf else 'finite and >= 0'}.")
    return value


def _fraction(value, name) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < 0:
        raise NeuroconvError(f"LIF({name}={value!r}) must be a finite number >= 0 (in units of the threshold).")
    return float(value)


@dataclass(frozen=True)
class LIF(NeuronModel):
    """Leaky integrate-and-fire neuron (see the module docstring for the exact update).

    Parameters
    ----------
    tau : Brian2 time
        Membrane time constant; the membrane keeps ``exp(-dt/tau)`` of itself per step.
        ``inf * second``: no leak (IF).
    refractory : Brian2 time
        Brian2's refractory period (a multiple of the network's ``dt``): spikes are at least
        ``refractory / dt`` steps apart, the membrane is frozen meanwhile. Default 0.
    noise : float
        Standard deviation of the Gaussian membrane kick per step, in units of the layer's
        threshold ``theta``. Seeded per run (``run(seed=...)``). Default 0.
    threshold_jitter : float
        Relative standard deviation of the per-neuron firing thresholds (fixed per network).
    reset : {"subtract", "zero"}
        Subtract the neuron's threshold (default) or reset to 0.
    shift : bool
        Start at half the threshold (default) or at 0.
    jitter_seed : int
        Seed of the threshold heterogeneity.
    v_rest : float
        Resting potential in units of the neuron's threshold (the leak pulls towards it). 0 (default):
        the leak towards 0 of a plain LIF; 0.5: the leak-aware conversion (module docstring).
    """

    tau: Quantity
    refractory: Quantity = field(default_factory=lambda: 0 * second)
    noise: float = 0.0
    threshold_jitter: float = 0.0
    reset: str = "subtract"
    shift: bool = True
    jitter_seed: int = 0
    v_rest: float = 0.0

    method = "euler"
    threshold = "v >= vt"
    output_equations = _OUTPUT_EQUATIONS
    drive_term = "(I + b)"

    def __post_init__(self):
        _time(self.tau, "tau", allow_inf=True)
        if not float(self.tau / second) > 0:
            raise NeuroconvError(f"LIF(tau={self.tau!r}) must be positive (inf*second: no leak).")
        _time(self.refractory, "refractory")
        object.__setattr__(self, "noise", _fraction(self.noise, "noise"))
        object.__setattr__(self, "threshold_jitter", _fraction(self.threshold_jitter, "threshold_jitter"))
        if isinstance(self.v_rest, (bool, np.bool_)) or not isinstance(self.v_rest, (int, float, np.integer,
                                                                                      np.floating)) \
                or not 0 <= self.v_rest < 1:
            raise NeuroconvError(f"LIF(v_rest={self.v_rest!r}) must be a number in [0, 1) (units of the threshold).")
        object.__setattr__(self, "v_rest", float(self.v_rest))
        if self.reset not in _RESETS:
            raise NeuroconvError(f"LIF(reset={self.reset!r}): reset must be one of {sorted(_RESETS)}.")
        if not isinstance(self.shift, (bool, np.bool_)):
            raise NeuroconvError(f"LIF(shift={self.shift!r}): shift must be True or False.")
        if isinstance(self.jitter_seed, bool) or not isinstance(self.jitter_seed, (int, np.integer)) \
                or self.jitter_seed < 0:
            raise NeuroconvError(f"LIF(jitter_seed={self.jitter_seed!r}) must be an int >= 0.")

    def __hash__(self):
        return hash(tuple(sorted((k, str(v)) for k, v in self.spec().items())))

    def __eq__(self, other):
        return type(other) is type(self) and self.spec() == other.spec()

    def __repr__(self):
        parts = ["tau=inf*second" if not self.leaky else f"tau={self.tau!r}"]
        defaults = dict(refractory=0 * second, noise=0.0, threshold_jitter=0.0, reset="subtract", shift=True,
                        jitter_seed=0, v_rest=0.0)
        for name, default in defaults.items():
            value = getattr(self, name)
            if str(value) != str(default):
                parts.append(f"{name}={value!r}")
        return f"LIF({', '.join(parts)})"

    # --- description ------------------------------------------------------------------
    def spec(self) -> dict:
        """``{"family": "lif", ...}`` with times in seconds (``"inf"`` for no leak): JSON-ready."""
        tau = float(self.tau / second)
        return {"family": "lif", "tau": "inf" if math.isinf(tau) else tau,
                "refractory": float(self.refractory / second), "noise": self.noise,
                "threshold_jitter": self.threshold_jitter, "reset": self.reset, "shift": bool(self.shift),
                "jitter_seed": int(self.jitter_seed), "v_rest": self.v_rest}

    @classmethod
    def from_spec(cls, params: dict):
        """The model :meth:`spec` describes (times in seconds)."""
        params = dict(params)
        unknown = sorted(set(params) - set(cls.__dataclass_fields__))
        if unknown:
            raise NeuroconvError(f"lif has no parameter(s) {unknown}; its parameters are "
                                 f"{sorted(cls.__dataclass_fields__)}.")
        for name in ("tau", "refractory"):
            if name in params:
                value = params[name]
                if isinstance(value, str) and value == "inf":
                    value = float("inf")
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise NeuroconvError(f"lif: {name} must be a number of seconds (or \"inf\" for tau), got "
                                         f"{value!r}.")
                params[name] = float(value) * second
        return cls(**params)

    # --- what the run depends on --------------------------------------------------------
    @property
    def leaky(self) -> bool:
        return not math.isinf(float(self.tau / second))

    @property
    def stochastic(self) -> bool:
        """Noisy neurons draw from the run's seed."""
        return self.noise > 0

    def decay(self, dt) -> float:
        """``exp(-dt/tau)``, the fraction of the membrane kept over one step."""
        return math.exp(-float(dt / second) / float(self.tau / second)) if self.leaky else 1.0

    def refractory_steps(self, dt) -> int:
        """``refractory / dt`` (spikes are at least this many steps apart)."""
        return int(round(float(self.refractory / dt)))

    @property
    def brian2_refractory(self):
        return self.refractory if float(self.refractory / second) > 0 else False

    # --- Brian2 form ------------------------------------------------------------------
    @property
    def equations(self) -> str:
        """Brian2 equations of a spiking layer (``step``, ``image_index``: defined by the builder)."""
        noise = ""
        extra = ""
        if self.stochastic:
            f = _random.FUNCTION_NAME
            noise = (f" + sigma * theta * sqrt(-2 * log({f}(rng_key, image_index, 2 * step)))"
                     f" * cos(2 * pi * {f}(rng_key, image_index, 2 * step + 1))")
            extra = ("\nsigma : 1 (constant, shared)  # noise: std of the kick per step, in units of theta"
                     "\nrng_key : integer (constant)  # this neuron's random stream (seed, layer, neuron)")
        flags = " (unless refractory)" if self.brian2_refractory is not False else ""
        leak = "(1 - decay) * (v - v_rest)" if self.v_rest else "(1 - decay) * v"
        if self.v_rest:
            extra += "\nv_rest : 1 (constant)         # resting potential (v_rest times vt)"
        return (f"\ndv/dt = ((I + b) - {leak}{noise}) / dt : 1{flags}  # one Euler step is the exact "
                "discrete update"
                "\nI : 1                          # input current per step (the first layer's constant input)"
                "\nb : 1 (constant)               # bias, added every step"
                "\ntheta : 1 (constant)           # spike amplitude = threshold on the ANN activation scale"
                "\nvt : 1 (constant)              # this neuron's firing threshold (theta, or jittered)"
                "\ndecay : 1 (constant, shared)   # exp(-dt/tau)"
                f"{extra}\n")

    @property
    def reset_code(self) -> str:
        return _RESETS[self.reset]

    def on_pre_into(self, spiking: bool) -> str:
        """A spike adds ``w * theta_pre``; it is lost on a refractory neuron (its membrane is frozen)."""
        if self.brian2_refractory is False or not spiking:
            return self.on_pre
        return "v_post += w * theta_pre * int(not_refractory_post)"

    @property
    def namespace(self) -> dict:
        return {_random.FUNCTION_NAME: _random.brian2_function()} if self.stochastic else {}

    def random_keys(self, seed: int, index: int, size: int):
        return _random.neuron_keys(seed, index, size) if self.stochastic else None

    def firing_thresholds(self, theta: np.ndarray, index: int) -> np.ndarray:
        """Per-neuron firing thresholds ``vt`` of population ``index`` (one copy)."""
        theta = np.asarray(theta, dtype=np.float64)
        if self.threshold_jitter == 0:
            return theta
        rng = np.random.default_rng([int(self.jitter_seed), int(index)])
        factor = np.maximum(1.0 + self.threshold_jitter * rng.standard_normal(theta.shape), MIN_RELATIVE_THRESHOLD)
        return theta * factor

    def initial_v(self, theta: np.ndarray) -> np.ndarray:
        """Initial membrane for firing thresholds ``theta`` (``vt``)."""
        return theta / 2.0 if self.shift else np.zeros_like(theta)

    def brian2_values(self, layer, index: int, snn) -> dict:
        if not layer.spiking:
            return {"b": layer.bias}
        vt = self.firing_thresholds(layer.theta, index)
        values = {"theta": layer.theta, "vt": vt, "v": self.initial_v(vt), "b": layer.bias,
                  "decay": self.decay(snn.dt)}
        if self.v_rest:
            values["v_rest"] = self.v_rest * vt
        if self.stochastic:
            values["sigma"] = self.noise
        return values

    # --- graphs -----------------------------------------------------------------------
    def check_network(self, snn) -> None:
        steps = float(self.refractory / snn.dt)
        if abs(steps - round(steps)) > 1e-6:
            raise NeuroconvError(f"{self!r}: refractory must be a whole number of timesteps (dt = {snn.dt}); "
                                 f"it is {steps:g} steps.")

    # --- readout ----------------------------------------------------------------------
    def ideal(self, a, theta, timesteps: int):
        """IF's closed form when the model is IF (no leak, noise, jitter, refractoriness); else None."""
        if self.leaky or self.stochastic or self.threshold_jitter or self.brian2_refractory is not False \
                or self.reset != "subtract":
            return None
        offset = 0.5 if self.shift else 0.0
        count = np.clip(np.floor(timesteps * np.asarray(a) / theta + offset), 0, timesteps)
        return count * theta / timesteps

    # --- reference semantics ----------------------------------------------------------
    def reference_step(self, v, drive, theta):  # pragma: no cover - the population below is what runs
        raise NeuroconvError("LIF runs in the reference through reference_population (it has per-neuron state).")

    @property
    def has_reference(self) -> bool:
        return True

    def reference_population(self, layer, index: int, snn, batch: int, *, seed=None, images=None):
        return _LIFPopulation(self, layer, index, snn, batch, seed, images)


class _LIFPopulation(ReferencePopulation):
    """One LIF population of a batch in the reference: membrane, thresholds, refractoriness, noise."""

    def __init__(self, model: LIF, layer, index, snn, batch, seed, images):
        self.model = model
        self.theta = layer.theta
        self.vt = model.firing_thresholds(layer.theta, index)
        self.v = np.tile(model.initial_v(self.vt), (batch, 1))
        self.loss = 1.0 - model.decay(snn.dt)  # Brian2 computes 1 - decay once, then v + (I + b - loss * v)
        self.rest = model.v_rest * self.vt if model.v_rest else None
        self.r = model.refractory_steps(snn.dt)
        self.last = np.full(self.v.shape, -(2 ** 40), dtype=np.int64)
        self.keys = self.images = None
        if model.stochastic:
            self.keys = model.random_keys(seed, index, layer.size)[None, :]
            self.images = np.asarray(images, dtype=np.int64)[:, None]

    def _candidate(self, drive, t):
        """``(membrane after leak and drive, active)`` where ``active`` marks non-refractory neurons."""
        if not self.loss:
            inc = drive
        elif self.rest is None:
            inc = drive - self.loss * self.v
        else:
            inc = drive - self.loss * (self.v - self.rest)
        if self.keys is not None:
            u1 = _random.uniform(self.keys, self.images, 2 * t)
            u2 = _random.uniform(self.keys, self.images, 2 * t + 1)
            inc = inc + self.model.noise * self.theta * (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2))
        new = self.v + inc
        active = (t - self.last) >= self.r if self.r > 1 else None
        return new, active

    def margin(self, drive, t):
        new, active = self._candidate(drive, t)
        margin = np.abs(new - self.vt)
        if active is not None:
            margin[~active] = np.inf
        return margin

    def step(self, drive, t, fire=True):
        new, active = self._candidate(drive, t)
        if active is None:
            self.v[...] = new
            spikes = self.v >= self.vt
        else:
            np.copyto(self.v, new, where=active)
            spikes = (self.v >= self.vt) & active
        if not fire:  # outside the window of a network with delays: no threshold
            spikes[...] = False
        if active is not None:
            self.last[spikes] = t
        if self.model.reset == "subtract":
            self.v -= self.vt * spikes
        else:
            self.v[spikes] = 0.0
        return spikes
