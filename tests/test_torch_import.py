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
    with pytest.raises(nc.NeuroconvError, match=r"module '1' \(Softmax\) has no converter.*Replace the layer"):
        ann.from_torch(nn.Sequential(nn.Linear(3, 3), nn.Softmax(dim=1), nn.Linear(3, 2)), (3,))
    with pytest.raises(nc.NeuroconvError, match=r"module '0' \(Conv2d\): .*only dilation=1"):
        ann.from_torch(nn.Sequential(nn.Conv2d(2, 2, 3, dilation=2)), (2, 5, 5))
    with pytest.raises(nc.NeuroconvError, match=r"module '1' \(MaxPool2d\): max pooling: return_indices=True"):
        ann.from_torch(nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, return_indices=True)), (1, 5, 5))

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


class Clipped(nn.Module):
    """Every clipped-ReLU form: modules ReLU6 and Hardtanh(0, a), functions relu6, hardtanh, clamp, clip, methods."""

    def __init__(self):
        super().__init__()
        self.fc = nn.ModuleList(nn.Linear(6, 6) for _ in range(6))
        self.relu6, self.hardtanh = nn.ReLU6(), nn.Hardtanh(0.0, 3.0)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        f = torch.nn.functional
        x = self.relu6(self.fc[0](x))
        x = self.hardtanh(self.fc[1](x))
        x = f.relu6(self.fc[2](x))
        x = torch.clamp(self.fc[3](x), 0, 2.5)
        x = self.fc[4](x).clamp(min=0, max=1.5)
        x = f.hardtanh(self.fc[5](x), 0.0, 4.0)
        return self.out(x)


def test_clipped_relus_are_relus_with_trained_thresholds():
    torch.manual_seed(0)
    model = Clipped().eval()
    for layer in model.fc:  # large weights, so that the clip levels are reached
        layer.weight.data *= 6
    net = ann.from_torch(model, (6,))
    relus = [layer for layer in net.layers if isinstance(layer, ann.ReLU)]
    assert [float(r.threshold[0]) for r in relus] == [6.0, 3.0, 6.0, 2.5, 1.5, 4.0]
    x = np.random.default_rng(1).uniform(-1, 1, (200, 6))
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x)).numpy()
    assert np.abs(net.forward(x) - expected).max() < TOLERANCE
    x_in = x[:, :] * 0.5 + 0.5
    snn = nc.convert(net, timesteps=256)  # every ReLU's trained clip level is its threshold: no calibration data
    assert [float(l.theta[0]) for l in snn.hidden_layers] == [6.0, 3.0, 6.0, 2.5, 1.5, 4.0]
    out = snn.run(x_in, device="reference", progress=False).output
    assert np.corrcoef(out.ravel(), net.forward(x_in).ravel())[0, 1] > 0.99


