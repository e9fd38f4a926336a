"""Conversion error per layer: identities on the first layer, clipping by hand, bad input."""

import numpy as np
import pytest

import neuroconv as nc
from neuroconv.analysis import conversion_error, effective_activations
from neuroconv.equations import TPP, OneSpike


@pytest.mark.parametrize("kw", [dict(timesteps=8), dict(neuron=OneSpike())], ids=["IF", "OneSpike"])
def test_first_layer_error_is_all_quantisation(demo_net, digits, kw):
    """Layer 0 gets a constant input, so the closed form is exact: no propagation error."""
    x_train, x_test = digits[0], digits[1][:100]
    snn = nc.convert(demo_net, calibration_data=x_train, **kw)
    res = snn.run(x_test, device="reference", progress=False)
    report = conversion_error(snn, res, x_test)
    first, second = report["layers"]
    assert first["propagation"] == pytest.approx(0.0, abs=1e-9)
    assert first["mae"] == pytest.approx(first["quantisation"]) and first["clipping"] == 0.0
    assert second["propagation"] > 0  # deeper layers receive spikes, not a constant current
    assert 0.9 < first["correlation"] <= 1.0
    assert 0 <= report["output"]["agreement"] <= 1


def test_clipping_by_hand(demo_net, digits):
    x_test = digits[1][:50]
    acts = demo_net.forward(x_test, return_activations=True)[1]
    a0 = np.maximum(acts[0], 0)
    theta = 0.5 * a0.max()
    snn = nc.convert(demo_net, timesteps=16, thresholds=[theta, 10.0])
    res = snn.run(x_test, device="reference", progress=False)
    first = conversion_error(snn, res, x_test)["layers"][0]
    assert first["clipping"] == pytest.approx(np.mean(a0 - np.minimum(a0, theta)))
    np.testing.assert_allclose(effective_activations(snn, res)[0], res.spike_counts[0] * theta / 16)


def test_tpp_first_layer_is_unbiased_around_its_expectation(demo_net, digits):
    x_train, x_test = digits[0], digits[1][:200]
    snn = nc.convert(demo_net, neuron=TPP(unbiased=True), timesteps=8, calibration_data=x_train)
    res = snn.run(x_test, device="reference", seed=0, progress=False)
    eff = effective_activations(snn, res)[0]
    a = np.maximum(demo_net.forward(x_test, return_activations=True)[1][0], 0)
    assert abs(np.mean(eff - a)) < 0.01  # unbiased counts; sampling error only
    assert conversion_error(snn, res, x_test)["layers"][0]["propagation"] > 0  # the sampling noise


def test_bad_input(demo_net, digits):
    snn = nc.convert(demo_net, timesteps=8, calibration_data=digits[0])
    res = snn.run(digits[1][:5], device="reference", progress=False)
    with pytest.raises(nc.NeuroconvError, match="pass the inputs of the run"):
        conversion_error(snn, res, digits[1][:6])
    one = nc.convert(demo_net, neuron=OneSpike(), calibration_data=digits[0])
    quiet = one.run(digits[1][:5], device="reference", record_spikes=False, progress=False)
    with pytest.raises(nc.NeuroconvError, match="record_spikes=True"):
        conversion_error(one, quiet, digits[1][:5])
