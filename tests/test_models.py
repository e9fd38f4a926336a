"""The neuron-model interface: models from Brian2 strings, the registry, and what the package asks of a model."""

import numpy as np
import pytest

import neuroconv as nc
from neuroconv.equations import IF, MODELS, TPP, NeuronModel, OneSpike, model_from_spec, model_spec

IF_EQUATIONS = """
dv/dt = (I + b) / dt : 1
I : 1
b : 1 (constant)
theta : 1 (constant)
"""

#: A leaky IF neuron, discretised exactly: v <- decay * v + I + b every step.
LEAKY_EQUATIONS = """
dv/dt = (v * (decay - 1) + I + b) / dt : 1
I : 1
b : 1 (constant)
theta : 1 (constant)
"""


def if_copy(**kw):
    return NeuronModel.from_brian2(IF_EQUATIONS, threshold="v >= theta", reset="v -= theta", name="if_copy", **kw)


def leaky(decay, reference=True):
    def step(v, drive, theta):
        v *= decay
        v += drive
        spikes = v >= theta
        v -= theta * spikes
        return spikes

    return NeuronModel.from_brian2(LEAKY_EQUATIONS, threshold="v >= theta", reset="v -= theta",
                                   namespace={"decay": decay}, name="leaky",
                                   reference_step=step if reference else None)


@pytest.fixture(scope="module")
def small(digits, demo_net):
    x_train, x_test, _, y_test = digits
    return demo_net, x_train[:300], x_test[:12], y_test[:12]


def counts_equal(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.spike_counts, b.spike_counts))


def test_from_brian2_if_equals_if_without_shift_on_runtime(small):
    net, x_cal, x, _ = small
    mine = nc.convert(net, neuron=if_copy(), timesteps=16, calibration_data=x_cal)
    plain = nc.convert(net, neuron=IF(shift=False), timesteps=16, calibration_data=x_cal)
    a = mine.run(x, device="runtime", progress=False)
    b = plain.run(x, device="runtime", progress=False)
    assert counts_equal(a, b) and sum(c.sum() for c in a.spike_counts) > 0
    np.testing.assert_array_equal(a.output, b.output)


@pytest.mark.standalone
def test_from_brian2_if_equals_if_without_shift_on_cpp_standalone(small, tmp_path):
    net, x_cal, x, _ = small
    mine = nc.convert(net, neuron=if_copy(), timesteps=16, calibration_data=x_cal)
    plain = nc.convert(net, neuron=IF(shift=False), timesteps=16, calibration_data=x_cal)
    a = mine.run(x, device="cpp_standalone", progress=False)
    b = plain.run(x, device="reference", progress=False)
    assert counts_equal(a, b)
    np.testing.assert_allclose(a.output, b.output, rtol=1e-9, atol=1e-12)


def test_reference_step_makes_the_reference_equal_brian2(small):
    net, x_cal, x, _ = small
    snn = nc.convert(net, neuron=leaky(0.9), timesteps=24, calibration_data=x_cal)
    ref = snn.run(x, device="reference", progress=False)
    b2 = snn.run(x, device="runtime", progress=False)
    assert counts_equal(ref, b2)
    np.testing.assert_allclose(ref.output, b2.output, rtol=1e-9, atol=1e-12)
    # the leak loses spikes against IF(shift=False) on the same thresholds
    plain = nc.convert(net, neuron=IF(shift=False), timesteps=24, calibration_data=x_cal)
    assert sum(c.sum() for c in ref.spike_counts) < sum(c.sum() for c in plain.run(x, device="reference",
                                                                                   progress=False).spike_counts)


def test_huge_time_constant_is_if(small):
    net, x_cal, x, _ = small
    a = nc.convert(net, neuron=leaky(1.0), timesteps=16, calibration_data=x_cal).run(x, device="reference",
                                                                                      progress=False)
    b = nc.convert(net, neuron=IF(shift=False), timesteps=16, calibration_data=x_cal).run(x, device="reference",
                                                                                         progress=False)
    assert counts_equal(a, b)


def test_reference_refuses_a_model_without_reference_step(small):
    net, x_cal, x, _ = small
    snn = nc.convert(net, neuron=leaky(0.9, reference=False), timesteps=8, calibration_data=x_cal)
    with pytest.raises(nc.NeuroconvError, match="reference_step"):
        snn.run(x, device="reference", progress=False)
    from neuroconv.simulation.reference import readouts_over_time

    with pytest.raises(nc.NeuroconvError, match="reference_step"):
        readouts_over_time(snn, x, [2, 4], progress=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(equations="dv/dt = (I + b) / dt : 1\nI : 1\nb : 1 (constant)"), "theta"),
    (dict(equations="dv/dt = (I + b / dt : 1\nI : 1\nb : 1\ntheta : 1"), "cannot read the equations"),
    (dict(threshold="v >= thetaa"), "thetaa"),
    (dict(reset="v -= "), "refuses the model"),
    (dict(method="exact"), "method='euler'"),
    (dict(equations="dv/dt = (I + b) / dt : 1\nI : 1 (constant)\nb : 1\ntheta : 1"), "non-constant parameter"),
    (dict(threshold=""), "non-empty"),
    (dict(initial_v="half"), "initial_v"),
    (dict(namespace=[1]), "namespace"),
])
def test_bad_strings_are_refused_with_the_model_named(kwargs, message, monkeypatch):
    import neuroconv.simulation.brian2.run as run

    monkeypatch.setattr(run, "build_network", lambda *a, **k: pytest.fail("simulated"))
    args = dict(equations=IF_EQUATIONS, threshold="v >= theta", reset="v -= theta", name="mine")
    args.update(kwargs)
    with pytest.raises(nc.NeuroconvError, match=message) as info:
        NeuronModel.from_brian2(**args)
    assert "'mine'" in str(info.value)


