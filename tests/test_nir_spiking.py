"""Spiking NIR graphs as Brian2 networks (SpikingNetwork.from_nir), checked against snnTorch's own simulation.

snnTorch (installed with the dev extra; it has no dependencies) exports ``Leaky`` as NIR LIF with
``dt = 1e-4 s`` baked in: read with ``dt=0.1*ms`` the graph must reproduce snnTorch spike for spike
for ``reset_mechanism="zero"`` (NIR's reset), with a constant input and with a time series, on the
reference and on Brian2."""

import warnings

import numpy as np
import pytest
from brian2 import ms

import neuroconv as nc

nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch")
snntorch = pytest.importorskip("snntorch")


def leaky(shape, beta, threshold=1.0, **kw):
    """snnTorch Leaky with per-neuron beta and threshold (snnTorch 1.0's export needs tensors)."""
    shape = (shape,) if isinstance(shape, int) else shape
    return snntorch.Leaky(beta=torch.full(shape, float(beta)), threshold=torch.full(shape, float(threshold)),
                          init_hidden=True, reset_mechanism="zero", **kw)


def export(net, sample, path):
    from snntorch.export_nir import export_to_nir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_to_nir(net, sample, ignore_dims=[0])
    nir.write(path, graph)
    return path


def snntorch_spikes(net, frames):
    """snnTorch's forward step by step over ``frames`` (steps, batch, ...): each Leaky's spikes (steps, batch, n)."""
    neurons = [m for m in net.modules() if isinstance(m, snntorch.SpikingNeuron)]
    for m in neurons:
        m.mem = torch.zeros(0)
    record = {id(m): [] for m in neurons}
    hooks = [m.register_forward_hook(lambda mod, i, out: record[id(mod)].append(
        (out[0] if isinstance(out, tuple) else out).detach().numpy().reshape(len(frames[0]), -1).copy()))
        for m in neurons]
    with torch.no_grad():
        for frame in frames:
            net(torch.as_tensor(frame, dtype=torch.float32))
    for h in hooks:
        h.remove()
    return [np.stack(record[id(m)]).astype(bool) for m in neurons]


def trains(result, k, steps):
    spikes = result.spikes[k]
    out = np.zeros((steps, result.batch_size, result.spike_counts[k].shape[1]), dtype=bool)
    out[spikes.step, spikes.image, spikes.neuron] = True
    return out


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(20, 16), leaky(16, 0.9), torch.nn.Linear(16, 5),
                              leaky(5, 0.8, threshold=0.7, output=True))
    with torch.no_grad():
        net[2].weight.mul_(3.0)
    return net, export(net, torch.zeros(1, 20), str(tmp_path_factory.mktemp("nir") / "mlp.nir"))


@pytest.mark.parametrize("device", ["reference", "runtime"])
def test_snntorch_leaky_graph_runs_as_snntorch_does(mlp, device):
    net, path = mlp
    T = 32
    snn = nc.SpikingNetwork.from_nir(path, dt=0.1 * ms, timesteps=T)
    assert snn.readout == "spikes" and [layer.name for layer in snn.layers] == ["layer0", "output"]
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (6, 20))
    hidden, out = snntorch_spikes(net, np.repeat(x[None], T, 0))
    res = snn.run(x, device=device, progress=False)
    assert hidden.sum() > 20 and out.sum() > 5  # the comparison is not between silent networks
    np.testing.assert_array_equal(trains(res, 0, T), hidden)
    np.testing.assert_array_equal(res.output_spike_counts, out.sum(0))
    # a time series (batch, steps, features): a new frame every step, sparse like event data
    xs = rng.uniform(0, 1, (5, T, 20)) * (rng.uniform(0, 1, (5, T, 20)) < 0.5)
    hidden, out = snntorch_spikes(net, np.transpose(xs, (1, 0, 2)))
    res = snn.run(xs, device=device, progress=False)
    np.testing.assert_array_equal(trains(res, 0, T), hidden)
    np.testing.assert_array_equal(res.output_spike_counts, out.sum(0))


def test_snntorch_conv_graph_runs_as_snntorch_does(tmp_path):
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), leaky((4, 8, 8), 0.85), torch.nn.Flatten(),
                              torch.nn.Linear(256, 10), leaky(10, 0.9, output=True))
    path = export(net, torch.zeros(1, 1, 8, 8), str(tmp_path / "cnn.nir"))
    T = 16
    snn = nc.SpikingNetwork.from_nir(path, dt=0.1 * ms, timesteps=T)
    x = np.random.default_rng(2).uniform(0, 1.5, (3, 1, 8, 8))
    hidden, out = snntorch_spikes(net, np.repeat(x[None], T, 0))
    res = snn.run(x, device="reference", progress=False)
    assert hidden.sum() > 50
    np.testing.assert_array_equal(trains(res, 0, T), hidden)
    np.testing.assert_array_equal(res.output_spike_counts, out.sum(0))