class FunctionalPooling(nn.Module):
    """A CNN pooled only through functions and means: max_pool2d, avg_pool2d, adaptive_avg_pool2d, x.mean."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 6, 3, padding=1), \
            nn.Conv2d(6, 8, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(8, 8), nn.Linear(8, 3)

    def forward(self, x):
        f = torch.nn.functional
        x = f.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = f.avg_pool2d(torch.relu(self.conv2(x)), kernel_size=2, stride=2)
        x = f.adaptive_avg_pool2d(torch.relu(self.conv3(x)), 2)
        x = torch.mean(x, dim=[-1, -2], keepdim=True).flatten(1) + x.mean((2, 3))
        return self.fc2(torch.relu(self.fc1(x)))


def test_functional_pooling_and_spatial_means(digits):
    torch.manual_seed(0)
    model = FunctionalPooling().eval()
    net = ann.from_torch(model, (1, 8, 8))
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds.count("MaxPool2d") == 1 and kinds.count("AvgPool2d") == 4 and kinds.count("Flatten") == 2
    x = digits[0][:300].reshape(-1, 1, 8, 8)
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x)).numpy()
    assert np.abs(net.forward(x) - expected).max() < TOLERANCE
    snn = nc.convert(net, timesteps=256, calibration_data=x)
    out = snn.run(x[:100], device="reference", progress=False).output
    assert np.corrcoef(out.ravel(), expected[:100].ravel())[0, 1] > 0.99


@pytest.mark.parametrize("activation", ["SiLU", "GELU", "Hardswish", "Sigmoid", "Tanh", "LeakyReLU"])
def test_smooth_activations_are_refused_with_the_fix(activation):
    from neuroconv.training import swap_activations

    cls = getattr(nn, activation)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Linear(3, 4), cls())
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.features(x))

    with pytest.raises(nc.NeuroconvError, match=rf"module 'features.1' \({activation}\): .*follows a \(clipped\) "
                                                rf"ReLU.*swap_activations\(model, torch.nn.ReLU, "
                                                rf"replace=\(torch.nn.{activation},\)\)"):
        ann.from_torch(Net(), (3,))
    fixed = ann.from_torch(swap_activations(Net(), nn.ReLU, replace=(cls,)), (3,))
    assert isinstance(fixed.layers[1], ann.ReLU)


def test_functional_smooth_activation_and_concatenation_refusals():
    class Gelu(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return torch.nn.functional.gelu(self.fc(x))

    with pytest.raises(nc.NeuroconvError, match=r"function gelu \(node gelu\): gelu: .*replace=\(torch.nn.GELU,\)"):
        ann.from_torch(Gelu(), (3,))

    class Cat(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 2, 1), nn.Conv2d(1, 2, 1)

        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], 2)

    with pytest.raises(nc.NeuroconvError, match=r"function cat \(node cat\): cat: along dim=2 .*dim=1"):
        ann.from_torch(Cat(), (1, 3, 3))


@pytest.mark.parametrize("module, match", [
    (nn.MaxPool2d(2, dilation=2), "max pooling: return_indices=False, dilation=2"),
    (nn.AvgPool2d(3, padding=1, count_include_pad=False), "average pooling: .*count_include_pad=False"),
    (nn.Hardtanh(-1.0, 1.0), "nn.Hardtanh: the lower bound is -1.0"),
])
def test_refusals_name_the_module_path(module, match):
    model = nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Identity()), nn.Flatten())
    model[0][2] = module
    with pytest.raises(nc.NeuroconvError, match=rf"module '0.2' \({type(module).__name__}\): {match}"):
        ann.from_torch(model, (1, 7, 7))


class Grouped(nn.Module):
    """A MobileNet-style block: a dense stem, a depthwise 3x3, a grouped 1x1 (2 groups), BatchNorm after each."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(),
                                  nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, 6, 1, groups=2), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                  nn.Linear(24, 3))

    def forward(self, x):
        return self.body(x)


def _grouped_model():
    torch.manual_seed(3)
    model = Grouped()
    for m in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _matches_and_runs(model, net, x, tmp_path):
    """The imported ``net`` computes what ``model`` computes (also after an npz round trip), and converts into an
    IF network whose Brian2 runtime counts equal the reference's. Returns torch's output."""
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x)).numpy()
    assert np.abs(net.forward(x) - expected).max() < TOLERANCE
    ann.save_npz(net, tmp_path / "net.npz")
    assert np.abs(ann.from_npz(tmp_path / "net.npz").forward(x) - expected).max() < TOLERANCE
    snn = nc.convert(net, timesteps=8, calibration_data=x)
    ref, res = (snn.run(x[:6], device=d, progress=False) for d in ("reference", "runtime"))
    for p, q in zip(res.spike_counts, ref.spike_counts):
        np.testing.assert_array_equal(p, q)
    return expected, snn


