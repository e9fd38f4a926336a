"""ANN -> device-independent spiking network."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from brian2 import Quantity, ms, second

from .ann.layers import LINEAR_TYPES, Graph, MaxPool2d, ReLU, rebuild
from .calibration import calibrate, trained_threshold
from .connectivity import affine_graph, layer_matrix
from ._checks import MAX_TIMESTEPS, real_array, require_memory
from .errors import NeuroconvError

__all__ = ["convert", "SpikingNetwork", "SpikingLayer", "READOUTS"]

READOUTS = ("membrane", "spikes")


@dataclass(frozen=True, eq=False)
class SpikingLayer:
    """One population of the SNN and the ANN sub-graph that feeds it.

    ``kind`` is ``"neuron"`` (a ReLU layer, or the output: neurons of the chosen model) or
    ``"maxpool"`` (a relay that passes on the spikes of its window's running maximum count,
    see :mod:`neuroconv.brian2_backend`). ``sources`` are the populations it receives from
    (``-1``: the analog input); ``node`` is the ANN layer whose output it carries and
    ``drive_node`` the layer whose value is its input (the pre-activation). ``theta`` holds
    one threshold per neuron (None for the non-spiking membrane readout).
    """

    name: str
    graph: object
    node: int
    drive_node: int
    sources: tuple
    source_nodes: tuple
    theta: np.ndarray | None
    kind: str = "neuron"

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


def _check_timesteps(timesteps) -> int:
    if isinstance(timesteps, (bool, np.bool_)) or not isinstance(timesteps, (int, np.integer)):
        raise NeuroconvError(f"timesteps must be a positive int, got {timesteps!r}.")
    if timesteps < 1:
        raise NeuroconvError(f"timesteps must be >= 1, got {timesteps}.")
    if timesteps > MAX_TIMESTEPS:
        raise NeuroconvError(f"timesteps={timesteps} is over the limit of {MAX_TIMESTEPS:,} steps per inference; "
                             "ANN conversion needs tens to thousands.")
    return int(timesteps)


def _check_dt(dt) -> Quantity:
    if not isinstance(dt, Quantity) or not dt.has_same_dimensions(second) or np.shape(dt) != ():
        raise NeuroconvError(f"dt must be a Brian2 time such as 1*ms, got {dt!r}.")
    if not float(dt) > 0 or not np.isfinite(float(dt)):
        raise NeuroconvError(f"dt must be positive and finite, got {dt!r}.")
    return dt


def _expand_threshold(value, layer_index: int, out_shape: tuple) -> np.ndarray:
    """Scalar, per-channel or per-neuron threshold -> one value per neuron."""
    what = f"thresholds[{layer_index}]"
    arr = real_array(value, what)
    if not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise NeuroconvError(f"{what} must be finite and > 0 everywhere, got {value!r}.")
    n = int(np.prod(out_shape))
    channels = out_shape[0]
    if arr.size == 1:
        return np.full(n, float(arr.reshape(())))
    if arr.shape == (channels,):
        return np.repeat(arr, n // channels)
    if arr.size == n:
        return arr.reshape(n).copy()
    raise NeuroconvError(
        f"{what} has shape {arr.shape}; expected a scalar, one value per channel ({channels},) "
        f"or one per neuron {tuple(out_shape)}."
    )


def _normalise(net: Graph) -> Graph:
    """MaxPool2d directly before a ReLU moves after it (max and ReLU commute), so that the
    pooling acts on spikes: Conv -> MaxPool -> ReLU becomes Conv -> ReLU -> MaxPool."""
    replace = {}
    for k, layer in enumerate(net.layers):
        if not isinstance(layer, MaxPool2d) or _carries_spikes(net, net.inputs[k][0]):
            continue
        users = net.consumers(k)
        if len(users) == 1 and isinstance(net.layers[users[0]], ReLU) and users[0] not in replace:
            replace[k], replace[users[0]] = net.layers[users[0]], layer
    return rebuild(net, replace) if replace else net


def _carries_spikes(net: Graph, node: int) -> bool:
    return node >= 0 and isinstance(net.layers[node], (ReLU, MaxPool2d))


def _populations(net: Graph):
    """(node, drive_node, source_nodes, kind) of every population, in order; the output last."""
    last = len(net.layers) - 1
    if isinstance(net.layers[last], (ReLU, MaxPool2d)):
        raise NeuroconvError(
            f"the network ends with a {type(net.layers[last]).__name__} (layer {last}); the output layer must be "
            "Dense or Conv2d (its pre-activation is read out). Remove the final ReLU/MaxPool2d."
        )
    pops = []
    for k, layer in enumerate(net.layers):
        if isinstance(layer, MaxPool2d):
            (src,) = net.inputs[k]
            if not _carries_spikes(net, src):
                raise NeuroconvError(
                    f"layer {k} (MaxPool2d) must follow a ReLU (or come right before one); its input is "
                    f"{'the network input' if src < 0 else f'layer {src} ({type(net.layers[src]).__name__})'}. "
                    "Pool after the activation, or use AvgPool2d.")
            pops.append((k, src, (src,), "maxpool"))
        elif isinstance(layer, ReLU) or k == last:
            drive = net.inputs[k][0] if isinstance(layer, ReLU) else k
            if drive < 0 or _carries_spikes(net, drive):
                raise NeuroconvError(
                    f"layer {k} (ReLU) has no Dense/Conv2d/AvgPool2d/BatchNorm/Add/Flatten layer before it since the "
                    "previous ReLU or the input; remove the duplicate ReLU.")
            pops.append((k, drive, _source_nodes(net, drive), "neuron"))
    return pops


def _source_nodes(net: Graph, node: int) -> tuple:
    """The spike-carrying layers (or -1, the input) that reach ``node`` through linear layers only."""
    found, stack, seen = set(), [node], set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n < 0 or _carries_spikes(net, n):
            found.add(n)
            continue
        if not isinstance(net.layers[n], LINEAR_TYPES):
            raise NeuroconvError(f"layer {n} ({type(net.layers[n]).__name__}) cannot be converted.")
        stack.extend(net.inputs[n])
    return tuple(sorted(found))


def convert(net: Graph, neuron=None, timesteps: int | None = None, calibration_data=None, thresholds=None,
            method="max", per_channel: bool = False, readout: str = "membrane", dt=1 * ms) -> "SpikingNetwork":
    """Convert an ANN into a spiking network (threshold balancing / weight normalisation).

    Parameters
    ----------
    net : neuroconv.ann.Sequential or Graph
        The trained ANN (ReLU hidden layers, linear output). Every ReLU becomes a population;
        residual joins (``Add``) become several pathways into one population (threshold
        balancing needs nothing special there: each pathway's synapses carry ``w * theta_pre``
        of its own source); each ``MaxPool2d`` after a ReLU becomes a spiking max-pool relay
        (IF only; one before a ReLU is moved after it, as max and ReLU commute).
    neuron : neuron model, default ``IF()``
        A model from :mod:`neuroconv.equations`: ``IF()`` (rate coding over T steps) or
        ``OneSpike(base, window)`` (one phase-coded spike per neuron; its window sets the
        timing: the run lasts ``window`` steps per spiking layer, see ``latency``) or
        ``TPP()`` (two-phase probabilistic; ``timesteps`` is the phase length, the run lasts
        ``timesteps`` per spiking layer).
    timesteps : int
        Simulation length T of IF networks, phase length T of TPP networks (default 32).
        Not used with ``OneSpike``.
    calibration_data : array (n, *input_shape), optional
        Not needed when every ReLU carries a trained ``threshold`` (QCFS/ClipReLU training,
        NIR files): those are the thresholds. Otherwise: sample inputs for threshold balancing (each spiking layer's scale is its
        ``method`` activation statistic: the IF threshold, or One-Spike's ``M``).
    thresholds : list, optional
        Explicit scales on the ANN activation scale, one entry per spiking layer
        (scalar, per channel or per neuron); with ``readout="spikes"`` one more for the output.
        For ``OneSpike`` this is ``M``, the value of a spike in the window's first step
        (the neuron's firing threshold is ``M * (1 + 1/base) / 2``).
    method : "max" or percentile
        Calibration statistic, e.g. ``"max"``, ``99.9`` or ``"99.9%"``.
    per_channel : bool
        Calibrate one threshold per channel instead of per layer.
    readout : {"membrane", "spikes"}
        ``"membrane"``: the output layer does not spike, its readout is the input averaged
        over T (One-Spike: the decoded input). ``"spikes"``: the output layer spikes too,
        readout ``count * theta / T`` (One-Spike: the decoded spike, 0 without one).
    dt : Brian2 time
        Duration of one timestep (default 1 ms).
    """
    from neuroconv.equations import IF, TPP, OneSpike

    if not isinstance(net, Graph):
        raise NeuroconvError(f"net must be a neuroconv.ann.Sequential or Graph, got {type(net).__name__}; "
                             "use neuroconv.ann.from_sklearn / from_npz / from_torch / from_onnx / from_nir to import a model.")
    neuron = IF() if neuron is None else neuron
    if not isinstance(neuron, (IF, OneSpike, TPP)):
        raise NeuroconvError(f"neuron must be a model from neuroconv.equations (IF(), OneSpike() or TPP()), "
                             f"got {neuron!r}.")
    dt = _check_dt(dt)
    if readout not in READOUTS:
        raise NeuroconvError(f"readout must be one of {READOUTS}, got {readout!r}.")
    net = _normalise(net)
    values = float(np.prod(net.input_shape, dtype=np.float64)) + sum(
        float(np.prod(shape, dtype=np.float64)) for shape in net.shapes)
    require_memory(32 * values, f"a network with {values:.3g} activations per image (thresholds, biases, states)",
                   "use smaller inputs or layers.")
    pops = _populations(net)
    if not isinstance(neuron, IF):
        _check_pipelined(net, pops, neuron)
    n_thresholds = sum(kind == "neuron" for *_, kind in pops) - 1 + (readout == "spikes")
    if isinstance(neuron, OneSpike):
        if timesteps is not None:
            raise NeuroconvError(
                f"timesteps={timesteps!r} does not apply to OneSpike: its window sets the timing "
                f"({neuron.window} steps per spiking layer). Pass OneSpike(window=...) instead.")
        neuron.check_latency(n_thresholds)
        timesteps = n_thresholds * neuron.window
    elif isinstance(neuron, TPP):
        if neuron.timesteps is not None and timesteps is not None and neuron.timesteps != timesteps:
            raise NeuroconvError(f"TPP(timesteps={neuron.timesteps}) and timesteps={timesteps!r} disagree; "
                                 "give the phase length once.")
        phase = _check_timesteps(32 if timesteps is None and neuron.timesteps is None else
                                 (timesteps if timesteps is not None else neuron.timesteps))
        neuron = dataclasses.replace(neuron, timesteps=phase)
        timesteps = n_thresholds * phase
    timesteps = _check_timesteps(32 if timesteps is None else timesteps)
    trained = [trained_threshold(net.layers[node]) for node, _, _, kind in pops[:-1] if kind == "neuron"]
    if thresholds is None and calibration_data is None and readout == "membrane" and trained \
            and all(t is not None for t in trained):
        thresholds = trained  # every ReLU has a trained threshold
    if thresholds is None:
        if calibration_data is None:
            raise NeuroconvError("pass calibration_data (sample inputs) or thresholds=[...] (one per spiking layer).")
        thresholds = calibrate(net, calibration_data, method=method, per_channel=per_channel,
                               include_output=readout == "spikes")
    elif calibration_data is not None:
        raise NeuroconvError("pass either calibration_data or thresholds, not both.")
    thresholds = list(thresholds) if np.iterable(thresholds) else [thresholds]
    if len(thresholds) != n_thresholds:
        raise NeuroconvError(
            f"thresholds has {len(thresholds)} entries; this network has {n_thresholds} spiking layer(s)"
            + (" including the spike-count output" if readout == "spikes" else "") + "."
        )
    layers = []
    t_iter = iter(enumerate(thresholds))
    population_of = {-1: -1}
    for k, (node, drive, sources, kind) in enumerate(pops):
        is_output = k == len(pops) - 1
        theta = None
        if kind == "maxpool":
            theta = _pooled_threshold(net, node, layers[population_of[sources[0]]])
        elif not is_output or readout == "spikes":
            index, value = next(t_iter)
            theta = _expand_threshold(value, index, net.shapes[node])
        population_of[node] = k
        layers.append(SpikingLayer(name="output" if is_output else f"layer{k}", graph=net, node=node, drive_node=drive,
                                   sources=tuple(population_of[n] for n in sources), source_nodes=sources,
                                   theta=theta, kind=kind))
    if isinstance(neuron, OneSpike) and calibration_data is not None:
        _warn_below_range(net, neuron, layers, calibration_data)
    return SpikingNetwork(ann=net, layers=tuple(layers), neuron=neuron, timesteps=timesteps, dt=dt, readout=readout)


def _check_pipelined(net, pops, neuron):
    """One-Spike and TPP layers work one window/phase apart: each population must take only the one before."""
    name = type(neuron).__name__
    for k, (node, _, sources, kind) in enumerate(pops):
        if kind == "maxpool":
            raise NeuroconvError(f"layer {node} (MaxPool2d) converts with IF() neurons only; {name} populations "
                                 "work one window apart and have no spiking max-pool here. Use AvgPool2d or IF().")
        expected = (pops[k - 1][0],) if k else (-1,)
        if sources != expected:
            raise NeuroconvError(
                f"layer {node} ({type(net.layers[node]).__name__}) receives from layers {list(sources)}, skipping "
                f"a population; {name} layers work one window apart, so residual connections convert with IF() only.")


def _pooled_threshold(net, node, source) -> np.ndarray:
    """A max-pool relay's spikes carry its source's threshold, which must be the same across each window."""
    pool = net.layers[node]
    theta = source.theta.reshape((1,) + source.out_shape)
    high, low = pool.forward(theta), -pool.forward(-theta)
    if not np.allclose(high, low, rtol=1e-12, atol=0):
        raise NeuroconvError(
            f"layer {node} (MaxPool2d): the thresholds of {source.name} differ within a pooling window, so spike "
            "counts do not rank the activations; use one threshold per layer or per channel there.")
    return high.reshape(-1)


#: One-Spike warns when more than this fraction of a layer's positive calibration activations is sent as zero.
BELOW_RANGE_WARNING = 0.05


def _warn_below_range(net, neuron, layers, calibration_data):
    """Warn, with the numbers, about layers whose window is too short for the calibration data's range."""
    import warnings

    from .errors import NeuroconvWarning

    _, acts = net.forward(net.check_input(calibration_data, name="calibration_data"), return_activations=True)
    for layer in layers:
        if not layer.spiking:
            continue
        act = acts[layer.ann_index]  # pre-activation: its positive part is the activation
        act = act.reshape(act.shape[0], -1)
        positive = act > 0
        lost = positive & (act < neuron.smallest_sent(layer.theta))
        fraction = lost.sum() / max(positive.sum(), 1)
        if fraction > BELOW_RANGE_WARNING:
            ratio = np.percentile((layer.theta / np.where(positive, act, 1.0))[positive], 95)
            warnings.warn(
                f"OneSpike(base={neuron.base:g}, window={neuron.window}): {layer.name} sends {fraction:.1%} of its "
                f"positive calibration activations as zero (below M*base**-(window-1)*(1+1/base)/2, a range of "
                f"{neuron.base ** (neuron.window - 1):.3g}); covering 95% of them needs a range of {ratio:.3g}, "
                f"i.e. window >= {neuron.window_for_range(max(ratio, 1.0))} at this base.",
                NeuroconvWarning, stacklevel=3)


@dataclass(frozen=True, eq=False)
class SpikingNetwork:
    """A converted network, independent of any device.

    ``layers`` are the spiking hidden populations in order, then the output population.
    :meth:`run` simulates it on a device; :meth:`to_brian2` hands out the Brian2 objects.
    """

    ann: Graph
    layers: tuple
    neuron: object
    timesteps: int
    dt: Quantity
    readout: str = "membrane"

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
        """Timesteps from the input to the readout, the length of a run: ``T`` for IF; ``window``
        (One-Spike) or the phase length ``T`` (TPP) per spiking layer, i.e. ``(L-1) * window``
        or ``(L-1) * T`` with the membrane readout (``L`` weight layers; input window 0)."""
        return self.timesteps

    @property
    def latency(self) -> Quantity:
        """:attr:`latency_steps` as a Brian2 time (``latency_steps * dt``)."""
        return self.timesteps * self.dt

    def with_timesteps(self, timesteps: int) -> "SpikingNetwork":
        """The same network simulated for a different number of timesteps (IF networks)."""
        from neuroconv.equations import TPP, OneSpike

        if isinstance(self.neuron, OneSpike):
            raise NeuroconvError("a One-Spike network's timing is set by its window; convert again with "
                                 "OneSpike(window=...) instead of with_timesteps().")
        if isinstance(self.neuron, TPP):
            phase = _check_timesteps(timesteps)
            n_spiking = sum(layer.spiking for layer in self.layers)
            return SpikingNetwork(self.ann, self.layers, dataclasses.replace(self.neuron, timesteps=phase),
                                  n_spiking * phase, self.dt, self.readout)
        return SpikingNetwork(self.ann, self.layers, self.neuron, _check_timesteps(timesteps), self.dt, self.readout)

    def run(self, x, device: str = "runtime", batch_size: int | None = None, codegen_target: str = "numpy",
            record_spikes: bool = True, progress: bool = True, **options):
        """Simulate the network on inputs ``x`` (batch, *input_shape) and return a SimulationResult.

        Parameters
        ----------
        device : {"runtime", "cpp_standalone", "cuda_standalone", "reference"}
            Brian2 runtime mode, Brian2 C++ standalone (compiled once per call, re-run per
            batch with new inputs), brian2cuda's CUDA standalone (needs the ``cuda`` extra,
            nvcc and a GPU), or the numpy reference simulator.
        batch_size : int, optional
            Images simulated together (Brian2: replicated populations). Default: chosen so
            that one build holds at most ``max_synapses`` synapses (option, default 2e7,
            about 0.5 GiB); an explicit batch over that budget is refused before building.
            For ``cpp_standalone`` the default is a small batch (about 65,536 synapses) run
            for many rounds, see ``rounds``.
        codegen_target : {"numpy", "cython"}
            Brian2 code generation target for ``device="runtime"``.
        record_spikes : bool
            Keep every spike (``result.spikes``); counts are always returned.
        progress : bool
            Show a progress bar over batches.
        **options
            ``max_synapses`` (synapse budget per build, default 2e7), ``cache`` (reuse
            compiled standalone binaries, default True), ``build_directory`` (standalone
            project folder, kept), ``compute_capability`` (CUDA), ``record_margin``
            (reference only: smallest ``|v - theta|`` per neuron, for tie diagnosis), ``seed``
            (random numbers of stochastic models such as TPP: counter-based, so the same seed
            gives the same spikes on every device, batch size and process; None draws one, kept
            in ``result.seed``),
            ``rounds`` (``cpp_standalone`` only: inferences one binary run simulates one after
            the other, each round a new ``batch_size`` of images and every state reset between
            rounds, so the synapses are created once per run; default: enough rounds for up
            to 8192 images per run, in runs of equal size).
        """
        from .devices import run_on_device

        return run_on_device(self, x, device=device, batch_size=batch_size, codegen_target=codegen_target,
                             record_spikes=record_spikes, progress=progress, **options)

    def build(self, device: str = "cpp_standalone", directory=None, batch_size: int = 1, record_spikes: bool = True,
              compute_capability=None, rounds: int = 1) -> str:
        """Generate and compile the standalone project for ``batch_size`` images (times ``rounds``, see
        :meth:`run`) without running it.

        For ``device="cuda_standalone"`` this works without a GPU (nvcc is enough):
        brian2cuda's GPU detection is turned off and ``compute_capability`` (default 9.0)
        chosen. Returns the project directory (a new temporary one unless given).
        """
        import tempfile

        from .brian2_backend import build_standalone, standalone_device
        from .devices import Device, _choose_batch, _positive_int, check_resources

        dev = Device.parse(device)
        if not dev.standalone:
            raise NeuroconvError(f"build() is for standalone devices ('cpp_standalone', 'cuda_standalone'), got {device!r}.")
        if dev is Device.CUDA_STANDALONE:
            from . import cuda

            cuda.require_brian2cuda()
        n_copies = _choose_batch(self, batch_size, batch_size, float("inf"))
        rounds = _positive_int("rounds", rounds)
        if rounds > 1 and dev is not Device.CPP_STANDALONE:
            raise NeuroconvError(f"rounds={rounds} applies to device='cpp_standalone' only.")
        check_resources(self, dev, n_copies, rounds, directory)
        directory = tempfile.mkdtemp(prefix=f"neuroconv_{dev.value}_") if directory is None else str(directory)
        with standalone_device(dev.value, directory, compute_capability):
            build_standalone(self, n_copies, record_spikes, dev.value, directory, rounds=rounds)
        return directory

    def save(self, path) -> str:
        """Write this network to one ``.npz`` archive (arrays + JSON, no pickle); see :mod:`neuroconv.saved`.

        ``neuroconv.load_network(path)`` reads it back. Returns the path written.
        """
        from .saved import save_network

        return save_network(self, path)

    def to_brian2(self, x=None, batch_size: int | None = None):
        """The converted network as a ``brian2.Network`` for your own scripts.

        Groups are named ``input``, ``layer0``, ... , ``output``; synapses
        ``input_to_layer0``, ``layer0_to_layer1``, ...; spike monitors ``layer0_spikes``, ...
        The analog input lives in ``net['input'].x`` (``batch_size`` copies, image-major).
        With ``x`` given the input values are set. Run it for ``timesteps * dt``.
        """
        from .brian2_backend import build_network

        if x is not None:
            x = self.ann.check_input(x)
            batch_size = x.shape[0] if batch_size is None else batch_size
            if batch_size != x.shape[0]:
                raise NeuroconvError(f"batch_size={batch_size} but x holds {x.shape[0]} images.")
        batch_size = 1 if batch_size is None else batch_size
        net = build_network(self, batch_size)
        if x is not None:
            net["input"].x = x.reshape(-1)
        return net
