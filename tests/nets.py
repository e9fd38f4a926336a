"""Random networks and the equivalence check shared by the tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from neuroconv import ann

#: A membrane within this distance of its threshold may round either way in float64.
TIE_TOLERANCE = 1e-9


@st.composite
def dense_nets(draw):
    """A random MLP: 1-3 hidden ReLU layers, widths 1-12."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in = draw(st.integers(1, 10))
    widths = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3))
    layers, n = [], n_in
    for w in widths:
        layers += [ann.Dense(rng.normal(0, 1.0 / np.sqrt(n), (w, n)), rng.normal(0, 0.2, w)), ann.ReLU()]
        n = w
    n_out = draw(st.integers(2, 5))
    layers.append(ann.Dense(rng.normal(0, 1.0 / np.sqrt(n), (n_out, n)), rng.normal(0, 0.1, n_out)))
    return ann.Sequential(layers, input_shape=(n_in,)), rng


@st.composite
def conv_nets(draw):
    """A random CNN: Conv2d (stride/padding, groups 1 or 2) -> ReLU [-> AvgPool2d] [-> Conv2d -> ReLU] -> Flatten -> Dense."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c = draw(st.integers(1, 2))
    h, w = draw(st.integers(4, 7)), draw(st.integers(4, 7))
    shape = (c, h, w)
    layers = []
    k = draw(st.integers(1, 3))
    oc = draw(st.integers(1, 4))
    groups = draw(st.sampled_from([g for g in (1, 2) if c % g == 0 and oc % g == 0]))  # 2: depthwise when c = oc
    layers += [ann.Conv2d(rng.normal(0, 1.0 / np.sqrt(c * k * k / groups), (oc, c // groups, k, k)),
                          rng.normal(0, 0.1, oc), stride=draw(st.integers(1, 2)), padding=draw(st.integers(0, 1)),
                          groups=groups), ann.ReLU()]
    probe = ann.Sequential(layers, input_shape=shape)
    if draw(st.booleans()) and min(probe.output_shape[1:]) >= 2:
        layers.append(ann.AvgPool2d(2, ceil_mode=draw(st.booleans())))
    if draw(st.booleans()):
        c2 = probe.output_shape[0]
        oc2 = draw(st.integers(1, 3))
        layers += [ann.Conv2d(rng.normal(0, 1.0 / np.sqrt(c2), (oc2, c2, 1, 1)), rng.normal(0, 0.1, oc2)), ann.ReLU()]
    flat = ann.Sequential(layers + [ann.Flatten()], input_shape=shape).output_shape[0]
    layers += [ann.Flatten(), ann.Dense(rng.normal(0, 1.0 / np.sqrt(flat), (draw(st.integers(2, 4)), flat)))]
    return ann.Sequential(layers, input_shape=shape), rng


@st.composite
def graph_nets(draw):
    """A random residual CNN: Conv [-> BatchNorm] -> ReLU with a MaxPool2d after or before the ReLU,
    a residual block (Conv -> ReLU -> Conv, plus an identity or 1x1-conv shortcut) -> ReLU,
    optionally a second join from the stem, optionally a channel concatenation with the stem [-> MaxPool2d]
    -> 1x1 Conv -> ReLU, then Flatten -> Dense. A :class:`ann.Graph`."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c, h, w = draw(st.integers(1, 2)), draw(st.integers(4, 7)), draw(st.integers(4, 7))

    def conv(c_in, c_out, k):
        return ann.Conv2d(rng.normal(0, 1.0 / np.sqrt(c_in * k * k), (c_out, c_in, k, k)), rng.normal(0, 0.1, c_out),
                          padding=k // 2)

    layers, inputs = [], []

    def add(layer, *ins):
        layers.append(layer)
        inputs.append(ins if ins else (len(layers) - 2,))
        return len(layers) - 1

    ch = draw(st.integers(1, 3))
    k = draw(st.sampled_from([1, 3]))
    top = add(conv(c, ch, k), -1)
    if draw(st.booleans()):
        top = add(ann.BatchNorm(rng.normal(0, 0.1, ch), rng.uniform(0.5, 2, ch), rng.uniform(0.5, 1.5, ch),
                                rng.normal(0, 0.1, ch)))
    pool = ann.MaxPool2d(2, stride=draw(st.integers(1, 2)), padding=draw(st.integers(0, 1)),
                         ceil_mode=draw(st.booleans()))
    if draw(st.booleans()):
        add(ann.ReLU())
        stem = add(pool)
    else:
        add(pool)
        stem = add(ann.ReLU())
    add(conv(ch, ch, 3))
    add(ann.ReLU())
    body = add(conv(ch, ch, 3))
    shortcut = stem if draw(st.booleans()) else add(conv(ch, ch, 1), stem)
    add(ann.Add(), body, shortcut)
    top = add(ann.ReLU())
    if draw(st.booleans()):
        top = add(ann.Add(), add(conv(ch, ch, 1), top), stem)
        top = add(ann.ReLU())
    if draw(st.booleans()):  # an Inception/DenseNet-style join: the block's output beside the stem's, by channel
        top = add(ann.Concat(), top, stem)
        if draw(st.booleans()):  # pooled after the join (the converter pools each branch)
            top = add(ann.MaxPool2d(2, stride=1))
        top = add(conv(2 * ch, ch, 1))
        top = add(ann.ReLU())
    probe = ann.Graph(layers, (c, h, w), inputs)
    flat = int(np.prod(probe.shapes[top]))
    add(ann.Flatten())
    add(ann.Dense(rng.normal(0, 1.0 / np.sqrt(flat), (draw(st.integers(2, 4)), flat))))
    return ann.Graph(layers, (c, h, w), inputs), rng


def random_inputs(net, rng, n):
    return rng.uniform(0, 1, (n,) + net.input_shape)


def assert_equivalent(result, reference):
    """Brian2 and the reference agree on every count, spike and prediction.

    The only tolerated difference is a float tie: a neuron whose reference membrane came
    within TIE_TOLERANCE of its threshold may differ, and the images it belongs to are then
    excluded from the comparison of later layers and the readout. Returns the number of
    images excluded that way.
    """
    assert reference.threshold_margin is not None, "run the reference with record_margin=True"
    tainted = np.zeros(result.batch_size, dtype=bool)
    for k, (cb, cr, margin) in enumerate(zip(result.spike_counts, reference.spike_counts, reference.threshold_margin)):
        assert cb.shape == cr.shape
        diff = cb != cr
        if result.spikes is not None and reference.spikes is not None:
            # a tie can also move a spike without changing the count (One-Spike: the phase)
            diff |= (_step_signature(result.spikes[k], cb.shape) != _step_signature(reference.spikes[k], cb.shape)).any(2)
        unexplained = diff & ~tainted[:, None] & ~(margin < TIE_TOLERANCE)
        assert not unexplained.any(), (
            f"layer {k}: {int(unexplained.sum())} neuron count(s) differ without a float tie; "
            f"first at {np.argwhere(unexplained)[0]}: brian2 {cb[unexplained][0]} vs reference {cr[unexplained][0]}"
        )
        tainted |= diff.any(axis=1)
    if result.output_spike_counts is not None:  # a spiking output: its margin follows the hidden layers'
        margin = reference.threshold_margin[len(result.spike_counts)]
        diff = result.output_spike_counts != reference.output_spike_counts
        unexplained = diff & ~tainted[:, None] & ~(margin < TIE_TOLERANCE)
        assert not unexplained.any(), f"output: {int(unexplained.sum())} spike count(s) differ without a float tie"
        tainted |= diff.any(axis=1)
    clean = ~tainted
    np.testing.assert_array_equal(result.predictions[clean], reference.predictions[clean])
    np.testing.assert_allclose(result.output[clean], reference.output[clean], rtol=1e-9, atol=1e-9)
    if result.spikes is not None and reference.spikes is not None:
        for rb, rr in zip(result.spikes, reference.spikes):
            sel_b, sel_r = clean[rb.image], clean[rr.image]
            for field in ("image", "neuron", "step"):
                np.testing.assert_array_equal(getattr(rb, field)[sel_b], getattr(rr, field)[sel_r])
    return int(tainted.sum())


def _step_signature(spikes, shape):
    """Per (image, neuron): sum of spike steps and of their squares (equal trains give equal signatures)."""
    sig = np.zeros(shape + (2,))
    np.add.at(sig, (spikes.image, spikes.neuron, 0), spikes.step)
    np.add.at(sig, (spikes.image, spikes.neuron, 1), spikes.step.astype(float) ** 2)
    return sig
