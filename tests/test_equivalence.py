"""Brian2 (runtime numpy/cython, cpp_standalone) and the numpy reference compute the same network."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neuroconv as nc
from brian2 import ms
from neuroconv.equations import IF, LIF, TPP, OneSpike
from nets import assert_equivalent, conv_nets, dense_nets, graph_nets, random_inputs

SLOW_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def draw_neuron(data, kind):
    """An IF model (reset, shift: theta/2, none or calibrated, and T drawn), a OneSpike model (base and window drawn) or a TPP model
    (rule and phase length drawn), with convert's timing."""
    if kind in ("tpp", "tpp_calibrated"):
        calibrated = kind == "tpp_calibrated" or data.draw(st.booleans(), label="calibrated")
        return dict(neuron=TPP(unbiased=data.draw(st.booleans(), label="unbiased"), calibrated=calibrated),
                    timesteps=data.draw(st.integers(1, 12), label="T"))
    if kind == "lif":
        neuron = LIF(tau=data.draw(st.sampled_from([float("inf"), 2.0, 5.0, 20.0, 200.0]), label="tau_ms") * ms,
                     refractory=data.draw(st.integers(0, 3), label="refractory_steps") * ms,
                     noise=data.draw(st.sampled_from([0.0, 0.05, 0.3]), label="noise"),
                     threshold_jitter=data.draw(st.sampled_from([0.0, 0.2]), label="jitter"),
                     reset=data.draw(st.sampled_from(["subtract", "zero"]), label="reset"),
                     shift=data.draw(st.booleans(), label="shift"),
                     jitter_seed=data.draw(st.integers(0, 3), label="jitter_seed"),
                     v_rest=data.draw(st.sampled_from([0.0, 0.5]), label="v_rest"))
        return dict(neuron=neuron, timesteps=data.draw(st.integers(1, 24), label="T"), dt=1 * ms)
    if kind == "one_spike":
        neuron = OneSpike(base=data.draw(st.sampled_from([1.05, 1.1, 1.2, 1.5, 2.0, 3.0]), label="base"),
                          window=data.draw(st.integers(1, 24), label="window"))
        return dict(neuron=neuron)
    shift = "calibrated" if kind == "if_calibrated" else data.draw(st.sampled_from([True, False, "calibrated"]),
                                                                   label="shift")
    neuron = IF(reset=data.draw(st.sampled_from(["subtract", "zero"]), label="reset"), shift=shift)
    return dict(neuron=neuron, timesteps=data.draw(st.integers(1, 24), label="T"))


def draw_delays(data):
    """None, a uniform delay of 0-3 steps, or a seeded per-synapse distribution."""
    choice = data.draw(st.sampled_from(["none", "uniform", "jitter"]), label="delays")
    if choice == "none":
        return None
    if choice == "uniform":
        return data.draw(st.integers(0, 3), label="delay_steps") * ms
    return nc.Delays(mean=data.draw(st.integers(0, 3), label="mean_steps") * ms,
                     jitter=data.draw(st.sampled_from([0.5, 1.0, 2.0]), label="jitter_steps") * ms,
                     seed=data.draw(st.integers(0, 3), label="delay_seed"))


def convert_random(net, rng, data, kind="if"):
    """Convert with calibration on random inputs; a layer that never activates gets random explicit thresholds.
    ``kind`` "if_delays"/"lif_delays": the model with synaptic delays drawn too."""
    delays = None
    if kind.endswith("_delays"):
        kind = kind[:-len("_delays")]
        delays = draw_delays(data)
    kwargs = draw_neuron(data, kind)
    if delays is not None:
        kwargs["delays"] = delays
    x = random_inputs(net, rng, data.draw(st.integers(1, 5), label="batch"))
    readout = data.draw(st.sampled_from(["membrane", "spikes"]), label="readout")
    per_channel = data.draw(st.booleans(), label="per_channel")
    kwargs["readout"] = readout
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nc.NeuroconvWarning)  # short random windows lose small values
            snn = nc.convert(net, calibration_data=random_inputs(net, rng, 20), per_channel=per_channel, **kwargs)
    except nc.NeuroconvError as exc:
        assert "never activates" in str(exc)
        n = sum(isinstance(layer, nc.ann.ReLU) for layer in net.layers) + (readout == "spikes")
        if kwargs["neuron"].calibrated_start:  # the data set each neuron's start
            kwargs["calibration_data"] = random_inputs(net, rng, 20)
        snn = nc.convert(net, thresholds=list(rng.uniform(0.1, 2.0, n)), **kwargs)
    return snn, x


