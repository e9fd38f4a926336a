"""Leaky IF neurons (neuroconv.equations.LIF): leak, refractoriness, seeded noise, threshold heterogeneity.

Brian2 == reference on random networks is in test_equivalence.py (``lif`` kind) and test_rounds.py;
here: the limits (LIF without leak is IF), the bounds refractoriness sets, seeds, and the refusals."""

import numpy as np
import pytest
from brian2 import NeuronGroup, Network, SpikeMonitor, ms, second

import neuroconv as nc
from neuroconv.equations import IF, LIF, model_from_spec, model_spec
from neuroconv.simulation.reference import readouts_over_time


@pytest.fixture(scope="module")
def small(digits, demo_net):
    x_train, x_test, _, y_test = digits
    return demo_net, x_train[:300], x_test[:16], y_test[:16]


def counts(result):
    return [c.copy() for c in result.spike_counts]


def same_counts(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.spike_counts, b.spike_counts))


@pytest.mark.parametrize("tau", [float("inf") * second, 1e9 * second])
def test_without_leak_lif_is_if(small, tau):
    net, calib, x, _ = small
    lif = nc.convert(net, neuron=LIF(tau=tau), timesteps=24, calibration_data=calib).run(
        x, device="reference", progress=False)
    ref = nc.convert(net, neuron=IF(), timesteps=24, calibration_data=calib).run(x, device="reference", progress=False)
    assert same_counts(lif, ref)
    np.testing.assert_allclose(lif.output, ref.output, rtol=1e-9, atol=1e-9)
    assert LIF(tau=tau).ideal(np.array([0.3]), np.array([1.0]), 8) is not None or tau != float("inf") * second


def test_leak_keeps_a_neuron_below_its_fixed_point():
    """One neuron, constant input z: v <- decay*v + z tends to z / (1 - decay); below theta it never fires."""
    z, decay = 0.125, np.exp(-1 / 5)
    snn = nc.convert(nc.ann.Sequential([nc.ann.Dense(np.eye(1)), nc.ann.ReLU(), nc.ann.Dense(np.eye(1))],
                                       input_shape=(1,)),
                     neuron=LIF(tau=5 * ms, shift=False), timesteps=40, thresholds=[1.0])
    res = snn.run(np.array([[z]]), device="reference", progress=False)
    # the fixed point z / (1 - decay) = 0.69 stays below theta = 1: the leaky neuron never fires
    assert z / (1 - decay) < 1 and res.spike_counts[0].sum() == 0
    if_res = nc.convert(snn.ann, neuron=IF(shift=False), timesteps=40, thresholds=[1.0]).run(
        np.array([[z]]), device="reference", progress=False)
    assert if_res.spike_counts[0][0, 0] == 5  # IF: 40 * 0.125


