"""ANN -> device-independent spiking network: populations from the graph, thresholds, the bound neuron model."""

from __future__ import annotations

import dataclasses

import numpy as np
from brian2 import Quantity, ms, second

from neuroconv._checks import real_array, require_memory
from neuroconv.ann.layers import LINEAR_TYPES, Concat, Graph, MaxPool2d, ReLU, rebuild
from neuroconv.conversion.calibration import calibrate, trained_threshold
from neuroconv.conversion.network import READOUTS, SpikingLayer, SpikingNetwork
from neuroconv.equations.model import check_timesteps
from neuroconv.errors import NeuroconvError

__all__ = ["convert", "load_network"]


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
    pooling acts on spikes: Conv -> MaxPool -> ReLU becomes Conv -> ReLU -> MaxPool. A MaxPool2d
    after a channel concatenation of spiking layers pools each of them (pooling is per channel):
    Concat(a, b) -> MaxPool becomes Concat(MaxPool(a), MaxPool(b)), one relay per branch."""
    for _ in range(len(net.layers)):  # pooled joins can feed pools (GoogLeNet): until none is left
        pooled = _pool_branches(net)
        if pooled is net:
            break
        net = pooled
    replace = {}
    for k, layer in enumerate(net.layers):
        if not isinstance(layer, MaxPool2d) or _carries_spikes(net, net.inputs[k][0]):
            continue
        users = net.consumers(k)
        if len(users) == 1 and isinstance(net.layers[users[0]], ReLU) and users[0] not in replace:
            replace[k], replace[users[0]] = net.layers[users[0]], layer
    return rebuild(net, replace) if replace else net


def _pool_branches(net: Graph) -> Graph:
    """Each MaxPool2d that pools a channel Concat of spike-carrying layers becomes a Concat of the branches, each
    pooled (the original Concat stays for its other consumers, as in GoogLeNet's inception blocks)."""
    pools = {k: net.inputs[k][0] for k, layer in enumerate(net.layers)
             if isinstance(layer, MaxPool2d) and net.inputs[k][0] >= 0
             and isinstance(net.layers[net.inputs[k][0]], Concat) and len(net.shape_of(net.inputs[k][0])) == 3
             and all(_carries_spikes(net, i) for i in net.inputs[net.inputs[k][0]])}
    if not pools:
        return net
    layers, inputs, index = [], [], {-1: -1}
    for k, layer in enumerate(net.layers):
        if k in pools:
            pooled = []
            for i in net.inputs[pools[k]]:  # the concatenation's branches, each pooled
                layers.append(layer)
                inputs.append((index[i],))
                pooled.append(len(layers) - 1)
            layers.append(net.layers[pools[k]])
            inputs.append(tuple(pooled))
        else:
            layers.append(layer)
            inputs.append(tuple(index[i] for i in net.inputs[k]))
        index[k] = len(layers) - 1
    unused = {index[c] for c in pools.values() if all(j in pools for j in net.consumers(c))}
    graph = Graph if not unused else _graph_without(unused)
    return graph(layers, net.input_shape, inputs)


def _graph_without(dropped: set):
    """A Graph constructor that leaves out the layers in ``dropped`` (which no layer reads)."""
    def build(layers, input_shape, inputs):
        kept, kept_inputs, index = [], [], {-1: -1}
        for k, (layer, ins) in enumerate(zip(layers, inputs)):
            if k in dropped:
                continue
            kept.append(layer)
            kept_inputs.append(tuple(index[i] for i in ins))
            index[k] = len(kept) - 1
        return Graph(kept, input_shape, kept_inputs)
    return build


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
            method=None, per_channel: bool | None = None, readout: str = "membrane", dt=1 * ms,
            delays=None, initial_v=None, progress: bool = True) -> "SpikingNetwork":
    """Convert an ANN into a spiking network (threshold balancing / weight normalisation).

    Parameters
    ----------
    net : neuroconv.ann.Sequential or Graph
        The trained ANN (ReLU hidden layers, linear output). Every ReLU becomes a population;
        residual joins (``Add``) become several pathways into one population (threshold
        balancing needs nothing special there: each pathway's synapses carry ``w * theta_pre``
        of its own source); each ``MaxPool2d`` after a ReLU becomes a spiking max-pool relay
        (IF only; one before a ReLU is moved after it, as max and ReLU commute).
    neuron : NeuronModel, default ``IF()``
        A model from :mod:`neuroconv.equations`: ``IF()`` (rate coding over T steps),
        ``OneSpike(base, window)`` (one phase-coded spike per neuron in a window of T steps),
        ``TPP()`` (two-phase probabilistic, phases of T steps), a registered model, or your own
        from Brian2 strings (``NeuronModel.from_brian2``).
    timesteps : int
        T, the number of timesteps a population has to express its value: the run length of
        IF networks (all layers at once), the phase length of TPP and the window of One-Spike
        (pipelined: the run lasts T per spiking population, ``snn.run_steps``). Default: the
        model's own (``TPP(timesteps=...)``, ``OneSpike(window=...)``) or 32; given twice
        differently, refused.
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
        Calibration statistic, e.g. ``"max"``, ``99.9`` or ``"99.9%"``. Default: the neuron model's
        (``calibration_method``: ``"max"``; ``IF(shift="calibrated")``: ``"99.9%"``).
    per_channel : bool
        Calibrate one threshold per channel instead of per layer. Default: the neuron model's
        (``calibration_per_channel``: per layer; ``IF(shift="calibrated")``: per channel).
    readout : {"membrane", "spikes"}
        ``"membrane"``: the output layer does not spike, its readout is the input averaged
        over T (One-Spike: the decoded input). ``"spikes"``: the output layer spikes too,
        readout ``count * theta / T`` (One-Spike: the decoded spike, 0 without one).
    dt : Brian2 time
        Duration of one timestep (default 1 ms).
    delays : Brian2 time or neuroconv.Delays, optional
        Synaptic delays of every pathway between spiking populations (a multiple of ``dt``), or a
        seeded per-synapse distribution ``Delays(mean, jitter, seed)``. Each population integrates
        its own drive for T steps from the step its input first arrives; the run is longer by the
        output's latency (:mod:`neuroconv.conversion.delays`). IF and LIF models.
    initial_v : list, optional
        Models with a calibrated start only (``IF(shift="calibrated")``, ``TPP(calibrated=True)``): the starts,
        one array per spiking neuron population (one value per neuron), instead of measuring them (saved
        networks use it). Without it such a model measures them on ``calibration_data`` at this T
        (:mod:`neuroconv.conversion.membrane`; with ``thresholds`` given, the data then set the starts only).
    progress : bool
        Show a progress bar while calibrating starts.
    """
    from neuroconv.equations import IF, NeuronModel

    if not isinstance(net, Graph):
        raise NeuroconvError(f"net must be a neuroconv.ann.Sequential or Graph, got {type(net).__name__}; "
                             "use neuroconv.ann.from_sklearn / from_npz / from_torch / from_onnx / from_nir to import a model.")
    neuron = IF() if neuron is None else neuron
    if not isinstance(neuron, NeuronModel):
        raise NeuroconvError(f"neuron must be a neuron model (IF(), OneSpike(), TPP(), a registered model or "
                             f"NeuronModel.from_brian2(...)), got {neuron!r}.")
    dt = _check_dt(dt)
    from neuroconv.conversion.delays import as_delays, check_delays

    delays = as_delays(delays, dt)
    if readout not in READOUTS:
        raise NeuroconvError(f"readout must be one of {READOUTS}, got {readout!r}.")
    net = _normalise(net)
    values = float(np.prod(net.input_shape, dtype=np.float64)) + sum(
        float(np.prod(shape, dtype=np.float64)) for shape in net.shapes)
    require_memory(32 * values, f"a network with {values:.3g} activations per image (thresholds, biases, states)",
                   "use smaller inputs or layers.")
    pops = _populations(net)
    n_thresholds = sum(kind == "neuron" for *_, kind in pops) - 1 + (readout == "spikes")
    neuron, timesteps = neuron.bind(timesteps)
    trained = [trained_threshold(net.layers[node]) for node, _, _, kind in pops[:-1] if kind == "neuron"]
    if thresholds is None and calibration_data is None and readout == "membrane" and trained \
            and all(t is not None for t in trained):
        thresholds = trained  # every ReLU has a trained threshold
    if thresholds is None:
        if calibration_data is None:
            raise NeuroconvError("pass calibration_data (sample inputs) or thresholds=[...] (one per spiking layer).")
        method = neuron.calibration_method if method is None else method
        per_channel = neuron.calibration_per_channel if per_channel is None else per_channel
        thresholds = calibrate(net, calibration_data, method=method, per_channel=per_channel,
                               include_output=readout == "spikes")
    elif calibration_data is not None and not neuron.calibrated_start:
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
    snn = SpikingNetwork(ann=net, layers=tuple(layers), neuron=neuron, timesteps=timesteps, dt=dt, readout=readout,
                         delays=delays)
    neuron.check_network(snn)
    check_delays(snn)
    check_timesteps(snn.run_steps, f"the run length ({type(neuron).__name__}: {snn.n_spiking} population(s) of "
                                   f"T = {timesteps} steps)")
    snn = _start(snn, calibration_data, initial_v, progress)
    if calibration_data is not None:
        neuron.check_calibration(snn, calibration_data)
        x_cal = np.asarray(calibration_data)  # checked real and finite by calibrate or calibrate_membrane
        snn = dataclasses.replace(snn, input_range=(float(x_cal.min()), float(x_cal.max())))
    return snn


