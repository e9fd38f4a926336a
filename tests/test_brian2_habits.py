"""Brian2-native habits (issue 22): errors, seeds, devices, names and targets behave as a Brian2 user expects."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import neuroconv as nc
from neuroconv.errors import NeuroconvError


def _script(code, tmp_path):
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(code))
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)


def test_neuroconv_error_is_a_plain_python_error_not_a_brian2_bug(tmp_path):
    done = _script("""
        import neuroconv
        raise neuroconv.NeuroconvError("layer 3: thresholds must be positive")
        """, tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().endswith("neuroconv.errors.NeuroconvError: layer 3: thresholds must be positive")
    assert "Brian 2 encountered an unexpected error" not in done.stderr


def test_other_errors_keep_brian2s_hook(tmp_path):
    done = _script("""
        import neuroconv
        raise RuntimeError("something else")
        """, tmp_path)
    assert done.returncode == 1
    assert "Brian 2 encountered an unexpected error" in done.stderr
    assert "RuntimeError: something else" in done.stderr


def test_cli_prints_warnings_as_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "neuroconv.cli", "convert", "builtin:digits_mlp", "--neuron",
                           "one_spike", "-T", "4", "--out", str(tmp_path / "os.npz")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("neuroconv: warning: OneSpike(base=1.1, window=4): layer") for line in lines)
    assert "[py.warnings]" not in done.stderr and "warnings.warn(" not in done.stderr


@pytest.fixture(scope="module")
def tpp(digits, demo_net):
    x_train = digits[0]
    return nc.convert(demo_net, neuron=nc.equations.TPP(), timesteps=8, calibration_data=x_train)


def test_run_without_seed_follows_brian2_seed(tpp, digits):
    import brian2

    x = digits[1][:4]
    brian2.seed(123)
    first = tpp.run(x, device="reference", progress=False)
    brian2.seed(123)
    second = tpp.run(x, device="reference", progress=False)
    assert first.seed == second.seed
    np.testing.assert_array_equal(first.output, second.output)
    brian2.seed(124)
    assert tpp.run(x, device="reference", progress=False).seed != first.seed


def test_to_brian2_takes_a_seed(tpp, digits):
    import brian2

    x = digits[1][:2]
    net = tpp.to_brian2(x, seed=7)
    assert net.neuroconv_seed == 7
    keys7 = np.array(net["layer0"].rng_key[:])
    np.testing.assert_array_equal(np.array(tpp.to_brian2(x, seed=7)["layer0"].rng_key[:]), keys7)
    assert not np.array_equal(np.array(tpp.to_brian2(x, seed=8)["layer0"].rng_key[:]), keys7)
    brian2.seed(5)
    a = tpp.to_brian2(x).neuroconv_seed
    brian2.seed(5)
    assert tpp.to_brian2(x).neuroconv_seed == a
    with pytest.raises(NeuroconvError, match="seed must be an int"):
        tpp.to_brian2(x, seed=-1)


def test_runtime_run_after_the_user_set_a_standalone_device(digits, demo_net):
    import brian2
    from brian2.devices.device import reset_device, runtime_device

    snn = nc.convert(demo_net, timesteps=8, calibration_data=digits[0])
    x = digits[1][:3]
    expected = snn.run(x, device="runtime", progress=False)
    brian2.set_device("cpp_standalone", build_on_run=False)
    try:
        user_device = brian2.get_device()
        got = snn.run(x, device="runtime", progress=False)
        assert brian2.get_device() is user_device  # the user's device is active again
        np.testing.assert_array_equal(got.output, expected.output)
        brian2.NeuronGroup(2, "v : 1", name="users_group")  # the user's own standalone objects
        with pytest.raises(NeuroconvError, match="set_device"):
            snn.run(x, device="cpp_standalone", progress=False)
    finally:
        brian2.get_device().reinit()
        reset_device(runtime_device)
    assert brian2.get_device() is runtime_device


def test_input_variable_does_not_collide_with_a_scripts_x(digits, demo_net):
    snn = nc.convert(demo_net, timesteps=8, calibration_data=digits[0])
    net = snn.to_brian2(digits[1][:2])
    assert "x" not in net["input"].variables
    np.testing.assert_array_equal(net["input"].ann_input[:], digits[1][:2].ravel())


def test_magic_run_namespace_documented_run_matches(digits, demo_net):
    """``net.run(duration, namespace={})`` with a script variable called ``x`` around gives snn.run's counts."""
    from brian2 import ms

    snn = nc.convert(demo_net, timesteps=8, calibration_data=digits[0])
    x = digits[1][:2]  # noqa: F841 (a user's x next to the network)
    net = snn.to_brian2(x)
    net.run(snn.run_steps * snn.dt, namespace={})
    res = snn.run(x, device="reference", progress=False)
    counts = np.bincount(np.asarray(net["layer0_spikes"].i[:]), minlength=2 * snn.layers[0].size)
    np.testing.assert_array_equal(counts.reshape(2, -1), res.spike_counts[0].reshape(2, -1))
    assert ms  # the duration is a Brian2 quantity


