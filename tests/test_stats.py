"""Spike-train statistics: hand-computed and analytic cases, units, empty and single-spike trains."""

import numpy as np
import pytest
from brian2 import Hz, ms, second

import neuroconv as nc
from neuroconv.analysis import (cv, cv_per_neuron, fanofactor, first_spike_latency, firing_rates, isi, psth,
                                spike_trains, sttc)
from neuroconv.equations import OneSpike


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
    fano = fanofactor(np.array([[0, 1], [0, 3]]))
    assert fano.mask.tolist() == [True, False] and fano[1] == pytest.approx(0.5)
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
