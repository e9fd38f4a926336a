"""A single IF layer driven by a constant input z emits clip(floor(T*z/theta + 1/2), 0, T) spikes (with shift)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import neuroconv as nc
from neuroconv import ann
from neuroconv.equations import IF

values = st.floats(-2.0, 4.0, allow_nan=False, width=64)


def single_layer(n):
    """input -> identity Dense -> IF layer -> output; the layer's drive is exactly z every step."""
    return ann.Sequential([ann.Dense(np.eye(n)), ann.ReLU(), ann.Dense(np.ones((1, n)))], input_shape=(n,))


def near_rounding_edge(z, theta, T, offset):
    """Where float rounding may legitimately move the count: T*z/theta + offset within 1e-9 of an integer."""
    q = T * z / theta + offset
    return np.abs(q - np.round(q)) < 1e-9


def check_counts(counts, z, theta, T, shift):
    expected = IF(shift=shift).expected_count(z, theta, T)
    ok = (counts == expected) | near_rounding_edge(z, theta, T, 0.5 if shift else 0.0)
    assert ok.all(), f"z={z[~ok]}, counts {counts[~ok]}, expected {expected[~ok]} (T={T}, theta={theta})"


def identity_test(device, n_examples):
    """Hypothesis test of the closed-form count on ``device`` for random z, T, theta and shift."""

    @settings(max_examples=n_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(z=arrays(np.float64, st.integers(1, 40), elements=values), T=st.integers(1, 70),
           theta=st.floats(0.05, 3.0), shift=st.booleans())
    def test(z, T, theta, shift):
        snn = nc.convert(single_layer(len(z)), neuron=IF(shift=shift), timesteps=T, thresholds=[theta])
        res = snn.run(z[None, :], device=device, progress=False)
        check_counts(res.spike_counts[0][0], z, theta, T, shift)

    return test


test_reference_identity = identity_test("reference", 200)
test_brian2_identity = identity_test("runtime", 25)


def test_identity_grid_exact_values():
    """Dyadic inputs and thresholds: every partial sum is exact, so no rounding slack is needed."""
    theta, T = 1.0, 16
    z = np.arange(-8, 41) / 32.0  # -0.25 ... 1.25 in steps of 1/32
    for shift in (True, False):
        snn = nc.convert(single_layer(len(z)), neuron=IF(shift=shift), timesteps=T, thresholds=[theta])
        for device in ("reference", "runtime"):
            counts = snn.run(z[None, :], device=device, progress=False).spike_counts[0][0]
            np.testing.assert_array_equal(counts, IF(shift=shift).expected_count(z, theta, T))


def test_zero_reset_loses_the_residual():
    # z = 0.625, theta = 1: soft reset keeps the 0.25 left over at each spike; reset-to-zero starts over and fires less often
    snn_soft = nc.convert(single_layer(1), neuron=IF(shift=False), timesteps=10, thresholds=[1.0])
    snn_zero = nc.convert(single_layer(1), neuron=IF(reset="zero", shift=False), timesteps=10, thresholds=[1.0])
    z = np.array([[0.625]])
    for device in ("reference", "runtime"):
        assert snn_soft.run(z, device=device, progress=False).spike_counts[0][0, 0] == 6
        assert snn_zero.run(z, device=device, progress=False).spike_counts[0][0, 0] == 5


def test_bad_model_parameters():
    with pytest.raises(nc.NeuroconvError, match="reset must be one of"):
        IF(reset="hard")
    with pytest.raises(nc.NeuroconvError, match="shift must be True, False or .calibrated."):
        IF(shift="yes")
