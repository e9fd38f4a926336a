"""IF(shift="calibrated"): initial membranes measured on the calibration data (neuroconv.conversion.membrane)."""

import numpy as np
import pytest

import neuroconv as nc
from neuroconv.cli import main as cli_main
from neuroconv.equations import IF
from neuroconv.simulation.reference import simulate
from test_equivalence import random_network_test


@pytest.fixture(scope="module")
def split(digits):
    x_train, x_test, y_train, y_test = digits
    return x_train[:500], x_test, y_test


def _mean_errors(snn, net, x):
    """Per population: the mean over neurons of |mean over inputs (min(a, theta) - rate)| / theta."""
    _, acts = net.forward(x, return_activations=True)
    res = simulate(snn, x.reshape(len(x), -1), record_spikes=False)
    errors = []
    for k, layer in enumerate(snn.hidden_layers):
        target = np.minimum(acts[layer.node], layer.theta)
        rate = res.spike_counts[k] * layer.theta / snn.timesteps
        errors.append(float(np.mean(np.abs((target - rate).mean(axis=0)) / layer.theta)))
    return errors


def test_calibration_shrinks_each_layers_mean_error(demo_net, split):
    x_cal, *_ = split
    shifted = nc.convert(demo_net, IF(), timesteps=4, calibration_data=x_cal)
    calibrated = nc.convert(demo_net, IF(shift="calibrated"), timesteps=4, calibration_data=x_cal, progress=False,
                            method="max", per_channel=False)  # the same thresholds: only the starts differ
    before, after = _mean_errors(shifted, demo_net, x_cal), _mean_errors(calibrated, demo_net, x_cal)
    assert len(before) == 2
    for b, a in zip(before, after):  # measured: 0.0052 -> 0.0014 and 0.0086 -> 0.0019
        assert a < 0.5 * b
    # weights, thresholds and biases stay the ANN's; only the starts differ, each below its threshold
    for s, c in zip(shifted.layers, calibrated.layers):
        assert s.theta is c.theta or np.array_equal(s.theta, c.theta)
        if c.spiking:
            assert c.v_init.shape == c.theta.shape and np.all(c.v_init < c.theta)
            assert not np.allclose(c.v_init, c.theta / 2)
    assert calibrated.output_layer.v_init is None


def test_calibrated_start_is_more_accurate_at_short_T(demo_net, split):
    x_cal, x_test, y_test = split
    acc = {}
    for shift in (True, "calibrated"):
        snn = nc.convert(demo_net, IF(shift=shift), timesteps=2, calibration_data=x_cal, progress=False,
                         method="max", per_channel=False)
        acc[shift] = np.mean(snn.run(x_test, device="reference", progress=False).predictions == y_test)
    assert acc["calibrated"] > acc[True] + 0.01  # measured: 0.891 against 0.856 (540 images)


def test_calibrated_start_thresholds_default_to_the_999th_percentile_per_channel(demo_net, split):
    x_cal, *_ = split
    snn = nc.convert(demo_net, IF(shift="calibrated"), timesteps=4, calibration_data=x_cal, progress=False)
    expected = nc.calibrate(demo_net, x_cal, method="99.9%", per_channel=True)
    for layer, theta in zip(snn.hidden_layers, expected):
        np.testing.assert_array_equal(layer.theta, theta)
    assert len(np.unique(snn.layers[0].theta)) > 1
    plain = nc.convert(demo_net, IF(), timesteps=4, calibration_data=x_cal)  # IF(): the maximum, per layer
    assert len(np.unique(plain.layers[0].theta)) == 1
    assert plain.layers[0].theta[0] == np.max(demo_net.forward(x_cal, return_activations=True)[1][1])


def test_calibrated_network_runs_the_same_on_brian2(demo_net, split):
    x_cal, x_test, _ = split
    snn = nc.convert(demo_net, IF(shift="calibrated"), timesteps=6, calibration_data=x_cal, readout="spikes",
                     progress=False)
    assert snn.output_layer.v_init is not None  # a spiking output is calibrated too
    ref = snn.run(x_test[:30], device="reference", progress=False)
    res = snn.run(x_test[:30], device="runtime", progress=False)
    for a, b in zip(res.spike_counts + [res.output_spike_counts], ref.spike_counts + [ref.output_spike_counts]):
        np.testing.assert_array_equal(a, b)
    brian_net = snn.to_brian2(x_test[:1])
    np.testing.assert_array_equal(np.asarray(brian_net["layer0"].v), snn.layers[0].v_init)