@pytest.mark.parametrize("refractory_steps", [2, 3, 5])
def test_refractory_period_bounds_the_counts(small, refractory_steps):
    net, calib, x, _ = small
    T = 24
    snn = nc.convert(net, neuron=LIF(tau=200 * ms, refractory=refractory_steps * ms), timesteps=T,
                     thresholds=[0.05, 0.05])  # low thresholds: without refractoriness many neurons fire every step
    free = nc.convert(net, neuron=LIF(tau=200 * ms), timesteps=T, thresholds=[0.05, 0.05])
    bound = -(-T // refractory_steps)
    res = snn.run(x, device="reference", progress=False)
    assert max(c.max() for c in free.run(x, device="reference", progress=False).spike_counts) > bound
    assert max(c.max() for c in res.spike_counts) == bound
    for spikes in res.spikes:  # consecutive spikes of a neuron are at least refractory_steps apart
        order = np.lexsort((spikes.step, spikes.neuron, spikes.image))
        img, neu, step = spikes.image[order], spikes.neuron[order], spikes.step[order]
        same = (img[1:] == img[:-1]) & (neu[1:] == neu[:-1])
        assert (np.diff(step)[same] >= refractory_steps).all()


def test_noise_same_seed_same_spikes_other_seed_other_spikes(small):
    net, calib, x, _ = small
    snn = nc.convert(net, neuron=LIF(tau=20 * ms, noise=0.2), timesteps=16, calibration_data=calib)
    a, b, c = (snn.run(x, device="reference", progress=False, seed=s) for s in (1, 1, 2))
    assert same_counts(a, b) and not same_counts(a, c)
    assert a.seed == 1
    runtime = snn.run(x, device="runtime", progress=False, seed=2)
    assert same_counts(runtime, c)
    # the draws follow the image's position in x, not the batch it was simulated in
    assert same_counts(a, snn.run(x, device="reference", batch_size=5, progress=False, seed=1))
    assert same_counts(c, snn.run(x, device="runtime", batch_size=3, progress=False, seed=2))


def test_threshold_jitter_is_fixed_per_network_and_seeded(small):
    net, calib, x, _ = small
    model = LIF(tau=20 * ms, threshold_jitter=0.3, jitter_seed=4)
    snn = nc.convert(net, neuron=model, timesteps=16, calibration_data=calib)
    vt = model.firing_thresholds(snn.layers[0].theta, 0)
    assert np.std(vt / snn.layers[0].theta) == pytest.approx(0.3, rel=0.2)
    np.testing.assert_array_equal(vt, model.firing_thresholds(snn.layers[0].theta, 0))
    assert not np.array_equal(vt, LIF(tau=20 * ms, threshold_jitter=0.3, jitter_seed=5).firing_thresholds(
        snn.layers[0].theta, 0))
    assert (vt >= 0.05 * snn.layers[0].theta).all()
    net_b = nc.convert(net, neuron=LIF(tau=20 * ms), timesteps=16, calibration_data=calib)
    a, b = (s.run(x, device="reference", progress=False) for s in (snn, net_b))
    assert not same_counts(a, b)
    assert same_counts(a, snn.run(x, device="reference", progress=False))


def test_lif_saves_and_loads(small, tmp_path):
    net, calib, x, _ = small
    for model in (LIF(tau=20 * ms, refractory=2 * ms, noise=0.1, threshold_jitter=0.1, reset="zero", jitter_seed=3),
                  LIF(tau=float("inf") * second)):
        assert model_from_spec(model_spec(model)) == model
        snn = nc.convert(net, neuron=model, timesteps=8, calibration_data=calib)
        back = nc.load_network(snn.save(tmp_path / "lif"))
        assert back.neuron == model
        assert same_counts(*(s.run(x[:4], device="reference", progress=False, seed=7) for s in (snn, back)))


def test_the_strings_make_a_brian2_group():
    """A Brian2 user's own group from the strings: 0.6 per step, decay exp(-1/10), threshold 1, refractory 2 steps."""
    model = LIF(tau=10 * ms, refractory=2 * ms)
    group = NeuronGroup(1, model.equations, threshold=model.threshold, reset=model.reset_code, method=model.method,
                        refractory=model.brian2_refractory, dt=1 * ms)
    group.theta = group.vt = 1.0
    group.decay = model.decay(1 * ms)
    group.I = 0.6
    monitor = SpikeMonitor(group)
    Network(group, monitor).run(10 * ms)
    # v: 0.6, 1.14 (spike, 0.14), frozen, 0.73, 1.26 (spike), frozen, ...: every third step
    np.testing.assert_allclose(monitor.t / ms, [1, 4, 7])


@pytest.mark.parametrize("kwargs, message", [
    (dict(tau=20), "Brian2 time"),
    (dict(tau=-5 * ms), "positive"),
    (dict(tau=20 * ms, refractory=-1 * ms), ">= 0"),
    (dict(tau=20 * ms, noise=-0.1), "noise"),
    (dict(tau=20 * ms, threshold_jitter=float("nan")), "threshold_jitter"),
    (dict(tau=20 * ms, reset="soft"), "reset must be one of"),
])
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(nc.NeuroconvError, match=message):
        LIF(**kwargs)


def test_refractory_must_be_whole_steps(small):
    net, calib, _, _ = small
    with pytest.raises(nc.NeuroconvError, match="whole number of timesteps"):
        nc.convert(net, neuron=LIF(tau=20 * ms, refractory=1.5 * ms), timesteps=8, calibration_data=calib)


# --- synaptic delays (neuroconv.conversion.delays); Brian2 == reference on random networks: test_equivalence.py ---

def test_uniform_delays_shift_the_spikes_and_change_no_count(small):
    net, calib, x, _ = small
    plain = nc.convert(net, timesteps=16, calibration_data=calib)
    delayed = nc.convert(net, timesteps=16, calibration_data=calib, delays=3 * ms)
    assert delayed.latencies == [0, 3, 6] and delayed.run_steps == 16 + 6
    assert [delayed.window(k) for k in range(2)] == [(0, 16), (3, 16)]
    a, b = (s.run(x, device="reference", progress=False) for s in (plain, delayed))
    assert same_counts(a, b)
    np.testing.assert_allclose(a.output, b.output, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(b.spikes[1].step.min() - a.spikes[1].step.min(), 3)


def test_delay_jitter_misaligns_and_is_seeded(small):
    net, calib, x, _ = small
    runs = [nc.convert(net, timesteps=16, calibration_data=calib,
                       delays=nc.Delays(2 * ms, jitter=2 * ms, seed=s)).run(x, device="reference", progress=False)
            for s in (0, 0, 1)]
    plain = nc.convert(net, timesteps=16, calibration_data=calib).run(x, device="reference", progress=False)
    assert same_counts(runs[0], runs[1]) and not same_counts(runs[0], runs[2])
    assert not same_counts(runs[0], plain)


def test_delays_are_refused_where_they_do_not_apply(small, tmp_path):
    net, calib, x, _ = small
    with pytest.raises(nc.NeuroconvError, match="whole number of timesteps"):
        nc.convert(net, timesteps=8, calibration_data=calib, delays=1.5 * ms)
    with pytest.raises(nc.NeuroconvError, match="Brian2 time"):
        nc.convert(net, timesteps=8, calibration_data=calib, delays=2)
    with pytest.raises(nc.NeuroconvError, match="work together"):
        nc.convert(net, neuron=nc.equations.TPP(), timesteps=8, calibration_data=calib, delays=1 * ms)
    snn = nc.convert(net, timesteps=8, calibration_data=calib, delays=nc.Delays(1 * ms, 1 * ms, seed=2))
    with pytest.raises(nc.NeuroconvError, match="rounds"):
        snn.run(x, device="cpp_standalone", rounds=2, batch_size=2, progress=False)
    with pytest.raises(nc.NeuroconvError, match="delays"):
        readouts_over_time(snn, x, [4, 8], progress=False)
    back = nc.load_network(snn.save(tmp_path / "delayed"))
    assert back.delays == snn.delays
    assert same_counts(*(s.run(x[:4], device="reference", progress=False) for s in (snn, back)))


def test_leak_aware_rest_keeps_the_counts_of_if(small):
    """v_rest = 0.5 (leak towards half the threshold) keeps counts near IF's where the plain leak loses spikes."""
    net, calib, x, _ = small
    runs = {name: nc.convert(net, neuron=model, timesteps=32, calibration_data=calib).run(
        x, device="reference", progress=False)
        for name, model in (("if", LIF(float("inf") * second)), ("plain", LIF(5 * ms)),
                            ("aware", LIF(5 * ms, v_rest=0.5)))}
    gap = {name: np.mean([np.abs(a - b).mean() for a, b in zip(runs[name].spike_counts, runs["if"].spike_counts)])
           for name in ("plain", "aware")}
    assert gap["aware"] < gap["plain"] / 3
    with pytest.raises(nc.NeuroconvError, match="v_rest"):
        LIF(5 * ms, v_rest=1.0)
