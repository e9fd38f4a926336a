"""``run(record=...)``: which layers' and images' spike trains a run keeps, on every CPU device, with one
C++ binary for every choice; its errors and memory check; the gated-monitor patch of ``main.cpp`` (issue 20)."""

import numpy as np
import pytest

import neuroconv as nc
from neuroconv import ann
from neuroconv.simulation.brian2 import program
from neuroconv.simulation.result import LayerSpikes


@pytest.fixture(scope="module")
def two_layers():
    """A CNN with two spiking hidden layers (conv, dense) and a membrane readout."""
    rng = np.random.default_rng(11)
    net = ann.Sequential([ann.Conv2d(rng.normal(0, 0.6, (3, 1, 3, 3)), rng.normal(0, 0.05, 3), padding=1), ann.ReLU(),
                          ann.AvgPool2d(2), ann.Flatten(), ann.Dense(rng.normal(0, 0.5, (6, 12))), ann.ReLU(),
                          ann.Dense(rng.normal(0, 0.5, (3, 6)))], (1, 4, 4))
    x = rng.uniform(0, 1, (90, 1, 4, 4))
    snn = nc.convert(net, timesteps=10, calibration_data=x)
    return snn, x, snn.run(x, device="reference", progress=False)


def _kept(full: LayerSpikes, images):
    keep = np.isin(full.image, images)
    return LayerSpikes(*(a[keep] for a in full))


def _check(res, ref, layers, images):
    """``res`` recorded ``layers`` for ``images`` (None: all) and holds exactly those trains of ``ref``."""
    np.testing.assert_array_equal(res.predictions, ref.predictions)
    for k in range(len(ref.spike_counts)):
        np.testing.assert_array_equal(res.spike_counts[k], ref.spike_counts[k])  # counts: always
        if k not in layers:
            assert res.spikes[k] is None
            with pytest.raises(nc.NeuroconvError, match="were not recorded"):
                res.spike_times(k, 0)
            continue
        if images is None:
            assert res.spikes[k] == ref.spikes[k] and res.spikes[k].images is None
        else:
            assert res.spikes[k] == _kept(ref.spikes[k], images)
            np.testing.assert_array_equal(res.spikes[k].images, images)


@pytest.mark.parametrize("device", ["reference", "runtime"])
def test_record_chooses_layers_and_images(two_layers, device):
    snn, x, ref = two_layers
    names = [layer.name for layer in snn.hidden_layers]
    res = snn.run(x, device=device, progress=False, record=[names[1]])
    _check(res, ref, {1}, None)
    images = np.array([0, 5, 44, 89])
    res = snn.run(x, device=device, progress=False, record={"layers": "all", "images": [89, 5, 0, 44, 5]})
    _check(res, ref, {0, 1}, images)
    neuron, times = res.spike_times(0, 44)
    np.testing.assert_array_equal(neuron, ref.spike_times(0, 44)[0])
    with pytest.raises(nc.NeuroconvError, match="image 1's spike trains were not recorded"):
        res.spike_times(0, 1)
    with pytest.raises(nc.NeuroconvError, match="recorded for 4 of 90 images"):
        res.first_spike_steps(0)
    assert snn.run(x, device=device, progress=False, record=False).spikes is None
    res = snn.run(x, device=device, progress=False, record={"layers": [0], "images": slice(10, 20)})
    _check(res, ref, {0}, np.arange(10, 20))


@pytest.mark.standalone
def test_one_binary_serves_every_recording(two_layers, tmp_path, monkeypatch):
    """cpp_standalone: all, none, one layer, some images, in one process: one compile, the monitors switched on
    the binary's command line; every choice holds the reference's trains."""
    monkeypatch.setenv("NEUROCONV_CACHE", str(tmp_path / "cache"))
    program.forget_all()
    snn, x, ref = two_layers
    try:
        builds = []
        for record, layers, images in ((True, {0, 1}, None), (False, set(), None), ([1], {1}, None),
                                       ({"images": slice(0, 90, 9)}, {0, 1}, np.arange(0, 90, 9))):
            res = snn.run(x, device="cpp_standalone", progress=False, record=record)
            builds.append(res.build_time > 0)
            if not layers:
                assert res.spikes is None
                np.testing.assert_array_equal(res.spike_counts[1], ref.spike_counts[1])
            else:
                _check(res, ref, layers, images)
        assert builds == [True, False, False, False]
    finally:
        program.forget_all()


