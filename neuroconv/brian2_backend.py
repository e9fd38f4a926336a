"""Build and run converted networks with Brian2 (runtime, C++ standalone, CUDA standalone).

Schedule: in every timestep each group's state update adds ``I + b`` (slot ``groups``);
then, in slot ``thresholds``, layer 0 thresholds (order 0), its spikes reach layer 1
(order 1), layer 1 thresholds (order 2), ... so a spike crosses all layers within the
step it was emitted in, as the conversion theory assumes. Resets follow in ``resets``;
spike monitors record in ``end``. The analog input is constant over a run, so it is
delivered once: every non-zero input neuron fires a single spike in the first step (slot
``before_groups``), which sets layer 0's current ``I += w * x_pre``; from then on layer 0
integrates ``I + b`` every step.

One-Spike (:class:`neuroconv.equations.OneSpike`) uses the same slots: the growth
``v = base*v`` is the state update; the input spikes come within ``thresholds`` before
layer 0 (orders -2, -1), after the first growth step, and add ``w * x_pre`` to layer 0's
membrane once; each layer's threshold is gated to its own window by ``t_in_timesteps``.
The model's ``brian2_values`` say which variables each group gets, its ``readout`` how the
output is decoded.

A population receives one ``Synapses`` object per source population (``layer1_to_layer3``
next to ``layer2_to_layer3`` where a residual shortcut joins), all delivering before its
threshold. A max-pool relay (``kind == "maxpool"``) is a group of integer counters: each
synapse counts its presynaptic spikes in ``c``; a spike from a window member whose count
equals the window's running maximum ``m`` raises ``top``; the relay fires when ``top > 0``
and its reset raises ``m``. So it fires exactly when the maximum of its window's spike
counts grows, and its count is always that maximum (ties cannot double-count: at most one
spike per neuron per step), with an order-independent ``+=`` that is safe under Brian2's
vectorisation and CUDA's parallel updates.

Batches are B block-diagonal copies of the network in one set of groups: image ``c``
occupies neurons ``c*N ... (c+1)*N - 1`` of every group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time

import numpy as np

from . import build_cache
from .connectivity import replicate_indices
from .result import LayerSpikes, first_spike_steps, merge_batches

__all__ = ["build_network", "run_runtime", "run_standalone"]


def _input_objects(snn, n_copies, clock):
    """The analog input group (fires once, in the first step) and the orders of its spikes and pathway."""
    from brian2 import NeuronGroup

    model = snn.neuron
    n_in = int(np.prod(snn.ann.input_shape))
    inp = NeuronGroup(n_in * n_copies, model.input_model, threshold=model.input_threshold, reset="", clock=clock,
                      name="input")
    # the input fires once, in the first step: before any layer integrates (IF), or within the
    # thresholds slot, before layer 0's threshold (OneSpike, TPP)
    orders = (0, 1) if model.input_when != "thresholds" else (-2, -1)
    inp.thresholder["spike"].when = model.input_when
    inp.thresholder["spike"].order = orders[0]
    return inp, orders


#: A max-pool relay: it fires when the running maximum of its window's spike counts grows.
MAXPOOL_EQUATIONS = """
m : integer          # running maximum of the window's spike counts (= this relay's spike count)
top : integer        # spikes this step from window members whose count equalled m
theta : 1 (constant) # the source's threshold (the relay's spikes carry it on)
"""
#: Each synapse counts its presynaptic spikes in ``c``; a spike from a member at the maximum raises it.
MAXPOOL_SYNAPSES = "c : integer"
MAXPOOL_ON_PRE = "top_post += int(c == m_post)\nc += 1"


def _population(snn, k, n_copies, clock, threshold_order):
    """The NeuronGroup of population ``k`` with its parameters and initial state set."""
    from brian2 import NeuronGroup

    model, layer = snn.neuron, snn.layers[k]
    n = layer.size * n_copies
    if layer.kind == "maxpool":
        group = NeuronGroup(n, MAXPOOL_EQUATIONS, threshold="top > 0", reset="m += 1\ntop = 0", clock=clock,
                            name=layer.name)
        group.theta = np.tile(layer.theta, n_copies)
    elif layer.spiking:
        group = NeuronGroup(n, model.equations, threshold=model.threshold, reset=model.reset_code,
                            method=model.method, clock=clock, name=layer.name)
    else:
        group = NeuronGroup(n, model.output_equations, method=model.method, clock=clock, name=layer.name)
    if layer.spiking:
        group.thresholder["spike"].when = "thresholds"
        group.thresholder["spike"].order = threshold_order
    if layer.kind != "maxpool":
        for name, value in model.brian2_values(layer, k, snn).items():
            setattr(group, name, value if np.ndim(value) == 0 else np.tile(value, n_copies))
    return group


def _connect(syn, matrix, n_copies, when, order, scale=None):
    syn.pre.when = when
    syn.pre.order = order
    i, j, w = replicate_indices(matrix, n_copies)
    syn.connect(i=i, j=j)
    if "w" in syn.variables:
        syn.w = w if scale is None else w * scale[i % len(scale)]
    return syn


def _pathway(snn, k, group, pre, matrix, n_copies, clock, input_orders):
    """The Synapses from ``pre`` (another population's group, or the input group) into population ``k``'s ``group``."""
    from brian2 import Synapses

    model = snn.neuron
    name = f"{pre.name}_to_{group.name}"
    if snn.layers[k].kind == "maxpool":
        syn = Synapses(pre, group, MAXPOOL_SYNAPSES, on_pre=MAXPOOL_ON_PRE, clock=clock, name=name)
        return _connect(syn, matrix, n_copies, "thresholds", 2 * k - 1)
    if pre.name == "input":
        syn = Synapses(pre, group, model.input_synapse_model, on_pre=model.input_on_pre, clock=clock, name=name)
        return _connect(syn, matrix, n_copies, model.input_when, input_orders[1])
    syn = Synapses(pre, group, model.synapse_model, on_pre=model.on_pre, clock=clock, name=name)
    return _connect(syn, matrix, n_copies, "thresholds", 2 * k - 1)


def build_network(snn, n_copies: int, record_spikes: bool = True, clock=None):
    """A ``brian2.Network`` with ``n_copies`` replicated copies of ``snn`` (see module docstring).

    All objects share ``clock`` (default: a new ``Clock(dt=snn.dt, name="neuroconv_clock")``).
    """
    from brian2 import Clock, Network, SpikeMonitor

    clock = Clock(dt=snn.dt, name="neuroconv_clock") if clock is None else clock
    inp, input_orders = _input_objects(snn, n_copies, clock)
    objects = [inp]
    groups = {-1: inp}
    for k, layer in enumerate(snn.layers):
        group = _population(snn, k, n_copies, clock, threshold_order=2 * k)
        objects.append(group)
        for source, matrix in zip(layer.sources, layer.pathways[0]):
            objects.append(_pathway(snn, k, group, groups[source], matrix, n_copies, clock, input_orders))
        if layer.spiking:
            # the output's spikes are its readout: always recorded
            record = record_spikes or layer is snn.output_layer
            objects.append(SpikeMonitor(group, record=record, when="end", name=f"{layer.name}_spikes"))
        groups[k] = group
    return Network(*objects, name="neuroconv_network")


def run_population(snn, k, inputs, target="numpy"):
    """Runtime mode, one population at a time: population ``k`` driven by the analog input (``k = 0``,
    ``inputs`` of shape (batch, n_in)) or by given spike trains of population ``k-1`` (``inputs``:
    bool array (T, batch, n_below), replayed by a ``SpikeGeneratorGroup`` whose synapses carry
    ``w * theta_below``, in the step and slot where the full network delivers them).

    Returns the population's spike trains (T, batch, n) for a spiking population, else the readout.
    """
    from brian2 import Clock, Network, SpikeGeneratorGroup, SpikeMonitor, Synapses

    model, layer, T = snn.neuron, snn.layers[k], snn.timesteps
    snn.require_chain("running one population at a time")
    batch = inputs.shape[0] if k == 0 else inputs.shape[1]
    with _codegen_target(target):
        clock = Clock(dt=snn.dt, name="neuroconv_clock")
        group = _population(snn, k, batch, clock, threshold_order=0)
        if k == 0:
            src, orders = _input_objects(snn, batch, clock)
            src.x = inputs.reshape(-1)
            syn = _connect(Synapses(src, group, model.input_synapse_model, on_pre=model.input_on_pre, clock=clock,
                                    name=f"input_to_{layer.name}"), layer.affine[0], batch, model.input_when, orders[1])
        else:
            below = snn.layers[k - 1]
            step, image, neuron = np.nonzero(inputs)
            src = SpikeGeneratorGroup(below.size * batch, image * below.size + neuron, step * snn.dt, clock=clock,
                                      when="thresholds", order=-2, name=below.name)
            syn = _connect(Synapses(src, group, "w : 1 (constant)", on_pre="v_post += w", clock=clock,
                                    name=f"{below.name}_to_{layer.name}"),
                           layer.affine[0], batch, "thresholds", -1, scale=below.theta)
        objects = [src, syn, group]
        if layer.spiking:
            mon = SpikeMonitor(group, when="end", name=f"{layer.name}_spikes")
            objects.append(mon)
        net = Network(*objects, name="neuroconv_population")
        net.run(T * snn.dt, namespace={})
        if not layer.spiking:
            v = np.asarray(group.v[:], dtype=np.float64).reshape(batch, layer.size)
            return model.readout(snn, v=v)
        trains = np.zeros((T, batch, layer.size), dtype=bool)
        idx = np.asarray(mon.i[:], dtype=np.int64)
        steps = np.rint(np.asarray(mon.t_[:]) / float(snn.dt)).astype(np.int64)
        trains[steps, idx // layer.size, idx % layer.size] = True
        return trains


def _read_results(snn, net, n_images: int, n_copies: int, record_spikes: bool, image_offset: int):
    """Counts, spikes and readout of the first ``n_images`` copies after a run."""
    counts, spikes = [], []
    dt = float(snn.dt)
    out_counts = first_step = v = None
    for layer in snn.layers:
        if not layer.spiking:
            continue
        mon = net[f"{layer.name}_spikes"]
        count = np.asarray(mon.count[:], dtype=np.int64).reshape(n_copies, layer.size)[:n_images]
        is_output = layer is snn.output_layer
        if is_output:
            out_counts = count
        else:
            counts.append(count)
        if record_spikes or is_output:
            idx = np.asarray(mon.i[:], dtype=np.int64)
            step = np.rint(np.asarray(mon.t_[:]) / dt).astype(np.int64)
            image, neuron = np.divmod(idx, layer.size)
            keep = image < n_images
            if is_output:
                first_step = first_spike_steps(image[keep], neuron[keep], step[keep], n_images, layer.size)
            else:
                spikes.append(LayerSpikes(image[keep] + image_offset, neuron[keep], step[keep]))
    out = snn.output_layer
    if not out.spiking:
        v = np.asarray(net[out.name].v[:], dtype=np.float64).reshape(n_copies, out.size)[:n_images]
    readout = snn.neuron.readout(snn, v=v, counts=out_counts, first_step=first_step)
    return readout, counts, (spikes if record_spikes else None), out_counts


def _chunks(n: int, batch: int):
    return [(s, min(s + batch, n)) for s in range(0, n, batch)]


def _padded_input(x_flat: np.ndarray, start: int, stop: int, n_copies: int) -> np.ndarray:
    chunk = x_flat[start:stop]
    if chunk.shape[0] < n_copies:
        chunk = np.concatenate([chunk, np.zeros((n_copies - chunk.shape[0], chunk.shape[1]))])
    return chunk.reshape(-1)


@contextlib.contextmanager
def _codegen_target(target: str):
    from brian2 import prefs

    previous = prefs.codegen.target
    prefs.codegen.target = target
    try:
        yield
    finally:
        prefs.codegen.target = previous


def run_runtime(snn, x_flat, n_copies, record_spikes, progress_bar, target="numpy", seed=None):
    """Runtime mode: build once for ``n_copies`` images, restore and re-run for each batch.

    ``seed`` seeds Brian2's random numbers once, before the first batch.
    """
    from brian2 import seed as brian2_seed

    with _codegen_target(target):
        net = build_network(snn, n_copies, record_spikes)
        net.store("initial")
        if seed is not None:
            brian2_seed(seed)
        # values given as expressions (e.g. TPP's r_round = "rand()") are drawn anew for every batch
        redraw = [(layer.name, name, value) for k, layer in enumerate(snn.layers)
                  for name, value in snn.neuron.brian2_values(layer, k, snn).items() if isinstance(value, str)]
        parts = []
        for start, stop in _chunks(x_flat.shape[0], n_copies):
            net.restore("initial")
            for group, name, value in redraw:
                setattr(net[group], name, value)
            net["input"].x = _padded_input(x_flat, start, stop, n_copies)
            net.run(snn.timesteps * snn.dt, namespace={})
            parts.append(_read_results(snn, net, stop - start, n_copies, record_spikes, start))
            progress_bar.update(stop - start)
    return merge_batches(parts, len(snn.hidden_layers))


@contextlib.contextmanager
def standalone_device(device_name: str, directory, compute_capability=None):
    """Activate a standalone device for one build in ``directory``; always return to runtime mode after."""
    import gc

    from brian2 import device, set_device
    from brian2.devices.device import reset_device

    # Brian2 suffixes code-object names (``_1``) while objects of an earlier network are alive;
    # collecting them first keeps the generated sources, and so the build-cache key, stable.
    gc.collect()
    if device_name == "cuda_standalone":
        from . import cuda

        cuda.configure(directory, compute_capability=compute_capability)
    set_device(device_name, directory=directory, build_on_run=False, with_output=False)
    try:
        yield device
    finally:
        device.reinit()
        reset_device()


def build_standalone(snn, n_copies, record_spikes, device_name, directory, use_cache=True, seed=None):
    """Generate and compile the project for ``n_copies`` images; must run inside :func:`standalone_device`.

    With ``use_cache`` the binary comes from :mod:`neuroconv.build_cache` when identical
    sources were compiled before (any process), and is published there otherwise. For
    stochastic models the binary seeds its random numbers with ``seed`` at every start
    (so every batch starts from the same seed), or randomly when ``seed`` is None.

    Returns the ``brian2.Network`` (whose variables ``device.run`` fills) and the build time in s.
    """
    from brian2 import defaultclock, device

    t0 = time.perf_counter()
    clock = None
    if device_name == "cuda_standalone":
        # brian2cuda's synapse templates refer to ``defaultclock`` by name
        defaultclock.dt = snn.dt
        clock = defaultclock
    if getattr(snn.neuron, "stochastic", False) and not (seed is None and device_name == "cuda_standalone"):
        from brian2 import seed as brian2_seed

        # first, so that random initial values (TPP's r_round) follow it too. brian2cuda 1.0b1
        # writes seed(None)'s random numpy seed as "np.uint64(...)" into main.cu under numpy 2,
        # so without a seed CUDA keeps its own start-up seeding.
        brian2_seed(None if seed is None else int(seed))
    net = build_network(snn, n_copies, record_spikes, clock=clock)
    net["input"].x = 0.0
    net.run(snn.timesteps * snn.dt, namespace={})
    device.build(directory=directory, compile=False, run=False, with_output=False)
    if device_name == "cuda_standalone":
        from . import cuda

        cuda.patch_makefile(directory)
    key = build_cache.source_digest(directory, device_name) if use_cache else None
    if key is None or not build_cache.fetch(key, directory):
        from brian2.codegen.cpp_prefs import get_compiler_and_args

        device.compile_source(directory, get_compiler_and_args()[0], False, False)
        if key is not None:
            build_cache.publish(key, directory)
    return net, time.perf_counter() - t0


def run_standalone(snn, x_flat, n_copies, record_spikes, progress_bar, directory=None, keep_build=False,
                   device_name="cpp_standalone", compute_capability=None, use_cache=True, seed=None):
    """Standalone (C++ or CUDA): generate and compile once, then run the binary once per batch with new inputs.

    Returns the merged results and the build time in seconds.
    """
    own_dir = directory is None
    directory = tempfile.mkdtemp(prefix=f"neuroconv_{device_name}_") if own_dir else os.fspath(directory)
    try:
        with standalone_device(device_name, directory, compute_capability) as device:
            net, build_time = build_standalone(snn, n_copies, record_spikes, device_name, directory, use_cache, seed)
            parts = []
            for start, stop in _chunks(x_flat.shape[0], n_copies):
                device.run(with_output=False, run_args={net["input"].x: _padded_input(x_flat, start, stop, n_copies)})
                parts.append(_read_results(snn, net, stop - start, n_copies, record_spikes, start))
                progress_bar.update(stop - start)
            return merge_batches(parts, len(snn.hidden_layers)), build_time
    finally:
        if own_dir and not keep_build:
            shutil.rmtree(directory, ignore_errors=True)
