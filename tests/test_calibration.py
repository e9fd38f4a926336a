import numpy as np
import pytest

import neuroconv as nc
from neuroconv import ann


@pytest.fixture
def conv_net(rng):
    return ann.Sequential([ann.Conv2d(rng.normal(size=(3, 1, 3, 3)), rng.normal(size=3), padding=1), ann.ReLU(),
                           ann.Flatten(), ann.Dense(rng.normal(size=(5, 48)), rng.normal(size=5)), ann.ReLU(),
                           ann.Dense(rng.normal(size=(2, 5)))], input_shape=(1, 4, 4))


def test_max_and_percentile_per_layer(conv_net, rng):
    x = rng.uniform(size=(50, 1, 4, 4))
    _, acts = conv_net.forward(x, return_activations=True)
    th = nc.calibrate(conv_net, x, method="max")
    assert [t.shape for t in th] == [(), ()]
    assert th[0] == acts[1].max() and th[1] == acts[4].max()
    p = nc.calibrate(conv_net, x, method="99.9%")
    assert p[0] == pytest.approx(np.percentile(acts[1], 99.9))
    assert nc.calibrate(conv_net, x, method=99.9)[0] == p[0]


def test_per_channel(conv_net, rng):
    x = rng.uniform(size=(50, 1, 4, 4))
    _, acts = conv_net.forward(x, return_activations=True)
    th = nc.calibrate(conv_net, x, per_channel=True)
    assert th[0].shape == (3,) and th[1].shape == (5,)
    expected = acts[1].max(axis=(0, 2, 3))
    layer_max = acts[1].max()
    np.testing.assert_array_equal(th[0], np.where(expected > 0, expected, layer_max))
    # per-channel thresholds expand to one per neuron, channel-major
    snn = nc.convert(conv_net, timesteps=4, calibration_data=x, per_channel=True)
    np.testing.assert_array_equal(snn.layers[0].theta, np.repeat(th[0], 16))


def test_explicit_thresholds_used_as_given(conv_net):
    snn = nc.convert(conv_net, timesteps=4, thresholds=[0.5, np.arange(1, 6)])
    assert np.all(snn.layers[0].theta == 0.5)
    np.testing.assert_array_equal(snn.layers[1].theta, np.arange(1, 6))
    assert snn.layers[2].theta is None  # membrane readout does not spike


def test_output_threshold_for_spike_readout(conv_net, rng):
    x = rng.uniform(size=(50, 1, 4, 4))
    th = nc.calibrate(conv_net, x, include_output=True)
    assert len(th) == 3 and th[2] == max(conv_net.forward(x).max(), 0)


def test_bad_percentiles(conv_net, rng):
    for bad in (0, 101, "p99", True):
        with pytest.raises(nc.NeuroconvError, match="calibration"):
            nc.calibrate(conv_net, rng.uniform(size=(5, 1, 4, 4)), method=bad)
