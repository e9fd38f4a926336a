"""ANN graphs: residual joins, BatchNorm, spiking max-pooling."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import neuroconv as nc
from neuroconv import ann
from neuroconv.equations import IF, TPP, OneSpike
from nets import graph_nets

RNG = np.random.default_rng(7)


def conv(c_in, c_out, k=3, scale=1.0):
    return ann.Conv2d(RNG.normal(0, scale / np.sqrt(c_in * k * k), (c_out, c_in, k, k)), RNG.normal(0, 0.1, c_out),
                      padding=k // 2)


def residual_net(pool_first=False):
    """conv -> ReLU -> maxpool -> [conv -> ReLU -> conv] + shortcut -> ReLU -> flatten -> dense."""
    pool = [ann.MaxPool2d(2), ann.ReLU()] if pool_first else [ann.ReLU(), ann.MaxPool2d(2)]
    layers = [conv(1, 3), *pool, conv(3, 3), ann.ReLU(), conv(3, 3), ann.Add(), ann.ReLU(), ann.Flatten(),
              ann.Dense(RNG.normal(0, 0.3, (4, 48)))]
    inputs = [(-1,), (0,), (1,), (2,), (3,), (4,), (5, 2), (6,), (7,), (8,)]
    return ann.Graph(layers, (1, 8, 8), inputs)


def test_graph_validates_its_wiring():
    with pytest.raises(nc.NeuroconvError, match="feed no other layer"):
        ann.Graph([ann.Dense(np.eye(2)), ann.Dense(np.eye(2))], (2,), [(-1,), (-1,)])
    with pytest.raises(nc.NeuroconvError, match="Add and Concat take two or more"):
        ann.Graph([ann.Dense(np.eye(2)), ann.Add()], (2,), [(-1,), (0,)])
    with pytest.raises(nc.NeuroconvError, match="same shape"):
        ann.Graph([ann.Dense(np.ones((3, 2))), ann.Add()], (2,), [(-1,), (0, -1)])
    with pytest.raises(nc.NeuroconvError, match="topological order"):
        ann.Graph([ann.Dense(np.eye(2)), ann.Dense(np.eye(2))], (2,), [(1,), (0,)])
    g = ann.Graph([ann.Dense(np.eye(2)), ann.Add()], (2,), [(-1,), (0, -1)])
    np.testing.assert_allclose(g.forward(np.array([[1.0, -2.0]])), [[2.0, -4.0]])
    assert not g.is_chain and ann.Sequential([ann.Dense(np.eye(2))], (2,)).is_chain


def test_maxpool_forward_pads_with_minus_infinity():
    x = -np.arange(16.0).reshape(1, 1, 4, 4) - 1
    out = ann.MaxPool2d(3, stride=2, padding=1).forward(x)
    np.testing.assert_array_equal(out[0, 0], [[-1, -2], [-5, -6]])  # zero padding would give 0s


def test_fold_batchnorm_keeps_the_function():
    bn = ann.BatchNorm(RNG.normal(size=3), RNG.uniform(0.5, 2, 3), RNG.normal(size=3), RNG.normal(size=3), eps=1e-3)
    net = ann.Sequential([conv(2, 3), bn, ann.ReLU(), ann.Flatten(), ann.Dense(RNG.normal(size=(2, 48))),
                          ann.BatchNorm(RNG.normal(size=2), RNG.uniform(0.5, 2, 2))], (2, 4, 4))
    folded = ann.fold_batchnorm(net)
    assert not any(isinstance(layer, ann.BatchNorm) for layer in folded.layers)
    x = RNG.normal(size=(5, 2, 4, 4))
    np.testing.assert_allclose(folded.forward(x), net.forward(x), rtol=1e-12, atol=1e-12)


def test_unfoldable_batchnorm_converts_as_an_affine_map():
    # BatchNorm after a join has no single layer to fold into: it stays and the synapses absorb it
    layers = [conv(1, 2), ann.ReLU(), conv(2, 2), ann.Add(), ann.BatchNorm(RNG.normal(size=2), RNG.uniform(0.5, 2, 2)),
              ann.ReLU(), ann.Flatten(), ann.Dense(RNG.normal(size=(3, 32)))]
    net = ann.Graph(layers, (1, 4, 4), [(-1,), (0,), (1,), (2, 1), (3,), (4,), (5,), (6,)])
    assert any(isinstance(layer, ann.BatchNorm) for layer in ann.fold_batchnorm(net).layers)
    x = RNG.uniform(0, 1, (6, 1, 4, 4))
    snn = nc.convert(net, timesteps=512, calibration_data=x)
    res = snn.run(x, device="reference", progress=False)
    np.testing.assert_allclose(res.output, net.forward(x), atol=0.05 * np.abs(net.forward(x)).max())


def test_residual_population_receives_from_both_branches():
    snn = nc.convert(residual_net(), timesteps=8, calibration_data=RNG.uniform(0, 1, (10, 1, 8, 8)))
    kinds = [(layer.kind, layer.sources) for layer in snn.layers]
    assert kinds == [("neuron", (-1,)), ("maxpool", (0,)), ("neuron", (1,)), ("neuron", (1, 2)), ("neuron", (3,))]
    net = snn.to_brian2()
    assert {"layer1_to_layer2", "layer1_to_layer3", "layer2_to_layer3"} <= {obj.name for obj in net.objects}
    # fan-out counts every outgoing pathway
    assert snn.fan_out(1).sum() == sum(m.nnz for layer in snn.layers[2:4] for m, s in
                                       zip(layer.pathways[0], layer.sources) if s == 1)


def test_maxpool_relay_counts_are_the_window_maxima():
    net = residual_net()
    x = RNG.uniform(0, 1, (4, 1, 8, 8))
    snn = nc.convert(net, timesteps=16, calibration_data=x)
    for device in ("reference", "runtime"):
        res = snn.run(x, device=device, progress=False)
        below = res.spike_counts[0].reshape(4, 3, 8, 8).astype(float)
        np.testing.assert_array_equal(res.spike_counts[1], ann.MaxPool2d(2).forward(below).reshape(4, -1))
        # and its spikes come in the step where the running maximum grows
        trains = res.spikes[1]
        assert np.all(np.bincount(trains.neuron + 48 * trains.image, minlength=4 * 48) <= 16)


def test_maxpool_before_relu_is_moved_after_it():
    net = residual_net(pool_first=True)
    x = RNG.uniform(0, 1, (5, 1, 8, 8))
    snn = nc.convert(net, timesteps=8, calibration_data=x)
    assert isinstance(snn.ann.layers[1], ann.ReLU) and isinstance(snn.ann.layers[2], ann.MaxPool2d)
    np.testing.assert_allclose(snn.ann.forward(x), net.forward(x))


def test_residual_network_converges_to_the_ann():
    net = residual_net()
    x = RNG.uniform(0, 1, (20, 1, 8, 8))
    snn = nc.convert(net, calibration_data=x, timesteps=8)
    errors = []
    for T in (8, 64, 512):
        res = snn.with_timesteps(T).run(x, device="reference", progress=False)
        errors.append(np.abs(res.output - net.forward(x)).mean())
    assert errors[2] < errors[0] / 4 and errors[2] < 0.02 * np.abs(net.forward(x)).mean() + 1e-3


def test_maxpool_errors_are_clear():
    bad = ann.Sequential([ann.MaxPool2d(2), conv(1, 2), ann.Flatten(), ann.Dense(np.ones((2, 32)))], (1, 8, 8))
    with pytest.raises(nc.NeuroconvError, match="MaxPool2d\\) must follow a ReLU"):
        nc.convert(bad, thresholds=[])
    x = RNG.uniform(0, 1, (5, 1, 8, 8))
    with pytest.raises(nc.NeuroconvError, match="differ within a pooling window"):
        nc.convert(residual_net(), thresholds=[RNG.uniform(1, 2, 192), 1.0, 1.0])
    for neuron in (OneSpike(), TPP()):
        with pytest.raises(nc.NeuroconvError, match="MaxPool2d\\) converts with IF\\(\\) neurons only"):
            nc.convert(residual_net(), neuron=neuron, calibration_data=x)
    # a join of a population with the next one's own pre-activation is still a chain ...
    chain = ann.Graph([conv(1, 2), ann.ReLU(), conv(2, 2), ann.Add(), ann.ReLU(), ann.Flatten(),
                       ann.Dense(np.ones((2, 128)))], (1, 8, 8), [(-1,), (0,), (1,), (2, 1), (3,), (4,), (5,)])
    assert nc.convert(chain, neuron=TPP(), calibration_data=x).layers[1].sources == (0,)
    # ... a shortcut over a population is not
    skip = ann.Graph([conv(1, 2), ann.ReLU(), conv(2, 2), ann.ReLU(), conv(2, 2), ann.Add(), ann.ReLU(), ann.Flatten(),
                      ann.Dense(np.ones((2, 128)))], (1, 8, 8),
                     [(-1,), (0,), (1,), (2,), (3,), (4, 1), (5,), (6,), (7,)])
    with pytest.raises(nc.NeuroconvError, match="residual connections convert with IF\\(\\) only"):
        nc.convert(skip, neuron=TPP(), calibration_data=x)
    assert nc.convert(skip, neuron=IF(), calibration_data=x).layers[2].sources == (0, 1)


def test_graph_round_trips_through_npz(tmp_path):
    bn = ann.BatchNorm(RNG.normal(size=3), RNG.uniform(0.5, 2, 3), RNG.normal(size=3), RNG.normal(size=3), eps=1e-3)
    net = residual_net()
    layers = list(net.layers)
    layers[1:1] = [bn]
    inputs = [(-1,), (0,)] + [tuple(i + 1 if i >= 0 else i for i in ins) for ins in net.inputs[1:]]
    net = ann.Graph(layers, net.input_shape, inputs)
    ann.save_npz(net, tmp_path / "g.npz")
    back = ann.from_npz(tmp_path / "g.npz")
    assert back.inputs == net.inputs and [type(l) for l in back.layers] == [type(l) for l in net.layers]
    x = RNG.normal(size=(3, 1, 8, 8))
    np.testing.assert_array_equal(back.forward(x), net.forward(x))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net_rng=graph_nets())
def test_graph_connectivity_matches_the_ann(net_rng):
    """The composed synaptic matrices reproduce each population's drive from the ANN's own layers."""
    net, rng = net_rng
    snn = nc.convert(net, timesteps=4, thresholds=[1.0] * sum(isinstance(l, ann.ReLU) for l in net.layers))
    for layer in snn.layers:
        if layer.kind != "neuron":
            continue
        values = [rng.uniform(0, 1, (3, int(np.prod(net.input_shape)) if s < 0 else snn.layers[s].size))
                  for s in layer.sources]
        matrices, bias = layer.pathways
        by_matrix = sum(v @ m.T.toarray() for v, m in zip(values, matrices)) + bias
        np.testing.assert_allclose(by_matrix, layer.drive(*values), rtol=1e-10, atol=1e-10)


def test_layer_by_layer_runs_refuse_graphs():
    from neuroconv.analysis import layerwise_run

    snn = nc.convert(residual_net(), timesteps=4, calibration_data=RNG.uniform(0, 1, (5, 1, 8, 8)))
    assert not snn.is_chain
    for device in ("reference", "runtime"):
        with pytest.raises(nc.NeuroconvError, match="needs a chain of populations; layer1 is a maxpool population"):
            layerwise_run(snn, RNG.uniform(0, 1, (2, 1, 8, 8)), device=device)