def _start(snn, calibration_data, initial_v, progress):
    """Calibrated initial membranes (``IF(shift="calibrated")``): given, or measured on the calibration data."""
    from neuroconv.conversion.membrane import calibrate_membrane, set_initial_v

    if not snn.neuron.calibrated_start:
        if initial_v is not None:
            raise NeuroconvError(f"initial_v= sets the calibrated start of IF(shift='calibrated') or "
                                 f"TPP(calibrated=True); {snn.neuron!r} starts every neuron from its own "
                                 "initial_v(theta).")
        return snn
    if initial_v is not None:
        return set_initial_v(snn, initial_v)
    if calibration_data is None:
        raise NeuroconvError(f"{snn.neuron!r} calibrates each neuron's initial membrane on sample inputs: pass "
                             "calibration_data (with thresholds=[...] too if you have them), or leave the start "
                             "uncalibrated (IF(): Deng & Gu's theta/2 start).")
    return calibrate_membrane(snn, calibration_data, progress=progress)


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


def load_network(path) -> SpikingNetwork:
    """Read a network written by ``SpikingNetwork.save`` (:mod:`neuroconv.conversion.saved`): the ANN is
    converted again with the saved thresholds, so the loaded network runs exactly like the saved one."""
    from neuroconv.conversion.saved import read_network

    net, options = read_network(path)
    input_range = options.pop("input_range", None)
    snn = convert(net, **options)
    return dataclasses.replace(snn, input_range=input_range) if input_range is not None else snn
