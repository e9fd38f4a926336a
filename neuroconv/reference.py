"""The numpy reference simulator: the discrete-time semantics of neuroconv, vectorised over the batch.

It shares no code with the Brian2 path beyond the network description: the drive of
each population comes from the ANN's own layer ``forward`` functions (not the synaptic
index arrays), and the neuron update from the model's ``reference_step``. Per timestep,
layers are processed in order and a spike reaches the next layer in the same step.
"""

from __future__ import annotations

import numpy as np

from .result import LayerSpikes

__all__ = ["simulate", "readouts_over_time"]


def simulate(snn, x_flat, record_spikes=True, record_margin=False, progress_bar=None, seed=None, snapshots=None,
             image_offset=0):
    """Run ``snn`` on flattened inputs ``(batch, n_in)``.

    Stochastic models (TPP) draw counter-based uniforms from ``seed`` (None: a fresh one) and
    the images' positions ``image_offset + 0 .. batch-1`` in the run's input, as Brian2 does.

    Returns ``(output, counts, spikes, output_counts, margins)``; see SimulationResult.
    ``snapshots`` (IF only): a dict whose keys are step counts ``t <= T``; each is filled
    with the readout after the first ``t`` steps (what a run of length ``t`` returns).
    """
    from neuroconv.equations import TPP, OneSpike

    if isinstance(snn.neuron, OneSpike):
        return _simulate_one_spike(snn, x_flat, record_spikes, record_margin, progress_bar)
    if isinstance(snn.neuron, TPP):
        from neuroconv.equations._random import random_seed

        return _simulate_tpp(snn, x_flat, record_spikes, progress_bar, random_seed() if seed is None else seed,
                             image_offset)
    model = snn.neuron
    batch = x_flat.shape[0]
    T = snn.timesteps
    layers = snn.layers
    v = [np.tile(model.initial_v(l.theta), (batch, 1)) if l.spiking else np.zeros((batch, l.size)) for l in layers]
    counts = [np.zeros((batch, l.size), dtype=np.int64) for l in layers]
    margins = [np.full((batch, l.size), np.inf) for l in layers] if record_margin else None
    events = [[] for _ in layers]
    sent = [None] * len(layers)  # amplitude of each population's spikes this step (s * theta)
    # populations fed by the analog input alone get the same drive every step (a constant current)
    constant = {k: l.drive(x_flat) for k, l in enumerate(layers) if l.sources == (-1,) and l.kind == "neuron"}
    for t in range(T):
        for k, layer in enumerate(layers):
            if layer.kind == "maxpool":
                spikes = _maxpool_step(layer, counts[layer.sources[0]], counts[k])
            else:
                drive = constant[k] if k in constant else layer.drive(*[x_flat if s < 0 else sent[s]
                                                                        for s in layer.sources])
                if not layer.spiking:
                    v[k] += drive
                    continue
                if record_margin:
                    np.minimum(margins[k], np.abs(v[k] + drive - layer.theta), out=margins[k])
                spikes = model.reference_step(v[k], drive, layer.theta)
            counts[k] += spikes
            if record_spikes:
                image, neuron = np.nonzero(spikes)
                events[k].append((image, neuron, np.full(image.shape, t, dtype=np.int64)))
            sent[k] = spikes * layer.theta
        if snapshots is not None and t + 1 in snapshots:
            snapshots[t + 1] = _if_readout(layers[-1], counts[-1], v[-1], t + 1)
        if progress_bar is not None:
            progress_bar.update(batch / T)
    out = layers[-1]
    output_counts = counts[-1] if out.spiking else None
    output = _if_readout(out, counts[-1], v[-1], T)
    hidden = range(len(layers) - 1)
    spikes = None
    if record_spikes:
        spikes = []
        for k in hidden:
            parts = events[k] or [(np.zeros(0, np.int64),) * 3]
            spikes.append(LayerSpikes.from_unsorted(*(np.concatenate([p[f] for p in parts]) for f in range(3))))
    margin_list = None
    if record_margin:  # every spiking population's: the hidden ones, then a spiking output
        margin_list = [margins[k] for k in hidden] + ([margins[-1]] if out.spiking else [])
    return output, [counts[k] for k in hidden], spikes, output_counts, margin_list


def _if_readout(out, counts, v, steps):
    """IF readout after ``steps`` steps: ``count * theta / steps`` (spiking output) or ``v / steps``."""
    return counts * out.theta / steps if out.spiking else v / steps


def readouts_over_time(snn, x, steps, batch_size: int = 500, progress: bool = True) -> dict:
    """IF networks: the readout after each of ``steps`` timesteps, from one reference run of
    ``max(steps)`` steps (a run is causal: its first ``t`` steps are the run of length ``t``).

    Returns ``{t: output (n, n_out)}``; ``argmax`` gives the predictions at ``t``.
    """
    from tqdm.auto import tqdm

    from neuroconv.equations import IF

    from .errors import NeuroconvError

    if not isinstance(snn.neuron, IF):
        raise NeuroconvError("readouts_over_time reads IF networks; One-Spike and TPP runs are not prefixes.")
    steps = sorted({int(t) for t in steps})
    if not steps or steps[0] < 1:
        raise NeuroconvError(f"steps must be positive ints, got {steps!r}.")
    snn = snn.with_timesteps(steps[-1])
    x_flat = snn.ann.check_input(x).reshape(len(x), -1)
    parts = {t: [] for t in steps}
    with tqdm(total=len(x_flat), desc=f"reference T<={steps[-1]}", unit="img", disable=not progress) as bar:
        for start in range(0, len(x_flat), batch_size):
            snapshots = dict.fromkeys(steps)
            simulate(snn, x_flat[start:start + batch_size], record_spikes=False, progress_bar=bar, snapshots=snapshots)
            for t in steps:
                parts[t].append(snapshots[t])
    return {t: np.concatenate(parts[t]) for t in steps}


