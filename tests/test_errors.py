"""Bad input gets a NeuroconvError naming the parameter, before any simulation starts."""

import numpy as np
import pytest
from brian2 import ms, mV

import neuroconv as nc
from neuroconv import ann


@pytest.fixture
def net(rng):
    return ann.Sequential([ann.Dense(rng.normal(size=(6, 4)), rng.normal(size=6)), ann.ReLU(),
                           ann.Dense(rng.normal(size=(3, 6)))], input_shape=(4,))


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if anything reaches a backend."""
    import neuroconv.simulation.brian2.build as build
    import neuroconv.simulation.brian2.run as run
    import neuroconv.simulation.brian2.standalone as standalone
    import neuroconv.simulation.reference as reference

    def forbidden(*args, **kwargs):
        raise AssertionError("a simulation started before the input was validated")

    for module in (build, run, standalone):
        monkeypatch.setattr(module, "build_network", forbidden)
    monkeypatch.setattr(run, "run_runtime", forbidden)
    monkeypatch.setattr(standalone, "run_standalone", forbidden)
    monkeypatch.setattr(reference, "simulate", forbidden)


@pytest.mark.parametrize("T", [0, -3, 2.5, "8", True])
def test_bad_timesteps(net, T):
    with pytest.raises(nc.NeuroconvError, match="timesteps"):
        nc.convert(net, timesteps=T, thresholds=[1.0])


@pytest.mark.parametrize("theta", [0.0, -1.0, np.nan, np.inf, [1.0, -2.0, 1, 1, 1, 1]])
def test_bad_thresholds(net, theta):
    with pytest.raises(nc.NeuroconvError, match=r"thresholds\[0\] must be finite and > 0"):
        nc.convert(net, timesteps=8, thresholds=[theta])


def test_threshold_count_and_shape(net):
    with pytest.raises(nc.NeuroconvError, match="thresholds has 2 entries; this network has 1 spiking layer"):
        nc.convert(net, timesteps=8, thresholds=[1.0, 1.0])
    with pytest.raises(nc.NeuroconvError, match=r"thresholds\[0\] has shape \(4,\)"):
        nc.convert(net, timesteps=8, thresholds=[np.ones(4)])


def test_calibration_data_problems(net):
    with pytest.raises(nc.NeuroconvError, match="calibration_data is empty"):
        nc.convert(net, timesteps=8, calibration_data=np.zeros((0, 4)))
    with pytest.raises(nc.NeuroconvError, match="calibration_data: expected input of shape"):
        nc.convert(net, timesteps=8, calibration_data=np.zeros((5, 3)))
    with pytest.raises(nc.NeuroconvError, match="calibration_data contains NaN"):
        nc.convert(net, timesteps=8, calibration_data=np.full((5, 4), np.nan))
    with pytest.raises(nc.NeuroconvError, match="pass calibration_data"):
        nc.convert(net, timesteps=8)
    with pytest.raises(nc.NeuroconvError, match="calibration method 'median'"):
        nc.convert(net, timesteps=8, calibration_data=np.ones((5, 4)), method="median")


def test_other_convert_arguments(net):
    with pytest.raises(nc.NeuroconvError, match="readout must be one of"):
        nc.convert(net, timesteps=8, thresholds=[1.0], readout="rate")
    with pytest.raises(nc.NeuroconvError, match="dt must be a Brian2 time"):
        nc.convert(net, timesteps=8, thresholds=[1.0], dt=1 * mV)
    with pytest.raises(nc.NeuroconvError, match="dt must be positive"):
        nc.convert(net, timesteps=8, thresholds=[1.0], dt=-1 * ms)
    with pytest.raises(nc.NeuroconvError, match="neuron must be a neuron model"):
        nc.convert(net, neuron="IF", timesteps=8, thresholds=[1.0])
    with pytest.raises(nc.NeuroconvError, match="net must be a neuroconv.ann.Sequential"):
        nc.convert([ann.ReLU()], timesteps=8, thresholds=[1.0])


def test_network_structure_errors(rng):
    with pytest.raises(nc.NeuroconvError, match="ends with a ReLU"):
        nc.convert(ann.Sequential([ann.Dense(np.ones((2, 2))), ann.ReLU()], input_shape=(2,)), thresholds=[1.0])
    with pytest.raises(nc.NeuroconvError, match=r"layer 0 \(ReLU\) has no Dense"):
        nc.convert(ann.Sequential([ann.ReLU(), ann.Dense(np.ones((2, 2)))], input_shape=(2,)), thresholds=[1.0])


@pytest.mark.parametrize("x,match", [
    (np.zeros((3, 5)), r"x: expected input of shape \(batch, 4\), got \(3, 5\)"),
    (np.full((2, 4), np.inf), "x contains NaN or inf"),
    (np.zeros((0, 4)), "x is empty"),
    ([["a", "b", "c", "d"]], "x must be a real numeric array, got text"),
    (np.ones((2, 4)) * 1j, "x must be a real numeric array, got complex"),
])
def test_bad_run_inputs(net, no_simulation, x, match):
    snn = nc.convert(net, timesteps=8, thresholds=[1.0])
    with pytest.raises(nc.NeuroconvError, match=match):
        snn.run(x, device="runtime", progress=False)


@pytest.mark.parametrize("kwargs,match", [
    (dict(device="gpu"), r"unknown device 'gpu'; use one of \['runtime', 'cpp_standalone', 'cuda_standalone', 'reference'\]"),
    (dict(device="cuda_standalone"), "device='cuda_standalone' needs"),
    (dict(device="runtime", codegen_target="weave"), "codegen_target must be one of"),
    (dict(device="cpp_standalone", codegen_target="cython"), "applies to device='runtime' only"),
    (dict(device="runtime", batch_size=0), "batch_size must be a positive int"),
])
def test_bad_run_options(net, no_simulation, kwargs, match):
    snn = nc.convert(net, timesteps=8, thresholds=[1.0])
    with pytest.raises(nc.NeuroconvError, match=match):
        snn.run(np.zeros((2, 4)), progress=False, **kwargs)


def test_errors_are_value_errors():
    assert issubclass(nc.NeuroconvError, ValueError)


def test_oversized_batch_refused_before_building(net, no_simulation):
    snn = nc.convert(net, timesteps=8, thresholds=[1.0])
    per_image = snn.n_synapses
    with pytest.raises(nc.NeuroconvError, match=r"batch_size=10 needs .* synapses .* over max_synapses=.*at most 3"):
        snn.run(np.zeros((10, 4)), device="runtime", batch_size=10, max_synapses=3 * per_image, progress=False)
    with pytest.raises(nc.NeuroconvError, match="over max_synapses"):
        snn.run(np.zeros((2, 4)), device="cpp_standalone", max_synapses=per_image - 1, progress=False)


def test_resource_estimate(net):
    from neuroconv.simulation.devices import estimate_resources

    snn = nc.convert(net, timesteps=8, thresholds=[1.0])
    est = estimate_resources(snn, 4)
    assert est["synapses"] == 4 * (np.count_nonzero(net.layers[0].weight) + np.count_nonzero(net.layers[2].weight))
    assert est["neurons"] == 4 * (4 + 6 + 3) and est["memory_bytes"] > 25 * est["synapses"]


def test_resource_guards_refuse_before_building(net, monkeypatch, tmp_path):
    """Memory against NEUROCONV_MAX_MEMORY and a standalone project's files against the free disk space."""
    import shutil
    from collections import namedtuple

    snn = nc.convert(net, timesteps=8, thresholds=[1.0])
    x = np.random.default_rng(0).uniform(0, 1, (64, 4))
    monkeypatch.setenv("NEUROCONV_MAX_MEMORY", "16K")  # the input (4 KiB) fits, the build not
    with pytest.raises(nc.NeuroconvError, match=r"batch_size=64 .* over max_synapses=204 \(the memory budget of "
                                                r"16384 bytes, NEUROCONV_MAX_MEMORY.*raise NEUROCONV_MAX_MEMORY"):
        snn.run(x, device="runtime", batch_size=64, progress=False)
    monkeypatch.setenv("NEUROCONV_MAX_MEMORY", "lots")
    with pytest.raises(nc.NeuroconvError, match="NEUROCONV_MAX_MEMORY='lots'"):
        snn.run(x, device="runtime", progress=False)
    monkeypatch.delenv("NEUROCONV_MAX_MEMORY")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1000))
    with pytest.raises(nc.NeuroconvError, match="GiB of files and .* free; pass a smaller batch_size"):
        snn.run(x, device="cpp_standalone", build_directory=tmp_path / "b", progress=False)
    with pytest.raises(nc.NeuroconvError, match="free"):
        snn.build(directory=tmp_path / "b")
    assert not (tmp_path / "b").exists()
