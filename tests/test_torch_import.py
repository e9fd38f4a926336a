"""from_torch and from_onnx: the imported ANN computes what the framework computes (to 1e-5)."""

import copy
import warnings

import numpy as np
import pytest

import neuroconv as nc
from neuroconv import ann

torch = pytest.importorskip("torch")
nn = torch.nn

TOLERANCE = 1e-5


class Block(nn.Module):
    """A ResNet basic block: conv-BN-ReLU-conv-BN plus an identity or 1x1-conv-BN shortcut, then ReLU."""

    def __init__(self, c, down=False):
        super().__init__()
        out = 2 * c if down else c
        self.conv1 = nn.Conv2d(c, out, 3, stride=2 if down else 1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.shortcut = nn.Sequential(nn.Conv2d(c, out, 1, stride=2, bias=False), nn.BatchNorm2d(out)) if down \
            else nn.Identity()

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNetish(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))
        self.block1, self.block2 = Block(4), Block(4, down=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.pool(self.block2(self.block1(self.stem(x))))
        return self.fc(self.drop(x.view(x.size(0), -1)))


def randomise_batchnorm(model):
    torch.manual_seed(1)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return model


def reference_output(model, x):
    twin = copy.deepcopy(model).eval().double()
    with torch.no_grad():
        return twin(torch.from_numpy(x)).numpy()


def layer_cases():
    """(name, model, input_shape): one model per supported layer type."""
    torch.manual_seed(0)
    return [
        ("linear", nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)), (6,)),
        ("linear_no_bias", nn.Sequential(nn.Linear(6, 3, bias=False)), (6,)),
        ("conv", nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(48, 2)),
         (2, 8, 8)),
        ("conv_rect", nn.Sequential(nn.Conv2d(2, 3, (3, 1), stride=(1, 2), padding=(1, 0), bias=False)), (2, 6, 6)),
        ("batchnorm2d", randomise_batchnorm(nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(),
                                                          nn.Flatten(), nn.Linear(48, 2))), (1, 6, 6)),
        ("batchnorm1d", randomise_batchnorm(nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(),
                                                          nn.Linear(4, 2))), (5,)),
        ("maxpool", nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
                                  nn.Flatten(), nn.Linear(32, 2)), (1, 8, 8)),
        ("avgpool", nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                                  nn.Linear(32, 2)), (1, 8, 8)),
        ("adaptive_avgpool", nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                                           nn.Flatten(), nn.Linear(8, 2)), (1, 8, 8)),
        ("dropout_identity", nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16, 4), nn.ReLU(),
                                           nn.Identity(), nn.Dropout1d(0.1), nn.Linear(4, 2)), (1, 4, 4)),
        ("residual", randomise_batchnorm(ResNetish()), (1, 12, 12)),
    ]


CASES = layer_cases()


@pytest.mark.parametrize("name,model,shape", CASES, ids=[c[0] for c in CASES])
def test_from_torch_matches_torch(name, model, shape):
    net = ann.from_torch(model, shape)
    x = np.random.default_rng(0).normal(size=(8,) + shape)
    np.testing.assert_allclose(net.forward(x), reference_output(model, x), rtol=0, atol=TOLERANCE)
    assert not any(isinstance(layer, ann.BatchNorm) for layer in net.layers), "BatchNorm is folded"


@pytest.mark.parametrize("name,model,shape", CASES, ids=[c[0] for c in CASES])
def test_from_onnx_matches_torch(name, model, shape, tmp_path):
    pytest.importorskip("onnx")
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated
        # without constant folding the BatchNormalization nodes stay (the importer folds them itself)
        torch.onnx.export(copy.deepcopy(model).eval(), (torch.zeros((1,) + shape),), str(path), dynamo=False,
                          do_constant_folding=False)
    net = ann.from_onnx(path)
    x = np.random.default_rng(0).normal(size=(8,) + shape)
    np.testing.assert_allclose(net.forward(x), reference_output(model, x), rtol=0, atol=TOLERANCE)


