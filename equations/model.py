"""The one interface every neuron model implements, and what models share.

A neuron model is a frozen value object. The converter, the Brian2 builder, the numpy
reference simulator, saved networks, the CLI, sweeps and the analysis functions ask it
what they need and never test its class:

Brian2 form
    ``equations`` (a spiking layer), ``output_equations`` (the non-spiking output layer),
    ``threshold``, ``reset_code``, ``method``, ``on_pre`` (a spike at each outgoing synapse:
    ``v_post += w * theta_pre`` for rate models), ``namespace`` (external functions), the
    input side (``input_model``, ``input_threshold``, ``input_on_pre``, ``input_when``) and
    :meth:`brian2_values` (each population's initial values and parameters). Conditions
    that depend on time use ``step``, the timestep within the current inference, which the
    builder defines (a time-multiplexed run simulates many inferences in one Brian2 run).
Timing
    ``timesteps`` (T) has one meaning: the number of timesteps a population has to express
    its value (IF: the whole run, all layers at once; TPP: the length of each phase;
    One-Spike: its window). :meth:`bind` returns the model with T set, :meth:`run_steps`
    the length of a run of a network with ``n`` spiking populations (IF: T; pipelined
    models: ``n * T``), :meth:`firing_window` each population's firing window.
Graphs
    ``pipelined`` models work one window apart, layer by layer: they convert chains only
    (:meth:`check_network`).
Readout and values
    :meth:`readout` (the output on the ANN scale, from the membrane or the output's spikes),
    :meth:`value_of` (what a population's spikes stand for on the ANN scale) and
    :meth:`ideal` (the value a population would send for a constant activation, if the model
    has a closed form).
Reference semantics (numpy)
    Models that step all layers together (``pipelined = False``) give
    :meth:`reference_step` (stateless: the membrane is all there is), or
    :meth:`reference_population` for per-neuron state (refractoriness, thresholds, noise
    streams); pipelined ones give :meth:`reference_layer`. The reference simulator runs
    nothing else, so a model without them cannot run there (it says so).
Stochastic models
    ``stochastic = True`` models draw their random numbers from a seed (``run(seed=...)``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuroconv._checks import MAX_TIMESTEPS
from neuroconv.errors import NeuroconvError

__all__ = ["NeuronModel", "ReferencePopulation", "DEFAULT_TIMESTEPS", "check_timesteps"]

#: T when neither ``convert(timesteps=...)`` nor the model sets it.
DEFAULT_TIMESTEPS = 32


def check_timesteps(timesteps, what: str = "timesteps") -> int:
    """``timesteps`` as an int in [1, MAX_TIMESTEPS], or a NeuroconvError naming ``what``."""
    if isinstance(timesteps, (bool, np.bool_)) or not isinstance(timesteps, (int, np.integer)):
        raise NeuroconvError(f"{what} must be a positive int, got {timesteps!r}.")
    if timesteps < 1:
        raise NeuroconvError(f"{what} must be >= 1, got {timesteps}.")
    if timesteps > MAX_TIMESTEPS:
        raise NeuroconvError(f"{what}={timesteps} is over the limit of {MAX_TIMESTEPS:,} steps per inference; "
                             "ANN conversion needs tens to thousands.")
    return int(timesteps)


class NeuronModel:
    """Base class of neuron models (see the module docstring for the interface).

    Subclasses are frozen dataclasses registered by name (:func:`neuroconv.equations.register`).
    The defaults here are those of a rate model on the ANN activation scale driven like IF:
    the analog input is delivered once, as a constant current, and spikes carry ``theta``.
    """

    # --- Brian2 form ------------------------------------------------------------------
    #: Model of the synapses between spiking layers.
    synapse_model = "w : 1 (constant)"
    #: What a spike does at each outgoing synapse.
    on_pre = "v_post += w * theta_pre"
    #: Model of the analog input group: it holds the image and fires once, in the first step.
    input_model = "ann_input : 1 (constant)  # analog input value, constant over the run"
    #: Input neurons fire once, in the first step, to deliver their value (zeros stay silent).
    input_threshold = "t < dt and ann_input != 0"
    #: Model of the synapses from the input group into the first layer.
    input_synapse_model = "w : 1 (constant)"
    #: The input spike sets up the first layer's constant current ``I = sum_k w_k x_k``.
    input_on_pre = "I_post += w * ann_input_pre"
    #: Schedule slot of the input spikes (``before_groups``: before any layer integrates).
    input_when = "before_groups"
    #: Brian2 integration method.
    method = "euler"
    #: The Brian2 reset statement.
    reset_code = "v -= theta"
    #: Whether the model draws random numbers (then ``run(seed=...)`` matters).
    stochastic = False
    #: Layers work one window apart (layer by layer): chains only, reference via ``reference_layer``.
    pipelined = False
    #: The reference drives the population with its source's spike counts (``reference_drive``),
    #: not with the amplitudes its spikes carry.
    reads_counts = False
    #: Values are read from spike times (``value_of`` needs each neuron's first spike step), not counts.
    decodes_timing = False
    #: The dataclass field that holds T, if the model has one (``bind`` sets it).
    timesteps_field: str | None = None
    #: Registry name (set by ``register``).
    registry_name: str | None = None
    #: Brian2's ``refractory`` argument of the spiking groups (False: none).
    brian2_refractory = False
    #: The population's own drive in its equations and output equations, e.g. ``"(I + b)"``: with synaptic
    #: delays the builder gates it to the population's window (``drive_on``). None: delays are refused.
    drive_term: str | None = None
    #: ``convert`` calibrates each neuron's initial membrane on the calibration data
    #: (:mod:`neuroconv.conversion.membrane`; ``IF(shift="calibrated")``); the model's Brian2 values and
    #: reference population start from :meth:`start_v`.
    calibrated_start = False
    #: Threshold balancing ``convert`` uses when its ``method`` / ``per_channel`` are not given.
    calibration_method = "max"
    calibration_per_channel = False

    def on_pre_into(self, spiking: bool) -> str:
        """``on_pre`` of the synapses into a population that spikes (``spiking``) or into the
        non-spiking output (which has the output equations)."""
        return self.on_pre

    @property
    def namespace(self) -> dict:
        """External names (functions, constants) the Brian2 strings use."""
        return {}

    def brian2_values(self, layer, index: int, snn) -> dict:
        """Initial values and parameters of population ``index``'s Brian2 variables (one copy;
        scalars for shared variables)."""
        if not layer.spiking:
            return {"b": layer.bias}
        return {"theta": layer.theta, "v": self.start_v(layer), "b": layer.bias}

    def initial_v(self, theta: np.ndarray) -> np.ndarray:
        """Initial membrane of a spiking population with thresholds ``theta``."""
        return np.zeros_like(theta)

    def corrected_start(self, start: np.ndarray, theta: np.ndarray, error: np.ndarray, timesteps: int) -> np.ndarray:
        """The calibrated start of neurons that start at ``start`` (with thresholds ``theta``) and whose rate
        falls short of the ANN's by ``error`` on average (:mod:`neuroconv.conversion.membrane`): ``T * error``
        higher (a rate is the population's total input over T)."""
        return start + timesteps * error

    def start_v(self, layer) -> np.ndarray:
        """Initial membrane of population ``layer``: its calibrated ``v_init`` when it has one
        (:mod:`neuroconv.conversion.membrane`), else :meth:`initial_v` of its thresholds."""
        return self.initial_v(layer.theta) if layer.v_init is None else layer.v_init

    def random_keys(self, seed: int, index: int, size: int):
        """Counter-based models: ``rng_key`` of population ``index``'s ``size`` neurons for ``seed`` (the
        builder then adds ``image_index``, the image's position in the run's input); None for the others."""
        return None

    # --- timing -----------------------------------------------------------------------
    @property
    def timesteps(self):
        """T of a bound model (None before :meth:`bind` when the model holds it)."""
        return getattr(self, self.timesteps_field) if self.timesteps_field else None

    def bind(self, timesteps: int | None):
        """The model with T set (``timesteps`` None: the model's own or ``DEFAULT_TIMESTEPS``);
        returns ``(model, T)``. Refuses a T that disagrees with one the model was given."""
        own = self.timesteps
        if timesteps is not None and own is not None and timesteps != own and self._explicit_timesteps():
            raise NeuroconvError(f"{self!r} sets T = {own} and timesteps={timesteps!r} disagrees; give T once.")
        T = check_timesteps(timesteps if timesteps is not None else (own if own is not None else DEFAULT_TIMESTEPS))
        return self.with_timesteps(T), T

    def with_timesteps(self, timesteps: int):
        """The same model with T = ``timesteps`` (itself when T is not part of the model)."""
        if self.timesteps_field is None or self.timesteps == timesteps:
            return self
        return dataclasses.replace(self, **{self.timesteps_field: check_timesteps(timesteps)})

    def _explicit_timesteps(self) -> bool:
        """Whether the model's T was given by the user (not its default)."""
        field = next(f for f in dataclasses.fields(self) if f.name == self.timesteps_field)
        return getattr(self, field.name) != field.default

    def run_steps(self, timesteps: int, n_spiking: int) -> int:
        """Length of a run (timesteps from the input to the readout) with ``n_spiking`` spiking populations."""
        return n_spiking * timesteps if self.pipelined else timesteps

    def firing_window(self, index: int, timesteps: int) -> tuple:
        """``(first step, length)`` of population ``index``'s firing window."""
        return (index * timesteps, timesteps) if self.pipelined else (0, timesteps)

    # --- graphs -----------------------------------------------------------------------
    def check_network(self, snn) -> None:
        """Refuse, at conversion, networks the model cannot run (pipelined models: chains of neuron
        populations only, each fed by the one before)."""
        if not self.pipelined:
            return
        name = type(self).__name__
        for k, layer in enumerate(snn.layers):
            node = f"layer {layer.node} ({type(snn.ann.layers[layer.node]).__name__})"
            if layer.kind != "neuron":
                raise NeuroconvError(f"{node} converts with IF() neurons only; {name} populations work one window "
                                     "apart and have no spiking max-pool here. Use AvgPool2d or IF().")
            if layer.sources != ((k - 1,) if k else (-1,)):
                raise NeuroconvError(
                    f"{node} receives from populations {list(layer.sources)}, skipping one; {name} layers work one "
                    "window apart, so residual connections convert with IF() only.")

    def check_calibration(self, snn, calibration_data) -> None:
        """Warn, at conversion, about what the calibration data show the model cannot represent (nothing here)."""

    # --- readout ----------------------------------------------------------------------
    def value_of(self, theta, timesteps: int, counts=None, first_step=None, index: int = 0) -> np.ndarray:
        """What a population's spikes stand for on the ANN scale: the rate ``count * theta / T``."""
        return counts * theta / timesteps

    def membrane_readout(self, v, timesteps: int) -> np.ndarray:
        """The non-spiking output's readout from its membrane: the input averaged over T."""
        return v / timesteps

    def readout(self, snn, v=None, counts=None, first_step=None, timesteps: int | None = None) -> np.ndarray:
        """The network's output on the ANN scale (``timesteps``: T, default the network's)."""
        out = snn.output_layer
        T = snn.timesteps if timesteps is None else timesteps
        if out.spiking:
            return self.value_of(out.theta, T, counts=counts, first_step=first_step, index=len(snn.layers) - 1)
        return self.membrane_readout(v, T)

    def ideal(self, a, theta, timesteps: int):
        """The value a population sends for a constant activation ``a`` (closed form), or None if unknown."""
        return None

    # --- reference semantics ------------------------------------------------------------
    def reference_step(self, v: np.ndarray, drive: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """One timestep in place (``drive``: the population's whole input this step); returns the spikes."""
        raise NeuroconvError(self._no_reference())

    def reference_margin(self, v: np.ndarray, drive: np.ndarray, theta: np.ndarray):
        """``|v - theta|`` at this step's threshold check, before :meth:`reference_step` (diagnoses float
        ties; ``record_margin=True``), or None where the model cannot say."""
        return np.abs(v + drive - theta)

    def reference_layer(self, layer, index: int, drive: np.ndarray, timesteps: int, *, seed=None, images=None,
                        record_margin=False):
        """Pipelined models: one population's whole window; returns ``(steps, counts, value, margin)``."""
        raise NeuroconvError(self._no_reference())

    def reference_population(self, layer, index: int, snn, batch: int, *, seed=None, images=None):
        """The reference state of spiking population ``index`` for ``batch`` images (stepwise models):
        a :class:`ReferencePopulation`. ``seed`` and ``images`` (the images' positions in the run's
        input) feed counter-based random numbers. The default wraps :meth:`reference_step`."""
        return ReferencePopulation(self, layer.theta, np.tile(self.start_v(layer), (batch, 1)))

    def reference_output_step(self, v, drive, layer, snn):
        """One step of the non-spiking output's membrane in place (it sums its input)."""
        v += drive

    @property
    def has_reference(self) -> bool:
        """Whether the numpy reference simulator can run this model."""
        cls = type(self)
        own = cls.reference_layer if self.pipelined else cls.reference_step
        base = NeuronModel.reference_layer if self.pipelined else NeuronModel.reference_step
        return own is not base

    def _no_reference(self) -> str:
        return (f"{self!r} has no numpy reference semantics, so device='reference' cannot run it; run it on a "
                "Brian2 device, or give the model reference_step=(v, drive, theta) -> spikes.")


class ReferencePopulation:
    """One spiking population of a batch in the reference simulator: its membrane ``v`` (batch, n)
    and the model's step. Models with more state subclass it (``NeuronModel.reference_population``)."""

    def __init__(self, model, theta, v):
        self.model, self.theta, self.v = model, theta, v

    def margin(self, drive, t):
        """``|v - threshold|`` at step ``t``'s threshold check (before :meth:`step`), or None."""
        return self.model.reference_margin(self.v, drive, self.theta)

    def step(self, drive, t, fire=True):
        """Advance step ``t`` in place with the population's whole input ``drive``; return the spikes.
        ``fire=False`` (outside the window of a network with delays; models with a ``drive_term``): the
        membrane integrates ``drive`` and nothing fires."""
        if not fire:
            self.v += drive
            return np.zeros(self.v.shape, dtype=bool)
        return self.model.reference_step(self.v, drive, self.theta)
