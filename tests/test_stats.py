"""Spike-train statistics: hand-computed and analytic cases, units, empty and single-spike trains;
count statistics across images and across repeated trials (run_trials on TPP networks)."""

import dataclasses
import pickle

import numpy as np
import pytest
from brian2 import Hz, ms, second

import neuroconv as nc
from neuroconv import ann
from neuroconv.analysis import (AcrossArray, count_cv, cv, cv_per_neuron, fanofactor, first_spike_latency,
                                firing_rates, isi, psth, run_trials, spike_trains, sttc)
from neuroconv.equations import IF, TPP, OneSpike


def test_isi_and_cv_by_hand():
    train = [1, 4, 9] * ms
    intervals = isi(train)
    assert intervals.has_same_dimensions(second)
    np.testing.assert_allclose(intervals / ms, [3, 5])
    assert cv(train) == pytest.approx(1 / 4)  # std([3, 5]) = 1, mean 4
    assert cv([9, 1, 4] * ms) == pytest.approx(1 / 4)  # order does not matter
    assert cv(np.arange(10) * 2 * ms) == pytest.approx(0.0)  # regular train


def test_poisson_cv_and_fano_are_about_one():
    rng = np.random.default_rng(0)
    train = np.cumsum(rng.exponential(5.0, 20000)) * ms
    assert cv(train) == pytest.approx(1.0, abs=0.03)
    counts = rng.poisson(5.0, (4000, 3))
    np.testing.assert_allclose(fanofactor(counts), 1.0, atol=0.08)
    assert np.all(fanofactor(np.full((10, 2), 4)) == 0)  # identical counts in every trial


def test_undefined_cases_are_errors_or_masked():
    assert len(isi([] * ms)) == 0 and len(isi([3] * ms)) == 0
    with pytest.raises(nc.NeuroconvError, match="at least 3 spikes"):
        cv([1, 2] * ms)
    with pytest.raises(nc.NeuroconvError, match="Brian2 time units"):
        cv(np.array([1.0, 2.0, 4.0]))
    with pytest.raises(nc.NeuroconvError, match="Brian2 time units"):
        isi([1, 2] * Hz)
    values = cv_per_neuron([[1, 2, 4] * ms, [1] * ms, [] * ms])
    assert list(values.mask) == [False, True, True] and values[0] == pytest.approx(1 / 3)
    assert values.across == "intervals"  # within one train
    fano = fanofactor(np.array([[0, 1], [0, 3]]))
    assert fano.mask.tolist() == [True, False] and fano[1] == pytest.approx(0.5)
    assert fano.across == "images"  # the default: existing callers get what they got, now labelled
    with pytest.raises(nc.NeuroconvError, match="images >= 2"):
        fanofactor(np.array([[1, 2]]))
    with pytest.raises(nc.NeuroconvError, match="empty train"):
        sttc([] * ms, [1] * ms, 1 * ms, 0 * ms, 10 * ms)


def test_sttc_by_hand_and_analytic():
    t0, t1, dt = 0 * ms, 100 * ms, 5 * ms
    assert sttc([10, 40] * ms, [10, 40] * ms, dt, t0, t1) == pytest.approx(1.0)
    # one spike each, 40 ms apart: no coincidences; each covers 10 ms of 100 -> (0 - 0.1) / 1
    assert sttc([10] * ms, [50] * ms, dt, t0, t1) == pytest.approx(-0.1)
    # exactly dt apart counts as coincident (tolerance, not float equality)
    assert sttc([10] * ms, [15] * ms, dt, t0, t1) == pytest.approx(1.0)
    assert sttc([0.1] * second, [0.105] * second, 5 * ms, t0, t1) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    a = np.sort(rng.uniform(0, 10000, 500)) * ms
    b = np.sort(rng.uniform(0, 10000, 500)) * ms
    assert abs(sttc(a, b, 2 * ms, 0 * ms, 10000 * ms)) < 0.1
    with pytest.raises(nc.NeuroconvError, match="dt must be a Brian2 time"):
        sttc(a, b, 2, 0 * ms, 10000 * ms)


@pytest.fixture
def if_run(demo_net, digits):
    snn = nc.convert(demo_net, timesteps=16, calibration_data=digits[0])
    return snn, snn.run(digits[1][:10], device="reference", progress=False)


def test_trains_rates_psth_from_a_run(if_run):
    snn, res = if_run
    trains = spike_trains(res, "layer0", image=3)
    assert len(trains) == 64
    np.testing.assert_array_equal([len(t) for t in trains], res.spike_counts[0][3])
    assert all(t.has_same_dimensions(second) for t in trains)
    rates = firing_rates(res, "layer0")
    np.testing.assert_allclose(rates / Hz, res.spike_counts[0] / 0.016)
    edges, rate = psth(res, 1)
    assert len(edges) == 17 and rate.has_same_dimensions(Hz)
    total = float(np.sum(rate * (edges[1] - edges[0]))) * res.spike_counts[1].size
    assert total == pytest.approx(res.spike_counts[1].sum())
    edges4, rate4 = psth(res, 1, bin_size=4 * ms)
    assert len(edges4) == 5 and float(np.sum(rate4 * 4 * ms)) == pytest.approx(float(np.sum(rate * 1 * ms)))
    with pytest.raises(nc.NeuroconvError, match="out of range"):
        spike_trains(res, 0, image=10)


