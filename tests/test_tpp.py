"""TPP (two-phase probabilistic) neurons: count bounds, the exact count distribution, uniform spike
times, seeds, and bad input. (Brian2 against the reference, spike for spike: test_equivalence.py;
the same spikes for a seed on every device, batch size and process: test_determinism.py.)"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import neuroconv as nc
from neuroconv import ann
from neuroconv.equations import IF, TPP


RULES = [TPP(), TPP(unbiased=True)]


def identity_snn(n, T, theta=1.0, neuron=None):
    """input -> Dense(I) -> ReLU (one spiking layer, threshold theta) -> Dense(I): layer 0 sees V = T*x."""
    net = ann.Sequential([ann.Dense(np.eye(n)), ann.ReLU(), ann.Dense(np.eye(n))], input_shape=(n,))
    return nc.convert(net, neuron=TPP() if neuron is None else neuron, timesteps=T, thresholds=[theta])


def potentials(snn, x, res):
    """Each spiking layer's potential at the start of its spiking phase, from the input and the spikes below."""
    T = snn.neuron.timesteps
    below, out = x.reshape(len(x), -1), []
    for k, layer in enumerate(snn.hidden_layers):
        out.append(T * layer.drive(below))
        below = res.spike_counts[k] * layer.theta / T
    return out


def assert_counts_bounded(snn, x, res):
    for k, (v, counts) in enumerate(zip(potentials(snn, x, res), res.spike_counts)):
        u = v / snn.hidden_layers[k].theta
        lo = np.clip(np.floor(u + 1e-9), 0, snn.neuron.timesteps)
        hi = np.clip(np.ceil(u - 1e-9), 0, snn.neuron.timesteps)
        assert np.all((counts >= lo) & (counts <= hi)), f"layer {k}: a count outside [floor, ceil] of V/theta"


@settings(max_examples=200, deadline=None)
@given(T=st.integers(1, 40), values=st.lists(st.floats(-1, 1.5, allow_subnormal=False), min_size=1, max_size=20),
       seed=st.integers(0, 2**32 - 1), model=st.sampled_from(RULES))
def test_counts_are_floor_or_ceil_reference(T, values, seed, model):
    x = np.asarray(values)[None]
    snn = identity_snn(x.shape[1], T, neuron=model)
    res = snn.run(x, device="reference", seed=seed, progress=False)
    assert_counts_bounded(snn, x, res)
    u = T * x[0]
    integer = (u == np.round(u)) & (u >= 0) & (u <= T)
    np.testing.assert_array_equal(res.spike_counts[0][0, integer], u[integer])
    assert np.all(res.spike_counts[0][0, u >= T] == T) and np.all(res.spike_counts[0][0, u <= 0] == 0)


@pytest.mark.parametrize("device", ["reference", "runtime"])
@pytest.mark.parametrize("model", RULES, ids=["paper", "unbiased"])
def test_integer_potential_gives_exact_count_at_uniform_times(device, model):
    """V/theta = n: exactly n spikes, at times uniform over the phase (chi-square); IF's regular times fail it."""
    T, n, images = 8, 3, 400
    x = np.full((images, 1), n / T)  # T * (n/T) == n exactly for T a power of 2
    res = identity_snn(1, T, neuron=model).run(x, device=device, seed=5, progress=False)
    assert np.all(res.spike_counts[0] == n)
    times = np.bincount(res.spikes[0].step, minlength=T)
    assert stats.chisquare(times).pvalue > 1e-3
    rate = identity_snn(1, T, neuron=IF()).run(x, device=device, progress=False)
    assert np.all(rate.spike_counts[0] == n)
    assert stats.chisquare(np.bincount(rate.spikes[0].step, minlength=T)).pvalue < 1e-6


