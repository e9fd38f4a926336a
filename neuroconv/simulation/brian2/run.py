"""Brian2 runtime mode (numpy or Cython code generation): build once per call, restore and re-run per batch,
and read the results back from the monitors (also for the standalone devices)."""

from __future__ import annotations

import contextlib

import numpy as np

from neuroconv.simulation.brian2.build import (WORD_STEPS, _connect, _input_objects, _population, build_network,
                                              set_image_base, word_names)
from neuroconv.simulation import result as _result
from neuroconv.simulation.result import BatchResult, LayerSpikes, event_blocks, first_spike_steps
from neuroconv.simulation.recording import records, trim

__all__ = ["run_runtime", "run_population", "read_results"]


@contextlib.contextmanager
def _runtime_device(target: str):
    """Brian2's runtime device with code generation ``target`` for the duration, whatever device the user's
    script has set (``set_device('cpp_standalone')`` before ``snn.run(x, device="runtime")`` works: the
    runtime objects are built and run on the runtime device, then the user's device is active again)."""
    from brian2 import get_device, prefs
    from brian2.devices.device import reset_device, runtime_device, set_device

    switch = get_device() is not runtime_device
    if switch:
        set_device(runtime_device)
    previous = prefs.codegen.target
    prefs.codegen.target = target
    try:
        yield
    finally:
        prefs.codegen.target = previous
        if switch:
            reset_device()


def run_runtime(snn, x_flat, n_copies, rounds, record_spikes, progress_bar, seed=0, codegen_target="numpy", **_):
    """Runtime mode: build once for ``n_copies`` images, restore and re-run for each batch; returns
    ``(BatchResult, build_time=0)``.

    ``seed``: the random streams of stochastic models (counter-based ones: the same spikes on every
    device; models from Brian2 strings that call ``rand()`` or use ``xi``: Brian2's generator, seeded).
    """
    from brian2 import seed as brian2_seed

    from brian2 import NetworkOperation

    series = x_flat.ndim == 3  # (images, steps, n_in): a new input frame every step
    if codegen_target == "cython":  # Brian2 compiles each code object once, then loads it from its cache
        progress_bar.set_postfix_str("Brian2 compiles Cython code on first use (minutes), cached after", refresh=True)
    with _runtime_device(codegen_target):
        net = build_network(snn, n_copies, record_spikes, seed=seed, series=series)
        frames = {}
        if series:
            inp = net["input"]

            def next_frame():
                inp.ann_input = frames["now"][int(inp.clock.timestep[:])]

            net.add(NetworkOperation(next_frame, dt=snn.dt, when="start", name="input_next_frame"))
        net.store("initial")
        if seed is not None:
            brian2_seed(seed % 2**32)
        parts = []
        for start, stop in _chunks(x_flat.shape[0], n_copies):
            net.restore("initial")
            set_image_base(snn, net, start)
            if series:  # (steps, copies * n_in)
                frames["now"] = np.stack([_padded_input(x_flat[:, t], start, stop, n_copies)
                                          for t in range(x_flat.shape[1])])
            else:
                net["input"].ann_input = _padded_input(x_flat, start, stop, n_copies)
            net.run(snn.run_steps * snn.dt, namespace={})
            part = read_results(snn, net, stop - start, n_copies, record_spikes)
            parts.append((start, trim(record_spikes, start, stop, part)))
            if codegen_target == "cython" and start == 0:
                progress_bar.set_postfix_str("", refresh=False)
            progress_bar.update(stop - start)
    return BatchResult.merge(parts), 0.0


def _chunks(n: int, batch: int):
    return [(s, min(s + batch, n)) for s in range(0, n, batch)]


def _padded_input(x_flat: np.ndarray, start: int, stop: int, n_copies: int) -> np.ndarray:
    chunk = x_flat[start:stop]
    if chunk.shape[0] < n_copies:
        chunk = np.concatenate([chunk, np.zeros((n_copies - chunk.shape[0], chunk.shape[1]))])
    return chunk.reshape(-1)


def _per_round(values: np.ndarray, n_copies: int, size: int, rounds: int, n_images: int) -> np.ndarray:
    """A ``<layer>_rounds`` StateMonitor's records (copies * size, rounds + 1) -> (images, size); the first
    record is from before round 0, image ``r * n_copies + c`` is copy ``c`` of round ``r``."""
    values = values[:, 1:].reshape(n_copies, size, rounds).transpose(2, 0, 1)
    return values.reshape(rounds * n_copies, size)[:n_images]