def test_first_spike_latency_uses_each_layers_window(demo_net, digits, if_run):
    snn = nc.convert(demo_net, neuron=OneSpike(base=1.2, window=24), calibration_data=digits[0])
    res = snn.run(digits[1][:5], device="reference", progress=False)
    lat = first_spike_latency(snn, res, "layer1")
    first = res.first_spike_steps(1)
    fired = first >= 0
    np.testing.assert_allclose(np.asarray(lat)[fired], (first[fired] - 24) * 1e-3)
    assert np.all(np.isinf(np.asarray(lat)[~fired]))
    snn_if, res_if = if_run
    lat_if = first_spike_latency(snn_if, res_if, 0)
    assert np.all((np.asarray(lat_if) >= 0) | np.isinf(np.asarray(lat_if)))


def test_to_neo_without_neo_is_a_clear_error(if_run, monkeypatch):
    import sys

    from neuroconv.analysis import to_neo

    monkeypatch.setitem(sys.modules, "neo", None)  # import neo -> ImportError
    with pytest.raises(nc.NeuroconvError, match=r'pip install "brian2-neuroconv\[neo\]"'):
        to_neo(if_run[1], 0)


def test_count_statistics_across_trials_and_images_known_cases():
    rng = np.random.default_rng(3)
    lam = np.array([[2.0, 5.0, 0.0], [8.0, 1.0, 3.0]])  # (images, neurons); neuron 2 silent on image 0
    counts = rng.poisson(lam, (3000, 2, 3))  # Poisson trials: Fano 1, CV 1/sqrt(lam) wherever lam > 0
    fano = fanofactor(counts, across="trials")
    assert isinstance(fano, np.ma.MaskedArray) and fano.across == "trials" and fano.shape == (2, 3)
    assert fano.mask.tolist() == [[False, False, True], [False, False, False]]
    np.testing.assert_allclose(fano.compressed(), 1.0, atol=0.1)
    cvs = count_cv(counts, across="trials")
    assert cvs.across == "trials" and cvs.mask.tolist() == fano.mask.tolist()
    np.testing.assert_allclose(cvs.compressed(), 1 / np.sqrt(lam[lam > 0]), rtol=0.05)
    np.testing.assert_allclose((cvs ** 2 * counts.mean(axis=0)).compressed(), fano.compressed())
    # identical trials, different images: no trial-to-trial variance, but stimulus variance
    same = np.broadcast_to(np.array([[1, 4, 0], [3, 4, 0]]), (5, 2, 3))
    trial = fanofactor(same, across="trials")
    assert trial.mask.tolist() == [[False, False, True]] * 2 and np.all(trial.compressed() == 0)
    images = fanofactor(same[0])  # (images, neurons), the default across="images"
    assert images.across == "images" and images.mask.tolist() == [False, False, True]
    assert images[0] == pytest.approx(0.5) and images[1] == 0  # counts 1, 3: var 1 / mean 2
    per_trial = fanofactor(same, across="images")  # (trials, images, neurons): per trial and neuron
    assert per_trial.shape == (5, 3) and np.all(per_trial == images)
    assert count_cv(same[0], across="images")[0] == pytest.approx(0.5)  # std 1 / mean 2
    # the label survives slicing, arithmetic and pickling
    assert fano[1].across == "trials" and (fano + 1).across == "trials"
    again = pickle.loads(pickle.dumps(fano))
    assert isinstance(again, AcrossArray) and again.across == "trials" and again.mask.tolist() == fano.mask.tolist()


def test_count_statistics_refuse_unclear_input():
    counts = np.ones((4, 2, 3))
    with pytest.raises(nc.NeuroconvError, match=r"across must be one of \('images', 'trials'\).*'trial'"):
        fanofactor(counts, across="trial")
    with pytest.raises(nc.NeuroconvError, match=r"count_cv: across must be one of"):
        count_cv(counts, across=None)
    with pytest.raises(nc.NeuroconvError, match=r"trials >= 2, images, neurons.*counts\[:, None, :\]"):
        fanofactor(counts[:, 0], across="trials")  # 2-D is ambiguous across trials
    with pytest.raises(nc.NeuroconvError, match=r"trials >= 2"):
        fanofactor(counts[:1], across="trials")
    with pytest.raises(nc.NeuroconvError, match="layer= picks a layer of a Trials"):
        fanofactor(counts, across="trials", layer=0)
    with pytest.raises(TypeError):
        count_cv(counts)  # across has no default: say which