def test_convert_refuses_what_is_not_a_model(demo_net):
    with pytest.raises(nc.NeuroconvError, match="NeuronModel.from_brian2"):
        nc.convert(demo_net, neuron="if", thresholds=[1.0, 1.0])


def test_saved_network_keeps_the_strings(small, tmp_path):
    from brian2 import ms

    net, x_cal, x, _ = small
    model = NeuronModel.from_brian2(LEAKY_EQUATIONS.replace("decay", "exp(-dt / tau)"), threshold="v >= theta",
                                    reset="v = 0", namespace={"tau": 20 * ms}, initial_v=0.5, name="lif")
    snn = nc.convert(net, neuron=model, timesteps=8, calibration_data=x_cal)
    back = nc.load_network(snn.save(tmp_path / "lif"))
    assert back.neuron == model and back.neuron.namespace["tau"] == 20 * ms and not back.neuron.has_reference
    np.testing.assert_array_equal(back.thresholds[0], snn.thresholds[0])
    a, b = (s.run(x[:3], device="runtime", progress=False) for s in (snn, back))
    assert counts_equal(a, b)


def test_registry_round_trips_every_built_in_model():
    assert {"if", "one_spike", "tpp", "brian2"} <= set(MODELS)
    for model in (IF(reset="zero", shift=False), OneSpike(base=1.2, window=9), TPP(timesteps=5, unbiased=True),
                  if_copy(initial_v=0.5, output_equations=IF_EQUATIONS.replace("theta : 1 (constant)", ""))):
        spec = model_spec(model)
        assert model_from_spec(spec) == model
    with pytest.raises(nc.NeuroconvError, match="unknown neuron family"):
        model_from_spec({"family": "lif2"})
    with pytest.warns(nc.NeuroconvWarning, match="reference_step function is not saved"):
        model_spec(leaky(0.5))


def test_timesteps_means_T_for_every_model(demo_net):
    """``timesteps`` is T (IF: the run, TPP: the phase, One-Spike: the window); run_steps is the run."""
    thresholds = [1.0, 1.0]
    for neuron, run_steps in ((IF(), 6), (TPP(), 12), (OneSpike(), 12)):
        snn = nc.convert(demo_net, neuron=neuron, timesteps=6, thresholds=thresholds)
        assert snn.timesteps == 6 and snn.run_steps == run_steps == snn.latency_steps
        assert snn.neuron.timesteps in (None, 6)
        assert snn.with_timesteps(4).run_steps == run_steps // 6 * 4
    with pytest.raises(nc.NeuroconvError, match="give T once"):
        nc.convert(demo_net, neuron=OneSpike(window=5), timesteps=6, thresholds=thresholds)
    assert [snn.window(k) for k in range(2)] == [(0, 6), (6, 6)]


@pytest.mark.parametrize("name, T, run_steps", [("if", 16, 16), ("tpp", 6, 12), ("one_spike", 12, 36)])
def test_networks_saved_by_0_1_0_load_and_run_as_they_did(name, T, run_steps, digits):
    """Files written by neuroconv 0.1.0 (tests/data, with that version's reference runs on 20 test digits)."""
    import pathlib

    data = pathlib.Path(__file__).parent / "data"
    snn = nc.load_network(data / f"saved_0.1.0_{name}.npz")
    assert (snn.timesteps, snn.run_steps) == (T, run_steps)
    expected = np.load(data / "saved_0.1.0_runs.npz")
    res = snn.run(digits[1][:20], device="reference", seed=3, progress=False)
    np.testing.assert_array_equal(res.spike_counts[0], expected[f"{name}_counts0"])
    np.testing.assert_allclose(res.output, expected[f"{name}_output"], rtol=1e-12, atol=1e-12)


def test_model_with_brian2_random_numbers_is_stochastic_and_seeded(small):
    """rand() in the strings: the model says it is stochastic, and run(seed=) repeats its spikes on runtime."""
    net, x_cal, x, _ = small
    noisy = NeuronModel.from_brian2(IF_EQUATIONS, threshold="v >= theta + 0.1 * rand()", reset="v -= theta",
                                    name="noisy")
    assert noisy.stochastic and not if_copy().stochastic
    snn = nc.convert(net, neuron=noisy, timesteps=8, calibration_data=x_cal)
    a, b = (snn.run(x[:4], device="runtime", seed=4, progress=False) for _ in range(2))
    assert a.seed == 4 and counts_equal(a, b)
