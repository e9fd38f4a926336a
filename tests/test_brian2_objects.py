"""The converted network is made of real, named Brian2 objects that users can script."""

import brian2
import numpy as np
import pytest
from brian2 import ms, second

import neuroconv as nc
from neuroconv import ann
from neuroconv.equations import IF


def test_to_brian2_objects_and_names(demo_net, digits):
    x_train, x_test, _, _ = digits
    snn = nc.convert(demo_net, timesteps=8, calibration_data=x_train)
    net = snn.to_brian2(x_test[:3])
    assert isinstance(net, brian2.Network)
    for name in ("input", "layer0", "layer1", "output"):
        assert isinstance(net[name], brian2.NeuronGroup)
    for name in ("input_to_layer0", "layer0_to_layer1", "layer1_to_output"):
        assert isinstance(net[name], brian2.Synapses)
    assert isinstance(net["layer0_spikes"], brian2.SpikeMonitor)
    assert len(net["layer0"]) == 3 * 64 and len(net["output"]) == 3 * 10
    np.testing.assert_array_equal(net["input"].ann_input[:], x_test[:3].ravel())
    # the dense weights are the ANN's own, one synapse per non-zero weight and copy
    w = demo_net.layers[0].weight
    assert len(net["input_to_layer0"]) == 3 * np.count_nonzero(w)
    np.testing.assert_array_equal(net["layer0"].theta[:64], snn.layers[0].theta)


def test_scripted_run_matches_snn_run(demo_net, digits):
    x_train, x_test, _, _ = digits
    snn = nc.convert(demo_net, timesteps=8, calibration_data=x_train)
    net = snn.to_brian2(x_test[:4])
    net.run(snn.timesteps * snn.dt, namespace={})
    res = snn.run(x_test[:4], device="reference", progress=False)
    np.testing.assert_array_equal(net["layer1_spikes"].count[:].reshape(4, -1), res.spike_counts[1])
    np.testing.assert_allclose(net["output"].v[:].reshape(4, -1) / snn.timesteps, res.output, rtol=1e-12)


def test_spikes_cross_all_layers_in_one_step():
    """A spike emitted at step 0 by layer 0 makes layers 1 and 2 spike at step 0 too: no per-layer lag."""
    one = np.ones((1, 1))
    net = ann.Sequential([ann.Dense(one), ann.ReLU(), ann.Dense(one), ann.ReLU(), ann.Dense(one), ann.ReLU(),
                          ann.Dense(one)], input_shape=(1,))
    snn = nc.convert(net, neuron=IF(shift=False), timesteps=3, thresholds=[1.0, 1.0, 1.0])
    for device in ("runtime", "reference"):
        res = snn.run([[1.0]], device=device, progress=False)
        for k in range(3):
            neuron, times = res.spike_times(k, image=0)
            np.testing.assert_array_equal(times / ms, [0, 1, 2])
        assert res.output[0, 0] == pytest.approx(1.0)


def test_result_units_and_lookup(demo_net, digits):
    x_train, x_test, _, y_test = digits
    snn = nc.convert(demo_net, timesteps=16, calibration_data=x_train, dt=0.5 * ms)
    res = snn.run(x_test[:5], device="runtime", progress=False)
    assert res.layer_names == ["layer0", "layer1"]
    rates = res.rates("layer1")
    assert rates.dimensions == (1 / second).dimensions
    np.testing.assert_allclose(np.asarray(rates), res.spike_counts[1] / (16 * 0.5e-3))
    neuron, times = res.spike_times("layer0", image=2)
    assert times.dimensions == second.dimensions and np.all(times < 8 * ms)
    assert len(neuron) == res.spike_counts[0][2].sum()
    assert 0.0 <= res.accuracy(y_test[:5]) <= 1.0
    with pytest.raises(nc.NeuroconvError, match="no spiking layer named 'layer9'"):
        res.spike_counts[res.layer_index("layer9")]


def test_equations_are_plain_brian2():
    model = IF()
    group = brian2.NeuronGroup(3, model.equations, threshold=model.threshold, reset=model.reset_code,
                               method=model.method)
    assert set(group.variables) >= {"v", "I", "b", "theta"}