def tpp_identity(n, T=8, unbiased=True):
    """input -> Dense(I) -> ReLU (one TPP layer, theta 1) -> Dense(I): layer 0 sees V/theta = T*x."""
    net = ann.Sequential([ann.Dense(np.eye(n)), ann.ReLU(), ann.Dense(np.eye(n))], input_shape=(n,))
    return nc.convert(net, neuron=TPP(unbiased=unbiased), timesteps=T, thresholds=[1.0])


def test_run_trials_tpp_fano_matches_the_unbiased_rule():
    """Unbiased TPP fires floor(u + r) spikes, u = V/theta: floor(u) + Bernoulli(p), p = frac(u), so the
    trial Fano factor is p(1-p)/u: exactly 0 for integer u (deterministic count), masked for u = 0."""
    T, n_trials = 8, 1000
    u = np.array([[0.4, 2.25, 3.0, 0.0], [5.5, 1.0, 0.75, 8.0]])  # exact in binary: V = T * (u/T) = u
    trials = run_trials(tpp_identity(4, T), u / T, n_trials, progress=False)
    assert trials.n_trials == n_trials and trials.n_images == 2 and trials.seeds == tuple(range(n_trials))
    assert trials.counts("layer0").shape == (n_trials, 2, 4) and trials.output.shape == (n_trials, 2, 4)
    assert trials.predictions.shape == (n_trials, 2) and trials.results is None
    fano = fanofactor(trials, across="trials", layer="layer0")
    assert fano.across == "trials" and fano.mask.tolist() == (u == 0).tolist()
    p = u - np.floor(u)
    expected = np.divide(p * (1 - p), u, out=np.zeros_like(u), where=u > 0)
    integer = (p == 0) & (u > 0)
    assert np.all(fano[integer] == 0) and np.all(trials.counts(0)[:, integer] == u[integer])
    np.testing.assert_allclose(fano.filled(0), expected, atol=0.03)
    np.testing.assert_allclose(trials.counts(0).mean(axis=0), u, atol=0.06)  # unbiased: mean count = u
    assert fanofactor(trials, across="images", layer=0).shape == (n_trials, 4)


def test_run_trials_seeds_reproduce_and_differ():
    snn = tpp_identity(3, unbiased=False)
    x = np.array([[0.3, 0.55, 0.9], [0.1, 0.45, 0.7]])
    a = run_trials(snn, x, 3, seeds=[7, 11, 13], record_spikes=True)  # progress bar on (the default)
    b = run_trials(snn, x, 3, seeds=[7, 11, 13], progress=False)
    np.testing.assert_array_equal(a.counts(0), b.counts(0))
    np.testing.assert_array_equal(a.output, b.output)
    np.testing.assert_array_equal(a.predictions, b.predictions)
    assert a.seeds == (7, 11, 13) and b.results is None
    assert any(not np.array_equal(a.counts(0)[0], a.counts(0)[i]) for i in (1, 2))  # seeds give other spikes
    assert [r.seed for r in a.results] == [7, 11, 13] and a.results[1].spikes is not None
    single = snn.run(x, device="reference", seed=11, progress=False)
    np.testing.assert_array_equal(single.spike_counts[0], a.counts(0)[1])  # trial i is run(x, seed=seeds[i])
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.seeds = (1, 2, 3)
    with pytest.raises(ValueError, match="read-only"):
        a.counts(0)[0, 0, 0] = 5
    with pytest.raises(nc.NeuroconvError, match="needs layer="):
        fanofactor(a, across="trials")
    with pytest.raises(nc.NeuroconvError, match="no spiking layer named 'layer9'"):
        fanofactor(a, across="trials", layer="layer9")


def test_run_trials_refuses_deterministic_networks_and_bad_trials():
    net = ann.Sequential([ann.Dense(np.eye(2)), ann.ReLU(), ann.Dense(np.eye(2))], input_shape=(2,))
    deterministic = nc.convert(net, neuron=IF(), timesteps=8, thresholds=[1.0])
    x = np.full((1, 2), 0.3)
    with pytest.raises(nc.NeuroconvError, match=r"every trial would be identical.*models: IF\).*Stochastic models: "
                                                r"[^.]*TPP"):
        run_trials(deterministic, x, 5)
    snn = tpp_identity(2)
    with pytest.raises(nc.NeuroconvError, match="n_trials must be an int >= 2"):
        run_trials(snn, x, 1)
    with pytest.raises(nc.NeuroconvError, match="one seed per trial: 2 seeds for n_trials=3"):
        run_trials(snn, x, 3, seeds=[1, 2])
    with pytest.raises(nc.NeuroconvError, match="seeds must be distinct"):
        run_trials(snn, x, 2, seeds=[4, 4])
    with pytest.raises(nc.NeuroconvError, match=r"seeds must be ints in \[0, 2\*\*64\)"):
        run_trials(snn, x, 2, seeds=[0, -1])
    with pytest.raises(nc.NeuroconvError, match="pass seeds="):
        run_trials(snn, x, 2, seed=3)
