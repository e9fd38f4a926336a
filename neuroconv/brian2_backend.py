"""Build and run converted networks with Brian2 (runtime and C++ standalone).

Schedule: in every timestep each group's state update adds ``I + b`` (slot ``groups``);
then, in slot ``thresholds``, layer 0 thresholds (order 0), its spikes reach layer 1
(order 1), layer 1 thresholds (order 2), ... so a spike crosses all layers within the
step it was emitted in, as the conversion theory assumes. Resets follow in ``resets``;
spike monitors record in ``end``. The analog input reaches layer 0 through a summed
variable (``I_post = w * x_pre``), updated before layer 0's state update.

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

from .connectivity import replicate_indices
from .result import LayerSpikes, merge_batches

__all__ = ["build_network", "run_runtime", "run_standalone"]


def build_network(snn, n_copies: int, record_spikes: bool = True):
    """A ``brian2.Network`` with ``n_copies`` replicated copies of ``snn`` (see module docstring)."""
    from brian2 import Clock, Network, NeuronGroup, SpikeMonitor, Synapses

    model = snn.neuron
    clock = Clock(dt=snn.dt, name="neuroconv_clock")
    n_in = int(np.prod(snn.ann.input_shape))
    inp = NeuronGroup(n_in * n_copies, model.input_model, clock=clock, name="input")
    objects = [inp]
    pre = inp
    for k, layer in enumerate(snn.layers):
        n = layer.size * n_copies
        if layer.spiking:
            group = NeuronGroup(n, model.equations, threshold=model.threshold, reset=model.reset_code,
                                method=model.method, clock=clock, name=layer.name)
            group.theta = np.tile(layer.theta, n_copies)
            group.v = np.tile(model.initial_v(layer.theta), n_copies)
            group.thresholder["spike"].when = "thresholds"
            group.thresholder["spike"].order = 2 * k
        else:
            group = NeuronGroup(n, model.output_equations, method=model.method, clock=clock, name=layer.name)
        matrix, bias = layer.affine
        group.b = np.tile(bias, n_copies)
        if pre is inp:
            syn = Synapses(inp, group, model.input_synapse_model, clock=clock, name=f"input_to_{layer.name}")
        else:
            syn = Synapses(pre, group, model.synapse_model, on_pre=model.on_pre, clock=clock,
                           name=f"{pre.name}_to_{layer.name}")
            syn.pre.when = "thresholds"
            syn.pre.order = 2 * k - 1
        i, j, w = replicate_indices(matrix, n_copies)
        syn.connect(i=i, j=j)
        syn.w = w
        objects += [group, syn]
        if layer.spiking:
            objects.append(SpikeMonitor(group, record=record_spikes, when="end",
                                        name=f"{layer.name}_spikes"))
        pre = group
    return Network(*objects)


def _read_results(snn, net, n_images: int, n_copies: int, record_spikes: bool, image_offset: int):
    """Counts, spikes and readout of the first ``n_images`` copies after a run."""
    counts, spikes = [], []
    dt = float(snn.dt)
    out_counts = None
    for layer in snn.layers:
        if not layer.spiking:
            continue
        mon = net[f"{layer.name}_spikes"]
        count = np.asarray(mon.count[:], dtype=np.int64).reshape(n_copies, layer.size)[:n_images]
        if layer is snn.output_layer:
            out_counts = count
        else:
            counts.append(count)
            if record_spikes:
                idx = np.asarray(mon.i[:], dtype=np.int64)
                step = np.rint(np.asarray(mon.t_[:]) / dt).astype(np.int64)
                image, neuron = np.divmod(idx, layer.size)
                keep = image < n_images
                spikes.append(LayerSpikes(image[keep] + image_offset, neuron[keep], step[keep]))
    out = snn.output_layer
    if out.spiking:
        readout = out_counts * out.theta / snn.timesteps
    else:
        v = np.asarray(net[out.name].v[:], dtype=np.float64).reshape(n_copies, out.size)[:n_images]
        readout = v / snn.timesteps
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


def run_runtime(snn, x_flat, n_copies, record_spikes, progress_bar, target="numpy"):
    """Runtime mode: build once for ``n_copies`` images, restore and re-run for each batch."""
    with _codegen_target(target):
        net = build_network(snn, n_copies, record_spikes)
        net.store("initial")
        parts = []
        for start, stop in _chunks(x_flat.shape[0], n_copies):
            net.restore("initial")
            net["input"].x = _padded_input(x_flat, start, stop, n_copies)
            net.run(snn.timesteps * snn.dt, namespace={})
            parts.append(_read_results(snn, net, stop - start, n_copies, record_spikes, start))
            progress_bar.update(stop - start)
    return merge_batches(parts, len(snn.hidden_layers))


def run_standalone(snn, x_flat, n_copies, record_spikes, progress_bar, directory=None, keep_build=False):
    """C++ standalone: generate and compile once, then run the binary once per batch with new inputs.

    Returns the merged results and the build time in seconds.
    """
    from brian2 import device, set_device
    from brian2.devices.device import reset_device

    own_dir = directory is None
    directory = tempfile.mkdtemp(prefix="neuroconv_standalone_") if own_dir else os.fspath(directory)
    set_device("cpp_standalone", directory=directory, build_on_run=False, with_output=False)
    try:
        t0 = time.perf_counter()
        net = build_network(snn, n_copies, record_spikes)
        net["input"].x = 0.0
        net.run(snn.timesteps * snn.dt, namespace={})
        device.build(directory=directory, compile=True, run=False, with_output=False)
        build_time = time.perf_counter() - t0
        parts = []
        for start, stop in _chunks(x_flat.shape[0], n_copies):
            device.run(with_output=False, run_args={net["input"].x: _padded_input(x_flat, start, stop, n_copies)})
            parts.append(_read_results(snn, net, stop - start, n_copies, record_spikes, start))
            progress_bar.update(stop - start)
        return merge_batches(parts, len(snn.hidden_layers)), build_time
    finally:
        device.reinit()
        reset_device()
        if own_dir and not keep_build:
            shutil.rmtree(directory, ignore_errors=True)