def test_saved_calibrated_network_loads_its_starts(demo_net, split, tmp_path):
    x_cal, x_test, _ = split
    snn = nc.convert(demo_net, IF(shift="calibrated"), timesteps=5, calibration_data=x_cal, progress=False)
    loaded = nc.load_network(snn.save(tmp_path / "net.npz"))
    assert loaded.neuron == IF(shift="calibrated") and loaded.timesteps == 5
    for a, b in zip(snn.layers, loaded.layers):
        assert (a.v_init is None) == (b.v_init is None)
        if a.v_init is not None:
            np.testing.assert_array_equal(a.v_init, b.v_init)
    np.testing.assert_array_equal(loaded.run(x_test, device="reference", progress=False).output,
                                  snn.run(x_test, device="reference", progress=False).output)


def test_calibrated_starts_hold_for_their_T_only(demo_net, split):
    x_cal, x_test, _ = split
    snn = nc.convert(demo_net, IF(shift="calibrated"), timesteps=5, calibration_data=x_cal, progress=False)
    assert snn.with_timesteps(5) is not None
    with pytest.raises(nc.NeuroconvError, match="calibrated for T = 5; convert again with timesteps=8"):
        snn.with_timesteps(8)


def test_explicit_thresholds_with_data_calibrate_the_starts_only(demo_net, split):
    x_cal, *_ = split
    snn = nc.convert(demo_net, IF(shift="calibrated"), timesteps=4, thresholds=[2.0, 3.0], calibration_data=x_cal,
                     progress=False)
    assert np.all(snn.layers[0].theta == 2.0) and np.all(snn.layers[1].theta == 3.0)
    assert snn.layers[0].v_init is not None
    with pytest.raises(nc.NeuroconvError, match="either calibration_data or thresholds"):
        nc.convert(demo_net, IF(), thresholds=[2.0, 3.0], calibration_data=x_cal)


@pytest.mark.parametrize("case, match", [
    (dict(neuron=IF(shift="calibrated"), thresholds=[1.0, 1.0]), "calibrates each neuron's initial membrane"),
    (dict(neuron=IF(), thresholds=[1.0, 1.0], initial_v=[np.zeros(64), np.zeros(32)]), "initial_v= sets the calibrated"),
    (dict(neuron=IF(shift="calibrated"), thresholds=[1.0, 1.0], initial_v=[np.zeros(3)]), "initial_v has 1 entries"),
    (dict(neuron=IF(shift="calibrated"), thresholds=[1.0, 1.0], initial_v=[np.zeros(3), np.zeros(3)]),
     "must hold .* finite values"),
    (dict(neuron=IF(shift="calibrated"), thresholds=[1.0, 1.0], initial_v=["a", "b"]), "real numeric array"),
])
def test_refusals(demo_net, case, match):
    with pytest.raises(nc.NeuroconvError, match=match):
        nc.convert(demo_net, timesteps=4, **case)


def test_if_shift_values():
    assert IF(shift="calibrated").calibrated_start and not IF().calibrated_start
    with pytest.raises(nc.NeuroconvError, match="True, False or 'calibrated'"):
        IF(shift="data")
    with pytest.raises(nc.NeuroconvError, match="no closed form"):
        IF(shift="calibrated").expected_count(1.0, 1.0, 4)
    assert IF(shift="calibrated").ideal(1.0, 1.0, 4) is None


def test_cli_converts_with_a_calibrated_shift(tmp_path, capsys):
    out = tmp_path / "cal.npz"
    assert cli_main(["convert", "builtin:digits_mlp", "--shift", "calibrated", "-T", "6", "--out", str(out),
                     "--calibration-images", "200"]) == 0
    assert nc.load_network(out).layers[0].v_init is not None
    assert cli_main(["run", str(out), "--device", "reference", "--images", "50", "--no-progress"]) == 0
    assert cli_main(["convert", "builtin:digits_mlp", "--neuron", "tpp", "--shift", "calibrated",
                     "--out", str(tmp_path / "x.npz")]) == 2
    assert "--shift applies to --neuron if only" in capsys.readouterr().err


