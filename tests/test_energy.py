"""Energy estimate: operation counts by hand on small networks, units, and bad input."""

import numpy as np
import pytest
from brian2 import joule, ms, pjoule

import neuroconv as nc
from neuroconv import ann
from neuroconv.analysis import ann_macs, estimate_energy
from neuroconv.equations import IF, OneSpike


def test_counts_by_hand():
    # 2 inputs -> 3 hidden (IF) -> 2 outputs; hidden neuron 2 has a zero outgoing weight
    w2 = np.array([[1.0, 1.0, 0.5], [1.0, -1.0, 0.0]])
    net = ann.Sequential([ann.Dense(np.ones((3, 2))), ann.ReLU(), ann.Dense(w2)], input_shape=(2,))
    snn = nc.convert(net, neuron=IF(shift=False), timesteps=4, thresholds=[1.0])
    res = snn.run(np.array([[0.5, 0.0], [0.25, 0.25]]), device="reference", progress=False)
    counts = res.spike_counts[0]
    np.testing.assert_array_equal(counts, [[2, 2, 2], [2, 2, 2]])
    est = estimate_energy(snn, res)
    fan_out = np.array([2, 2, 1])  # the zero weight is not a synapse
    assert est.sops == pytest.approx(np.mean(counts @ fan_out)) == 10.0
    assert est.first_layer_macs == 6 and est.ann_macs == 12
    assert float(est.snn_energy / pjoule) == pytest.approx(6 * 4.6 + 10 * 0.9)
    assert float(est.ann_energy / pjoule) == pytest.approx(12 * 4.6)
    assert est.ratio == pytest.approx(12 * 4.6 / (6 * 4.6 + 10 * 0.9))
    custom = estimate_energy(snn, res, e_ac=1 * pjoule, e_mac=2 * pjoule)
    assert float(custom.snn_energy / pjoule) == pytest.approx(22.0)
    assert custom.to_dict()["snn_energy_pJ"] == pytest.approx(22.0)


def test_conv_macs_skip_padding():
    conv = ann.Conv2d(np.ones((2, 1, 3, 3)), np.zeros(2), padding=1)
    net = ann.Sequential([conv, ann.ReLU(), ann.Flatten(), ann.Dense(np.ones((3, 2 * 4 * 4)))], input_shape=(1, 4, 4))
    # 3x3 kernel on a 4x4 plane with padding 1: corners see 4 pixels, edges 6, inside 9
    per_channel = 4 * 4 + 8 * 6 + 4 * 9
    assert ann_macs(net) == [2 * per_channel, 0, 0, 3 * 32]


def test_one_spike_uses_fewer_operations_than_if(demo_net, digits):
    x_train, x_test = digits[0], digits[1][:100]
    one = nc.convert(demo_net, neuron=OneSpike(), calibration_data=x_train)
    rate = nc.convert(demo_net, timesteps=32, calibration_data=x_train)
    e_one = estimate_energy(one, one.run(x_test, device="reference", progress=False))
    e_if = estimate_energy(rate, rate.run(x_test, device="reference", progress=False))
    assert e_one.sops < e_if.sops
    assert e_one.ratio > e_if.ratio
    assert e_one.snn_energy.has_same_dimensions(joule)


def test_bad_input(demo_net, digits):
    x_train, x_test = digits[0], digits[1][:3]
    snn = nc.convert(demo_net, timesteps=8, calibration_data=x_train)
    res = snn.run(x_test, device="reference", progress=False)
    with pytest.raises(nc.NeuroconvError, match="e_ac must be a positive Brian2 energy"):
        estimate_energy(snn, res, e_ac=0.9)
    with pytest.raises(nc.NeuroconvError, match="e_mac"):
        estimate_energy(snn, res, e_mac=4.6 * ms)
    other = nc.convert(ann.Sequential([ann.Dense(np.ones((5, 64))), ann.ReLU(), ann.Dense(np.ones((2, 5)))],
                                      input_shape=(64,)), timesteps=8, thresholds=[1.0])
    with pytest.raises(nc.NeuroconvError, match="does not come from this network"):
        estimate_energy(other, res)
