"""C++ standalone: one compiled binary per network for every number of images, kept ready in the process;
OpenMP threads; the compile as its own progress phase; compact spike recording; the memory-derived synapse
budget (issue 20)."""

import numpy as np
import pytest

import neuroconv as nc
from neuroconv import ann
from neuroconv.simulation import devices
from neuroconv.simulation.brian2 import program, standalone
from neuroconv.simulation.result import LayerSpikes


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCONV_CACHE", str(tmp_path / "cache"))
    program.forget_all()
    yield tmp_path / "cache" / "standalone"
    program.forget_all()


@pytest.fixture(scope="module")
def small_cnn():
    rng = np.random.default_rng(5)
    net = ann.Sequential([ann.Conv2d(rng.normal(0, 0.6, (3, 1, 3, 3)), rng.normal(0, 0.05, 3), padding=1), ann.ReLU(),
                          ann.AvgPool2d(2), ann.Flatten(), ann.Dense(rng.normal(0, 0.5, (4, 12)))], (1, 4, 4))
    x = rng.uniform(0, 1, (300, 1, 4, 4))
    return nc.convert(net, timesteps=12, calibration_data=x), x


@pytest.mark.standalone
def test_one_compile_serves_every_image_count(small_cnn, cache):
    """Image counts 1 .. 300 in one process: one binary in the cache, built by the first call only; every run equals
    the reference spike for spike (the run's rounds come on the patched binary's command line)."""
    snn, x = small_cnn
    ref = snn.run(x, device="reference", progress=False)
    builds = []
    for n in (1, 37, 300, 2, 1):
        res = snn.run(x[:n], device="cpp_standalone", progress=False)
        builds.append(res.build_time > 0)
        np.testing.assert_array_equal(res.spike_counts[0], ref.spike_counts[0][:n])
        np.testing.assert_allclose(res.output, ref.output[:n], atol=1e-12)
        keep = ref.spikes[0].image < n
        assert res.spikes[0] == LayerSpikes(*(a[keep] for a in ref.spikes[0]))
        assert res.simulation_time == pytest.approx(res.wall_time - res.build_time)
    assert builds == [True, False, False, False, False]
    assert len([d for d in cache.iterdir() if not d.name.startswith(".")]) == 1
    # a new process-level start (the program forgotten) takes the binary from the build cache: no compile
    program.forget_all()
    res = snn.run(x[:5], device="cpp_standalone", progress=False)
    assert len([d for d in cache.iterdir() if not d.name.startswith(".")]) == 1
    np.testing.assert_array_equal(res.spike_counts[0], ref.spike_counts[0][:5])


@pytest.mark.standalone
def test_openmp_threads_give_the_same_spikes(small_cnn, cache):
    snn, x = small_cnn
    one = snn.run(x[:40], device="cpp_standalone", progress=False, threads=1)
    two = snn.run(x[:40], device="cpp_standalone", progress=False, threads=2)
    np.testing.assert_array_equal(one.spike_counts[0], two.spike_counts[0])
    np.testing.assert_array_equal(one.output, two.output)
    assert two.spikes[0] == one.spikes[0]


def test_threads_and_compile_phase_wording(small_cnn):
    snn, x = small_cnn
    with pytest.raises(nc.NeuroconvError, match=r"threads=2 applies to device='cpp_standalone' only"):
        snn.run(x[:2], device="reference", threads=2, progress=False)
    with pytest.raises(nc.NeuroconvError, match="threads must be a positive int, got 0"):
        snn.run(x[:2], device="cpp_standalone", threads=0, progress=False)
    assert "first run only" in standalone.COMPILING


def test_make_runs_one_job_per_core():
    from brian2 import prefs

    previous = prefs.devices.cpp_standalone.extra_make_args_unix
    try:
        prefs.devices.cpp_standalone.extra_make_args_unix = ["-j"]
        command = standalone.make_command()
        assert command[-1].startswith("-j") and int(command[-1][2:]) >= 1
        prefs.devices.cpp_standalone.extra_make_args_unix = ["-j3", "-s"]
        assert standalone.make_command()[-2:] == ["-j3", "-s"]
    finally:
        prefs.devices.cpp_standalone.extra_make_args_unix = previous


