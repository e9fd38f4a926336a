"""One-Spike (phase-coded single-spike) neurons: the code's properties, timing, accuracy and bad input."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neuroconv as nc
from neuroconv import ann
from neuroconv.equations import OneSpike
from nets import assert_equivalent, dense_nets, random_inputs

BASES = st.sampled_from([1.05, 1.1, 1.15, 1.2, 1.3, 1.5, 2.0, 3.0])
WINDOWS = st.integers(1, 40)


def identity_snn(n, base, window, scale, readout="membrane"):
    """input -> Dense(I) -> ReLU (OneSpike, scale M) -> Dense(I) -> membrane: one encode/decode per value."""
    net = ann.Sequential([ann.Dense(np.eye(n)), ann.ReLU(), ann.Dense(np.eye(n))], input_shape=(n,))
    thresholds = [scale] if readout == "membrane" else [scale, scale]
    return nc.convert(net, neuron=OneSpike(base=base, window=window), thresholds=thresholds, readout=readout)


def identity_values(draw_values, model, scale):
    """Split values into (inside the representable range, below it, negative), away from float boundaries."""
    lo, hi = model.smallest_sent(scale), scale * (model.base + 1) / 2
    levels = model.threshold_value(scale) * model.base ** -np.arange(model.window)
    near_level = np.min(np.abs(draw_values[:, None] / levels[None, :] - 1), axis=1) < 1e-9
    inside = (draw_values >= lo) & (draw_values < hi) & ~near_level
    below = (draw_values > 0) & (draw_values < lo) & ~near_level
    return inside, below, draw_values < 0


def check_identity(res, x, model, scale):
    out = res.output[0]
    inside, below, negative = identity_values(x, model, scale)
    rel = np.abs(out[inside] - x[inside]) / x[inside]
    assert np.all(rel <= model.relative_error_bound + 1e-9), (rel.max(), model.relative_error_bound)
    # every value sent is one of the levels M * base**-k
    assert np.all(np.isin(np.round(np.log(out[inside] / scale) / np.log(model.base)), -np.arange(model.window)))
    assert np.all(res.spike_counts[0][0, inside] == 1)
    assert np.all(res.spike_counts[0][0, below | negative] == 0)
    assert np.all(out[below | negative] == 0)


@settings(max_examples=300, deadline=None)
@given(base=BASES, window=WINDOWS, scale=st.floats(0.01, 100),
       values=st.lists(st.floats(-2, 1.5, allow_subnormal=False), min_size=1, max_size=30))
def test_encode_decode_relative_error_reference(base, window, scale, values):
    x = np.asarray(values) * scale
    snn = identity_snn(len(x), base, window, scale)
    check_identity(snn.run(x[None], device="reference", progress=False), x, snn.neuron, scale)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=BASES, window=WINDOWS, scale=st.floats(0.1, 10), seed=st.integers(0, 2**32 - 1))
def test_encode_decode_relative_error_brian2(base, window, scale, seed):
    rng = np.random.default_rng(seed)
    # log-uniform over the whole range and beyond, plus negatives
    x = np.concatenate([scale * base ** -rng.uniform(-0.5, window + 2, 60), -rng.uniform(0, scale, 5)])
    snn = identity_snn(len(x), base, window, scale)
    res = snn.run(x[None], device="runtime", progress=False)
    check_identity(res, x, snn.neuron, scale)
    ref = snn.run(x[None], device="reference", progress=False, record_margin=True)
    assert_equivalent(res, ref)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(net_rng=dense_nets(), base=BASES, window=st.integers(1, 16), readout=st.sampled_from(["membrane", "spikes"]))
def test_at_most_one_spike_inside_own_window(net_rng, base, window, readout):
    net, rng = net_rng
    n = sum(isinstance(layer, ann.ReLU) for layer in net.layers) + (readout == "spikes")
    snn = nc.convert(net, neuron=OneSpike(base, window), thresholds=list(rng.uniform(0.2, 2.0, n)), readout=readout)
    x = random_inputs(net, rng, 4)
    for device in ("reference", "runtime"):
        res = snn.run(x, device=device, progress=False)
        for index, (counts, spikes) in enumerate(zip(res.spike_counts, res.spikes)):
            assert counts.max(initial=0) <= 1
            assert np.all((spikes.step >= index * window) & (spikes.step < (index + 1) * window))
            first = res.first_spike_steps(index)
            np.testing.assert_array_equal(first >= 0, counts == 1)
        if readout == "spikes":
            assert res.output_spike_counts.max(initial=0) <= 1


@pytest.mark.filterwarnings("ignore::neuroconv.NeuroconvWarning")
def test_latency_and_run_length(demo_net, digits):
    x_train, x_test, _, _ = digits
    model = OneSpike(base=1.2, window=10)
    snn = nc.convert(demo_net, neuron=model, calibration_data=x_train)
    n_weight_layers = 3
    assert snn.latency_steps == (n_weight_layers - 1) * 10 == snn.run_steps and snn.timesteps == 10
    assert snn.latency == 20 * snn.dt
    spiking = nc.convert(demo_net, neuron=model, calibration_data=x_train, readout="spikes")
    assert spiking.latency_steps == 3 * 10
    # the Brian2 network, run for exactly the latency, reads out what the reference computes
    net = snn.to_brian2(x_test[:3])
    net.run(snn.latency)
    assert net.t == snn.latency
    ref = snn.run(x_test[:3], device="reference", progress=False)
    np.testing.assert_allclose(model.base * net["output"].v[:].reshape(3, -1), ref.output, rtol=1e-9, atol=1e-12)
    assert net["layer1_spikes"].t[:].max() < snn.latency


def test_digits_mlp_accuracy_at_default(demo_net, digits):
    """Default OneSpike(): within 0.5 pp of the ANN on the digits test split (Brian2 runtime)."""
    x_train, x_test, _, y_test = digits
    snn = nc.convert(demo_net, neuron=OneSpike(), calibration_data=x_train)
    res = snn.run(x_test, device="runtime", progress=False)
    ann_acc = np.mean(demo_net.forward(x_test).argmax(1) == y_test)
    assert res.accuracy(y_test) >= ann_acc - 0.005, (res.accuracy(y_test), ann_acc)
    assert all(c.max() <= 1 for c in res.spike_counts)


def test_smaller_base_is_finer_but_needs_longer_windows(demo_net, digits):
    """The trade-off: at a long window a small base has the smaller readout error; at a short one the larger base wins."""
    x_train, x_test, _, _ = digits
    target = demo_net.forward(x_test)

    def error(base, window):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nc.NeuroconvWarning)
            snn = nc.convert(demo_net, neuron=OneSpike(base, window), calibration_data=x_train)
        out = snn.run(x_test, device="reference", progress=False).output
        return np.mean(np.abs(out - target))

    assert error(1.05, 120) < error(1.5, 120)
    assert error(1.5, 8) < error(1.05, 8)


@pytest.mark.standalone
def test_digits_mlp_cpp_standalone_matches_reference(demo_net, digits):
    x_train, x_test, _, _ = digits
    snn = nc.convert(demo_net, neuron=OneSpike(), calibration_data=x_train)
    ref = snn.run(x_test, device="reference", progress=False, record_margin=True)
    res = snn.run(x_test, device="cpp_standalone", batch_size=270, progress=False)
    assert assert_equivalent(res, ref) == 0


def test_digits_mlp_runtime_matches_reference_both_readouts(demo_net, digits):
    x_train, x_test, _, _ = digits
    for readout in ("membrane", "spikes"):
        snn = nc.convert(demo_net, neuron=OneSpike(), calibration_data=x_train, readout=readout)
        ref = snn.run(x_test, device="reference", progress=False, record_margin=True)
        res = snn.run(x_test, device="runtime", progress=False)
        assert assert_equivalent(res, ref) == 0
        np.testing.assert_array_equal(res.first_spike_steps(1), ref.first_spike_steps(1))


# --- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize("base", [1.0, 0.5, -2, float("inf"), float("nan"), "1.1", True])
def test_bad_base(base):
    with pytest.raises(nc.NeuroconvError, match="base"):
        OneSpike(base=base)


@pytest.mark.parametrize("window", [0, -3, 2.5, True, "8"])
def test_bad_window(window):
    with pytest.raises(nc.NeuroconvError, match="window"):
        OneSpike(window=window)


def test_window_too_short_for_requested_range_warns_with_numbers():
    with pytest.warns(nc.NeuroconvWarning, match=r"dynamic range of base\*\*\(window-1\) = 2.14.*requested 100.*window >= 50"):
        OneSpike(base=1.1, window=9, dynamic_range=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OneSpike(base=1.1, window=50, dynamic_range=100)


def test_window_too_short_for_calibration_data_warns(demo_net, digits):
    x_train = digits[0]
    with pytest.warns(nc.NeuroconvWarning, match=r"layer0 sends .*% of its positive calibration activations as zero"):
        nc.convert(demo_net, neuron=OneSpike(base=1.1, window=8), calibration_data=x_train)


def test_timesteps_is_the_window(demo_net, digits):
    """``timesteps`` is T, One-Spike's window: given once it sets the window, given twice it must agree."""
    with pytest.raises(nc.NeuroconvError, match="give T once"):
        nc.convert(demo_net, neuron=OneSpike(window=20), timesteps=32, thresholds=[1.0, 1.0])
    snn = nc.convert(demo_net, neuron=OneSpike(), timesteps=32, thresholds=[1.0, 1.0])
    assert snn.neuron.window == snn.timesteps == 32 and snn.run_steps == 64
    shorter = snn.with_timesteps(10)
    assert shorter.neuron == OneSpike(window=10) and shorter.run_steps == 20
    np.testing.assert_array_equal(shorter.thresholds[0], snn.thresholds[0])


def test_overflowing_growth_refused(demo_net):
    with pytest.raises(nc.NeuroconvError, match="overflows float64"):
        nc.convert(demo_net, neuron=OneSpike(base=2.0, window=500), thresholds=[1.0, 1.0])
