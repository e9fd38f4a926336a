"""The converted network, independent of any device: its populations, neuron model, T and dt.

:class:`SpikingNetwork` runs on any device (:meth:`SpikingNetwork.run`, delegated to
:mod:`neuroconv.simulation.devices`), hands out its Brian2 objects (:meth:`to_brian2`), and
saves itself (:meth:`save`, :mod:`neuroconv.conversion.saved`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from brian2 import Quantity

from neuroconv._checks import check_seed
from neuroconv.conversion.connectivity import affine_graph, layer_matrix
from neuroconv.errors import NeuroconvError

__all__ = ["SpikingNetwork", "SpikingLayer", "READOUTS"]

READOUTS = ("membrane", "spikes")


@dataclass(frozen=True, eq=False)
class SpikingLayer:
    """One population of the SNN and the ANN sub-graph that feeds it.

    ``kind`` is ``"neuron"`` (a ReLU layer, or the output: neurons of the chosen model) or
    ``"maxpool"`` (a relay that passes on the spikes of its window's running maximum count,
    see :mod:`neuroconv.equations.maxpool`). ``sources`` are the populations it receives from
    (``-1``: the analog input); ``node`` is the ANN layer whose output it carries and
    ``drive_node`` the layer whose value is its input (the pre-activation). ``theta`` holds
    one threshold per neuron (None for the non-spiking membrane readout). ``v_init`` is a
    calibrated initial membrane, one value per neuron on the ANN scale (``IF(shift="calibrated")``,
    :mod:`neuroconv.conversion.membrane`); None: the neuron model's ``initial_v(theta)``.
    """

    name: str
    graph: object
    node: int
    drive_node: int
    sources: tuple
    source_nodes: tuple
    theta: np.ndarray | None
    kind: str = "neuron"
    v_init: np.ndarray | None = None

    @property
    def ann_index(self) -> int:
        """ANN layer whose activation this population represents (its ReLU's input for neurons)."""
        return self.node if self.kind == "maxpool" else self.drive_node

    @property
    def out_shape(self) -> tuple:
        return self.graph.shapes[self.node]

    @property
    def size(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def spiking(self) -> bool:
        return self.theta is not None

    @cached_property
    def pathways(self):
        """``(matrices, bias)``: one sparse (n_out, n_source) weight matrix per source and the bias.

        For a max-pool relay the matrices hold 1 for every window member (connectivity, not weights).
        """
        if self.kind == "maxpool":
            (src,) = self.source_nodes
            matrix, _ = layer_matrix(self.graph.layers[self.node], self.graph.shape_of(src), self.out_shape)
            return (matrix,), np.zeros(self.size)
        parts, bias = affine_graph(self.graph, self.drive_node, set(self.source_nodes))
        return tuple(parts[n] for n in self.source_nodes), bias

    @property
    def bias(self) -> np.ndarray:
        return self.pathways[1]

    @property
    def affine(self):
        """``(matrix, bias)`` of a population with one source (the common chain)."""
        if len(self.sources) != 1:
            raise NeuroconvError(f"{self.name} receives from {len(self.sources)} populations; use .pathways.")
        return self.pathways[0][0], self.pathways[1]

    def drive(self, *values) -> np.ndarray:
        """The population's input for flattened source values (one batch array per source, in
        the order of ``sources``), computed with the ANN's own layers (reference path)."""
        if len(values) != len(self.sources):
            raise NeuroconvError(f"{self.name} takes {len(self.sources)} source array(s), got {len(values)}.")
        graph = self.graph
        batch = values[0].shape[0]
        memo = {}
        for node, value in zip(self.source_nodes, values):
            memo[node] = value.reshape((batch,) + graph.shape_of(node))

        def evaluate(node):
            if node not in memo:
                memo[node] = graph.layers[node].forward(*[evaluate(i) for i in graph.inputs[node]])
            return memo[node]

        return evaluate(self.drive_node).reshape(batch, -1)


@dataclass(frozen=True, eq=False)
class SpikingNetwork:
    """A converted network, independent of any device.

    ``layers`` are the spiking hidden populations in order, then the output population;
    ``neuron`` the model of its neuron populations (bound to T), ``timesteps`` T (the number
    of timesteps a population has to express its value: IF's run length, TPP's phase,
    One-Spike's window) and :attr:`run_steps` the length of a run.
    :meth:`run` simulates it on a device; :meth:`to_brian2` hands out the Brian2 objects.
    """

    ann: Graph
    layers: tuple
    neuron: object
    timesteps: int
    dt: Quantity
    readout: str = "membrane"
    #: Synaptic delays (:class:`neuroconv.conversion.delays.Delays`), or None.
    delays: object = None
    #: ``(min, max)`` of the calibration inputs, or None (thresholds given, NIR): :meth:`run` refuses inputs
    #: far outside it (uint8 images on a network calibrated on [0, 1]); see
    #: :func:`neuroconv._checks.check_input_range`.
    input_range: tuple | None = None

    def __repr__(self) -> str:
        pops = ", ".join(f"{l.name} {l.size}" + (" maxpool" if l.kind == "maxpool" else "") for l in self.layers)
        text = (f"SpikingNetwork({self.neuron!r}, T={self.timesteps}, dt={self.dt}, run_steps={self.run_steps}, "
                f"input {tuple(self.ann.input_shape)}, populations [{pops}], {self.readout} readout, "
                f"{self.n_synapses:,} synapses per image")
        return text + (f", delays {self.delays!r})" if self.delays is not None else ")")

    @property
    def hidden_layers(self) -> tuple:
        return self.layers[:-1]

    @property
    def output_layer(self) -> SpikingLayer:
        return self.layers[-1]

    @property
    def thresholds(self) -> list:
        """Per-neuron thresholds of every spiking population (hidden layers, then a spiking output)."""
        return [layer.theta for layer in self.layers if layer.spiking]

    @property
    def n_synapses(self) -> int:
        """Synapses per image (one copy of the network)."""
        return int(sum(m.nnz for layer in self.layers for m in layer.pathways[0]))

    @property
    def n_spiking(self) -> int:
        """Spiking populations (hidden ones, max-pool relays, and the output with ``readout="spikes"``)."""
        return sum(layer.spiking for layer in self.layers)

    @property
    def run_steps(self) -> int:
        """Timesteps of one run, from the input to the readout (the model's :meth:`run_steps`; with delays
        plus the output's latency)."""
        return self.neuron.run_steps(self.timesteps, self.n_spiking) + (self.latencies[-1] if self.delays else 0)

    @cached_property
    def delay_steps(self):
        """Delays in steps of every pathway's synapses (``[[array or None per source] per population]``),
        or None without delays (see :mod:`neuroconv.conversion.delays`)."""
        from neuroconv.conversion.delays import pathway_delays

        return pathway_delays(self) if self.delays is not None else None

    @cached_property
    def latencies(self) -> list:
        """First step of each population's own drive (0 everywhere without delays)."""
        from neuroconv.conversion.delays import latencies

        return latencies(self, self.delay_steps) if self.delays is not None else [0] * len(self.layers)

    def model_of(self, k: int):
        """The neuron model of population ``k``: the network's model, or the max-pool relay."""
        from neuroconv.equations import MAXPOOL_RELAY

        return MAXPOOL_RELAY if self.layers[k].kind == "maxpool" else self.neuron

    def window(self, k: int) -> tuple:
        """``(first step, length)`` of population ``k``'s firing window."""
        start, length = self.neuron.firing_window(k, self.timesteps)
        return start + self.latencies[k], length

    def _first_off_chain(self):
        """The first population that is not a neuron population fed by the one before it, or None."""
        return next((layer for k, layer in enumerate(self.layers)
                     if layer.kind != "neuron" or layer.sources != ((k - 1,) if k else (-1,))), None)

    @property
    def is_chain(self) -> bool:
        """True when every population is a neuron population fed by the one before it (no max-pool
        relays, no shortcuts): what layer-by-layer runs and pipelined models need."""
        return self._first_off_chain() is None

    def require_chain(self, what: str) -> None:
        """Raise a clear error unless :attr:`is_chain`."""
        odd = self._first_off_chain()
        if odd is not None:
            raise NeuroconvError(f"{what} needs a chain of populations; {odd.name} is a {odd.kind} population "
                                 f"fed by {list(odd.sources)} (residual joins and max-pool relays are not a chain).")

    def fan_out(self, k: int) -> np.ndarray:
        """Synapses leaving each neuron of population ``k`` (``-1``: the input), over all its targets."""
        size = int(np.prod(self.ann.input_shape)) if k < 0 else self.layers[k].size
        total = np.zeros(size, dtype=np.int64)
        for layer in self.layers:
            for source, matrix in zip(layer.sources, layer.pathways[0]):
                if source == k:
                    total += np.diff(matrix.tocsc().indptr)
        return total

    @property
    def latency_steps(self) -> int:
        """Timesteps from the input to the readout: :attr:`run_steps` (``window`` or the phase per spiking
        layer for pipelined models, i.e. ``(L-1) * T`` with the membrane readout and ``L`` weight layers)."""
        return self.run_steps

    @property
    def latency(self) -> Quantity:
        """:attr:`latency_steps` as a Brian2 time (``run_steps * dt``)."""
        return self.run_steps * self.dt

    def with_timesteps(self, timesteps: int) -> "SpikingNetwork":
        """The same network with another T (same thresholds and weights)."""
        from neuroconv.equations.model import check_timesteps

        T = check_timesteps(timesteps)
        if T != self.timesteps and any(layer.v_init is not None for layer in self.layers):
            raise NeuroconvError(f"this network's initial membranes were calibrated for T = {self.timesteps}; "
                                 f"convert again with timesteps={T} (and the calibration data) for another T.")
        snn = dataclasses.replace(self, neuron=self.neuron.with_timesteps(T), timesteps=T)
        check_timesteps(snn.run_steps, "the run length")
        return snn

    def run(self, x, device: str = "runtime", batch_size: int | None = None, codegen_target: str | None = None,
            record_spikes: bool | None = None, progress: bool = True, record=None, **options):
        """Simulate the network on inputs ``x`` (batch, *input_shape) and return a SimulationResult.

        Parameters
        ----------
        device : {"runtime", "cpp_standalone", "cuda_standalone", "reference"} or a registered device
            Brian2 runtime mode, Brian2 C++ standalone (compiled once per call, re-run per
            batch with new inputs), brian2cuda's CUDA standalone (needs the ``cuda`` extra,
            nvcc and a GPU), or the numpy reference simulator (``neuroconv.DEVICES`` lists them;
            ``neuroconv.register_device`` adds one).
        batch_size : int, optional
            Images simulated together (Brian2: replicated populations). Default: chosen so
            that one build holds at most ``max_synapses`` synapses (option; default: the memory
            budget ``NEUROCONV_MAX_MEMORY`` over the measured peak bytes per synapse, and at most
            2e7 in runtime mode); an explicit batch over that budget is refused before building.
            For ``cpp_standalone`` the default is a small batch (about 65,536 synapses) run
            for many rounds, see ``rounds``; copies and rounds depend on the network only, so one
            compiled binary serves every number of images (kept ready in the process: a later call
            only runs it).
        codegen_target : {"numpy", "cython"}, optional
            Brian2 code generation target for ``device="runtime"``. Default: Brian2's
            ``prefs.codegen.target`` when you set it to ``"numpy"`` or ``"cython"``, else numpy
            (Brian2's own default, ``"auto"``, picks Cython, which compiles for minutes the first
            time and is cached after).
        record : bool, list or dict, optional
            The spike trains to keep in ``result.spikes`` (counts and the readout are always returned):
            True (default: every hidden layer, every image), False (none), a list of hidden layers
            (names or indices), or ``{"layers": [...] or "all", "images": slice or list of indices}``.
            Kept as one bit per neuron and step; the memory they need is checked against the budget
            before the run starts. On ``cpp_standalone`` one binary serves every choice (no compile).
        record_spikes : bool, optional
            The older form of ``record=True`` / ``record=False``.
        progress : bool
            Show a progress bar over batches.
        **options
            ``max_synapses`` (synapse budget per build, see ``batch_size``), ``threads``
            (``cpp_standalone``: OpenMP threads, default 1, the fastest measured on 2 cores;
            results equal one thread's), ``cache`` (reuse compiled standalone binaries, default True), ``build_directory`` (standalone
            project folder, kept), ``compute_capability`` (CUDA), ``record_margin``
            (reference only: smallest ``|v - theta|`` per neuron, for tie diagnosis), ``seed``
            (random numbers of stochastic models such as TPP: counter-based, so the same seed
            gives the same spikes on every device, batch size and process; None draws one from
            numpy's global generator, which ``brian2.seed(n)`` sets, and keeps it in ``result.seed``),
            ``rounds`` (``cpp_standalone`` only: inferences one binary run simulates one after
            the other, each round a new ``batch_size`` of images and every state reset between
            rounds, so the synapses are created once per run; default: up to 8192 images (and
            16 MiB of input) per binary run; a run simulates only the rounds its images need), ``check_range`` (default True:
            refuse inputs far outside the calibration data's range, see
            :func:`neuroconv._checks.check_input_range`).
        """
        from neuroconv.simulation.devices import run_on_device

        return run_on_device(self, x, device=device, batch_size=batch_size, codegen_target=codegen_target,
                             record_spikes=record_spikes, progress=progress, record=record, **options)

    def build(self, device: str = "cpp_standalone", directory=None, batch_size: int = 1, record_spikes: bool = True,
              compute_capability=None, rounds: int = 1) -> str:
        """Generate and compile the standalone project for ``batch_size`` images (times ``rounds``, see
        :meth:`run`) without running it.

        For ``device="cuda_standalone"`` this works without a GPU (nvcc is enough):
        brian2cuda's GPU detection is turned off and ``compute_capability`` (default 9.0)
        chosen. Returns the project directory (a new temporary one unless given).
        """
        from neuroconv.simulation.devices import build_on_device

        return build_on_device(self, device, directory=directory, batch_size=batch_size, record_spikes=record_spikes,
                               compute_capability=compute_capability, rounds=rounds)

    def save(self, path) -> str:
        """Write this network to one ``.npz`` archive (arrays + JSON, no pickle); see
        :mod:`neuroconv.conversion.saved`. ``neuroconv.load_network(path)`` reads it back.
        Returns the path written."""
        from neuroconv.conversion.saved import save_network

        return save_network(self, path)

    def to_brian2(self, x=None, batch_size: int | None = None, seed: int | None = None):
        """The converted network as a ``brian2.Network`` for your own scripts.

        Groups are named ``input``, ``layer0``, ... , ``output``; synapses
        ``input_to_layer0``, ``layer0_to_layer1``, ...; spike monitors ``layer0_spikes``, ...
        The analog input lives in ``net['input'].ann_input`` (``batch_size`` copies, image-major).
        With ``x`` given the input values are set. Run it with ``net.run(snn.run_steps * snn.dt)``
        (Brian2's magic ``run()`` would only see objects named in your script), and pass
        ``namespace={}``: the network's constants are in its objects, not in your script's variables.
        ``seed``: the counter-based random streams of stochastic models (TPP, noisy LIF); None takes
        one from numpy's global generator, which ``brian2.seed(n)`` sets, so a seeded script is
        reproducible; the seed used is in ``net.neuroconv_seed``.
        """
        from neuroconv.simulation.brian2.build import build_network

        if x is not None:
            x = self.ann.check_input(x)
            batch_size = x.shape[0] if batch_size is None else batch_size
            if batch_size != x.shape[0]:
                raise NeuroconvError(f"batch_size={batch_size} but x holds {x.shape[0]} images.")
        batch_size = 1 if batch_size is None else batch_size
        check_seed(seed)
        if seed is None:
            from neuroconv.equations._random import random_seed

            seed = random_seed()
        net = build_network(self, batch_size, seed=int(seed))
        net.neuroconv_seed = int(seed)
        if x is not None:
            net["input"].ann_input = x.reshape(-1)
        return net