def check_device(snn, x, device, seed=5, **kw):
    if snn.neuron.stochastic and not snn.neuron.pipelined:
        # stepwise noise (LIF): counter-based draws, the same on both sides; ties as for deterministic models
        ref = snn.run(x, device="reference", progress=False, seed=seed, record_margin=True)
        kw["seed"] = seed
    elif snn.neuron.stochastic:
        # counter-based random numbers: the same draws on both sides, so no difference is tolerated
        ref = snn.run(x, device="reference", progress=False, seed=seed)
        ref.threshold_margin = [np.full(c.shape, np.inf) for c in ref.spike_counts + [ref.output_spike_counts]
                                if c is not None]
        kw["seed"] = seed
    else:
        ref = snn.run(x, device="reference", progress=False, record_margin=True)
    res = snn.run(x, device=device, progress=False, **kw)
    assert_equivalent(res, ref)


def random_network_test(n_networks, device, kind="if", **options):
    """A hypothesis test: ``n_networks`` random Dense/Conv networks of ``kind`` neurons (IF: also residual
    networks with max-pooling), ``device`` against the reference."""
    stepwise = kind in ("if", "lif", "if_calibrated")
    nets = st.one_of(dense_nets(), conv_nets(), graph_nets()) if stepwise else st.one_of(dense_nets(), conv_nets())

    @settings(max_examples=n_networks, **SLOW_SETTINGS)
    @given(net_rng=nets, data=st.data())
    def test(net_rng, data):
        snn, x = convert_random(*net_rng, data, kind)
        check_device(snn, x, device, **options)

    return test


test_runtime_numpy_matches_reference = random_network_test(60, "runtime")
# cython and cpp_standalone compile per network: a few in the default run, 100 under the slow marker
test_cython_matches_reference_few = pytest.mark.cython(random_network_test(5, "runtime", codegen_target="cython"))
test_standalone_matches_reference_few = pytest.mark.standalone(random_network_test(2, "cpp_standalone"))
test_cython_matches_reference_full = pytest.mark.slow(pytest.mark.cython(
    random_network_test(100, "runtime", codegen_target="cython")))
test_standalone_matches_reference_full = pytest.mark.slow(pytest.mark.standalone(
    random_network_test(100, "cpp_standalone")))

test_one_spike_runtime_numpy_matches_reference = random_network_test(40, "runtime", "one_spike")
test_tpp_runtime_numpy_matches_reference = random_network_test(25, "runtime", "tpp")
test_tpp_cython_matches_reference_few = pytest.mark.cython(random_network_test(3, "runtime", "tpp",
                                                                               codegen_target="cython"))
test_tpp_standalone_matches_reference_few = pytest.mark.standalone(random_network_test(2, "cpp_standalone", "tpp"))
test_tpp_standalone_matches_reference_full = pytest.mark.slow(pytest.mark.standalone(
    random_network_test(100, "cpp_standalone", "tpp")))
test_one_spike_cython_matches_reference_few = pytest.mark.cython(
    random_network_test(2, "runtime", "one_spike", codegen_target="cython"))
test_one_spike_standalone_matches_reference_few = pytest.mark.standalone(
    random_network_test(2, "cpp_standalone", "one_spike"))
test_one_spike_standalone_matches_reference_full = pytest.mark.slow(pytest.mark.standalone(
    random_network_test(100, "cpp_standalone", "one_spike")))

test_lif_runtime_numpy_matches_reference = random_network_test(30, "runtime", "lif")
test_delays_if_runtime_numpy_matches_reference = random_network_test(15, "runtime", "if_delays")
test_delays_lif_runtime_numpy_matches_reference = random_network_test(15, "runtime", "lif_delays")
test_delays_standalone_matches_reference_few = pytest.mark.standalone(random_network_test(1, "cpp_standalone",
                                                                                          "lif_delays"))