def test_grouped_and_depthwise_convolutions(digits, tmp_path):
    model = _grouped_model()
    net = ann.from_torch(model, (1, 8, 8))
    assert [l.groups for l in net.layers if isinstance(l, ann.Conv2d)] == [1, 8, 2]
    x = digits[0][:200].reshape(-1, 1, 8, 8)
    expected, snn = _matches_and_runs(model, net, x, tmp_path)
    # a depthwise 3x3 has 9 synapses per output neuron at most, not 9 x 8
    depthwise = snn.layers[1].pathways[0][0]
    assert np.diff(depthwise.indptr).max() == 9
    long = nc.convert(net, timesteps=256, calibration_data=x).run(x[:100], device="reference", progress=False)
    assert np.corrcoef(long.output.ravel(), expected[:100].ravel())[0, 1] > 0.99


def test_grouped_convolution_from_onnx(tmp_path):
    pytest.importorskip("onnx")
    model = _grouped_model()
    path = tmp_path / "grouped.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 1, 8, 8), str(path), dynamo=False)
    net = ann.from_onnx(path)
    assert [l.groups for l in net.layers if isinstance(l, ann.Conv2d)] == [1, 8, 2]
    x = np.random.default_rng(0).uniform(0, 1, (5, 1, 8, 8))
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x)).numpy()
    assert np.abs(net.forward(x) - expected).max() < TOLERANCE


class Means(nn.Module):
    """Global pooling as torchvision classifiers and CIFAR ResNet code write it: AdaptiveAvgPool2d(1) in one
    branch, x.mean((2, 3)) in the other, AdaptiveMaxPool2d(1) on a ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.pool, self.maxpool = nn.AdaptiveAvgPool2d(1), nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return self.fc(torch.flatten(self.pool(y), 1) + y.mean((2, 3)) + torch.flatten(self.maxpool(y), 1))


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript_exporter", "dynamo_exporter"])
def test_both_onnx_exporters(dynamo, tmp_path):
    """torch's two exporters: the default (dynamo) one writes every tensor of 1 KB or more as external data
    beside the model, Clip for ReLU6 and ReduceMean for the global average pooling."""
    pytest.importorskip("onnx")
    if dynamo:
        pytest.importorskip("onnxscript", reason="torch's dynamo exporter needs onnxscript (the onnx extra)")
    x = np.random.default_rng(0).uniform(0, 1, (5, 1, 8, 8))
    for k, model in enumerate((_grouped_model(), Means().eval())):
        path = tmp_path / f"m{k}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), str(path), dynamo=dynamo)
        if dynamo and k == 0:
            assert (tmp_path / "m0.onnx.data").is_file()  # the weights live outside the model file
        net = ann.from_onnx(path)
        with torch.no_grad():
            expected = model.double()(torch.from_numpy(x)).numpy()
        assert np.abs(net.forward(x) - expected).max() < TOLERANCE
        if k == 1:
            kinds = [type(l).__name__ for l in net.layers]
            assert kinds.count("AvgPool2d") == 2 and kinds.count("MaxPool2d") == 1


def _external_model(tmp_path, location, data=None, length=None):
    """A one-layer ONNX model whose weight lives in an external file at ``location``."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3], data_location=TensorProto.EXTERNAL)
    w.external_data.add(key="location", value=location)
    if length is not None:
        w.external_data.add(key="length", value=str(length))
    if data is not None:
        (tmp_path / data).write_bytes(np.arange(12, dtype=np.float32).tobytes())
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], initializer=[w])
    path = tmp_path / "model.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    return path


def test_onnx_external_data_is_read_from_the_models_folder_only(tmp_path):
    net = ann.from_onnx(_external_model(tmp_path, "weights.bin", data="weights.bin"))
    np.testing.assert_array_equal(net.layers[0].weight, np.arange(12.0).reshape(4, 3).T)
    with pytest.raises(nc.NeuroconvError, match="must be a file in the model's own folder"):
        ann.from_onnx(_external_model(tmp_path, "/etc/passwd"))
    with pytest.raises(nc.NeuroconvError, match="is missing, a link or not a regular file"):
        ann.from_onnx(_external_model(tmp_path, "absent.bin"))
    (tmp_path / "link.bin").symlink_to(tmp_path / "weights.bin")
    with pytest.raises(nc.NeuroconvError, match="is missing, a link or not a regular file"):
        ann.from_onnx(_external_model(tmp_path, "link.bin"))
    with pytest.raises(nc.NeuroconvError, match="declares 8 bytes at offset 0 for a tensor of 48 bytes"):
        ann.from_onnx(_external_model(tmp_path, "weights.bin", length=8))