def test_unbiased_rule_mean_is_v_over_theta_and_paper_rule_is_not():
    T, images = 8, 4000
    u = np.array([0.4, 2.25, 5.7])
    x = np.tile(u / T, (images, 1))
    unbiased = identity_snn(3, T, neuron=TPP(unbiased=True)).run(x, device="reference", seed=2, progress=False)
    paper = identity_snn(3, T).run(x, device="reference", seed=2, progress=False)
    sem = np.sqrt(0.25 / images)
    np.testing.assert_allclose(unbiased.spike_counts[0].mean(axis=0), u, atol=5 * sem)
    assert paper.spike_counts[0][:, 0].mean() - 0.4 > 0.25  # 0.71 - 0.4 expected
    np.testing.assert_allclose(TPP(unbiased=True).count_distribution(2.25, T) @ np.arange(T + 1), 2.25)


def test_unbiased_rounding_is_redrawn_for_every_batch_and_run():
    """r_round is drawn per inference: images in different batches (and standalone restarts) get new draws."""
    T = 8
    x = np.full((60, 1), 0.5 / T)
    res = identity_snn(1, T, neuron=TPP(unbiased=True)).run(x, device="runtime", batch_size=6, seed=4, progress=False)
    per_batch = res.spike_counts[0].reshape(10, 6).sum(axis=1)
    assert len(set(per_batch.tolist())) > 1


def test_count_distribution_by_dynamic_programming():
    model = TPP()
    for T in (1, 4, 8, 13):
        for u in (-0.5, 0.0, 0.4, 1.0, 2.5, T - 0.3, T, T + 3):
            p = model.count_distribution(u, T)
            assert p.shape == (T + 1,) and p.sum() == pytest.approx(1.0) and np.all(p >= -1e-15)
            support = np.nonzero(p > 1e-15)[0]
            lo, hi = np.clip(np.floor(u), 0, T), np.clip(np.ceil(u), 0, T)
            assert set(support) <= {lo, hi}
    # the DESIGN's example: T=8, V/theta=0.4 fires with probability ~0.71, not 0.4 (the mean is biased)
    p = model.count_distribution(0.4, 8)
    assert p[1] == pytest.approx(1 - np.prod([1 - 0.4 / r for r in range(8, 0, -1)]))
    assert 0.70 < p[1] < 0.72


@pytest.mark.parametrize("device", ["reference", "runtime"])
@pytest.mark.parametrize("model", RULES, ids=["paper", "unbiased"])
def test_ceil_frequency_matches_exact_distribution(device, model):
    T, images = 8, 300
    u = np.array([0.4, 1.5, 2.25, 5.7, 7.9])
    x = np.tile(u / T, (images, 1))
    res = identity_snn(len(u), T, neuron=model).run(x, device=device, seed=11, progress=False)
    for j, uj in enumerate(u):
        p_ceil = model.count_distribution(uj, T)[int(np.ceil(uj))]
        n_ceil = int(np.sum(res.spike_counts[0][:, j] == np.ceil(uj)))
        assert stats.binomtest(n_ceil, images, p_ceil).pvalue > 1e-4, (uj, n_ceil / images, p_ceil)


@pytest.mark.parametrize("device", ["reference", "runtime"])
def test_same_seed_same_spikes(demo_net, digits, device):
    x_train, x_test = digits[0], digits[1][:20]
    snn = nc.convert(demo_net, neuron=TPP(), timesteps=8, calibration_data=x_train)
    a = snn.run(x_test, device=device, seed=3, progress=False)
    b = snn.run(x_test, device=device, seed=3, progress=False)
    c = snn.run(x_test, device=device, seed=4, progress=False)
    for sa, sb in zip(a.spikes, b.spikes):
        assert all(np.array_equal(getattr(sa, f), getattr(sb, f)) for f in sa._fields)
    assert any(not np.array_equal(sa.step, sc.step) for sa, sc in zip(a.spikes, c.spikes))


