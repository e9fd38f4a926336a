"""The Brian2 network of a converted network: groups, synapses, monitors, schedule (every Brian2 device).

Schedule: in every timestep each group's state update adds ``I + b`` (slot ``groups``);
then, in slot ``thresholds``, layer 0 thresholds (order 0), its spikes reach layer 1
(order 1), layer 1 thresholds (order 2), ... so a spike crosses all layers within the
step it was emitted in, as the conversion theory assumes. Resets follow in ``resets``;
spike monitors record in ``end``. The analog input is constant over a run, so it is
delivered once: every non-zero input neuron fires a single spike in the first step (slot
``before_groups``), which sets layer 0's current ``I += w * ann_input_pre``; from then on layer 0
integrates ``I + b`` every step.

One-Spike (:class:`neuroconv.equations.OneSpike`) uses the same slots: the growth
``v = base*v`` is the state update; the input spikes come within ``thresholds`` before
layer 0 (orders -2, -1), after the first growth step, and add ``w * ann_input_pre`` to layer 0's
membrane once; each layer's threshold is gated to its own window by ``step`` (the
timestep within the inference, defined here for models whose strings use it).
Each population's model (``snn.model_of(k)``) gives its strings and, by ``brian2_values``,
the variables each group gets; its ``readout`` says how the output is decoded.

A population receives one ``Synapses`` object per source population (``layer1_to_layer3``
next to ``layer2_to_layer3`` where a residual shortcut joins), all delivering before its
threshold. A max-pool relay is a population whose model is
:class:`neuroconv.equations.MaxPoolRelay` (integer counters on its synapses and group).

Batches are B block-diagonal copies of the network in one set of groups: image ``c``
occupies neurons ``c*N ... (c+1)*N - 1`` of every group.

Time-multiplexed runs (``rounds > 1``, C++ standalone): one binary run simulates ``rounds``
inferences of the B copies one after the other, ``T`` steps each. A second clock ticks once
per round: at a round's first step (slot ``start``) StateMonitors record what the previous
round ended with (each spiking layer's ``spike_count``, the output membrane, a recorded hidden
layer's spike train as bits in ``spike_word0``, ... : :func:`train_words`), then
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

import numpy as np

__all__ = ["build_network", "set_image_base", "replicate_indices", "presynaptic_order"]


def replicate_indices(matrix, n_copies: int):
    """Synapse arrays ``(i, j, w)`` of ``n_copies`` block-diagonal copies of ``matrix``.

    Copy ``c`` connects presynaptic neurons ``c*n_in ...`` to postsynaptic ``c*n_out ...``. Within a copy the
    synapses are ordered by presynaptic neuron (:func:`presynaptic_order`).
    """
    coo, order = matrix.tocoo(), presynaptic_order(matrix)
    n_out, n_in = matrix.shape
    offsets = np.arange(n_copies, dtype=np.int64)[:, None]
    i = (coo.col[order][None, :].astype(np.int64) + offsets * n_in).ravel()
    j = (coo.row[order][None, :].astype(np.int64) + offsets * n_out).ravel()
    w = np.tile(coo.data[order], n_copies)
    return i, j, w


def presynaptic_order(matrix) -> np.ndarray:
    """The order of ``matrix.tocoo()``'s entries sorted by presynaptic neuron (column), then postsynaptic: a
    spike's synapses lie side by side in Brian2's arrays, so the code delivering it reads them in sequence.
    In the matrix's own (postsynaptic) order a convolution's spike touched a new cache line per synapse:
    the Fashion-MNIST CNN ran at 5.9e7 synaptic events/s on cpp_standalone (``bench_speed.py --peer``)."""
    coo = matrix.tocoo()
    return np.lexsort((coo.row, coo.col))


def _series_input(snn, n_copies, clock):
    """The input group of a time-series run: ``x`` is set every step (a NetworkOperation, see run.py) and every
    non-zero input neuron fires, in ``thresholds`` before layer 0, adding ``w * x`` to the membrane."""
    from brian2 import NeuronGroup

    n_in = int(np.prod(snn.ann.input_shape))
    inp = NeuronGroup(n_in * n_copies, "ann_input : 1  # this step's input frame", threshold="ann_input != 0",
                      reset="", clock=clock, name="input")
    inp.thresholder["spike"].when = "thresholds"
    inp.thresholder["spike"].order = -2
    return inp, (-2, -1)


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
        inp = NeuronGroup(n_in * n_copies, "ann_input : 1  # analog input value of the current round",
                          threshold="ann_input != 0", reset="", clock=round_clock, name="input",
                          namespace={"neuroconv_images": images})
        inp.run_regularly("ann_input = neuroconv_images(t, i)", when="start", order=0, name="input_next_round")
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
    per_round = f" + {n_copies} * (t_in_timesteps // {snn.run_steps})" if rounds else ""
    return ("\ncopy_index : integer (constant)       # which copy (image of the batch) the neuron belongs to"
            "\nimage_base : integer (constant, shared) # position of copy 0's image in the run's input"
            f"\nimage_index = image_base + copy_index{per_round} : integer\n")


def set_image_base(snn, net, start, run_args=None):
    """Tell counter-based groups that copy 0 holds image ``start`` (in place, or as standalone ``run_args``)."""
    for layer in snn.layers:
        group = net[layer.name]
        if "image_base" in group.variables:
            if run_args is None:
                group.image_base = start
            else:
                run_args[group.image_base] = start


def _step_equation(snn, model, strings, round_clock) -> str:
    """``step``, the timestep within the current inference, for models whose strings use it."""
    from brian2.utils.stringtools import get_identifiers

    if not any("step" in get_identifiers(text) for text in strings if text):
        return ""
    within = f" % {snn.run_steps}" if round_clock is not None else ""
    return f"\nstep = t_in_timesteps{within} : integer  # timestep within the current inference\n"


#: Steps one spike-train word holds: a float64 holds sums of distinct powers of two below 2**53 exactly; 48 are
#: whole bytes (:func:`neuroconv.simulation.brian2.run._word_bits` moves bytes).
WORD_STEPS = 48


def word_names(run_steps: int) -> list:
    """The spike-train words of a time-multiplexed hidden layer (:func:`train_words`)."""
    return [f"spike_word{j}" for j in range(-(-run_steps // WORD_STEPS))]


def train_words(run_steps: int):
    """Time-multiplexed runs: the equations and reset code of a hidden layer's spike train within a round, one
    bit per step: a spike in step ``s`` of the round adds ``2**(s - 48 j)`` to word ``j = s // 48``. The words
    return to 0 with every other variable at a round's start, after the StateMonitor ``<layer>_trains`` has
    recorded them: 8 bytes per neuron, round and 48 steps, where a SpikeMonitor writes 12 bytes per spike (and
    grows its arrays spike by spike)."""
    names = word_names(run_steps)
    step = f"(t_in_timesteps % {run_steps})"
    equations = "".join(f"\n{name} : 1  # bit s: a spike in step {WORD_STEPS * j} + s of this round\n"
                        for j, name in enumerate(names))
    if len(names) == 1:
        return equations, f"\nspike_word0 += 2.0**{step}"
    code = ""
    for j, name in enumerate(names):
        inside = f"int({step} >= {WORD_STEPS * j} and {step} < {WORD_STEPS * (j + 1)})"
        code += f"\n{name} += {inside} * 2.0**(({step} - {WORD_STEPS * j}) * {inside})"  # 2**0 outside: no overflow
    return equations, code


def _population(snn, k, n_copies, clock, threshold_order, round_clock=None, seed=0):
    """The NeuronGroup of population ``k`` with its parameters and initial state set.

    Its model (``snn.model_of(k)``) gives the strings and values; the builder adds only
    ``step`` (when the strings use it), the image index of stochastic models and, with a
    ``round_clock``, the per-round spike count and the return to the initial state at the
    start of every round. Stochastic models get their random streams from ``seed``.
    """
    from brian2 import NeuronGroup

    model, layer = snn.model_of(k), snn.layers[k]
    n = layer.size * n_copies
    values = model.brian2_values(layer, k, snn)
    if layer.spiking:
        equations, threshold, reset, method = model.equations, model.threshold, model.reset_code, model.method
        keys = model.random_keys(seed, k, layer.size)
        if keys is not None:
            equations += _image_index_equations(snn, n_copies, round_clock is not None)
            values.update(rng_key=keys, image_base=0)
    else:
        equations, threshold, reset, method = model.output_equations, None, None, model.method
    if snn.delays is not None:  # own drive and threshold in the population's window only (conversion/delays.py)
        equations = equations.replace(model.drive_term, f"{model.drive_term} * int(in_window)")
        start = snn.latencies[k]
        equations += (f"\nin_window = step >= {start} and step < {start + snn.timesteps} : boolean  # own drive "
                      "on, threshold checked\n")
        if threshold:
            threshold = f"({threshold}) and in_window"
    equations += _step_equation(snn, model, (equations, threshold, reset), round_clock)
    start_values, round_code = {}, ""
    if round_clock is not None:
        if layer.spiking:  # counted per round, read by the StateMonitor ``<layer>_rounds``
            equations += "\nspike_count : integer  # spikes in this round\n"
            reset += "\nspike_count += 1"
        if layer.spiking and layer is not snn.output_layer:  # the round's train, read by ``<layer>_trains``
            words, code = train_words(snn.run_steps)
            equations += words
            reset += code
        equations, round_code, start_values = _round_reset(equations, values)
    refractory = model.brian2_refractory if layer.spiking else False
    if round_code and refractory is not False:
        # a spike of the previous round leaves no refractoriness; first, because Brian2 leaves a variable
        # flagged (unless refractory) unchanged on refractory neurons, in these statements too
        round_code = "lastspike = -1e4 * second\nnot_refractory = True\n" + round_code
    group = NeuronGroup(n, equations, threshold=threshold, reset=reset, method=method, clock=clock, name=layer.name,
                        namespace=dict(model.namespace), refractory=refractory)
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


def _connect(syn, matrix, n_copies, when, order, scale=None, delay_steps=None, dt=None):
    syn.pre.when = when
    syn.pre.order = order
    i, j, w = replicate_indices(matrix, n_copies)
    syn.connect(i=i, j=j)
    if "w" in syn.variables:
        syn.w = w if scale is None else w * scale[i % len(scale)]
    if delay_steps is not None:  # given in the order of matrix.tocoo(); the synapses are in presynaptic order
        syn.delay = np.tile(np.asarray(delay_steps)[presynaptic_order(matrix)], n_copies) * dt
    return syn


def _pathway(snn, k, group, pre, matrix, n_copies, clock, input_orders, round_clock=None, delay_steps=None,
             series=False):
    """The Synapses from ``pre`` (another population's group, or the input group) into population ``k``'s ``group``,
    with the synapse model and ``on_pre`` of population ``k``'s model."""
    from brian2 import Synapses

    model = snn.model_of(k)
    name = f"{pre.name}_to_{group.name}"
    if pre.name == "input" and series:
        # a time series: each step's frame adds w * x to the membrane (after the state update, like spikes)
        syn = Synapses(pre, group, "w : 1 (constant)", on_pre="v_post += w * ann_input_pre", clock=pre.clock,
                       name=name)
        return _connect(syn, matrix, n_copies, "thresholds", input_orders[1])
    if pre.name == "input":
        syn = Synapses(pre, group, model.input_synapse_model, on_pre=model.input_on_pre, clock=pre.clock, name=name)
        return _connect(syn, matrix, n_copies, model.input_when, input_orders[1])
    syn = Synapses(pre, group, model.synapse_model, on_pre=model.on_pre_into(snn.layers[k].spiking), clock=clock,
                   name=name)
    if round_clock is not None:
        _, round_code, _ = _round_reset(model.synapse_model, {})
        if round_code:  # synaptic state (the relay's counters) starts from 0 in every round
            syn.run_regularly(round_code, clock=round_clock, when="start", order=1, name=f"{name}_next_round")
    return _connect(syn, matrix, n_copies, "thresholds", 2 * k - 1, delay_steps=delay_steps, dt=clock.dt)


def build_network(snn, n_copies: int, record_spikes=True, clock=None, rounds: int = 1, seed: int = 0,
                  series: bool = False):
    """A ``brian2.Network`` with ``n_copies`` replicated copies of ``snn`` (see module docstring).

    All objects share ``clock`` (default: a new ``Clock(dt=snn.dt, name="neuroconv_clock")``).
    With ``rounds > 1`` the network is time-multiplexed: it simulates ``rounds`` inferences of
    ``n_copies`` images one after the other (round ``r`` in steps ``r*T ... (r+1)*T - 1``, its
    images from the ``TimedArray`` ``neuroconv_images``); every group returns to its initial
    state when a round starts, and a ``StateMonitor`` ``<layer>_rounds`` keeps each spiking
    layer's ``spike_count`` (and the output's membrane) as each round ends; spike monitors
    exist only for the hidden layers ``record_spikes`` names (True: all; a tuple of hidden layer indices:
    those; :func:`neuroconv.simulation.recording.records`) and for a spiking output. Run it for
    ``(rounds * T + 1) * dt``: the last step only records the last round's state. ``seed``:
    the random streams of stochastic models. ``series``: the input group takes a new frame every step
    (``x`` set by the caller; see ``run.run_runtime``).
    """
    from brian2 import Clock, Network, SpikeMonitor, StateMonitor

    from neuroconv.simulation.recording import records

    clock = Clock(dt=snn.dt, name="neuroconv_clock") if clock is None else clock
    round_clock = None
    if rounds > 1 and snn.delays is not None:
        from neuroconv.errors import NeuroconvError

        raise NeuroconvError("time-multiplexed runs (rounds > 1) cannot hold spikes in flight between rounds: a "
                             "network with delays runs one batch per binary run (rounds=1).")
    if rounds > 1:  # one clock for everything done once per round (one object: stable generated code)
        round_clock = Clock(dt=snn.run_steps * clock.dt, name="neuroconv_round_clock")
    if series:
        inp, input_orders = _series_input(snn, n_copies, clock)
    else:
        inp, input_orders = _input_objects(snn, n_copies, clock, round_clock, rounds)
    objects = [inp]
    groups = {-1: inp}
    for k, layer in enumerate(snn.layers):
        group = _population(snn, k, n_copies, clock, threshold_order=2 * k, round_clock=round_clock, seed=seed)
        objects.append(group)
        delays = snn.delay_steps[k] if snn.delays is not None else [None] * len(layer.sources)
        for source, matrix, steps in zip(layer.sources, layer.pathways[0], delays):
            objects.append(_pathway(snn, k, group, groups[source], matrix, n_copies, clock, input_orders, round_clock,
                                    delay_steps=steps, series=series))
        if round_clock is not None:
            # at a round's first step, before the reset: the state the previous round ended with
            record = "spike_count" if layer.spiking else ("v" if layer is snn.output_layer else None)
            if record:
                objects.append(StateMonitor(group, record, record=True, clock=round_clock, when="start", order=-1,
                                            name=f"{layer.name}_rounds"))
        if round_clock is not None and layer.spiking and layer is not snn.output_layer:
            if records(record_spikes, k):  # the trains as words, recorded as each round ends
                objects.append(StateMonitor(group, word_names(snn.run_steps), record=True, clock=round_clock,
                                            when="start", order=-1, name=f"{layer.name}_trains"))
        elif layer.spiking and (records(record_spikes, k) or layer is snn.output_layer or round_clock is None):
            # the output's spikes are its readout: always recorded
            record = layer is snn.output_layer or records(record_spikes, k)
            objects.append(SpikeMonitor(group, record=record, when="end", name=f"{layer.name}_spikes"))
        groups[k] = group
    return Network(*objects, name="neuroconv_network")