# random networks (MLPs, CNNs, residual graphs with max-pooling; either readout), every neuron calibrated
test_calibrated_runtime_numpy_matches_reference = random_network_test(15, "runtime", "if_calibrated")
test_calibrated_cython_matches_reference_few = pytest.mark.cython(
    random_network_test(1, "runtime", "if_calibrated", codegen_target="cython"))
test_calibrated_standalone_matches_reference_few = pytest.mark.standalone(
    random_network_test(1, "cpp_standalone", "if_calibrated"))


def test_permutation_experiment_measures_the_starts_again_at_each_T(demo_net, split):
    from neuroconv.analysis import permutation_experiment

    x_cal, x_test, y_test = split
    snn = nc.convert(demo_net, IF(shift="calibrated"), timesteps=3, calibration_data=x_cal, progress=False)
    with pytest.raises(nc.NeuroconvError, match="pass calibration_data"):
        permutation_experiment(snn, x_test[:20], y_test[:20], timesteps=(2,), progress=False)
    report = permutation_experiment(snn, x_test, y_test, timesteps=(2, 3), repeats=1, tpp=False, progress=False,
                                    calibration_data=x_cal)
    for row in report["rows"]:
        direct = nc.convert(demo_net, IF(shift="calibrated"), timesteps=row["timesteps"], calibration_data=x_cal,
                            progress=False)
        acc = np.mean(direct.run(x_test, device="reference", progress=False).predictions == y_test)
        assert row["if_accuracy"] == acc


def test_tpp_calibrated_potential_offsets(demo_net, split, tmp_path):
    from neuroconv.equations import TPP

    x_cal, x_test, y_test = split
    acc = {}
    for calibrated in (False, True):
        snn = nc.convert(demo_net, TPP(calibrated=calibrated), timesteps=2, calibration_data=x_cal, progress=False)
        acc[calibrated] = np.mean([np.mean(snn.run(x_test, device="reference", seed=s, progress=False).predictions
                                           == y_test) for s in range(4)])
    assert acc[True] > acc[False] + 0.01  # measured: 0.618 against 0.586 (540 images, 4 seeds)
    assert snn.layers[0].v_init is not None and not np.all(snn.layers[0].v_init == 0)
    loaded = nc.load_network(snn.save(tmp_path / "tpp.npz"))
    assert loaded.neuron == TPP(timesteps=2, calibrated=True)
    np.testing.assert_array_equal(loaded.run(x_test[:50], device="reference", seed=1, progress=False).output,
                                  snn.run(x_test[:50], device="reference", seed=1, progress=False).output)
    again = nc.convert(demo_net, TPP(calibrated=True), timesteps=2, calibration_data=x_cal, progress=False)
    np.testing.assert_array_equal(again.layers[0].v_init, snn.layers[0].v_init)  # a fixed seed: reproducible


test_tpp_calibrated_runtime_numpy_matches_reference = random_network_test(8, "runtime", "tpp_calibrated")
test_tpp_calibrated_standalone_matches_reference_few = pytest.mark.standalone(
    random_network_test(1, "cpp_standalone", "tpp_calibrated"))


def test_calibrated_start_with_synaptic_delays(rng):
    """Truncated reference runs keep the delay lines of later populations (they read no spikes from them)."""
    from brian2 import ms

    net = nc.ann.Sequential([nc.ann.Conv2d(rng.normal(0, 1, (2, 1, 3, 3)), rng.normal(0, 0.1, 2)), nc.ann.ReLU(),
                             nc.ann.Conv2d(rng.normal(0, 1, (2, 2, 1, 1)), rng.normal(0, 0.1, 2)), nc.ann.ReLU(),
                             nc.ann.Flatten(), nc.ann.Dense(rng.normal(0, 1, (3, 8)))], input_shape=(1, 4, 4))
    x = rng.uniform(0, 1, (20, 1, 4, 4))
    snn = nc.convert(net, IF(shift="calibrated"), timesteps=4, calibration_data=x, delays=2 * ms, progress=False,
                     per_channel=False)
    assert all(layer.v_init is not None for layer in snn.hidden_layers)
    ref = snn.run(x[:5], device="reference", progress=False)
    res = snn.run(x[:5], device="runtime", progress=False)
    for a, b in zip(res.spike_counts, ref.spike_counts):
        np.testing.assert_array_equal(a, b)