class CeilPools(nn.Module):
    """SqueezeNet/GoogLeNet pooling: ceil_mode=True windows that run past the input, max and average."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3, padding=1)
        self.max, self.avg = nn.MaxPool2d(3, 2, ceil_mode=True), nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)
        self.fc = nn.Linear(4 * 2 * 2, 3)

    def forward(self, x):  # 8 -> conv 6 -> ceil max 3 -> conv 3 -> ceil avg 2
        return self.fc(self.avg(torch.relu(self.conv2(self.max(torch.relu(self.conv1(x)))))).flatten(1))


@pytest.mark.parametrize("source", ["torch", "onnx"])
def test_ceil_mode_pooling(source, digits, tmp_path):
    torch.manual_seed(2)
    model = CeilPools().eval()
    if source == "torch":
        net = ann.from_torch(model, (1, 8, 8))
    else:
        pytest.importorskip("onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), str(tmp_path / "m.onnx"), dynamo=False)
        net = ann.from_onnx(tmp_path / "m.onnx")
    assert [l.ceil_mode for l in net.layers if isinstance(l, (ann.MaxPool2d, ann.AvgPool2d))] == [True, True]
    x = digits[0][:200].reshape(-1, 1, 8, 8)
    expected, _ = _matches_and_runs(model, net, x, tmp_path)
    long = nc.convert(net, timesteps=256, calibration_data=x).run(x[:100], device="reference", progress=False)
    assert np.corrcoef(long.output.ravel(), expected[:100].ravel())[0, 1] > 0.99


class Inception(nn.Module):
    """Concatenations as GoogLeNet, DenseNet and SqueezeNet use them: branches joined by channel, a
    DenseNet-style cat -> BatchNorm -> ReLU, a residual sum after a join, a channel join max-pooled
    (Inception) and a feature concatenation with the flattened input."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.b1, self.b2 = nn.Conv2d(4, 3, 1), nn.Conv2d(4, 5, 3, padding=1)
        self.bn = nn.BatchNorm2d(12)
        self.mix = nn.Conv2d(12, 4, 1)
        self.fc = nn.Linear(8 * 4 * 4 + 64, 3)

    def forward(self, x):
        f = torch.nn.functional
        y = torch.relu(self.stem(x))
        a, b = torch.relu(self.b1(y)), torch.relu(self.b2(y))
        z = torch.relu(self.bn(torch.cat([a, b, y], 1)))
        z = torch.relu(self.mix(z) + y)
        z = f.max_pool2d(torch.cat((z, y), dim=1), 2)
        return self.fc(torch.concat([z.flatten(1), x.flatten(1)], 1))


def _inception():
    torch.manual_seed(5)
    model = Inception()
    model.bn.running_mean.uniform_(-0.2, 0.2)
    model.bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


def test_concatenation_becomes_pathways(digits, tmp_path):
    model = _inception()
    net = ann.from_torch(model, (1, 8, 8))
    assert sum(isinstance(l, ann.Concat) for l in net.layers) == 3
    x = digits[0][:200].reshape(-1, 1, 8, 8)
    expected, snn = _matches_and_runs(model, net, x, tmp_path)
    # no population for a concatenation: the pooled join is one relay per branch, the next layers read
    # each branch through its own pathway (and the output the analog input through one more)
    assert [(l.kind, l.sources) for l in snn.layers] == [
        ("neuron", (-1,)), ("neuron", (0,)), ("neuron", (0,)),  # stem, branches
        ("neuron", (0, 1, 2)),                                 # cat -> BN -> ReLU: three pathways
        ("neuron", (0, 3)),                                    # residual sum after the join
        ("maxpool", (4,)), ("maxpool", (0,)),                  # the pooled join: one relay per branch
        ("neuron", (-1, 5, 6))]                                # the output reads the input and both relays
    long = nc.convert(net, timesteps=256, calibration_data=x).run(x[:100], device="reference", progress=False)
    assert np.corrcoef(long.output.ravel(), expected[:100].ravel())[0, 1] > 0.99


