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

Time-multiplexed runs (``rounds > 1``, C++ standalone): one binary run simulates ``rounds``
inferences of the B copies one after the other, ``T`` steps each. A second clock ticks once
per round: at a round's first step (slot ``start``) StateMonitors record what the previous
round ended with (each spiking layer's ``spike_count``, the output membrane), then
``run_regularly`` operations return every variable to its initial value and the input
group (on the round clock, with its synapses) takes the round's images from a
``TimedArray`` and fires. Thresholds that depend on time see the step within the round.
So the synapses are created once per binary run, and a small B keeps them in the CPU cache.

Stochastic models (TPP) draw counter-based uniforms (:mod:`neuroconv.equations._random`):
every spiking neuron holds its ``rng_key`` (from the seed, its layer and its index within
one image) and ``copy_index``; ``image_index`` (``image_base`` of the run, plus the copy,
plus ``B`` per round) is the image's position in the input given to ``run``. So the
draws do not depend on batch size, rounds, device or process.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

import numpy as np

from . import build_cache
from .connectivity import replicate_indices
from .result import LayerSpikes, first_spike_steps, merge_batches

__all__ = ["build_network", "run_runtime", "run_standalone"]


def _input_objects(snn, n_copies, clock, round_clock=None, rounds=1):
    """The analog input group (fires once, in the first step) and the orders of its spikes and pathway.

    With a ``round_clock`` (time-multiplexed runs, see :func:`build_network`) it fires in the
    first step of every round, with the image of that round taken from the ``TimedArray``
    ``neuroconv_images``.
    """
    from brian2 import NeuronGroup, TimedArray

    model = snn.neuron
    n_in = int(np.prod(snn.ann.input_shape))
    if round_clock is None:
        inp = NeuronGroup(n_in * n_copies, model.input_model, threshold=model.input_threshold, reset="",
                          clock=clock, name="input")
    else:
        # on the round clock: the group (and its synapses) only work in each round's first step
        images = TimedArray(np.zeros((rounds, n_in * n_copies)), dt=round_clock.dt, name="neuroconv_images")
        inp = NeuronGroup(n_in * n_copies, "x : 1  # analog input value of the current round", threshold="x != 0",
                          reset="", clock=round_clock, name="input", namespace={"neuroconv_images": images})
        inp.run_regularly("x = neuroconv_images(t, i)", when="start", order=0, name="input_next_round")
    # the input fires once, in the first step: before any layer integrates (IF), or within the
    # thresholds slot, before layer 0's threshold (OneSpike, TPP)
    orders = (0, 1) if model.input_when != "thresholds" else (-2, -1)
    inp.thresholder["spike"].when = model.input_when
    inp.thresholder["spike"].order = orders[0]
    return inp, orders


def _round_reset(equations: str, values: dict):
    """For time-multiplexed runs: the code that returns a group to its initial state at a round's start.

    Every non-constant variable of ``equations`` goes back to its value in ``values`` (a
    number, a per-neuron array held in an added constant ``<name>_start``, or an expression
    such as ``"rand()"``), or to 0. Returns (equations with the added constants, reset code,
    the added constants' values).
    """
    from brian2 import Equations

    extra, code, start_values = [], [], {}
    for name, eq in Equations(equations).items():
        if eq.type not in ("differential equation", "parameter") or "constant" in eq.flags:
            continue
        value = values.get(name, 0)
        if isinstance(value, str):
            code.append(f"{name} = {value}")
        elif np.ndim(value) == 0:
            code.append(f"{name} = {float(value)!r}" if eq.var_type == "float" else f"{name} = {int(value)}")
        else:
            kind = "integer" if eq.var_type == "integer" else "1"
            extra.append(f"{name}_start : {kind} (constant)")
            code.append(f"{name} = {name}_start")
            start_values[f"{name}_start"] = value
    return equations + "\n" + "\n".join(extra) + "\n", "\n".join(code), start_values


def _image_index_equations(snn, n_copies, rounds):
    """Equations giving a stochastic group's neurons ``image_index``, their image's position in the run's input."""
    per_round = f" + {n_copies} * (t_in_timesteps // {snn.timesteps})" if rounds else ""
    return ("\ncopy_index : integer (constant)       # which copy (image of the batch) the neuron belongs to"
            "\nimage_base : integer (constant, shared) # position of copy 0's image in the run's input"
            f"\nimage_index = image_base + copy_index{per_round} : integer\n")


def _set_image_base(snn, net, start, run_args=None):
    """Tell stochastic groups that copy 0 holds image ``start`` (in place, or as standalone ``run_args``)."""
    if not getattr(snn.neuron, "stochastic", False):
        return
    for layer in snn.layers:
        if layer.spiking:
            if run_args is None:
                net[layer.name].image_base = start
            else:
                run_args[net[layer.name].image_base] = start


#: A max-pool relay: it fires when the running maximum of its window's spike counts grows.
MAXPOOL_EQUATIONS = """
m : integer          # running maximum of the window's spike counts (= this relay's spike count)
top : integer        # spikes this step from window members whose count equalled m
theta : 1 (constant) # the source's threshold (the relay's spikes carry it on)
"""
#: Each synapse counts its presynaptic spikes in ``c``; a spike from a member at the maximum raises it.
MAXPOOL_SYNAPSES = "c : integer"
MAXPOOL_ON_PRE = "top_post += int(c == m_post)\nc += 1"


def _population(snn, k, n_copies, clock, threshold_order, round_clock=None, seed=0):
    """The NeuronGroup of population ``k`` with its parameters and initial state set.

    With a ``round_clock`` the group returns to that state at the start of every round and its
    threshold sees the step within the round as ``t_in_timesteps``. Stochastic models get
    their random streams from ``seed`` (see the module docstring).
    """
    from brian2 import NeuronGroup

    model, layer = snn.neuron, snn.layers[k]
    n = layer.size * n_copies
    values = {} if layer.kind == "maxpool" else model.brian2_values(layer, k, snn)
    if layer.kind == "maxpool":
        equations, threshold, reset, method = MAXPOOL_EQUATIONS, "top > 0", "m += 1\ntop = 0", "euler"
    elif layer.spiking:
        equations, threshold, reset, method = model.equations, model.threshold, model.reset_code, model.method
        if getattr(model, "stochastic", False):
            equations += _image_index_equations(snn, n_copies, round_clock is not None)
            values.update(rng_key=model.random_keys(seed, k, layer.size), image_base=0)
    else:
        equations, threshold, reset, method = model.output_equations, None, None, model.method
    start_values, round_code = {}, ""
    if round_clock is not None:
        if layer.spiking:  # counted per round, read by the StateMonitor ``<layer>_rounds``
            equations += "\nspike_count : integer  # spikes in this round\n"
            reset += "\nspike_count += 1"
        equations, round_code, start_values = _round_reset(equations, values)
        if threshold is not None:
            threshold = re.sub(r"\bt_in_timesteps\b", f"(t_in_timesteps % {snn.timesteps})", threshold)
    group = NeuronGroup(n, equations, threshold=threshold, reset=reset, method=method, clock=clock, name=layer.name,
                        namespace=dict(model.namespace) if layer.spiking else {})
    if layer.kind == "maxpool":
        group.theta = np.tile(layer.theta, n_copies)
    if layer.spiking:
        group.thresholder["spike"].when = "thresholds"
        group.thresholder["spike"].order = threshold_order
    for name, value in {**values, **start_values}.items():
        setattr(group, name, value if np.ndim(value) == 0 else np.tile(value, n_copies))
    if "copy_index" in group.variables:
        group.copy_index = np.repeat(np.arange(n_copies, dtype=np.int32), layer.size)
    if round_code:
        group.run_regularly(round_code, clock=round_clock, when="start", order=1, name=f"{layer.name}_next_round")
    return group


def _connect(syn, matrix, n_copies, when, order, scale=None):
    syn.pre.when = when
    syn.pre.order = order
    i, j, w = replicate_indices(matrix, n_copies)
    syn.connect(i=i, j=j)
    if "w" in syn.variables:
        syn.w = w if scale is None else w * scale[i % len(scale)]
    return syn


def _pathway(snn, k, group, pre, matrix, n_copies, clock, input_orders, round_clock=None):
    """The Synapses from ``pre`` (another population's group, or the input group) into population ``k``'s ``group``."""
    from brian2 import Synapses

    model = snn.neuron
    name = f"{pre.name}_to_{group.name}"
    if snn.layers[k].kind == "maxpool":
        syn = Synapses(pre, group, MAXPOOL_SYNAPSES, on_pre=MAXPOOL_ON_PRE, clock=clock, name=name)
        if round_clock is not None:  # the spike counters start from 0 in every round
            syn.run_regularly("c = 0", clock=round_clock, when="start", order=1, name=f"{name}_next_round")
        return _connect(syn, matrix, n_copies, "thresholds", 2 * k - 1)
    if pre.name == "input":
        syn = Synapses(pre, group, model.input_synapse_model, on_pre=model.input_on_pre, clock=pre.clock, name=name)
        return _connect(syn, matrix, n_copies, model.input_when, input_orders[1])
    syn = Synapses(pre, group, model.synapse_model, on_pre=model.on_pre, clock=clock, name=name)
    return _connect(syn, matrix, n_copies, "thresholds", 2 * k - 1)


def build_network(snn, n_copies: int, record_spikes: bool = True, clock=None, rounds: int = 1, seed: int = 0):
    """A ``brian2.Network`` with ``n_copies`` replicated copies of ``snn`` (see module docstring).

    All objects share ``clock`` (default: a new ``Clock(dt=snn.dt, name="neuroconv_clock")``).
    With ``rounds > 1`` the network is time-multiplexed: it simulates ``rounds`` inferences of
    ``n_copies`` images one after the other (round ``r`` in steps ``r*T ... (r+1)*T - 1``, its
    images from the ``TimedArray`` ``neuroconv_images``); every group returns to its initial
    state when a round starts, and a ``StateMonitor`` ``<layer>_rounds`` keeps each spiking
    layer's ``spike_count`` (and the output's membrane) as each round ends; spike monitors
    exist only with ``record_spikes`` (and for a spiking output). Run it for
    ``(rounds * T + 1) * dt``: the last step only records the last round's state. ``seed``:
    the random streams of stochastic models.
    """
    from brian2 import Clock, Network, SpikeMonitor, StateMonitor

    clock = Clock(dt=snn.dt, name="neuroconv_clock") if clock is None else clock
    round_clock = None
    if rounds > 1:  # one clock for everything done once per round (one object: stable generated code)
        round_clock = Clock(dt=snn.timesteps * clock.dt, name="neuroconv_round_clock")
    inp, input_orders = _input_objects(snn, n_copies, clock, round_clock, rounds)
    objects = [inp]
    groups = {-1: inp}
    for k, layer in enumerate(snn.layers):
        group = _population(snn, k, n_copies, clock, threshold_order=2 * k, round_clock=round_clock, seed=seed)
        objects.append(group)
        for source, matrix in zip(layer.sources, layer.pathways[0]):
            objects.append(_pathway(snn, k, group, groups[source], matrix, n_copies, clock, input_orders, round_clock))
        if round_clock is not None:
            # at a round's first step, before the reset: the state the previous round ended with
            record = "spike_count" if layer.spiking else ("v" if layer is snn.output_layer else None)
            if record:
                objects.append(StateMonitor(group, record, record=True, clock=round_clock, when="start", order=-1,
                                            name=f"{layer.name}_rounds"))
        if layer.spiking and (record_spikes or layer is snn.output_layer or round_clock is None):
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


def _per_round(values: np.ndarray, n_copies: int, size: int, rounds: int, n_images: int) -> np.ndarray:
    """A ``<layer>_rounds`` StateMonitor's records (copies * size, rounds + 1) -> (images, size); the first
    record is from before round 0, image ``r * n_copies + c`` is copy ``c`` of round ``r``."""
    values = values[:, 1:].reshape(n_copies, size, rounds).transpose(2, 0, 1)
    return values.reshape(rounds * n_copies, size)[:n_images]


def _read_results(snn, net, n_images: int, n_copies: int, record_spikes: bool, image_offset: int, rounds: int = 1):
    """Counts, spikes and readout of the first ``n_images`` images after a run."""
    counts, spikes = [], []
    dt, T = float(snn.dt), snn.timesteps
    out_counts = first_step = v = None
    for layer in snn.layers:
        if not layer.spiking:
            continue
        is_output = layer is snn.output_layer
        if rounds == 1:
            count = np.asarray(net[f"{layer.name}_spikes"].count[:], dtype=np.int64)
            count = count.reshape(n_copies, layer.size)[:n_images]
        else:
            count = np.asarray(net[f"{layer.name}_rounds"].spike_count[:], dtype=np.int64)
            count = _per_round(count, n_copies, layer.size, rounds, n_images)
        if record_spikes or is_output:
            mon = net[f"{layer.name}_spikes"]
            copy, neuron = np.divmod(np.asarray(mon.i[:], dtype=np.int64), layer.size)
            rnd, step = np.divmod(np.rint(np.asarray(mon.t_[:]) / dt).astype(np.int64), T)
            image = rnd * n_copies + copy
            keep = image < n_images  # drops padding copies and the step after the last round
            image, neuron, step = image[keep], neuron[keep], step[keep]
            if is_output:
                first_step = first_spike_steps(image, neuron, step, n_images, layer.size)
            else:
                spikes.append(LayerSpikes(image + image_offset, neuron, step))
        if is_output:
            out_counts = count
        else:
            counts.append(count)
    out = snn.output_layer
    if not out.spiking:
        if rounds == 1:
            v = np.asarray(net[out.name].v[:], dtype=np.float64).reshape(n_copies, out.size)[:n_images]
        else:
            v = _per_round(np.asarray(net[f"{out.name}_rounds"].v[:], dtype=np.float64), n_copies, out.size, rounds,
                           n_images)
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


def run_runtime(snn, x_flat, n_copies, record_spikes, progress_bar, target="numpy", seed=0):
    """Runtime mode: build once for ``n_copies`` images, restore and re-run for each batch.

    ``seed``: the random streams of stochastic models (counter-based, see the module docstring).
    """
    with _codegen_target(target):
        net = build_network(snn, n_copies, record_spikes, seed=seed)
        net.store("initial")
        parts = []
        for start, stop in _chunks(x_flat.shape[0], n_copies):
            net.restore("initial")
            _set_image_base(snn, net, start)
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


def _duration(snn, rounds: int):
    """Run length of a network built for ``rounds`` (see :func:`build_network`)."""
    return (snn.timesteps * rounds + (rounds > 1)) * snn.dt


def build_standalone(snn, n_copies, record_spikes, device_name, directory, use_cache=True, seed=0, rounds=1):
    """Generate and compile the project for ``n_copies`` images (times ``rounds``, see :func:`build_network`);
    must run inside :func:`standalone_device`.

    With ``use_cache`` the binary comes from :mod:`neuroconv.build_cache` when identical
    sources were compiled before (any process), and is published there otherwise. ``seed``
    (stochastic models) goes into the data files, not the code, so seeds share a binary.

    Returns the ``brian2.Network`` (whose variables ``device.run`` fills) and the build time in s.
    """
    from brian2 import defaultclock, device

    t0 = time.perf_counter()
    clock = None
    if device_name == "cuda_standalone":
        # brian2cuda's synapse templates refer to ``defaultclock`` by name
        defaultclock.dt = snn.dt
        clock = defaultclock
    net = build_network(snn, n_copies, record_spikes, clock=clock, rounds=rounds, seed=seed)
    net["input"].x = 0.0
    net.run(_duration(snn, rounds), namespace={})
    device.build(directory=directory, compile=False, run=False, with_output=False)
    if device_name == "cuda_standalone":
        from . import cuda

        cuda.patch_makefile(directory)
    key = build_cache.source_digest(directory, device_name) if use_cache else None
    if key is None or not build_cache.fetch(key, directory):
        _compile(device, directory, device_name)
        if key is not None:
            build_cache.publish(key, directory)
    return net, time.perf_counter() - t0


def _compile(device, directory, device_name):
    """Compile the generated project. With make (C++ standalone on POSIX) the compiler runs in its own
    process group, killed as a whole when this process is interrupted (Ctrl-C, a notebook's
    interrupt): Brian2's ``os.system`` call would ignore the interrupt until make finished."""
    from brian2 import prefs
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    compiler = get_compiler_and_args()[0]
    if device_name != "cpp_standalone" or compiler == "msvc" or os.name != "posix":
        device.compile_source(directory, compiler, False, False)
        return
    opts = prefs.devices.cpp_standalone
    command = shlex.split(opts.make_cmd_unix) + [str(a) for a in opts.extra_make_args_unix]
    proc = subprocess.Popen(command, cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        log, _ = proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if proc.returncode != 0:
        tail = log.decode(errors="replace")[-2000:]
        raise RuntimeError(f"compiling the standalone project in {directory} failed "
                           f"(make exit status {proc.returncode}):\n{tail}")


def run_standalone(snn, x_flat, n_copies, record_spikes, progress_bar, directory=None, keep_build=False,
                   device_name="cpp_standalone", compute_capability=None, use_cache=True, seed=0, rounds=1):
    """Standalone (C++ or CUDA): generate and compile once, then run the binary with new inputs until every
    image is done, ``n_copies * rounds`` images per binary run (``rounds`` inferences one after the other).

    Returns the merged results and the build time in seconds.
    """
    own_dir = directory is None
    directory = tempfile.mkdtemp(prefix=f"neuroconv_{device_name}_") if own_dir else os.fspath(directory)
    try:
        with standalone_device(device_name, directory, compute_capability) as device:
            net, build_time = build_standalone(snn, n_copies, record_spikes, device_name, directory, use_cache, seed,
                                               rounds)
            per_run = n_copies * rounds
            images = net["input"].namespace["neuroconv_images"] if rounds > 1 else None
            parts = []
            for start, stop in _chunks(x_flat.shape[0], per_run):
                x = _padded_input(x_flat, start, stop, per_run)
                if rounds > 1:
                    run_args = {images: x.reshape(rounds, -1)}
                else:
                    run_args = {net["input"].x: x}
                _set_image_base(snn, net, start, run_args)
                device.run(with_output=False, run_args=run_args)
                for name in device.run_args_arrays:  # this run's input file: not needed again
                    path = os.path.join(directory, "static_arrays", name)
                    for leftover in (path, path + ".lock"):
                        with contextlib.suppress(OSError):
                            os.remove(leftover)
                parts.append(_read_results(snn, net, stop - start, n_copies, record_spikes, start, rounds))
                progress_bar.update(stop - start)
            return merge_batches(parts, len(snn.hidden_layers)), build_time
    finally:
        if own_dir and not keep_build:
            shutil.rmtree(directory, ignore_errors=True)
