"""cuda_standalone via brian2cuda: code generation + nvcc everywhere nvcc exists, runs where a GPU exists.

Needs the ``cuda`` extra (Python >= 3.12). ``.ci/run`` runs these in a Python 3.12
environment with ``pytest -m cuda``; on a GPU machine ``pytest -m gpu`` runs the rest.
"""

import os
import shutil

import numpy as np
import pytest

import neuroconv as nc
from neuroconv.simulation.brian2 import cuda
from neuroconv.equations import TPP, OneSpike
from nets import assert_equivalent

brian2cuda = pytest.importorskip("brian2cuda", reason="the cuda extra (brian2cuda) is not installed")
needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH")
HAS_GPU = cuda.gpu_available()


@pytest.fixture(params=["if", "one_spike", "tpp", "brian2_strings", "lif_delays"])
def small_snn(request, demo_net, digits):
    x_train, x_test, _, _ = digits
    if request.param == "lif_delays":  # refractoriness, counter-based noise, jitter, v_rest, per-synapse delays
        from brian2 import ms

        from neuroconv.equations import LIF

        model = LIF(tau=20 * ms, refractory=2 * ms, noise=0.1, threshold_jitter=0.1, v_rest=0.5)
        return nc.convert(demo_net, neuron=model, timesteps=16, calibration_data=x_train,
                          delays=nc.Delays(1 * ms, jitter=1 * ms, seed=0)), x_test
    if request.param == "brian2_strings":  # a model from Brian2 strings: a leaky IF
        from neuroconv.equations import NeuronModel

        def leaky_step(v, drive, theta):
            v *= 0.9
            v += drive
            spikes = v >= theta
            v -= theta * spikes
            return spikes

        model = NeuronModel.from_brian2("dv/dt = (v * (decay - 1) + I + b) / dt : 1\nI : 1\nb : 1 (constant)\n"
                                        "theta : 1 (constant)", threshold="v >= theta", reset="v -= theta",
                                        namespace={"decay": 0.9}, reference_step=leaky_step, name="leaky")
        return nc.convert(demo_net, neuron=model, timesteps=16, calibration_data=x_train), x_test
    if request.param == "one_spike":
        return nc.convert(demo_net, neuron=OneSpike(), calibration_data=x_train), x_test
    if request.param == "tpp":  # rand() in the threshold and in an initial value: cuRAND
        return nc.convert(demo_net, neuron=TPP(unbiased=True), timesteps=8, calibration_data=x_train), x_test
    return nc.convert(demo_net, timesteps=16, calibration_data=x_train), x_test


@pytest.mark.cuda
@needs_nvcc
def test_cuda_project_generates_and_compiles(small_snn, tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCONV_CACHE", str(tmp_path / "cache"))
    snn, _ = small_snn
    directory = snn.build(device="cuda_standalone", directory=tmp_path / "project", batch_size=2)
    assert os.access(os.path.join(directory, "main"), os.X_OK)
    with open(os.path.join(directory, "makefile")) as fh:
        makefile = fh.read()
    assert "-std=c++17" in makefile and "-std=c++11" not in makefile
    assert any(f.endswith(".cu") for f in os.listdir(os.path.join(directory, "code_objects")))


@pytest.mark.cuda
@pytest.mark.skipif(HAS_GPU, reason="a GPU is present")
def test_running_without_gpu_is_a_clear_error(small_snn, monkeypatch):
    import neuroconv.simulation.brian2.standalone as standalone

    monkeypatch.setattr(standalone, "run_standalone", lambda *a, **k: pytest.fail("started a build"))
    snn, x = small_snn
    with pytest.raises(nc.NeuroconvError, match="needs an NVIDIA GPU to run"):
        snn.run(x[:2], device="cuda_standalone", progress=False)


@pytest.mark.gpu
@pytest.mark.cuda
@pytest.mark.skipif(not HAS_GPU, reason="no GPU")
def test_cuda_matches_reference_in_batches(small_snn, tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCONV_CACHE", str(tmp_path / "cache"))
    snn, x = small_snn
    if snn.neuron.stochastic:  # counter-based random numbers: the reference's draws, spike for spike
        res = snn.run(x, device="cuda_standalone", batch_size=128, seed=1, progress=False)
        ref = snn.run(x, device="reference", seed=1, progress=False)
        for a, b in zip(res.spike_counts, ref.spike_counts):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(res.predictions, ref.predictions)
        return
    ref = snn.run(x, device="reference", progress=False, record_margin=True)
    # 540 images in batches of 128: one build, five runs with new inputs
    res = snn.run(x, device="cuda_standalone", batch_size=128, progress=False)
    assert_equivalent(res, ref)
    again = snn.run(x[:256], device="cuda_standalone", batch_size=128, progress=False)
    assert again.build_time < res.build_time  # the compiled binary came from the cache
    np.testing.assert_array_equal(again.predictions, ref.predictions[:256])