def test_pooled_join_feeding_a_branch_pool(rng):
    """GoogLeNet's pattern: a pooled channel join read by a 1x1 branch and by another max pool (its branch 4)."""
    conv = lambda c_in, c_out, k: ann.Conv2d(rng.normal(0, 1 / np.sqrt(c_in * k * k), (c_out, c_in, k, k)),
                                            rng.normal(0, 0.1, c_out), padding=k // 2)
    layers = [conv(1, 3, 3), ann.ReLU(), conv(1, 2, 1), ann.ReLU(), ann.Concat(),          # 0-4
              ann.MaxPool2d(2, ceil_mode=True),                                            # 5: pooled join
              conv(5, 4, 1), ann.ReLU(),                                                    # 6-7: branch
              ann.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), conv(5, 2, 1), ann.ReLU(),  # 8-10: branch 4
              ann.Concat(), ann.Flatten(), ann.Dense(rng.normal(0, 0.3, (3, 6 * 4 * 4)))]
    inputs = [(-1,), (0,), (-1,), (2,), (1, 3), (4,), (5,), (6,), (5,), (8,), (9,), (7, 10), (11,), (12,)]
    net = ann.Graph(layers, (1, 7, 7), inputs)
    x = rng.uniform(0, 1, (30, 1, 7, 7))
    snn = nc.convert(net, timesteps=8, calibration_data=x)
    assert sum(l.kind == "maxpool" for l in snn.layers) == 4  # each join pooled per branch, twice
    np.testing.assert_allclose(snn.ann.forward(x), net.forward(x), atol=1e-12)
    ref, res = (snn.run(x[:5], device=d, progress=False) for d in ("reference", "runtime"))
    for p, q in zip(res.spike_counts, ref.spike_counts):
        np.testing.assert_array_equal(p, q)
    long = nc.convert(net, timesteps=256, calibration_data=x).run(x, device="reference", progress=False)
    assert np.corrcoef(long.output.ravel(), net.forward(x).ravel())[0, 1] > 0.99


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript_exporter", "dynamo_exporter"])
def test_concatenation_from_onnx(dynamo, tmp_path):
    pytest.importorskip("onnx")
    if dynamo:
        pytest.importorskip("onnxscript", reason="torch's dynamo exporter needs onnxscript (the onnx extra)")
    model = _inception()
    path = tmp_path / "inception.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), str(path), dynamo=dynamo)
    net = ann.from_onnx(path)
    assert sum(isinstance(l, ann.Concat) for l in net.layers) == 3
    x = np.random.default_rng(0).uniform(0, 1, (5, 1, 8, 8))
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x)).numpy()
    assert np.abs(net.forward(x) - expected).max() < TOLERANCE


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


class _ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle: sizes read with x.size(), arithmetic on them, a 5-D view."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x):
        x = self.conv(x)
        b, c, h, w = x.size()
        x = x.view(b, 2, c // 2, h, w).transpose(1, 2).contiguous()
        return x.view(b, -1)


def test_size_arithmetic_reaches_the_real_refusal():
    """Arithmetic on x.size() is not a layer; the refusal is the 5-D view's, and it says what it is."""
    with pytest.raises(nc.NeuroconvError, match=r"\.view\(\) \(node view\): view/reshape: to 5 dimensions .*channel "
                                                r"shuffle.*only x\.view\(x\.size\(0\), -1\)"):
        ann.from_torch(_ChannelShuffle(), (1, 4, 4))
