"""Synaptic delays of a converted network: ``convert(..., delays=...)``.

A delay holds every spike between spiking populations (and into the output) for a whole
number of timesteps: a spike emitted in step ``s`` reaches its target in step ``s + d``
(Brian2's ``Synapses.delay = d * dt``; ``d = 0`` is the same step, as without delays).
The analog input is a constant current, not spikes: it has no delay.

Delays do not change what a population computes, only when: population ``k`` integrates its
own drive (the first layer's constant current, every layer's bias) for ``T`` steps starting
at its latency ``o_k = max over sources (o_source + longest delay of that pathway)``, the
first step its input can have arrived (``o = 0`` for populations fed by the input); spikes
are integrated whenever they arrive. The run lasts ``o_output + T`` steps, so every spike the
last hidden layer emits within its window reaches the output. Uniform delays on a chain
therefore shift each layer's spikes by its latency and change no count; per-synapse jitter,
or paths of different lengths meeting at a residual join, misalign the spikes, which is the
effect a delay study measures.

``delays`` is a Brian2 time (every pathway) or :class:`Delays` (a seeded distribution per
synapse: ``round((mean + jitter * N(0, 1)) / dt)`` steps, at least 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from brian2 import Quantity, second

from neuroconv.errors import NeuroconvError

__all__ = ["Delays", "as_delays"]


def _time(value, name) -> float:
    if not isinstance(value, Quantity) or not value.has_same_dimensions(second) or np.shape(value) != ():
        raise NeuroconvError(f"Delays({name}={value!r}): give a Brian2 time, e.g. 2*ms.")
    seconds = float(value / second)
    if not math.isfinite(seconds) or seconds < 0:
        raise NeuroconvError(f"Delays({name}={value!r}) must be finite and >= 0.")
    return seconds


@dataclass(frozen=True, eq=False)
class Delays:
    """Per-synapse delays ``round((mean + jitter * N(0, 1)) / dt)`` steps (at least 0), drawn from ``seed``
    per pathway; ``jitter=0``: every synapse ``mean`` (a multiple of ``dt``)."""

    mean: Quantity
    jitter: Quantity = None
    seed: int = 0

    def __post_init__(self):
        _time(self.mean, "mean")
        if self.jitter is None:
            object.__setattr__(self, "jitter", 0 * second)
        _time(self.jitter, "jitter")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise NeuroconvError(f"Delays(seed={self.seed!r}) must be an int >= 0.")

    def spec(self) -> dict:
        """JSON-ready description (times in seconds)."""
        return {"mean": float(self.mean / second), "jitter": float(self.jitter / second), "seed": int(self.seed)}

    @classmethod
    def from_spec(cls, spec: dict) -> "Delays":
        try:
            return cls(mean=float(spec["mean"]) * second, jitter=float(spec["jitter"]) * second,
                       seed=int(spec["seed"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise NeuroconvError(f"malformed delays {spec!r} ({exc}).") from None

    def __eq__(self, other):
        return isinstance(other, Delays) and self.spec() == other.spec()

    def __hash__(self):
        return hash(tuple(self.spec().items()))

    def __repr__(self):
        return f"Delays(mean={self.mean!r}, jitter={self.jitter!r}, seed={self.seed})"

    def steps(self, n: int, dt, population: int, pathway: int) -> np.ndarray:
        """Delays in steps of the ``n`` synapses of pathway ``pathway`` into population ``population``."""
        mean = float(self.mean / dt)
        if self.jitter == 0 * second:
            return np.full(n, int(round(mean)), dtype=np.int64)
        rng = np.random.default_rng([int(self.seed), int(population), int(pathway)])
        jitter = float(self.jitter / dt)
        return np.maximum(np.rint(mean + jitter * rng.standard_normal(n)), 0).astype(np.int64)


def as_delays(delays, dt) -> Delays | None:
    """``convert``'s ``delays`` argument as :class:`Delays` (None: no delays), checked against ``dt``."""
    if delays is None:
        return None
    if not isinstance(delays, Delays):
        if not isinstance(delays, Quantity):
            raise NeuroconvError(f"delays must be a Brian2 time (e.g. 2*ms) or neuroconv.Delays(mean, jitter, seed), "
                                 f"got {delays!r}.")
        delays = Delays(mean=delays)
    steps = float(delays.mean / dt)
    if delays.jitter == 0 * second and abs(steps - round(steps)) > 1e-6:
        raise NeuroconvError(f"delays: {delays.mean} is not a whole number of timesteps (dt = {dt}); "
                             "Brian2 would round it.")
    return delays


def pathway_delays(snn) -> list:
    """``[[steps per synapse (coo order) or None for the input pathway, ...] per population]``."""
    out = []
    for k, layer in enumerate(snn.layers):
        per = []
        for p, (source, matrix) in enumerate(zip(layer.sources, layer.pathways[0])):
            per.append(None if source < 0 else snn.delays.steps(matrix.nnz, snn.dt, k, p))
        out.append(per)
    return out


def latencies(snn, steps) -> list:
    """``o_k`` of every population (see the module docstring) from :func:`pathway_delays`."""
    o = []
    for layer, per in zip(snn.layers, steps):
        o.append(max((0 if s < 0 else o[s] + (int(d.max()) if d is not None and d.size else 0))
                     for s, d in zip(layer.sources, per)))
    return o


def check_delays(snn) -> None:
    """Refuse, at conversion, what delays do not apply to."""
    if snn.delays is None:
        return
    model = snn.neuron
    if model.pipelined:
        raise NeuroconvError(f"delays apply to models whose layers work together (IF, LIF); {type(model).__name__} "
                             "layers work one window apart already.")
    if model.drive_term is None:
        raise NeuroconvError(f"delays need a model that says which part of its equations is its own drive "
                             f"(drive_term, as IF and LIF do); {model!r} does not.")
    for layer in snn.layers:
        if layer.kind != "neuron":
            raise NeuroconvError(f"{layer.name} is a {layer.kind} relay: delays are not supported with max-pool "
                                 "relays (use AvgPool2d, or no delays).")