def test_run_follows_prefs_codegen_target(digits, demo_net):
    from brian2 import prefs

    from neuroconv.simulation.devices import DEVICES, resolve_codegen_target

    runtime = DEVICES["runtime"]
    previous = prefs.codegen.target
    try:
        prefs.codegen.target = "auto"
        assert resolve_codegen_target(None, runtime) == "numpy"
        prefs.codegen.target = "cython"
        assert resolve_codegen_target(None, runtime) == "cython"
        assert resolve_codegen_target("numpy", runtime) == "numpy"
        assert resolve_codegen_target(None, DEVICES["reference"]) == DEVICES["reference"].targets[0]
        prefs.codegen.target = "numpy"
        snn = nc.convert(demo_net, timesteps=4, calibration_data=digits[0])
        assert snn.run(digits[1][:1], progress=False).device == "runtime/numpy"
    finally:
        prefs.codegen.target = previous


def test_inputs_on_another_scale_are_refused_before_running(digits, demo_net, tmp_path):
    x_train, x_test = digits[0], digits[1]
    snn = nc.convert(demo_net, timesteps=8, calibration_data=x_train)
    assert snn.input_range == (float(x_train.min()), float(x_train.max()))
    as_uint8 = np.round(x_test[:4] * 255).astype(np.uint8)
    for device in ("reference", "runtime"):
        with pytest.raises(NeuroconvError, match=r"far outside .*divide them by 255.*check_range=False"):
            snn.run(as_uint8, device=device, progress=False)
    res = snn.run(as_uint8, device="reference", progress=False, check_range=False)  # the user insists
    assert res.batch_size == 4
    snn.run(x_test[:4] * 1.2, device="reference", progress=False)  # a little outside is fine
    loaded = nc.load_network(snn.save(tmp_path / "net.npz"))
    assert loaded.input_range == snn.input_range
    with pytest.raises(NeuroconvError, match="far outside"):
        loaded.run(as_uint8, device="reference", progress=False)
    assert snn.with_timesteps(16).input_range == snn.input_range


def test_all_zero_calibration_data_is_refused(digits, demo_net):
    with pytest.raises(NeuroconvError, match="calibration_data is all zero"):
        nc.convert(demo_net, timesteps=8, calibration_data=np.zeros((10, 64)))


def test_spike_times_of_an_image_out_of_range(digits, demo_net):
    snn = nc.convert(demo_net, timesteps=8, calibration_data=digits[0])
    res = snn.run(digits[1][:5], device="reference", progress=False)
    neuron, times = res.spike_times("layer0", image=4)
    assert neuron.size > 0
    np.testing.assert_array_equal(res.spike_times("layer0", image=-1)[0], neuron)
    for bad in (5, 99, -6, 1.5):
        with pytest.raises(NeuroconvError, match="out of range: the result holds 5 images"):
            res.spike_times("layer0", image=bad)


def test_progress_counts_whole_images(digits, demo_net, monkeypatch):
    import neuroconv.simulation.devices as devices

    updates = []

    class Bar:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            updates.append(n)

        def set_postfix_str(self, *args, **kwargs):
            pass

    monkeypatch.setattr(devices, "tqdm", Bar)
    for neuron in (nc.equations.IF(), nc.equations.TPP()):
        snn = nc.convert(demo_net, neuron=neuron, timesteps=8, calibration_data=digits[0])
        for device, batch in (("reference", 7), ("reference", None), ("runtime", 9)):
            updates.clear()
            snn.run(digits[1][:25], device=device, batch_size=batch, seed=0)
            assert all(isinstance(n, (int, np.integer)) for n in updates) and sum(updates) == 25, (device, updates)


def test_repr_is_a_summary_not_arrays(digits, demo_net):
    snn = nc.convert(demo_net, timesteps=32, calibration_data=digits[0])
    text = repr(snn)
    assert len(text) < 300 and "array" not in text
    assert "T=32" in text and "layer0 64" in text and "6,464 synapses" in text


def test_max_synapses_advice_when_one_image_is_over(digits, demo_net):
    snn = nc.convert(demo_net, timesteps=8, calibration_data=digits[0])
    with pytest.raises(NeuroconvError, match="one image alone is over the budget") as info:
        snn.run(digits[1][:2], device="runtime", max_synapses=1000, progress=False)
    assert "at most" not in str(info.value)
    with pytest.raises(NeuroconvError, match=r"batch_size \(at most 1\)"):
        snn.run(digits[1][:2], device="runtime", batch_size=2, max_synapses=7000, progress=False)


def test_brian2s_pyparsing_notices_stay_out_of_user_output(tmp_path):
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent("""
        import neuroconv as nc
        from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp
        x_train, x_test, _, _ = load_digits_split()
        snn = nc.convert(shipped_digits_mlp(), timesteps=4, calibration_data=x_train)
        snn.run(x_test[:2], progress=False)
        """))
    done = subprocess.run([sys.executable, "-W", "default", str(path)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "pyparsing" not in done.stderr.lower()