@pytest.mark.standalone
def test_multiplexed_trains_as_words(two_layers, tmp_path, monkeypatch):
    """A time-multiplexed binary records each round's trains as words of 48 steps (``build.train_words``): at
    T = 60 two words per neuron, 7 copies per round, one round unpacked per block; every spike is the
    reference's."""
    from neuroconv.simulation import result
    from neuroconv.simulation.brian2 import run

    monkeypatch.setenv("NEUROCONV_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(result, "_EVENT_BLOCK", 1)
    snn, x, _ = two_layers
    long = snn.with_timesteps(60)
    ref = long.run(x, device="reference", progress=False)
    calls, word_bits = [], run._word_bits

    def spy(words, n_copies, size, T, rounds, n_images):
        calls.append((len(words), n_copies, T, rounds))
        return word_bits(words, n_copies, size, T, rounds, n_images)

    monkeypatch.setattr(run, "_word_bits", spy)
    res = long.run(x, device="cpp_standalone", progress=False, batch_size=7)
    assert calls and all(c[:3] == (2, 7, 60) and c[3] > 1 for c in calls)  # two words, several rounds
    _check(res, ref, {0, 1}, None)


@pytest.mark.parametrize("T, block", [(5, None), (48, None), (60, 1), (100, None)])
def test_train_words_to_bits(T, block, monkeypatch):
    """Train words as a StateMonitor holds them (neurons x records, record 0 before the first round; a spike in
    step s adds 2**(s - 48 j) to word j) become the bits of each image's trains: 13 neurons (not whole
    bytes), 3 copies, 8 images (the last round padded), in one block or a round per block."""
    from neuroconv.simulation import result
    from neuroconv.simulation.brian2 import build, run

    if block is not None:
        monkeypatch.setattr(result, "_EVENT_BLOCK", block)
    rng = np.random.default_rng(T)
    n_copies, size, n_images = 3, 13, 8
    rounds = -(-n_images // n_copies)
    trains = rng.random((rounds, n_copies, T, size)) < 0.3
    names = build.word_names(T)
    words = []
    for j in range(len(names)):
        steps = np.arange(T)
        inside = (steps >= 48 * j) & (steps < 48 * (j + 1))
        value = (trains * np.where(inside, 2.0 ** np.where(inside, steps - 48 * j, 0), 0)[:, None]).sum(axis=2)
        record = np.zeros((n_copies * size, rounds + 1))
        record[:, 1:] = value.reshape(rounds, n_copies * size).T
        words.append(record)
    spikes = run._word_bits(words, n_copies, size, T, rounds, n_images)
    expected = np.packbits(trains.reshape(rounds * n_copies, T, size)[:n_images], axis=-1)
    np.testing.assert_array_equal(spikes._bits, expected)


def test_record_refusals_come_before_the_run(two_layers, monkeypatch):
    snn, x, _ = two_layers
    with pytest.raises(nc.NeuroconvError, match="no hidden layer named 'conv'"):
        snn.run(x, device="reference", record=["conv"])
    with pytest.raises(nc.NeuroconvError, match="layer 5 is out of range"):
        snn.run(x, device="reference", record=[5])
    with pytest.raises(nc.NeuroconvError, match=r"image indices must lie in 0..89"):
        snn.run(x, device="reference", record={"images": [90]})
    with pytest.raises(nc.NeuroconvError, match="unknown key"):
        snn.run(x, device="reference", record={"layer": [0]})
    with pytest.raises(nc.NeuroconvError, match="record= alone"):
        snn.run(x, device="reference", record=True, record_spikes=False)
    # the trains' bits are checked against the memory budget before anything runs
    long = snn.with_timesteps(2000)
    per_image = long.run_steps * sum(-(-layer.size // 8) for layer in long.hidden_layers)
    monkeypatch.setenv("NEUROCONV_MAX_MEMORY", str(30 * per_image))
    with pytest.raises(nc.NeuroconvError, match="the spike trains of 90 images needs about"):
        long.run(x, device="reference", progress=False)
    assert long.run(x, device="reference", progress=False, record=False).spikes is None  # counts alone fit


def test_chosen_images_are_kept_as_each_batch_ends(two_layers, monkeypatch):
    """The reference in batches of 4: each batch keeps only its chosen images' trains, so the memory check counts
    the chosen images (and the batches in flight), not every image; the trains are the full run's."""
    snn, x, ref = two_layers
    images = np.array([1, 2, 3, 40, 88])
    res = snn.run(x, device="reference", progress=False, batch_size=4, record={"images": images})
    _check(res, ref, {0, 1}, images)
    assert res.spikes[0]._bits.shape[0] == len(images)  # held as bits of the chosen images alone
    res = snn.run(x, device="reference", progress=False, batch_size=4, record={"images": slice(50, 10, -7)})
    _check(res, ref, {0, 1}, np.arange(15, 51, 7))  # a slice backwards: the same images, in order
    from neuroconv import _checks

    monkeypatch.setattr(_checks, "usable_cores", lambda: 2)  # two batches of 4 in flight at once
    long = snn.with_timesteps(2000)
    per_image = long.run_steps * sum(-(-layer.size // 8) for layer in long.hidden_layers)
    monkeypatch.setenv("NEUROCONV_MAX_MEMORY", str(30 * per_image))
    with pytest.raises(nc.NeuroconvError, match="the spike trains of 90 images"):
        long.run(x, device="reference", progress=False, batch_size=4)
    res = long.run(x, device="reference", progress=False, batch_size=4, record={"images": [0, 89]})
    np.testing.assert_array_equal(res.spikes[1].images, [0, 89])


def test_from_events_in_blocks_equals_one_block(monkeypatch):
    """Events packed a block of images at a time (sorted first) give the bits of one block."""
    from neuroconv.simulation import result

    rng = np.random.default_rng(3)
    n_images, n_steps, n_neurons = 13, 7, 21
    trains = rng.random((n_images, n_steps, n_neurons)) < 0.2
    image, step, neuron = np.nonzero(trains)
    order = rng.permutation(len(image))
    whole = LayerSpikes.from_events(image[order], neuron[order], step[order], n_images, n_steps, n_neurons)
    monkeypatch.setattr(result, "_EVENT_BLOCK", 3 * n_steps * n_neurons)  # three images per block
    blocks = LayerSpikes.from_events(image[order], neuron[order], step[order], n_images, n_steps, n_neurons)
    np.testing.assert_array_equal(whole._bits, np.packbits(trains, axis=-1))
    np.testing.assert_array_equal(blocks._bits, whole._bits)


def test_gated_monitor_patch(tmp_path):
    main = ("int main(int argc, char **argv)\n{\n\tstd::vector<std::string> args(argv + 1, argv + argc);\n"
            "\tbrian_start();\n\t{\n"
            "\t\tneuroconv_network.add(&neuroconv_clock, _run_a_spikes_codeobject);\n"
            "\t\tneuroconv_network.add(&neuroconv_clock, _run_b_spikes_codeobject);\n"
            "\t\tneuroconv_network.run(0.033, NULL, 10.0);\n\t}\n}\n")
    (tmp_path / "main.cpp").write_text(main)
    program.patch_duration(tmp_path, ["a_spikes", "b_spikes"])
    text = (tmp_path / "main.cpp").read_text()
    assert ("if (neuroconv_record.size() <= 1 || neuroconv_record[1] == '1') "
            "neuroconv_network.add(&neuroconv_clock, _run_b_spikes_codeobject);") in text
    assert text.index(program.RECORD_FLAG) < text.index("brian_start();")
    (tmp_path / "main.cpp").write_text(main)
    with pytest.raises(nc.NeuroconvError, match="unexpected layout"):
        program.patch_duration(tmp_path, ["c_spikes"])


@pytest.mark.parametrize("block", [None, 1])
def test_monitor_events_to_bits(block, monkeypatch):
    """A time-multiplexed monitor's events (copies, rounds, the extra step after the last round, padding copies
    of the last round) become the bits of each image's trains, in one block or one round per block."""
    from neuroconv.simulation import result
    from neuroconv.simulation.brian2 import run

    if block is not None:
        monkeypatch.setattr(result, "_EVENT_BLOCK", block)
    rng = np.random.default_rng(8)
    n_copies, size, T, n_images = 3, 10, 5, 8  # 3 rounds, the last with one padding copy
    rounds = -(-n_images // n_copies)
    fired = rng.random((rounds * T + 1, n_copies * size)) < 0.3  # (global step, monitor index)
    steps, i = np.nonzero(fired)  # in time order, as a monitor writes them
    dt = 1e-4  # times as a monitor holds them: steps of dt in seconds
    bits = run._monitor_bits(i.astype(np.int32), steps * dt, dt, n_copies, size, T, n_images)
    copy, neuron = np.divmod(i, size)
    image, step = (steps // T) * n_copies + copy, steps % T
    keep = (image < n_images) & (steps < rounds * T)
    expected = LayerSpikes.from_events(image[keep], neuron[keep], step[keep], n_images, T, size)
    np.testing.assert_array_equal(bits._bits, expected._bits)


@pytest.mark.parametrize("stochastic", [False, True])
def test_reference_batches_on_threads_equal_one_thread(two_layers, monkeypatch, stochastic):
    """The reference runs one batch per core at once: every spike, count and readout as in one thread."""
    from neuroconv import _checks

    snn, x, _ = two_layers
    if stochastic:
        from neuroconv.equations import TPP

        snn = nc.convert(snn.ann, neuron=TPP(), timesteps=8, calibration_data=x)
    runs = {}
    for cores in (1, 3):
        monkeypatch.setattr(_checks, "usable_cores", lambda: cores)
        runs[cores] = snn.run(x, device="reference", batch_size=7, seed=4, progress=False)
    one, three = runs[1], runs[3]
    np.testing.assert_array_equal(one.output, three.output)
    for a, b in zip(one.spike_counts, three.spike_counts):
        np.testing.assert_array_equal(a, b)
    assert all(a == b for a, b in zip(one.spikes, three.spikes))