def _monitor_bits(i, times, dt: float, n_copies: int, size: int, T: int, n_images: int) -> LayerSpikes:
    """A spike monitor's events (index ``i`` over ``n_copies`` copies of ``size`` neurons, ``times`` in seconds,
    steps of ``dt``; round ``r`` is steps ``r*T .. r*T + T-1``, image ``r * n_copies + copy``) as bits of the
    first ``n_images`` images. Whole rounds at a time (:func:`~neuroconv.simulation.result.event_blocks`): each
    event sets ``step * n_copies * size + i`` in a boolean ``(steps, copies, neurons)`` array, which is reordered
    to ``(images, steps, neurons)`` and packed; no division, and no sorting (a monitor writes its events in time
    order, so these positions come sorted). The positions are computed in place in one float array (whole
    numbers below 2**53: exact), a monitor's events being 12 bytes each and many."""
    width, row = -(-size // 8), n_copies * size
    rounds = -(-n_images // n_copies)
    bits = np.empty((rounds * n_copies, T, width), dtype=np.uint8)
    flat = np.multiply(times, 1.0 / dt, dtype=np.float64)
    np.rint(flat, out=flat)  # the step
    flat *= row
    flat += i
    flat = flat.astype(np.int64)
    if len(flat) > 1 and np.any(flat[1:] < flat[:-1]):  # not in time order (never seen): sort
        flat = np.sort(flat)
    per_round = T * row  # the step after the last round lies past the rounds: ignored
    for start, trains in event_blocks(flat, rounds * per_round, per_round):
        first = start // per_round * n_copies
        trains = trains.reshape(-1, T, n_copies, size).transpose(0, 2, 1, 3)
        bits[first:first + trains.shape[0] * n_copies] = np.packbits(trains, axis=-1).reshape(-1, T, width)
    return LayerSpikes.from_bits(bits[:n_images], size)


def _transpose8(x):
    """Each uint64 of ``x`` as an 8 x 8 bit matrix (bit ``8 r + c``: row ``r``, column ``c``), transposed in place
    (Hacker's Delight, 7-3)."""
    for shift, mask in ((7, 0x00AA00AA00AA00AA), (14, 0x0000CCCC0000CCCC), (28, 0x00000000F0F0F0F0)):
        t = (x ^ (x >> np.uint64(shift))) & np.uint64(mask)
        x ^= t ^ (t << np.uint64(shift))
    return x


def _word_bits(words, n_copies: int, size: int, T: int, rounds: int, n_images: int) -> LayerSpikes:
    """The bits of the first ``n_images`` images from a time-multiplexed layer's train words
    (:func:`neuroconv.simulation.brian2.build.train_words`; each ``(n_copies * size, rounds + 1)`` as its
    StateMonitor holds them, record ``r + 1`` ending round ``r``), in blocks of rounds. A word's bytes are 8
    steps each; the bytes of 8 neurons make a uint64, an 8 x 8 bit matrix (neurons x steps) whose transpose
    (:func:`_transpose8`) is the 8 neurons' bits (first neuron in the high bit, as ``np.packbits``) at 8 steps."""
    width, n_bytes = -(-size // 8), -(-T // 8)
    bits = np.empty((rounds * n_copies, T, width), dtype=np.uint8)
    per_round = len(words) * n_copies * width * 8 * 8  # bytes of words a round takes as uint64
    block = max(1, _result._EVENT_BLOCK // per_round)
    for first in range(0, rounds, block):
        last = min(first + block, rounds)
        r = last - first
        steps = np.zeros((r, n_copies, width * 8, len(words), 8), dtype=np.uint8)  # neurons padded to bytes
        for j, word in enumerate(words):  # records run along the file: (rounds + 1, neurons) is its C order
            w = np.ascontiguousarray(np.asarray(word).T[1 + first:1 + last], dtype="<u8").reshape(r, n_copies, size)
            steps[:, :, :size, j] = w.view(np.uint8).reshape(r, n_copies, size, 8)
        steps = steps[..., :WORD_STEPS // 8].reshape(r, n_copies, width * 8, -1)[..., :n_bytes]
        grouped = steps.reshape(r, n_copies, width, 8, n_bytes)[:, :, :, ::-1]  # in a byte, neuron 0 is bit 7
        x = np.ascontiguousarray(grouped.transpose(0, 1, 2, 4, 3)).view("<u8")[..., 0]  # (r, copies, width, bytes)
        out = _transpose8(x).view(np.uint8).reshape(r, n_copies, width, n_bytes * 8)  # step 8 b + i in byte i
        bits[first * n_copies:last * n_copies] = out.transpose(0, 1, 3, 2)[:, :, :T].reshape(-1, T, width)
    return LayerSpikes.from_bits(bits[:n_images], size)


def read_results(snn, net, n_images: int, n_copies: int, record_spikes: bool, rounds: int = 1,
                 multiplexed: bool | None = None) -> BatchResult:
    """Counts, spikes and readout of the first ``n_images`` images after a run of ``rounds`` rounds (images
    numbered from 0). ``multiplexed``: the network was built for rounds (default: ``rounds > 1``), so its
    counts are in the per-round monitors even after a run of one round."""
    multiplexed = rounds > 1 if multiplexed is None else multiplexed
    counts, spikes = [], []
    dt, T = float(snn.dt), snn.run_steps
    out_counts = first_step = v = None
    for k, layer in enumerate(snn.layers):
        if not layer.spiking:
            continue
        is_output = layer is snn.output_layer
        if not multiplexed:
            count = np.asarray(net[f"{layer.name}_spikes"].count[:], dtype=np.int64)
            count = count.reshape(n_copies, layer.size)[:n_images]
        else:
            count = np.asarray(net[f"{layer.name}_rounds"].spike_count[:], dtype=np.int64)
            count = _per_round(count, n_copies, layer.size, rounds, n_images)
        if is_output and layer.spiking:  # a spike-count readout: the output's first spikes
            mon = net[f"{layer.name}_spikes"]
            copy, neuron = np.divmod(np.asarray(mon.i[:], dtype=np.int64), layer.size)
            rnd, step = np.divmod(np.rint(np.asarray(mon.t_[:]) / dt).astype(np.int64), T)
            image = rnd * n_copies + copy
            keep = image < n_images  # drops padding copies and the step after the last round
            first_step = first_spike_steps(image[keep], neuron[keep], step[keep], n_images, layer.size)
        elif records(record_spikes, k) and multiplexed:
            mon = net[f"{layer.name}_trains"]
            words = [getattr(mon, name) for name in word_names(T)]
            spikes.append(_word_bits(words, n_copies, layer.size, T, rounds, n_images))
        elif records(record_spikes, k):
            mon = net[f"{layer.name}_spikes"]
            spikes.append(_monitor_bits(mon.i[:], mon.t_[:], dt, n_copies, layer.size, T, n_images))
        elif not is_output:
            spikes.append(None)
        if is_output:
            out_counts = count
        else:
            counts.append(count)
    out = snn.output_layer
    if not out.spiking:
        if not multiplexed:
            v = np.asarray(net[out.name].v[:], dtype=np.float64).reshape(n_copies, out.size)[:n_images]
        else:
            v = _per_round(np.asarray(net[f"{out.name}_rounds"].v[:], dtype=np.float64), n_copies, out.size, rounds,
                           n_images)
    readout = snn.neuron.readout(snn, v=v, counts=out_counts, first_step=first_step)
    return BatchResult(readout, counts, spikes if any(s is not None for s in spikes) else None, out_counts)


def run_population(snn, k, inputs, target="numpy"):
    """Runtime mode, one population at a time: population ``k`` driven by the analog input (``k = 0``,
    ``inputs`` of shape (batch, n_in)) or by given spike trains of population ``k-1`` (``inputs``:
    bool array (T, batch, n_below), replayed by a ``SpikeGeneratorGroup`` whose synapses carry
    ``w * theta_below``, in the step and slot where the full network delivers them).

    Returns the population's spike trains (T, batch, n) for a spiking population, else the readout.
    """
    from brian2 import Clock, Network, SpikeGeneratorGroup, SpikeMonitor, Synapses

    model, layer, T = snn.neuron, snn.layers[k], snn.run_steps
    snn.require_chain("running one population at a time")
    batch = inputs.shape[0] if k == 0 else inputs.shape[1]
    with _runtime_device(target):
        clock = Clock(dt=snn.dt, name="neuroconv_clock")
        group = _population(snn, k, batch, clock, threshold_order=0)
        if k == 0:
            src, orders = _input_objects(snn, batch, clock)
            src.ann_input = inputs.reshape(-1)
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