def test_from_torch_does_not_modify_the_model():
    model = randomise_batchnorm(ResNetish()).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ann.from_torch(model, (1, 12, 12))
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_residual_torch_model_converts_without_collapse():
    model = randomise_batchnorm(ResNetish())
    net = ann.from_torch(model, (1, 12, 12))
    x = np.random.default_rng(1).uniform(0, 1, (30, 1, 12, 12))
    snn = nc.convert(net, timesteps=256, calibration_data=x)
    assert [layer.kind for layer in snn.layers].count("maxpool") == 1
    res = snn.run(x, device="reference", progress=False)
    ann_out = net.forward(x)
    assert np.abs(res.output - ann_out).mean() < 0.05 * np.abs(ann_out).mean()


def test_unsupported_torch_layers_are_named():
    with pytest.raises(nc.NeuroconvError, match=r"module '1' \(Sigmoid\) has no converter.*Replace the layer"):
        ann.from_torch(nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 2)), (3,))
    with pytest.raises(nc.NeuroconvError, match="groups=1"):
        ann.from_torch(nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), (2, 5, 5))
    with pytest.raises(nc.NeuroconvError, match="ceil_mode"):
        ann.from_torch(nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)), (1, 5, 5))

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            if x.sum() > 0:
                return self.fc(x)
            return -self.fc(x)

    with pytest.raises(nc.NeuroconvError, match="torch.fx cannot trace Branchy"):
        ann.from_torch(Branchy(), (3,))
    with pytest.raises(nc.NeuroconvError, match=r"module .0. \(Linear\): Dense layer with weight \(2, 4\) expects input shape \(4,\)"):
        ann.from_torch(nn.Sequential(nn.Linear(4, 2)), (3,))


def test_onnx_built_by_hand(tmp_path):
    """MatMul + Add (bias), Gemm with transB=0 and alpha/beta, an unfolded BatchNormalization after an Add."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    w1, b1 = rng.normal(size=(4, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    w2, b2 = rng.normal(size=(5, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    stats = [rng.uniform(0.5, 1.5, 5), rng.normal(size=5), rng.normal(size=5), rng.uniform(0.5, 2, 5)]
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for a, n in
             [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2")] + list(zip(stats, ["s", "b", "m", "v"]))]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "b1"], ["hb"], name="bias"),
             helper.make_node("Relu", ["hb"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["g"], name="gemm", alpha=0.5, beta=2.0),
             helper.make_node("Add", ["g", "r"], ["j"], name="join"),
             helper.make_node("BatchNormalization", ["j", "s", "b", "m", "v"], ["y"], name="bn", epsilon=1e-3)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], inits)
    onnx.save(helper.make_model(graph), tmp_path / "hand.onnx")
    net = ann.from_onnx(tmp_path / "hand.onnx")
    x = rng.normal(size=(6, 4))
    r = np.maximum(x @ w1 + b1, 0)
    j = 0.5 * r @ w2 + 2.0 * b2 + r
    s, b, m, v = stats
    np.testing.assert_allclose(net.forward(x), (j - m) / np.sqrt(v + 1e-3) * s + b, atol=TOLERANCE)
    # unsupported ops and garbage files
    nodes[2] = helper.make_node("Sigmoid", ["hb"], ["r"], name="sig")
    bad = helper.make_graph(nodes, "g", graph.input, graph.output, inits)
    with pytest.raises(nc.NeuroconvError, match="node 'sig' has op_type Sigmoid, which has no converter"):
        ann.from_onnx(helper.make_model(bad))
    (tmp_path / "junk.onnx").write_bytes(b"\x00not a protobuf" * 10)
    with pytest.raises(nc.NeuroconvError, match="cannot parse"):
        ann.from_onnx(tmp_path / "junk.onnx")
