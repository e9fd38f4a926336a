"""The same seed gives the same spikes: across repeated runs, processes, batch sizes, rounds and devices
(TPP included: its random numbers are counter-based, a hash of seed, layer, neuron, image and step)."""

import json
import subprocess
import sys

import numpy as np
import pytest

import neuroconv as nc
from neuroconv.equations import TPP, _random


def spikes_of(res):
    return [np.stack([s.image, s.neuron, s.step]) for s in res.spikes]


def assert_same_spikes(a, b):
    for sa, sb in zip(spikes_of(a), spikes_of(b)):
        np.testing.assert_array_equal(sa, sb)
    for ca, cb in zip(a.spike_counts, b.spike_counts):
        np.testing.assert_array_equal(ca, cb)
    np.testing.assert_array_equal(a.predictions, b.predictions)


@pytest.fixture(scope="module")
def tpp_net(demo_net, digits):
    return nc.convert(demo_net, neuron=TPP(unbiased=True), timesteps=6, calibration_data=digits[0])


def test_uniform_is_a_pure_function_in_open_interval():
    key = _random.neuron_keys(7, 2, 1000)
    u = _random.uniform(key[None, :], np.arange(50)[:, None], 3)
    assert u.shape == (50, 1000) and 0 < u.min() and u.max() < 1
    np.testing.assert_array_equal(u, _random.uniform(key[None, :], np.arange(50)[:, None], 3))
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    # neighbouring steps, images, layers and seeds are uncorrelated
    for other in (_random.uniform(key[None, :], np.arange(50)[:, None], 4),
                  _random.uniform(key[None, :], np.arange(1, 51)[:, None], 3),
                  _random.uniform(_random.neuron_keys(7, 3, 1000)[None, :], np.arange(50)[:, None], 3),
                  _random.uniform(_random.neuron_keys(8, 2, 1000)[None, :], np.arange(50)[:, None], 3)):
        assert abs(np.corrcoef(u.ravel(), other.ravel())[0, 1]) < 0.02
    # negative steps (the once-per-inference draw) wrap like C's conversion to uint32
    assert _random.uniform(5, 9, -1) == _random.uniform(5, 9, 2**32 - 1)


def test_repeated_runs_and_batch_sizes(tpp_net, digits):
    x = digits[1][:45]
    a = tpp_net.run(x, device="reference", seed=11, progress=False)
    assert a.seed == 11
    for batch_size in (1, 7, 45):
        assert_same_spikes(a, tpp_net.run(x, device="reference", seed=11, batch_size=batch_size, progress=False))
    b = tpp_net.run(x, device="runtime", seed=11, batch_size=16, progress=False)
    assert_same_spikes(a, b)
    other = tpp_net.run(x, device="reference", seed=12, progress=False)
    assert any(not np.array_equal(sa, sb) for sa, sb in zip(spikes_of(a), spikes_of(other)))


def test_seed_none_is_recorded_and_reproduces(tpp_net, digits):
    x = digits[1][:20]
    a = tpp_net.run(x, device="reference", progress=False)
    b = tpp_net.run(x, device="reference", progress=False)
    assert a.seed is not None and a.seed != b.seed
    assert_same_spikes(a, tpp_net.run(x, device="runtime", seed=a.seed, progress=False))
    deterministic = nc.convert(tpp_net.ann, timesteps=8, thresholds=[1.0, 1.0])
    assert deterministic.run(x, device="reference", progress=False).seed is None


_OTHER_PROCESS = """
import json, sys
import neuroconv as nc
from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp
from neuroconv.equations import TPP
x_train, x_test, _, _ = load_digits_split()
snn = nc.convert(shipped_digits_mlp(), neuron=TPP(unbiased=sys.argv[2] == "unbiased"), timesteps=6,
                 calibration_data=x_train)
res = snn.run(x_test[:45], device=sys.argv[1], seed=11, batch_size=9, progress=False)
print(json.dumps([[s.image.tolist(), s.neuron.tolist(), s.step.tolist()] for s in res.spikes]))
"""


def spikes_in_other_process(device="runtime", unbiased=True) -> list:
    """Per layer ``(image, neuron, step)`` of the shipped MLP's TPP run on 45 test digits (T=6, seed 11,
    batch 9) in a new Python process (also used by benchmarks/reliability.py)."""
    out = subprocess.run([sys.executable, "-c", _OTHER_PROCESS, device, "unbiased" if unbiased else "biased"],
                         capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", **__import__("os").environ})
    return [np.array(s) for s in json.loads(out.stdout.strip().splitlines()[-1])]


def test_other_process_same_spikes(tpp_net, digits):
    a = tpp_net.run(digits[1][:45], device="reference", seed=11, progress=False)
    for sa, sb in zip(spikes_of(a), spikes_in_other_process("runtime")):
        np.testing.assert_array_equal(sa, sb)


@pytest.mark.standalone
def test_cpp_standalone_rounds_and_batches(tpp_net, digits):
    x = digits[1][:45]
    a = tpp_net.run(x, device="reference", seed=11, progress=False)
    assert_same_spikes(a, tpp_net.run(x, device="cpp_standalone", seed=11, batch_size=4, rounds=3, progress=False))
    assert_same_spikes(a, tpp_net.run(x, device="cpp_standalone", seed=11, batch_size=45, rounds=1, progress=False))


@pytest.mark.cython
def test_cython_same_spikes(tpp_net, digits):
    x = digits[1][:30]
    a = tpp_net.run(x, device="reference", seed=11, progress=False)
    assert_same_spikes(a, tpp_net.run(x, device="runtime", codegen_target="cython", seed=11, batch_size=8,
                                      progress=False))


def test_deterministic_models_identical_across_devices_and_batches(demo_net, digits):
    x_train, x_test = digits[0], digits[1][:40]
    snn = nc.convert(demo_net, timesteps=16, calibration_data=x_train)
    a = snn.run(x_test, device="reference", progress=False)
    assert_same_spikes(a, snn.run(x_test, device="reference", batch_size=3, progress=False))
    assert_same_spikes(a, snn.run(x_test, device="runtime", batch_size=13, progress=False))
