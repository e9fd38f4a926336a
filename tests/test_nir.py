"""NIR export and import: a converted IF network survives the round trip spike for spike."""

import numpy as np
import pytest
from brian2 import ms

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
    assert_same_run(back.run(x_test[:100], device="reference", progress=False), r1)


def assert_same_run(res, ref):
    """Every population's spike counts equal, the readout within 1e-10."""
    for a, b in zip(res.spike_counts, ref.spike_counts):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(res.output, ref.output, atol=1e-10)


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


def _plain_nir_run(graph, frames):
    """A plain simulation of NIR's semantics from the graph's parameters alone (no metadata): each step, nodes in
    order; an IF/LIF without leak adds ``r`` (IF) or ``r dt / tau`` (LIF at snnTorch's dt) times its input, spikes
    where ``v > v_threshold`` and resets to ``v_reset``. Returns each spiking node's counts and the summed output."""
    from neuroconv.ann.importers.nir_importer import _topological
    from neuroconv.conversion.nir_export import SNNTORCH_DT

    order, incoming = _topological(graph)
    v, counts, total = {}, {}, 0.0
    for t in range(frames.shape[1]):
        values = {}
        for name in order:
            node = graph.nodes[name]
            kind = type(node).__name__
            ins = sum(values[src] for src in incoming[name]) if incoming[name] else None
            if kind == "Input":
                values[name] = frames[:, t]
            elif kind == "Affine":
                values[name] = ins @ node.weight.T + node.bias
            elif kind in ("IF", "LIF"):
                gain = node.r if kind == "IF" else node.r * SNNTORCH_DT / node.tau
                v[name] = v.get(name, 0.0) + gain * ins
                spikes = v[name] > node.v_threshold
                v[name] = np.where(spikes, node.v_reset, v[name])
                counts[name] = counts.get(name, 0) + spikes
                values[name] = spikes.astype(float)
            elif kind == "Output":
                total = total + ins
    return counts, total


@pytest.mark.parametrize("shift", [True, False, "calibrated"])
@pytest.mark.parametrize("node", ["IF", "LIF"])
def test_portable_export_needs_no_metadata(shift, node, demo_net, digits, tmp_path):
    """to_nir(portable=True): thresholds 1, the start as a pre-charge channel, no metadata; a plain simulation of
    the file and SpikingNetwork.from_nir reproduce every spike of the IF(reset="zero") network."""
    x_train, x_test, _, _ = digits
    T = 12
    snn = nc.convert(demo_net, neuron=IF(reset="zero", shift=shift), timesteps=T, calibration_data=x_train[:300])
    nir.write(tmp_path / "p.nir", nc.to_nir(snn, portable=True, spiking_node=node))
    graph = nir.read(tmp_path / "p.nir")
    assert not any(getattr(n, "metadata", None) for n in graph.nodes.values())
    spiking = [n for n in graph.nodes.values() if type(n).__name__ == node]
    assert len(spiking) == len(snn.layers) - 1 and all(np.all(n.v_threshold == np.float32(1) - 2.0 ** -24) for n in spiking)
    frames = nc.portable_input(snn, x_test[:60])
    assert frames.shape == (60, T, 64 + (shift is not False))
    ref = snn.run(x_test[:60], device="reference", progress=False)
    counts, total = _plain_nir_run(graph, frames)
    for k, layer in enumerate(snn.layers[:-1]):
        np.testing.assert_array_equal(counts[layer.name], ref.spike_counts[k])
    np.testing.assert_allclose(total / T, ref.output, atol=1e-10)
    back = nc.SpikingNetwork.from_nir(tmp_path / "p.nir", dt=0.1 * ms, timesteps=T)
    assert_same_run(back.run(frames, device="reference", progress=False), ref)


def test_portable_export_of_a_residual_cnn_and_its_refusals():
    net = residual_avgpool_net()
    x = RNG.uniform(0, 1, (10, 1, 4, 4))
    snn = nc.convert(net, neuron=IF(reset="zero"), timesteps=20, calibration_data=x)
    graph = nc.to_nir(snn, portable=True)
    assert sorted(a for a, b in graph.edges if b == "layer2") == ["layer0_to_layer2", "layer1_to_layer2",
                                                                   "precharge_layer2"]
    counts, total = _plain_nir_run(graph, nc.portable_input(snn, x))
    ref = snn.run(x, device="reference", progress=False)
    for k, layer in enumerate(snn.layers[:-1]):
        np.testing.assert_array_equal(counts[layer.name], ref.spike_counts[k])
    np.testing.assert_allclose(total / 20, ref.output, atol=1e-10)
    with pytest.raises(nc.NeuroconvError, match="cannot say 'subtract the threshold.*IF\\(reset='zero'\\)"):
        nc.to_nir(nc.convert(net, timesteps=20, calibration_data=x), portable=True)
    with pytest.raises(nc.NeuroconvError, match="spiking_node must be 'IF' or 'LIF'"):
        nc.to_nir(snn, portable=True, spiking_node="LI")
    with pytest.raises(nc.NeuroconvError, match="images of shape \\(batch, 1, 4, 4\\)"):
        nc.portable_input(snn, np.zeros((3, 16)))
