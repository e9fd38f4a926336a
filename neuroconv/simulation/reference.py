"""The numpy reference simulator: the discrete-time semantics of neuroconv, vectorised over the batch.

It shares no code with the Brian2 path beyond the network description: the drive of
each population comes from the ANN's own layer ``forward`` functions (not the synaptic
index arrays), and the neuron update from each population's model (``snn.model_of(k)``):
models whose layers work together step all populations once per timestep with
``reference_step`` (a spike reaches the next layer in the same step); pipelined models run
one population's whole window at a time with ``reference_layer``. A model without them
is refused, never replaced by another.
"""

from __future__ import annotations

import numpy as np

from neuroconv.errors import NeuroconvError
from neuroconv.simulation.recording import records, trim
from neuroconv.simulation.result import BatchResult, LayerSpikes

__all__ = ["simulate", "readouts_over_time", "run_population", "run_reference", "default_batch"]


#: Bytes of one float array per population and batch the reference aims at (:func:`default_batch`).
WORKING_BYTES = 2**20


def default_batch(snn, n_images: int) -> int:
    """Images the reference simulates together by default: as many as keep one float64 array of the widest
    population (or input) within :data:`WORKING_BYTES`, so that every step's arrays stay in the processor's
    caches (the batches then run one per core at once). It depends on the network and the number of images
    alone, not on the machine's cores: a batch's size can change a matrix product's summation order, and a run
    gives the same numbers everywhere. Measured on the Fashion-MNIST CNN (12,544-neuron first layer, T = 32,
    ``benchmarks/bench_speed.py --reference-batches``): batches of 10 to 64 images ran 1.2-2x faster than
    batches of 256 and 4x faster than one batch of 2048, whose step temporaries are each a fresh, page-faulted
    allocation."""
    widest = max([l.size for l in snn.layers] + [int(np.prod(snn.ann.input_shape))])
    return int(max(1, min(n_images, WORKING_BYTES // (8 * widest))))


def check_runnable(snn) -> None:
    """Refuse, before anything runs, a network whose model has no reference semantics."""
    for k in range(len(snn.layers)):
        model = snn.model_of(k)
        if snn.layers[k].spiking and not model.has_reference:
            raise NeuroconvError(model._no_reference())


def simulate(snn, x_flat, record_spikes=True, record_margin=False, progress_bar=None, seed=None, snapshots=None,
             image_offset=0, last=None) -> BatchResult:
    """Run ``snn`` on flattened inputs ``(batch, n_in)``; images are numbered from 0 in the result.

    Stochastic models draw counter-based uniforms from ``seed`` and the images' positions
    ``image_offset + 0 .. batch-1`` in the run's input, as Brian2 does. ``snapshots``
    (models whose runs are prefixes of longer runs): a dict whose keys are step counts
    ``t <= T``; each is filled with the readout after the first ``t`` steps. ``last``: simulate populations
    ``0 .. last`` only (a population depends on those before it alone); the result then holds their spike
    counts and no output.
    """
    check_runnable(snn)
    if last is not None and not 0 <= last < len(snn.layers):
        raise NeuroconvError(f"last={last!r}: the network has populations 0 .. {len(snn.layers) - 1}.")
    if snn.neuron.pipelined:
        result = _simulate_pipelined(snn, x_flat, record_spikes, record_margin, seed, image_offset, last)
        if progress_bar is not None:
            progress_bar.update(x_flat.shape[0])
        return result
    return _simulate_stepwise(snn, x_flat, record_spikes, record_margin, progress_bar, snapshots, seed, image_offset,
                              last)


def _seeded(snn, seed):
    """``seed``, or a fresh one when a population is stochastic and none was given."""
    if seed is None and any(snn.model_of(k).stochastic for k in range(len(snn.layers))):
        from neuroconv.equations._random import random_seed

        return random_seed()
    return seed


def _simulate_stepwise(snn, x_flat, record_spikes, record_margin, progress_bar, snapshots, seed=None,
                       image_offset=0, last=None):
    """All populations advance together, one timestep at a time, in order (``last``: up to that one)."""
    batch = x_flat.shape[0]
    T = snn.run_steps
    layers = snn.layers if last is None else snn.layers[:last + 1]
    models = [snn.model_of(k) for k in range(len(layers))]
    seed = _seeded(snn, seed)
    images = image_offset + np.arange(batch)
    pops = [m.reference_population(l, k, snn, batch, seed=seed, images=images) if l.spiking else None
            for k, (m, l) in enumerate(zip(models, layers))]
    v = [p.v if p is not None else np.zeros((batch, l.size)) for p, l in zip(pops, layers)]
    counts = [np.zeros((batch, l.size), dtype=np.int64) for l in layers]
    margins = [np.full((batch, l.size), np.inf) for l in layers] if record_margin else None
    events = [[] for _ in layers]
    keep = [k < len(layers) - 1 and records(record_spikes, k) for k in range(len(layers))]
    sent = [None] * len(snn.layers)  # amplitude of each population's spikes this step (s * theta)
    # populations fed by the analog input alone get the same drive every step (a constant current)
    series = x_flat.ndim == 3  # (batch, steps, n_in): one input frame per step
    constant = {} if series else {k: l.drive(x_flat) for k, l in enumerate(layers)
                                  if l.sources == (-1,) and not models[k].reads_counts}
    delayed = _Delayed(snn, x_flat) if snn.delays is not None else None
    for t in range(T):
        if delayed is not None:
            delayed.advance(t, sent)
        for k, (layer, model) in enumerate(zip(layers, models)):
            if delayed is not None:
                drive = delayed.drive(k, t, sent)
            elif model.reads_counts:
                (source,) = layer.sources
                drive = model.reference_drive(layer, counts[source])
            else:
                frame = x_flat[:, t] if series else x_flat
                drive = constant[k] if k in constant else layer.drive(*[frame if s < 0 else sent[s]
                                                                        for s in layer.sources])
            if not layer.spiking:
                model.reference_output_step(v[k], drive, layer, snn)
                continue
            fire = delayed is None or delayed.in_window(k, t)
            margin = pops[k].margin(drive, t) if record_margin and fire else None
            if margin is not None:
                np.minimum(margins[k], margin, out=margins[k])
            spikes = pops[k].step(drive, t) if fire else pops[k].step(drive, t, fire=False)
            counts[k] += spikes
            if keep[k]:  # one bit per neuron and step (LayerSpikes.from_bits)
                events[k].append(np.packbits(spikes if spikes.dtype == bool else spikes.astype(bool), axis=1))
            sent[k] = spikes * layer.theta
        if snapshots is not None and t + 1 in snapshots:
            snapshots[t + 1] = snn.neuron.readout(snn, v=v[-1], counts=counts[-1], timesteps=t + 1)
    if last is not None:  # a truncated run: the populations' counts, no readout
        if progress_bar is not None:
            progress_bar.update(batch)
        return BatchResult(None, counts)
    out = layers[-1]
    hidden = range(len(layers) - 1)
    spikes = None
    if any(keep):
        spikes = [LayerSpikes.from_bits(np.stack(events[k], axis=1), layers[k].size) if keep[k] else None
                  for k in hidden]  # T >= 1 steps
    margin_list = None
    if record_margin:  # every spiking population's: the hidden ones, then a spiking output
        margin_list = [margins[k] for k in hidden] + ([margins[-1]] if out.spiking else [])
    if progress_bar is not None:
        progress_bar.update(batch)
    output = snn.neuron.readout(snn, v=v[-1], counts=counts[-1])
    return BatchResult(output, [counts[k] for k in hidden], spikes, counts[-1] if out.spiking else None, margin_list)


class _Delayed:
    """Drives of a network with synaptic delays (:mod:`neuroconv.conversion.delays`), from its synapse matrices:
    the spikes of each source as they were ``d`` steps ago, through the synapses of delay ``d``, plus the
    population's own drive (input current and bias) in its window ``[o_k, o_k + T)``, the only steps in
    which it can fire."""

    def __init__(self, snn, x_flat):
        self.snn, self.T, self.o = snn, snn.timesteps, snn.latencies
        self.paths, self.own = [], []
        depth = {}
        for k, layer in enumerate(snn.layers):
            own = np.broadcast_to(layer.bias, (x_flat.shape[0], layer.size)).astype(np.float64)
            paths = []
            for source, matrix, steps in zip(layer.sources, layer.pathways[0], snn.delay_steps[k]):
                if source < 0:
                    own = own + (matrix @ x_flat.T).T
                    continue
                coo = matrix.tocoo()
                for d in np.unique(steps):
                    keep = steps == d
                    part = type(matrix)((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape)
                    paths.append((source, int(d), part.tocsr()))
                    depth[source] = max(depth.get(source, 0), int(d))
            self.paths.append(paths)
            self.own.append(own)
        self.history = {s: [None] * (d + 1) for s, d in depth.items()}  # sent amplitudes of the last d+1 steps

    def in_window(self, k, t) -> bool:
        """Whether step ``t`` is in population ``k``'s window (its own drive on, its threshold checked)."""
        return self.o[k] <= t < self.o[k] + self.T

    def advance(self, t, sent):
        """Called at the start of step ``t`` with the amplitudes sent in step ``t - 1``."""
        if t == 0:
            return
        for s, ring in self.history.items():
            ring[(t - 1) % len(ring)] = sent[s]

    def drive(self, k, t, sent):
        """Population ``k``'s whole input in step ``t`` (its sources below ``k`` have already spiked in ``t``:
        ``sent`` holds this step's amplitudes)."""
        total = self.own[k] if self.in_window(k, t) else np.zeros_like(self.own[k])
        for source, d, matrix in self.paths[k]:
            if t - d < 0:
                continue
            amp = sent[source] if d == 0 else self.history[source][(t - d) % len(self.history[source])]
            if amp is not None:
                total = total + (matrix @ amp.T).T
        return total


def _simulate_pipelined(snn, x_flat, record_spikes, record_margin, seed, image_offset, last=None):
    """Population by population: each window sees the values the population below sent (``last``: up to
    that one; then its counts and no output)."""
    model, T = snn.neuron, snn.timesteps
    if model.stochastic and seed is None:
        from neuroconv.equations._random import random_seed

        seed = random_seed()
    images = image_offset + np.arange(x_flat.shape[0])
    below = x_flat
    counts, events, margins, out_counts = [], [], [], None
    for index, layer in enumerate(snn.layers):
        drive = layer.drive(below)
        if not layer.spiking:  # the membrane readout: the output's pre-activation of the values sent
            output = drive
            break
        spikes, count, value, margin = model.reference_layer(layer, index, drive, T, seed=seed, images=images,
                                                             record_margin=record_margin)
        margins.append(margin)
        if index == last:
            counts.append(count)
            return BatchResult(None, counts)
        if layer is snn.output_layer:
            out_counts, output = count, value
            break
        counts.append(count)
        events.append(LayerSpikes.from_unsorted(*spikes) if records(record_spikes, index) else None)
        below = value
    return BatchResult(output, counts, events if any(e is not None for e in events) else None, out_counts,
                       margins if record_margin else None)


def readouts_over_time(snn, x, steps, batch_size: int = 500, progress: bool = True) -> dict:
    """The readout after each of ``steps`` timesteps, from one reference run of ``max(steps)`` steps
    (models whose layers work together: a run is causal, its first ``t`` steps are the run of length ``t``).

    Returns ``{t: output (n, n_out)}``; ``argmax`` gives the predictions at ``t``.
    """
    from tqdm.auto import tqdm

    if snn.delays is not None:
        raise NeuroconvError("readouts_over_time reads runs whose first t steps are the run of length t; with "
                             "synaptic delays each population's window starts later, so run each T separately.")
    if snn.neuron.pipelined:
        raise NeuroconvError(f"readouts_over_time reads networks whose layers work together (such as IF); "
                             f"{type(snn.neuron).__name__} layers work one window apart, so shorter runs are not "
                             "prefixes of longer ones.")
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


def run_population(snn, index, inputs, seed=None):
    """Models whose layers work together (IF): population ``index`` alone, driven by the analog input (``index == 0``, ``(batch, n_in)``)
    or by the spike trains of the population below (bool ``(T, batch, n_below)``).

    The same operations in the same order as :func:`simulate`, so feeding each population the
    trains of the one below reproduces the full run exactly. Returns the population's
    trains ``(T, batch, n)`` if it spikes, else the membrane readout. ``seed``: noisy models' draws.
    """
    snn.require_chain("running one population at a time")
    check_runnable(snn)
    model, layer, T = snn.neuron, snn.layers[index], snn.run_steps
    if index == 0:
        constant = layer.drive(inputs)
        batch = inputs.shape[0]
    else:
        theta_below = snn.layers[index - 1].theta
        batch = inputs.shape[1]
    if layer.spiking:
        pop = model.reference_population(layer, index, snn, batch, seed=_seeded(snn, seed), images=np.arange(batch))
        v = pop.v
    else:
        v = np.zeros((batch, layer.size))
    trains = np.zeros((T, batch, layer.size), dtype=bool)
    for t in range(T):
        drive = constant if index == 0 else layer.drive(inputs[t] * theta_below)
        if layer.spiking:
            trains[t] = pop.step(drive, t)
        else:
            v += drive
    return trains if layer.spiking else model.readout(snn, v=v)


def run_reference(snn, x_flat, n_copies, rounds, record_spikes, bar, seed=None, record_margin=False, **_):
    """The reference as a device: ``n_copies`` images at a time, one batch per core at once (threads, BLAS at one
    thread each: numpy releases the interpreter in its loops, and a batch's arrays stay in its core's cache);
    returns ``(BatchResult, build_time=0)``. The batches are independent, so the result is the serial one."""
    starts = range(0, x_flat.shape[0], n_copies)

    def one(start):
        stop = min(start + n_copies, x_flat.shape[0])
        return trim(record_spikes, start, stop,
                    simulate(snn, x_flat[start:stop], record_spikes, record_margin, bar, seed, image_offset=start))

    from neuroconv._checks import usable_cores

    workers = min(len(starts), usable_cores())
    if workers < 2:
        return BatchResult.merge([(start, one(start)) for start in starts]), 0.0
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    pool = ThreadPoolExecutor(workers, thread_name_prefix="neuroconv-reference")
    try:
        with threadpool_limits(1):
            futures = [(start, pool.submit(one, start)) for start in starts]
            parts = [(start, future.result()) for start, future in futures]
    except BaseException:  # an error or Ctrl-C: no batch starts after it
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return BatchResult.merge(parts), 0.0