@pytest.mark.standalone
def test_same_seed_same_spikes_cpp_standalone(demo_net, digits):
    x_train, x_test = digits[0], digits[1][:20]
    snn = nc.convert(demo_net, neuron=TPP(), timesteps=8, calibration_data=x_train)
    a = snn.run(x_test, device="cpp_standalone", seed=3, progress=False)
    b = snn.run(x_test, device="cpp_standalone", seed=3, progress=False)
    np.testing.assert_array_equal(a.spikes[1].step, b.spikes[1].step)
    assert_counts_bounded(snn, x_test, a)


@pytest.mark.parametrize("device", ["reference", "runtime"])
@pytest.mark.parametrize("model", RULES, ids=["paper", "unbiased"])
def test_digits_network_counts_in_floor_ceil_and_means_match(demo_net, digits, device, model):
    """Every layer's counts are floor/ceil of its own V/theta; layer 0's total count is within sampling
    error of the exact distribution's mean."""
    x_train, x_test = digits[0], digits[1][:200]
    T = 8
    snn = nc.convert(demo_net, neuron=model, timesteps=T, calibration_data=x_train)
    res = snn.run(x_test, device=device, seed=7, progress=False)
    assert_counts_bounded(snn, x_test, res)
    u = (potentials(snn, x_test, res)[0] / snn.hidden_layers[0].theta).ravel()
    dists = np.array([snn.neuron.count_distribution(ui, T) for ui in u])
    n = np.arange(T + 1)
    mean, var = dists @ n, dists @ n**2 - (dists @ n) ** 2
    z = (res.spike_counts[0].sum() - mean.sum()) / np.sqrt(var.sum())
    assert abs(z) < 5, z


def test_timing_and_latency(demo_net, digits):
    snn = nc.convert(demo_net, neuron=TPP(), timesteps=6, thresholds=[1.0, 1.0])
    assert snn.neuron.timesteps == 6 and snn.latency_steps == 12
    res = snn.run(digits[1][:5], device="runtime", seed=0, progress=False)
    for k, spikes in enumerate(res.spikes):
        assert np.all((spikes.step >= 6 * k) & (spikes.step < 6 * (k + 1)))
    longer = snn.with_timesteps(10)
    assert longer.neuron.timesteps == 10 and longer.latency_steps == 20
    assert nc.convert(demo_net, neuron=TPP(timesteps=5), thresholds=[1.0, 1.0]).latency_steps == 10


def test_probabilities_are_clipped(tmp_path):
    """Huge and negative potentials never put a probability outside [0, 1] before the uniform draw."""
    x = np.array([[1e6, -1e6, 0.0, 0.5]])
    snn = identity_snn(4, 4)
    for device in ("reference", "runtime"):
        res = snn.run(x, device=device, seed=1, progress=False)
        np.testing.assert_array_equal(res.spike_counts[0][0], [4, 0, 0, 2])
    threshold = snn.neuron.threshold
    assert "neuroconv_uniform(rng_key, image_index, step) < clip(v / theta / clip(" in threshold
    assert threshold.endswith(", 0, 1)")


def test_bad_input(demo_net):
    with pytest.raises(nc.NeuroconvError, match="phase length"):
        TPP(timesteps=0)
    with pytest.raises(nc.NeuroconvError, match="timesteps must be >= 1"):
        nc.convert(demo_net, neuron=TPP(), timesteps=0, thresholds=[1.0, 1.0])
    with pytest.raises(nc.NeuroconvError, match="disagree"):
        nc.convert(demo_net, neuron=TPP(timesteps=4), timesteps=8, thresholds=[1.0, 1.0])
    snn = nc.convert(demo_net, neuron=TPP(), timesteps=4, thresholds=[1.0, 1.0])
    with pytest.raises(nc.NeuroconvError, match="stochastic"):
        snn.run(np.zeros((1, 64)), device="reference", record_margin=True, progress=False)
    with pytest.raises(nc.NeuroconvError, match="seed must be"):
        snn.run(np.zeros((1, 64)), device="reference", seed=-1, progress=False)
