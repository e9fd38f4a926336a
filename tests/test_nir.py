"""NIR export and import: a converted IF network survives the round trip spike for spike."""

import numpy as np
import pytest

import neuroconv as nc
from neuroconv import ann
from neuroconv.equations import IF, TPP

nir = pytest.importorskip("nir")
from neuroconv.conversion.nir_export import if_model  # noqa: E402

RNG = np.random.default_rng(11)


def residual_avgpool_net():
    layers = [ann.Conv2d(RNG.normal(size=(3, 1, 3, 3)), RNG.normal(0, 0.1, 3), padding=1), ann.ReLU(),
              ann.Conv2d(RNG.normal(size=(3, 3, 3, 3)) * 0.3, padding=1), ann.ReLU(),
              ann.Conv2d(RNG.normal(size=(3, 3, 3, 3)) * 0.3, padding=1), ann.Add(), ann.ReLU(), ann.AvgPool2d(2),
              ann.Flatten(), ann.Dense(RNG.normal(size=(4, 12)))]
    return ann.Graph(layers, (1, 4, 4), [(-1,), (0,), (1,), (2,), (3,), (4, 1), (5,), (6,), (7,), (8,)])


@pytest.mark.parametrize("neuron", [IF(), IF(reset="zero", shift=False), IF(shift=False)], ids=str)
def test_round_trip_through_a_file_keeps_every_spike(neuron, demo_net, digits, tmp_path):
    x_train, x_test, _, _ = digits
    snn = nc.convert(demo_net, neuron=neuron, timesteps=16, calibration_data=x_train)
    nir.write(tmp_path / "net.nir", ann.to_nir(snn))
    graph = nir.read(tmp_path / "net.nir")
    assert if_model(graph) == neuron
    back = nc.convert(ann.from_nir(tmp_path / "net.nir"), neuron=if_model(graph), timesteps=16)
    r1 = snn.run(x_test[:100], device="reference", progress=False)
    r2 = back.run(x_test[:100], device="reference", progress=False)
    for a, b in zip(r1.spike_counts, r2.spike_counts):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(r2.output, r1.output, atol=1e-10)


def test_residual_round_trip_and_mapping():
    net = residual_avgpool_net()
    x = RNG.uniform(0, 1, (10, 1, 4, 4))
    snn = nc.convert(net, timesteps=20, calibration_data=x)
    graph = ann.to_nir(snn)
    # the join is two Affine edges into one IF node; spikes carry unit weight, so W is scaled by theta_pre
    into = sorted(a for a, b in graph.edges if b == "layer2")
    assert into == ["layer0_to_layer2", "layer1_to_layer2"]
    matrix = snn.layers[2].pathways[0][0].toarray()
    np.testing.assert_allclose(graph.nodes["layer0_to_layer2"].weight, matrix * snn.layers[0].theta[None, :])
    assert type(graph.nodes["readout"]).__name__ == "I"
    back = nc.convert(ann.from_nir(graph), timesteps=20)
    r1 = snn.run(x, device="reference", progress=False)
    r2 = back.run(x.reshape(10, -1), device="reference", progress=False)
    for a, b in zip(r1.spike_counts, r2.spike_counts):
        np.testing.assert_array_equal(a, b)


def test_foreign_nir_graph_with_r_and_thresholds():
    """A hand-written NIR IF network (r != 1, per-neuron thresholds) becomes the clipped-ReLU ANN it rate-codes."""
    w1, w2 = RNG.normal(size=(5, 3)), RNG.normal(size=(2, 5))
    theta = RNG.uniform(0.5, 2.0, 5)
    nodes = {"input": nir.Input(input_type={"input": np.array([3])}),
             "fc1": nir.Affine(w1, np.zeros(5)), "lif": nir.IF(r=np.full(5, 0.5), v_threshold=theta),
             "fc2": nir.Linear(w2), "out": nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)),
             "output": nir.Output(output_type={"output": np.array([2])})}
    edges = [("input", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "out"), ("out", "output")]
    net = ann.from_nir(nir.NIRGraph(nodes=nodes, edges=edges))
    x = RNG.uniform(0, 1, (6, 3))
    expected = np.clip(0.5 * x @ w1.T, 0, theta) / theta @ w2.T
    np.testing.assert_allclose(net.forward(x), expected, atol=1e-12)
    assert isinstance(net.layers[1], ann.ReLU) and net.layers[1].threshold.size == 5


def test_nir_errors_are_clear():
    with pytest.raises(nc.NeuroconvError, match="exports IF networks"):
        mlp = ann.Sequential([ann.Dense(np.eye(2)), ann.ReLU(), ann.Dense(np.eye(2))], (2,))
        ann.to_nir(nc.convert(mlp, neuron=TPP(), thresholds=[1.0]))
    pooled = ann.Sequential([ann.Conv2d(np.ones((1, 1, 1, 1))), ann.ReLU(), ann.MaxPool2d(2), ann.Flatten(),
                             ann.Dense(np.ones((2, 4)))], (1, 4, 4))
    with pytest.raises(nc.NeuroconvError, match="max-pool relay, which NIR has no node for"):
        ann.to_nir(nc.convert(pooled, thresholds=[1.0]))
    nodes = {"input": nir.Input(input_type={"input": np.array([2])}), "fc": nir.Affine(np.eye(2), np.zeros(2)),
             "lif": nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
             "output": nir.Output(output_type={"output": np.array([2])})}
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    with pytest.raises(nc.NeuroconvError, match="'lif' is a leaky LIF.*SpikingNetwork.from_nir"):
        ann.from_nir(graph)