def test_leaky_integrator_readout_and_resting_potential_brian2_equals_reference():
    """A hand-written graph: LIF with v_leak and v_reset != 0, an IF layer, an LI readout."""
    rng = np.random.default_rng(3)
    nodes = {
        "input": nir.Input(input_type=np.array([6])),
        "fc1": nir.Affine(weight=rng.normal(0, 1, (8, 6)), bias=rng.normal(0, 0.1, 8)),
        "lif": nir.LIF(tau=np.full(8, 5e-3), r=np.full(8, 5.0), v_leak=np.full(8, 0.2), v_threshold=np.full(8, 1.0),
                       v_reset=np.full(8, -0.3)),
        "fc2": nir.Linear(weight=rng.normal(0, 1, (4, 8))),
        "if": nir.IF(r=np.ones(4), v_threshold=np.full(4, 0.8), v_reset=np.zeros(4)),
        "fc3": nir.Affine(weight=rng.normal(0, 1, (3, 4)), bias=np.zeros(3)),
        "li": nir.LI(tau=np.full(3, 20e-3), r=np.full(3, 20.0), v_leak=np.zeros(3)),
        "output": nir.Output(output_type=np.array([3])),
    }
    edges = [("input", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "if"), ("if", "fc3"), ("fc3", "li"),
             ("li", "output")]
    snn = nc.SpikingNetwork.from_nir(nir.NIRGraph(nodes=nodes, edges=edges), dt=1 * ms, timesteps=20)
    assert snn.readout == "membrane"
    x = rng.uniform(0, 1, (4, 6))
    ref = snn.run(x, device="reference", progress=False, record_margin=True)
    brian = snn.run(x, device="runtime", progress=False)
    assert sum(c.sum() for c in ref.spike_counts) > 10
    from nets import assert_equivalent

    assert assert_equivalent(brian, ref) == 0
    # the numpy semantics by hand for the first layer: v <- (1 - dt/tau) v + (r dt/tau) (W x + b) + (dt/tau) v_leak
    a, c = 1 - 1e-3 / 5e-3, 5.0 * 1e-3 / 5e-3
    v, count = np.zeros((4, 8)), np.zeros((4, 8), int)
    drive = x @ nodes["fc1"].weight.T + nodes["fc1"].bias
    for _ in range(20):
        v = a * v + c * drive + (1 - a) * 0.2
        fired = v > 1.0
        count += fired
        v[fired] = -0.3
    np.testing.assert_array_equal(ref.spike_counts[0], count)


@pytest.mark.standalone
def test_nir_network_on_cpp_standalone(mlp, tmp_path):
    _, path = mlp
    snn = nc.SpikingNetwork.from_nir(path, dt=0.1 * ms, timesteps=16)
    x = np.random.default_rng(4).uniform(0, 1, (3, 20))
    a = snn.run(x, device="reference", progress=False)
    b = snn.run(x, device="cpp_standalone", progress=False, build_directory=str(tmp_path / "build"))
    assert all(np.array_equal(p, q) for p, q in zip(a.spike_counts, b.spike_counts))
    np.testing.assert_array_equal(a.output_spike_counts, b.output_spike_counts)


def test_refusals_are_clear(mlp, tmp_path):
    _, path = mlp
    with pytest.raises(nc.NeuroconvError, match="longer than tau.*dt = 0.1 ms"):
        nc.SpikingNetwork.from_nir(path, dt=1 * ms)  # snnTorch's beta = 0.9 is tau = 1 ms at its dt = 0.1 ms
    snn = nc.SpikingNetwork.from_nir(path, dt=0.1 * ms, timesteps=8)
    with pytest.raises(nc.NeuroconvError, match="runs 8 steps"):
        snn.run(np.zeros((2, 5, 20)), device="reference", progress=False)
    with pytest.raises(nc.NeuroconvError, match="time-series input"):
        snn.run(np.zeros((2, 8, 20)), device="cpp_standalone", progress=False)
    with pytest.raises(nc.NeuroconvError, match="saved as NIR"):
        snn.save(tmp_path / "x")
    with pytest.raises(nc.NeuroconvError, match="leaky LIF"):
        nc.ann.from_nir(path)