test_delays_standalone_matches_reference_full = pytest.mark.slow(pytest.mark.standalone(
    random_network_test(100, "cpp_standalone", "lif_delays")))
test_lif_cython_matches_reference_few = pytest.mark.cython(random_network_test(1, "runtime", "lif",
                                                                               codegen_target="cython"))
test_lif_standalone_matches_reference_few = pytest.mark.standalone(random_network_test(1, "cpp_standalone", "lif"))
test_lif_standalone_matches_reference_full = pytest.mark.slow(pytest.mark.standalone(
    random_network_test(100, "cpp_standalone", "lif")))
# the default run checks 185 random networks on Brian2's numpy runtime; the slow run 330 more
test_runtime_numpy_matches_reference_full = pytest.mark.slow(random_network_test(100, "runtime"))
test_one_spike_runtime_numpy_matches_reference_full = pytest.mark.slow(random_network_test(60, "runtime", "one_spike"))
test_tpp_runtime_numpy_matches_reference_full = pytest.mark.slow(random_network_test(40, "runtime", "tpp"))
test_lif_runtime_numpy_matches_reference_full = pytest.mark.slow(random_network_test(60, "runtime", "lif"))
test_delays_runtime_numpy_matches_reference_full = pytest.mark.slow(random_network_test(60, "runtime", "lif_delays"))
test_lif_cython_matches_reference_full = pytest.mark.slow(pytest.mark.cython(
    random_network_test(10, "runtime", "lif", codegen_target="cython")))


def test_demo_network_all_devices_runtime_numpy(demo_net, digits):
    x_train, x_test, _, y_test = digits
    snn = nc.convert(demo_net, timesteps=32, calibration_data=x_train)
    check_device(snn, x_test, "runtime")


@pytest.mark.cython
def test_demo_network_cython(demo_net, digits):
    x_train, x_test, _, _ = digits
    snn = nc.convert(demo_net, timesteps=32, calibration_data=x_train)
    check_device(snn, x_test[:200], "runtime", codegen_target="cython")


@pytest.mark.standalone
def test_demo_network_cpp_standalone(demo_net, digits):
    x_train, x_test, _, _ = digits
    snn = nc.convert(demo_net, timesteps=32, calibration_data=x_train)
    # batch_size 128 over 540 images: one build, five runs with new inputs (the last one padded)
    check_device(snn, x_test, "cpp_standalone", batch_size=128)


def test_many_images_per_call_equal_one_at_a_time(demo_net, digits):
    x_train, x_test, _, _ = digits
    snn = nc.convert(demo_net, timesteps=16, calibration_data=x_train)
    x = x_test[:12]
    together = snn.run(x, device="runtime", progress=False)
    in_fives = snn.run(x, device="runtime", batch_size=5, progress=False)
    single = [snn.run(x[k:k + 1], device="runtime", progress=False) for k in range(3)]
    for res in (in_fives,):
        np.testing.assert_array_equal(res.output, together.output)
        for a, b in zip(res.spike_counts, together.spike_counts):
            np.testing.assert_array_equal(a, b)
    for k, res in enumerate(single):
        np.testing.assert_array_equal(res.output[0], together.output[k])
        for a, b in zip(res.spike_counts, together.spike_counts):
            np.testing.assert_array_equal(a[0], b[k])


def test_margin_detects_exact_ties():
    """The tie diagnostic works: a membrane that lands exactly on theta reports margin 0."""
    from neuroconv import ann

    net = ann.Sequential([ann.Dense(np.eye(2)), ann.ReLU(), ann.Dense(np.ones((1, 2)))], input_shape=(2,))
    snn = nc.convert(net, neuron=IF(shift=False), timesteps=4, thresholds=[1.0])
    res = snn.run(np.array([[0.5, 0.3]]), device="reference", record_margin=True, progress=False)
    assert res.threshold_margin[0][0, 0] == 0.0  # 0.5 + 0.5 == 1.0 exactly
    assert res.threshold_margin[0][0, 1] > 0.05
