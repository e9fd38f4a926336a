"""Two-phase probabilistic neurons (TPP; Bojkovic, Wu & Gu, ICML 2025, arXiv 2502.14487).

Our reading of the paper (its code is not public). Each layer first *accumulates* all of
its input for ``T`` steps without spiking, then *spikes* for ``T`` steps: at spiking step
``k = 1..T``, with ``R = T - k + 1`` steps left and remaining potential ``V``, the neuron
spikes with probability ``p = clip(V / (R * theta), 0, 1)`` and then ``V -= theta`` for a
spike. When ``V/theta = n`` is an integer ``<= T`` this draws ``n`` of the ``T`` steps
without replacement: exactly ``n`` spikes at uniformly random times. Otherwise the count
is ``floor`` or ``ceil`` of ``V/theta`` (``T`` when ``V/theta >= T``, 0 when negative),
with the distribution :meth:`TPP.count_distribution` computes; its mean is *not*
``V/theta`` in general. The spike count follows the ANN activation and the timing carries
no systematic early/late bias, which is what the paper offers against temporal misalignment.

Timing: layers are pipelined one phase apart. Hidden layer ``l`` spikes in steps
``[l*T, (l+1)*T)`` and accumulates the spikes of layer ``l-1`` during the phase before
(each adds ``w * theta_pre``); its ``T`` steps of bias are in the initial potential
``T*b`` (the sum does not depend on when the terms arrive). The first layer's input is
constant, so its accumulation phase collapses into the first step: the analog input
adds ``T * w * x`` once, exactly what ``T`` steps of constant current sum to. The run lasts
``T`` steps per spiking layer; the membrane readout is the output's potential ``/ T``.

Random numbers are counter-based (:mod:`neuroconv.equations._random`): the uniform a
neuron compares with at a step is a hash of (seed, layer, neuron, image, step), computed
by the same function in the Brian2 code (numpy, Cython, C++, CUDA) and in the reference
simulator. The same seed gives the same spikes on every device, batch size and process,
and the reference and Brian2 agree spike for spike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroconv.equations import _random
from neuroconv.equations.model import NeuronModel
from neuroconv.errors import NeuroconvError

__all__ = ["TPP"]

_EQUATIONS = """
v : 1                                   # remaining potential V (accumulated input)
theta : 1 (constant)                     # threshold = spike amplitude, ANN activation scale
first_step : integer (constant, shared)  # first timestep of the spiking phase
n_steps : integer (constant, shared)     # phase length T
rng_key : integer (constant)             # this neuron's random stream (seed, layer, neuron)
"""

_OUTPUT_EQUATIONS = """
v : 1                                   # accumulated input; the readout is v / T
"""


@dataclass(frozen=True)
class TPP(NeuronModel):
    """Two-phase probabilistic neuron (see the module docstring).

    Parameters
    ----------
    timesteps : int, optional
        Phase length ``T`` (accumulation and spiking phases alike). Usually left out and set
        by ``convert(net, neuron=TPP(), timesteps=T)``.
    unbiased : bool
        ``False`` (default): the rule above, whose mean count exceeds ``V/theta`` (by up to
        0.31 spikes at T = 8). ``True``: round ``u = V/theta`` once, randomly, to
        ``floor(u + r)`` with ``r`` uniform in (0, 1) drawn per neuron and inference (so the
        mean is exactly ``u``, clipped to [0, T]), then fire that many spikes at uniformly
        random steps: the same rule with ``floor(v/theta + r)`` in place of ``v/theta``.
    calibrated : bool
        Start each neuron's accumulated potential at an offset measured on the calibration data (the
        mean shortfall of its rate against the ANN's, times T; :mod:`neuroconv.conversion.membrane`);
        ``convert`` then needs ``calibration_data``. Default False: the potential starts at 0.
    """

    timesteps: int | None = None
    unbiased: bool = False
    calibrated: bool = False

    #: No differential equation: the potential only changes by input and spikes.
    method = "euler"
    reset_code = "v -= theta"
    on_pre = "v_post += w * theta_pre"
    #: The whole accumulation phase of constant input, at once.
    input_on_pre = "v_post += n_steps_post * w * ann_input_pre"
    input_when = "thresholds"
    output_equations = _OUTPUT_EQUATIONS
    stochastic = True
    pipelined = True
    timesteps_field = "timesteps"

    def __post_init__(self):
        T = self.timesteps
        if T is not None and (isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1):
            raise NeuroconvError(f"TPP(timesteps={T!r}): the phase length must be an int >= 1.")
        if not isinstance(self.unbiased, (bool, np.bool_)):
            raise NeuroconvError(f"TPP(unbiased={self.unbiased!r}): must be True or False.")
        if not isinstance(self.calibrated, (bool, np.bool_)):
            raise NeuroconvError(f"TPP(calibrated={self.calibrated!r}): must be True or False.")

    @property
    def calibrated_start(self) -> bool:
        """Whether ``convert`` measures each neuron's starting potential on the calibration data."""
        return bool(self.calibrated)

    @property
    def equations(self) -> str:
        """Brian2 equations of a spiking layer (``image_index``, the image's position in the run's
        input, is added by the builder, which knows the batch layout)."""
        return _EQUATIONS

    @property
    def threshold(self) -> str:
        """Spikes only in its own phase, with probability ``clip(V / (R theta), 0, 1)``, R = steps left.

        (``R`` is clipped to [1, T] only so that vectorised targets never divide by 0 outside
        the phase.) The unbiased rule uses ``floor(v/theta + r)`` spikes' worth of ``V``, ``r`` the
        neuron's draw for step ``-1`` (once per inference).
        """
        f = _random.FUNCTION_NAME
        value = f"floor(v / theta + {f}(rng_key, image_index, -1))" if self.unbiased else "v / theta"
        return ("step >= first_step and step < first_step + n_steps and "
                f"{f}(rng_key, image_index, step) < "
                f"clip({value} / clip(first_step + n_steps - step, 1, n_steps), 0, 1)")

    @property
    def namespace(self) -> dict:
        """External names the equations use: the counter-based uniform."""
        return {_random.FUNCTION_NAME: _random.brian2_function()}

    def random_keys(self, seed: int, index: int, size: int) -> np.ndarray:
        """``rng_key`` of population ``index``'s ``size`` neurons for ``seed`` (int32)."""
        return _random.neuron_keys(seed, index, size)

    def phase_start(self, index: int) -> int:
        """First step of population ``index``'s spiking phase (its accumulation phase is the one before)."""
        return index * self.timesteps

    def brian2_values(self, layer, index: int, snn) -> dict:
        """Values of the Brian2 variables of population ``index`` (one copy; scalars for shared variables)."""
        T = self.timesteps
        values = {"v": T * layer.bias}  # T steps of bias, accumulated
        if layer.spiking:
            values["v"] = values["v"] + self.start_v(layer)  # 0, or the calibrated offset
            values.update(theta=layer.theta, first_step=self.phase_start(index), n_steps=T)
        return values

    def ideal(self, a, theta, timesteps: int):
        """The mean rate a population sends for activation ``a`` (from the exact count distribution)."""
        return self.expected_count(timesteps * a / theta, timesteps) * theta / timesteps

    # --- reference semantics ----------------------------------------------------------
    def reference_layer(self, layer, index: int, drive: np.ndarray, timesteps: int, *, seed=None, images=None,
                        record_margin=False):
        """One population: accumulate ``V = T * drive`` (the sum of ``w * theta`` over the spikes
        received plus ``T`` steps of bias, what the Brian2 membrane holds when the spiking phase
        opens; plus the calibrated offset, if any), then the spiking phase. Returns ``(events, counts, value, None)``."""
        spikes = self.spike_phase(timesteps * drive + self.start_v(layer), layer.theta, timesteps,
                                  self.random_keys(seed, index, layer.size), images, self.phase_start(index))
        k, image, neuron = np.nonzero(spikes)
        count = spikes.sum(axis=0, dtype=np.int64)
        return (image, neuron, k + self.phase_start(index)), count, count * layer.theta / timesteps, None

    def spike_phase(self, potential: np.ndarray, theta: np.ndarray, timesteps: int, keys: np.ndarray,
                    images: np.ndarray, first_step: int = 0):
        """Run the spiking phase on potentials ``V`` ``(batch, n)``: ``(T, batch, n)`` bool spikes.

        ``keys`` are the population's ``rng_key`` (n,), ``images`` the images' positions in
        the run's input (batch,), ``first_step`` the phase's first timestep: the same uniforms
        as the Brian2 threshold draws.
        """
        v = np.array(potential, dtype=np.float64, copy=True)
        keys, images = np.asarray(keys)[None, :], np.asarray(images)[:, None]
        spikes = np.zeros((timesteps,) + v.shape, dtype=bool)
        r_round = _random.uniform(keys, images, -1) if self.unbiased else None
        for k in range(timesteps):
            value = np.floor(v / theta + r_round) if self.unbiased else v / theta
            p = np.clip(value / (timesteps - k), 0.0, 1.0)
            spikes[k] = _random.uniform(keys, images, first_step + k) < p
            v -= theta * spikes[k]
        return spikes

    def count_distribution(self, u, timesteps: int) -> np.ndarray:
        """Exact distribution of the spike count for ``V/theta = u``: ``P[n]`` for n = 0..T.

        Dynamic programming over the ``T`` steps: after ``n`` spikes, step ``k`` (0-based)
        fires with probability ``clip((u - n) / (T - k), 0, 1)``. The unbiased rule gives
        ``ceil`` with probability ``frac(u)`` and ``floor`` otherwise (clipped to [0, T]).
        """
        T = int(timesteps)
        if T < 1:
            raise NeuroconvError(f"timesteps must be >= 1, got {timesteps!r}.")
        if self.unbiased:
            prob = np.zeros(T + 1)
            lo = np.floor(u)
            for n, weight in ((lo, 1.0 - (u - lo)), (lo + 1, u - lo)):
                prob[int(np.clip(n, 0, T))] += weight
            return prob
        prob = np.zeros(T + 1)
        prob[0] = 1.0
        n = np.arange(T + 1)
        for k in range(T):
            p = np.clip((u - n) / (T - k), 0.0, 1.0)
            fire = prob * p
            prob = prob - fire
            prob[1:] += fire[:-1]
        return prob

    def expected_count(self, u, timesteps: int) -> np.ndarray:
        """Mean spike count for ``V/theta = u`` (any shape), from the exact count distribution."""
        u = np.asarray(u, dtype=np.float64)
        T = int(timesteps)
        if self.unbiased:
            return np.clip(u, 0.0, T)
        n = np.arange(T + 1)
        prob = np.zeros(u.shape + (T + 1,))
        prob[..., 0] = 1.0
        for k in range(T):
            fire = prob * np.clip((u[..., None] - n) / (T - k), 0.0, 1.0)
            prob -= fire
            prob[..., 1:] += fire[..., :-1]
        return prob @ n