def test_leaky_beta_one_reads_as_if(tmp_path):
    """snnTorch writes Leaky(beta=1) as LIF(tau=inf, r=inf): an IF network, also for neuroconv.ann.from_nir."""
    torch.manual_seed(5)
    net = torch.nn.Sequential(torch.nn.Linear(10, 12), leaky(12, 1.0), torch.nn.Linear(12, 3))
    path = export(net, torch.zeros(1, 10), str(tmp_path / "if.nir"))
    graph = nir.read(path)
    assert any(type(n).__name__ == "LIF" and np.isinf(n.tau).all() for n in graph.nodes.values())
    ann = nc.ann.from_nir(path)
    assert ann.layers[1].threshold == pytest.approx(1.0)
    snn = nc.SpikingNetwork.from_nir(path, dt=1 * ms, timesteps=24)
    x = np.random.default_rng(6).uniform(0, 1, (4, 10))
    (hidden,) = snntorch_spikes(net, np.repeat(x[None], 24, 0))
    res = snn.run(x, device="reference", progress=False)
    np.testing.assert_array_equal(trains(res, 0, 24), hidden)


def test_sumpool_is_avgpool_times_the_window():
    """SumPool2d (Sinabs, snnTorch's sum pooling) reads as AvgPool2d with the next weights times the area."""
    rng = np.random.default_rng(7)
    conv = nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0, 1, (3, 1, 3, 3)), stride=1, padding=1, dilation=1,
                      groups=1, bias=np.zeros(3))
    lif = nir.LIF(tau=np.full((3, 6, 6), 2e-3), r=np.full((3, 6, 6), 2.0), v_leak=np.zeros((3, 6, 6)),
                  v_threshold=np.full((3, 6, 6), 0.5), v_reset=np.zeros((3, 6, 6)))
    fc = rng.normal(0, 1, (4, 27))

    def graph(pool, weight):
        nodes = {"input": nir.Input(input_type=np.array([1, 6, 6])), "conv": conv, "lif": lif, "pool": pool,
                 "flat": nir.Flatten(input_type={"input": np.array([3, 3, 3])}, start_dim=0),
                 "fc": nir.Affine(weight=weight, bias=np.zeros(4)), "li": nir.LI(tau=np.full(4, 1e-2),
                                                                                r=np.full(4, 10.0),
                                                                                v_leak=np.zeros(4)),
                 "output": nir.Output(output_type=np.array([4]))}
        edges = [("input", "conv"), ("conv", "lif"), ("lif", "pool"), ("pool", "flat"), ("flat", "fc"), ("fc", "li"),
                 ("li", "output")]
        return nc.SpikingNetwork.from_nir(nir.NIRGraph(nodes=nodes, edges=edges), dt=1 * ms, timesteps=12)

    summed = graph(nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])), fc)
    averaged = graph(nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
                     fc * 4)
    x = rng.uniform(0, 1, (3, 1, 6, 6))
    a, b = (s.run(x, device="reference", progress=False) for s in (summed, averaged))
    assert a.spike_counts[0].sum() > 10
    np.testing.assert_array_equal(a.spike_counts[0], b.spike_counts[0])
    np.testing.assert_allclose(a.output, b.output, rtol=1e-12, atol=1e-12)


