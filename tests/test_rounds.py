"""Time-multiplexed standalone runs: one binary run simulates many rounds of a small batch, every state
reset between rounds. The results must equal the reference (IF, One-Spike, max-pool relays, skip
connections) and follow TPP's distribution; the automatic batch and rounds follow the documented policy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import neuroconv as nc
from neuroconv.simulation.brian2.build_cache import _canonical
from neuroconv.simulation.devices import (DEVICES, MAX_IMAGES_PER_RUN, MAX_INPUT_BYTES_PER_RUN, _one_round,
                                         _standalone_plan)
from nets import conv_nets, dense_nets, graph_nets
from test_equivalence import SLOW_SETTINGS, check_device, convert_random
from test_tpp import RULES, assert_counts_bounded, identity_snn


def rounds_test(n_networks, kind):
    nets = st.one_of(dense_nets(), conv_nets(), graph_nets()) if kind == "if" else st.one_of(dense_nets(), conv_nets())

    @settings(max_examples=n_networks, **SLOW_SETTINGS)
    @given(net_rng=nets, data=st.data())
    def test(net_rng, data):
        snn, x = convert_random(*net_rng, data, kind)
        # batches of 1 or 2 images: 1-5 rounds per run, the last batch padded when 2 does not divide the images
        check_device(snn, x, "cpp_standalone", batch_size=data.draw(st.integers(1, 2), label="batch_size"))

    return test


test_rounds_if_match_reference = pytest.mark.standalone(rounds_test(2, "if"))
test_rounds_one_spike_match_reference = pytest.mark.standalone(rounds_test(2, "one_spike"))
test_rounds_tpp_match_reference = pytest.mark.standalone(rounds_test(2, "tpp"))
test_rounds_if_match_reference_full = pytest.mark.slow(pytest.mark.standalone(rounds_test(60, "if")))


@pytest.mark.standalone
def test_lif_rounds_forget_refractoriness_and_draw_per_image(demo_net, digits):
    """LIF with refractoriness and noise in rounds of 7 images: every round starts with no neuron refractory
    (lastspike goes back with the state), and each image's noise follows its position in x."""
    from brian2 import ms

    from neuroconv.equations import LIF

    x_train, x_test, _, _ = digits
    snn = nc.convert(demo_net, neuron=LIF(tau=20 * ms, refractory=3 * ms, noise=0.1), timesteps=16,
                     calibration_data=x_train, thresholds=None)
    check_device(snn, x_test[:30], "cpp_standalone", batch_size=7, rounds=5)


@pytest.mark.standalone
def test_demo_network_many_rounds_and_runs(demo_net, digits):
    """540 digits in batches of 7, 40 rounds per run: 2 runs (the second ends in padding), spikes recorded."""
    x_train, x_test, _, _ = digits
    snn = nc.convert(demo_net, timesteps=16, calibration_data=x_train)
    check_device(snn, x_test, "cpp_standalone", batch_size=7, rounds=40)


@pytest.mark.standalone
@pytest.mark.parametrize("model", RULES, ids=["paper", "unbiased"])
def test_tpp_rounds_follow_the_exact_distribution(model):
    """300 images in 20 rounds of 15: every round draws anew (r_round too); ceil frequencies match."""
    T, images = 8, 300
    u = np.array([0.4, 1.5, 2.25, 5.7, 7.9])
    x = np.tile(u / T, (images, 1))
    snn = identity_snn(len(u), T, neuron=model)
    res = snn.run(x, device="cpp_standalone", batch_size=15, seed=11, progress=False)
    assert_counts_bounded(snn, x, res)
    for j, uj in enumerate(u):
        p_ceil = model.count_distribution(uj, T)[int(np.ceil(uj))]
        n_ceil = int(np.sum(res.spike_counts[0][:, j] == np.ceil(uj)))
        assert stats.binomtest(n_ceil, images, p_ceil).pvalue > 1e-4, (uj, n_ceil / images, p_ceil)
    # integer potentials: exact counts at times uniform over the phase, in every round
    x = np.full((400, 1), 3 / T)
    res = identity_snn(1, T, neuron=model).run(x, device="cpp_standalone", batch_size=16, seed=5, progress=False)
    assert np.all(res.spike_counts[0] == 3)
    assert stats.chisquare(np.bincount(res.spikes[0].step, minlength=T)).pvalue > 1e-3


def test_automatic_batch_and_rounds(demo_net, digits):
    """C++ standalone's copies and rounds come from the network alone (one binary for every image count)."""
    snn = nc.convert(demo_net, timesteps=8, calibration_data=digits[0])
    n_copies, rounds = _standalone_plan(snn, None, None, 1e9)
    assert n_copies == 65536 // snn.n_synapses
    assert n_copies * rounds <= MAX_IMAGES_PER_RUN and 8 * 64 * n_copies * rounds <= MAX_INPUT_BYTES_PER_RUN
    assert _standalone_plan(snn, 100, None, 1e9) == (100, 8192 // 100)
    assert _standalone_plan(snn, None, 3, 1e9) == (n_copies, 3)
    assert _one_round(DEVICES["runtime"], None) == 1
    assert _one_round(DEVICES["cuda_standalone"], 1) == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(device="runtime", rounds=4), r"rounds=4 applies to device='cpp_standalone' only"),
    (dict(device="reference", rounds=2), r"rounds=2 applies to device='cpp_standalone' only"),
    (dict(device="cpp_standalone", rounds=0), r"rounds must be a positive int, got 0"),
    (dict(device="cpp_standalone", rounds=2.5), r"rounds must be a positive int, got 2.5"),
])
def test_bad_rounds_are_refused_before_building(demo_net, kwargs, message):
    snn = nc.convert(demo_net, timesteps=8, thresholds=[1.0, 1.0])
    with pytest.raises(nc.NeuroconvError, match=message):
        snn.run(np.zeros((3, 64)), progress=False, **kwargs)


def test_clock_initialisation_order_does_not_change_the_cache_key():
    a = b"int main()\n{\n  _array_a_clock_t[0] = 0.0;\n  _array_a_clock_timestep[0] = 0;\n" \
        b"  _array_b_clock_t[0] = 0.0;\n  run();\n}\n"
    b = b"int main()\n{\n  _array_b_clock_t[0] = 0.0;\n  _array_a_clock_t[0] = 0.0;\n" \
        b"  _array_a_clock_timestep[0] = 0;\n  run();\n}\n"
    assert a != b and _canonical(a) == _canonical(b)
    # anything else keeps its order, and so its key
    c = b"int main()\n{\n  run();\n  _array_a_clock_t[0] = 0.0;\n}\n"
    d = b"int main()\n{\n  _array_a_clock_t[0] = 0.0;\n  run();\n}\n"
    assert _canonical(c) != _canonical(d) and _canonical(c) == c
    # an assignment repeated within a run is left as it is (order could matter)
    e = b"_array_a_clock_t[0] = 1.0;\n_array_a_clock_t[0] = 0.0;\n"
    assert _canonical(e) == e