def test_duration_patch_and_its_refusal(tmp_path):
    main = ("int main(int argc, char **argv)\n{\n\tstd::vector<std::string> args(argv + 1, argv + argc);\n"
            "\tbrian_start();\n\t{\n\t\tneuroconv_network.run(0.033, NULL, 10.0);\n\t}\n}\n")
    (tmp_path / "main.cpp").write_text(main)
    program.patch_duration(tmp_path)
    text = (tmp_path / "main.cpp").read_text()
    assert "neuroconv_network.run((neuroconv_duration >= 0 ? neuroconv_duration : 0.033), NULL, 10.0);" in text
    assert text.index(program.DURATION_FLAG) < text.index("brian_start();")
    (tmp_path / "main.cpp").write_text(main.replace("neuroconv_network.run", "other.run"))
    with pytest.raises(nc.NeuroconvError, match="unexpected layout"):
        program.patch_duration(tmp_path)


def test_fingerprint_follows_parameters(small_cnn):
    snn, _ = small_cnn
    key = program.fingerprint(snn)
    assert program.fingerprint(snn) == key
    other = nc.convert(snn.ann, timesteps=12, thresholds=[t * 1.01 for t in snn.thresholds])
    assert program.fingerprint(other) != key
    assert program.fingerprint(snn.with_timesteps(13)) != key


def test_compact_spikes_equal_the_arrays(small_cnn):
    """The reference keeps one bit per neuron and step; expanded, they are the runtime device's spike arrays."""
    snn, x = small_cnn
    ref = snn.run(x[:30], device="reference", progress=False)
    spikes = ref.spikes[0]
    assert spikes.compact
    bits = spikes.nbytes
    assert bits == 30 * snn.run_steps * -(-snn.layers[0].size // 8)
    runtime = snn.run(x[:30], device="runtime", progress=False)
    assert runtime.spikes[0] == spikes and not spikes.compact
    image, neuron, step = spikes  # unpacks as the NamedTuple it was
    assert len(image) == int(ref.spike_counts[0].sum()) and spikes.nbytes > bits
    assert np.all(np.diff(image * 10**6 + step * 10**3 + neuron) > 0)  # sorted by (image, step, neuron)
    merged = LayerSpikes.merge([(0, snn.run(x[:10], device="reference", progress=False).spikes[0]),
                                (10, snn.run(x[10:30], device="reference", progress=False).spikes[0])])
    assert merged.compact and merged == runtime.spikes[0]


def test_synapse_budget_follows_the_memory_budget(small_cnn, monkeypatch):
    snn, x = small_cnn
    monkeypatch.setenv("NEUROCONV_MAX_MEMORY", str(devices.PEAK_BYTES_PER_SYNAPSE * (snn.n_synapses - 1)))
    assert devices.default_max_synapses() == snn.n_synapses - 1
    with pytest.raises(nc.NeuroconvError, match="one image alone is over the budget: raise NEUROCONV_MAX_MEMORY"):
        snn.run(x[:2], device="cpp_standalone", progress=False)
    monkeypatch.setenv("NEUROCONV_MAX_MEMORY", "8G")
    assert devices.default_max_synapses() == 8 * 2**30 // devices.PEAK_BYTES_PER_SYNAPSE


def test_cuda_batches_come_in_power_of_two_buckets(small_cnn):
    """cuda_standalone (one batch per binary run) plans its copies from a few buckets: 1..8192 images need at
    most 14 builds, each bucket within the synapse budget (here 300 copies: 10 builds), and one copy over the budget is refused."""
    snn, _ = small_cnn
    budget = 300 * snn.n_synapses
    copies = {n: devices.bucketed_copies(snn, n, budget) for n in range(1, 8193)}
    assert copies[1] == 1 and copies[2] == 2 and copies[3] == 4 and copies[129] == 256 and copies[257] == 300
    assert all(min(n, 300) <= c <= 300 for n, c in copies.items())  # holds the images, or the budget's copies
    assert len(set(copies.values())) == 10  # 1, 2, 4, ..., 256, and the budget's 300
    with pytest.raises(nc.NeuroconvError, match="one image alone is over the budget"):
        devices.bucketed_copies(snn, 5, snn.n_synapses - 1)
