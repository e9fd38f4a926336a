"""Temporal misalignment: layer-by-layer runs (reference and Brian2), permutation, the experiment, measures."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import neuroconv as nc  # noqa: E402
from neuroconv.analysis import (layerwise_run, misalignment_measures, permutation_experiment,  # noqa: E402
                                permute_trains, plot_cumulative_counts)
from neuroconv.equations import TPP, OneSpike  # noqa: E402


@pytest.fixture
def snn8(demo_net, digits):
    return nc.convert(demo_net, timesteps=8, calibration_data=digits[0])


def test_layerwise_without_permutation_is_the_full_run(snn8, digits):
    x = digits[1][:60]
    full = snn8.run(x, device="reference", progress=False)
    out, trains = layerwise_run(snn8, x)
    np.testing.assert_array_equal(out, full.output)
    for t, counts in zip(trains, full.spike_counts):
        np.testing.assert_array_equal(t.sum(axis=0), counts)


@pytest.mark.parametrize("permute", [(), ("layer0", "layer1")])
def test_brian2_layerwise_matches_reference(snn8, digits, permute):
    """SpikeGeneratorGroup replays the (permuted) trains where the full network delivers them."""
    x = digits[1][:40]
    ref_out, ref_trains = layerwise_run(snn8, x, permute=permute, rng=3)
    b2_out, b2_trains = layerwise_run(snn8, x, permute=permute, device="runtime", rng=3)
    for a, b in zip(b2_trains, ref_trains):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(b2_out, ref_out, rtol=1e-9, atol=1e-9)
    if not permute:  # and both equal the full Brian2 network
        full = snn8.run(x, device="runtime", progress=False)
        np.testing.assert_allclose(full.output, b2_out, rtol=1e-9, atol=1e-9)


def test_permute_trains_keeps_counts_and_randomises_times():
    trains = np.zeros((10, 300, 2), dtype=bool)
    trains[:3, :, 0] = True  # always the first three steps
    trains[-1, :, 1] = True
    shuffled = permute_trains(trains, 0)
    np.testing.assert_array_equal(shuffled.sum(axis=0), trains.sum(axis=0))
    times = np.nonzero(shuffled[:, :, 0])[0]
    assert abs(times.mean() - 4.5) < 0.3  # uniform over 0..9
    np.testing.assert_array_equal(permute_trains(trains, 0), shuffled)


def test_measures_by_hand(snn8):
    T = 8
    late = np.zeros((T, 1, 64), dtype=bool)
    late[-2:, 0, 0] = True  # two spikes in the last two steps of 8
    even = np.zeros((T, 1, 32), dtype=bool)
    even[[1, 3, 5, 7], 0, 0] = True
    m = misalignment_measures(snn8, [late, even])
    # late: c(t)=0 up to t=5 where the line is 2*6/8 = 1.5
    assert m[0]["cumulative_deviation"] == pytest.approx(1.5)
    assert m[0]["mean_relative_time"] == pytest.approx((6.5 + 7.5) / 2 / 8)
    assert m[0]["first_spike_time"] == pytest.approx(6.5 / 8)
    assert m[0]["active_fraction"] == pytest.approx(1 / 64)
    assert m[1]["cumulative_deviation"] == pytest.approx(0.5)
    assert m[1]["mean_relative_time"] == pytest.approx((1.5 + 3.5 + 5.5 + 7.5) / 4 / 8)


def test_measures_from_results_use_each_layers_window(demo_net, digits):
    x = digits[1][:30]
    for model, kw in ((TPP(), dict(timesteps=8)), (OneSpike(base=1.2, window=16), {})):
        snn = nc.convert(demo_net, neuron=model, thresholds=[2.0, 2.0], **kw)
        res = snn.run(x, device="reference", seed=0, progress=False)
        m = misalignment_measures(snn, res)
        assert [d["layer"] for d in m] == ["layer0", "layer1"]
        assert all(0 < d["mean_relative_time"] < 1 for d in m)


def test_experiment_report_and_reproducibility(snn8, digits):
    x, y = digits[1][:80], digits[3][:80]
    a = permutation_experiment(snn8, x, y, timesteps=[2, 4], repeats=2, seed=1, progress=False)
    b = permutation_experiment(snn8, x, y, timesteps=[2, 4], repeats=2, seed=1, progress=False)
    assert a == b
    assert [r["timesteps"] for r in a["rows"]] == [2, 4] and a["permuted_layers"] == ["layer0", "layer1"]
    row = a["rows"][1]
    assert row["if_accuracy"] == snn8.with_timesteps(4).run(x, device="reference", progress=False).accuracy(y)
    assert len(row["permuted_accuracies"]) == 2 and len(row["tpp_accuracies"]) == 2
    assert row["permuted_accuracy_mean"] == pytest.approx(np.mean(row["permuted_accuracies"]))


def test_bad_input_is_refused_before_simulating(snn8, digits, demo_net, monkeypatch):
    import neuroconv.simulation.reference as reference

    monkeypatch.setattr(reference, "run_population", lambda *a, **k: pytest.fail("simulated"))
    x, y = digits[1][:5], digits[3][:5]
    with pytest.raises(nc.NeuroconvError, match="no spiking hidden layer named 'layer7'"):
        permutation_experiment(snn8, x, y, layers=["layer7"])
    with pytest.raises(nc.NeuroconvError, match="does not exist"):
        permutation_experiment(snn8, x, y, layers=[5])
    with pytest.raises(nc.NeuroconvError, match="repeats"):
        permutation_experiment(snn8, x, y, repeats=0)
    with pytest.raises(nc.NeuroconvError, match="timesteps must be >= 1"):
        permutation_experiment(snn8, x, y, timesteps=[0, 4])
    with pytest.raises(nc.NeuroconvError, match="one label per input"):
        permutation_experiment(snn8, x, y[:3])
    with pytest.raises(nc.NeuroconvError, match="tpp must be True, False or a TPP model"):
        permutation_experiment(snn8, x, y, tpp="yes")
    tpp = nc.convert(demo_net, neuron=TPP(), timesteps=4, thresholds=[1.0, 1.0])
    with pytest.raises(nc.NeuroconvError, match="runs networks whose layers work together"):
        permutation_experiment(tpp, x, y)


def test_plot_cumulative_counts(snn8, digits):
    res = snn8.run(digits[1][:3], device="reference", progress=False)
    ax = plot_cumulative_counts(snn8, res, layer="layer1", image=2)
    active = int((res.spike_counts[1][2] > 0).sum())
    assert len(ax.get_lines()) == min(active, 30) + 1
    with pytest.raises(nc.NeuroconvError, match="does not exist"):
        plot_cumulative_counts(snn8, res, layer="layer9")
    plt.close("all")