def _if_graph(rng):
    """Affine -> IF(v_reset=0) -> Affine -> IF -> Affine -> Output, as Sinabs writes IAF networks."""
    w = [rng.normal(0, 1.2, (12, 6)), rng.normal(0, 0.8, (8, 12)), rng.normal(0, 0.8, (4, 8))]
    b = [rng.normal(0, 0.1, n) for n in (12, 8, 4)]
    nodes = {"input": nir.Input(input_type=np.array([6])), "fc0": nir.Affine(weight=w[0], bias=b[0]),
             "if0": nir.IF(r=np.ones(12), v_threshold=np.ones(12), v_reset=np.zeros(12)),
             "fc1": nir.Affine(weight=w[1], bias=b[1]),
             "if1": nir.IF(r=np.ones(8), v_threshold=np.ones(8), v_reset=np.zeros(8)),
             "fc2": nir.Affine(weight=w[2], bias=b[2]), "output": nir.Output(output_type=np.array([4]))}
    edges = [("input", "fc0"), ("fc0", "if0"), ("if0", "fc1"), ("fc1", "if1"), ("if1", "fc2"), ("fc2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges), w, b


def test_subtract_reset_for_sinabs_files():
    """reset="subtract": v -= v_threshold at a spike although the file says v_reset = 0 (Sinabs)."""
    rng = np.random.default_rng(11)
    graph, w, b = _if_graph(rng)
    x = rng.uniform(0, 1, (10, 6))
    T = 16
    v = [np.zeros((10, 12)), np.zeros((10, 8))]
    out = np.zeros((10, 4))
    for _ in range(T):  # a plain simulation of the subtract reset, NIR's strict threshold
        s = x
        for k in range(2):
            v[k] += s @ w[k].T + b[k]
            s = (v[k] > 1.0).astype(float)
            v[k] -= s
        out += s @ w[2].T + b[2]
    snn = nc.SpikingNetwork.from_nir(graph, dt=1 * ms, timesteps=T, reset="subtract")
    ref = snn.run(x, device="reference", progress=False)
    np.testing.assert_allclose(ref.output, out / T, atol=1e-12)
    res = snn.run(x, device="runtime", progress=False)
    for a, c in zip(res.spike_counts, ref.spike_counts):
        np.testing.assert_array_equal(a, c)
    value = nc.SpikingNetwork.from_nir(graph, dt=1 * ms, timesteps=T).run(x, device="reference", progress=False)
    assert not np.allclose(value.output, ref.output)  # the file's own reading resets to 0
    with pytest.raises(nc.NeuroconvError, match="reset='zero': use 'value'"):
        nc.SpikingNetwork.from_nir(graph, reset="zero")


def test_sinabs_graph_with_subtract_reset_runs_as_sinabs_does():
    sinabs = pytest.importorskip("sinabs", reason="Sinabs is installed with --no-deps in benchmark environments only")
    layers = pytest.importorskip("sinabs.layers")
    torch.manual_seed(0)
    single = sinabs.activation.SingleSpike  # one spike per step at most: what NIR's IF can say

    def net(squeeze):
        iaf = (lambda: layers.IAFSqueeze(batch_size=1, spike_fn=single)) if squeeze else \
            (lambda: layers.IAF(spike_fn=single))
        return torch.nn.Sequential(torch.nn.Linear(6, 12), iaf(), torch.nn.Linear(12, 8), iaf(),
                                   torch.nn.Linear(8, 4))

    exported, simulated = net(True), net(False)
    for i in (0, 2, 4):
        exported[i].weight.data *= 2
        simulated[i].load_state_dict(exported[i].state_dict())
    graph = sinabs.to_nir(exported, torch.zeros(1, 6))
    x = np.random.default_rng(0).uniform(0, 1, (16, 6))
    T = 20
    with torch.no_grad():
        expected = simulated(torch.tensor(x, dtype=torch.float32)[:, None, :].repeat(1, T, 1)).sum(1).numpy() / T
    snn = nc.SpikingNetwork.from_nir(graph, dt=1 * ms, timesteps=T, reset="subtract")
    out = snn.run(x, device="reference", progress=False).output
    assert np.abs(out - expected).max() < 1e-6  # float32 in Sinabs: measured 5.5e-8


def test_portable_export_runs_in_snntorch_spike_for_spike(tmp_path):
    """``to_nir(snn, portable=True, spiking_node="LIF")`` read by snnTorch's own ``import_from_nir``: every hidden
    spike of the converted IF(reset="zero") network (theta/2 start as the pre-charge channel), and the readout
    (the summed output over T) to float32 precision."""
    from snntorch.import_nir import import_from_nir

    from neuroconv.equations import IF
    from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp

    x_train, x_test, _, _ = load_digits_split()
    T = 16
    snn = nc.convert(shipped_digits_mlp(), neuron=IF(reset="zero"), timesteps=T, calibration_data=x_train)
    nir.write(tmp_path / "p.nir", nc.to_nir(snn, portable=True, spiking_node="LIF"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = import_from_nir(nir.read(tmp_path / "p.nir"))
    frames = np.moveaxis(nc.portable_input(snn, x_test[:100]), 1, 0)
    neurons = dict((name, m) for name, m in module.named_modules() if isinstance(m, snntorch.SpikingNeuron))
    assert sorted(neurons) == [layer.name for layer in snn.layers[:-1]]
    hidden = snntorch_spikes(module, frames)  # the Leaky modules in module order
    outputs = []
    with torch.no_grad():
        for m in neurons.values():
            m.mem = torch.zeros(0)
        for frame in frames:
            out = module(torch.as_tensor(frame, dtype=torch.float32))
            outputs.append((out[0] if isinstance(out, tuple) else out).numpy())
    ref = snn.run(x_test[:100], device="reference", progress=False)
    for spikes, layer in zip(hidden, neurons):
        k = [la.name for la in snn.layers].index(layer)
        assert ref.spike_counts[k].sum() > 1000
        np.testing.assert_array_equal(spikes.sum(0), ref.spike_counts[k])
    assert np.abs(np.sum(outputs, 0) / T - ref.output).max() < 1e-5  # float32 in snnTorch: measured 2.1e-6