def _maxpool_step(layer, source_counts, counts):
    """A max-pool relay fires when the running maximum of its window's spike counts (so far,
    this step included) exceeds its own count; returns the boolean spikes."""
    pool = layer.graph.layers[layer.node]
    below = layer.graph.shape_of(layer.source_nodes[0])
    running_max = pool.forward(source_counts.reshape((-1,) + below).astype(np.float64))
    return running_max.reshape(counts.shape) > counts


def _simulate_one_spike(snn, x_flat, record_spikes, record_margin, progress_bar):
    """One-Spike, layer by layer: each window sees the decoded spikes of the window before.

    The population's membrane at its window's first step is the ANN pre-activation of the
    decoded values below (``drive``); at step ``k`` it has grown to ``z * base**k`` (one
    multiplication per step, as Brian2 does) and the neuron fires at the first ``k`` with
    ``v >= theta``, once. The decoded value ``M * base**-k`` (0 without a spike) feeds the
    next population; the membrane readout is the output's pre-activation itself.
    """
    model = snn.neuron
    batch = x_flat.shape[0]
    below = x_flat
    counts, events, margins, out_counts = [], [], [], None
    for index, layer in enumerate(snn.layers):
        v = layer.drive(below)
        if not layer.spiking:
            output = v
            break
        theta = model.threshold_value(layer.theta)
        phase = np.full(v.shape, -1, dtype=np.int64)
        margin = np.full(v.shape, np.inf)
        for k in range(model.window):
            if k:
                v = model.base * v
            waiting = phase < 0
            if record_margin:
                np.minimum(margin, np.where(waiting, np.abs(v - theta), np.inf), out=margin)
            phase[waiting & (v >= theta)] = k
        fired = phase >= 0
        start = model.window_start(index)
        if layer is snn.output_layer:
            out_counts = fired.astype(np.int64)
            output = model.decode(phase, layer.theta)
            margins.append(margin)
            break
        counts.append(fired.astype(np.int64))
        margins.append(margin)
        if record_spikes:
            image, neuron = np.nonzero(fired)
            events.append(LayerSpikes.from_unsorted(image, neuron, phase[image, neuron] + start))
        below = model.decode(phase, layer.theta)
    if progress_bar is not None:
        progress_bar.update(batch)
    return output, counts, (events if record_spikes else None), out_counts, (margins if record_margin else None)


def _simulate_tpp(snn, x_flat, record_spikes, progress_bar, seed, image_offset):
    """TPP, layer by layer: accumulate ``V = T * drive`` of the layer below's rates, then the spiking phase.

    ``T * drive(counts * theta / T)`` is the sum of ``w * theta`` over the spikes received
    plus ``T`` steps of bias, what the Brian2 membrane holds when the spiking phase opens.
    """
    model = snn.neuron
    T = model.timesteps
    batch = x_flat.shape[0]
    below = x_flat
    counts, events, out_counts = [], [], None
    images = image_offset + np.arange(batch)
    for index, layer in enumerate(snn.layers):
        potential = T * layer.drive(below)
        if not layer.spiking:
            output = potential / T
            break
        spikes = model.spike_phase(potential, layer.theta, T, model.random_keys(seed, index, layer.size), images,
                                   model.phase_start(index))
        count = spikes.sum(axis=0, dtype=np.int64)
        if layer is snn.output_layer:
            out_counts = count
            output = count * layer.theta / T
            break
        counts.append(count)
        if record_spikes:
            k, image, neuron = np.nonzero(spikes)
            events.append(LayerSpikes.from_unsorted(image, neuron, k + model.phase_start(index)))
        below = count * layer.theta / T
    if progress_bar is not None:
        progress_bar.update(batch)
    return output, counts, (events if record_spikes else None), out_counts, None


def run_population(snn, index, inputs):
    """IF only: population ``index`` alone, driven by the analog input (``index == 0``, ``(batch, n_in)``)
    or by the spike trains of the population below (bool ``(T, batch, n_below)``).

    The same operations in the same order as :func:`simulate`, so feeding each population the
    trains of the one below reproduces the full run exactly. Returns the population's
    trains ``(T, batch, n)`` if it spikes, else the membrane readout.
    """
    snn.require_chain("running one population at a time")
    model, layer, T = snn.neuron, snn.layers[index], snn.timesteps
    if index == 0:
        constant = layer.drive(inputs)
        batch = inputs.shape[0]
    else:
        theta_below = snn.layers[index - 1].theta
        batch = inputs.shape[1]
    v = np.tile(model.initial_v(layer.theta), (batch, 1)) if layer.spiking else np.zeros((batch, layer.size))
    trains = np.zeros((T, batch, layer.size), dtype=bool)
    for t in range(T):
        drive = constant if index == 0 else layer.drive(inputs[t] * theta_below)
        if layer.spiking:
            trains[t] = model.reference_step(v, drive, layer.theta)
        else:
            v += drive
    return trains if layer.spiking else model.readout(snn, v=v)
