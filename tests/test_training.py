"""Datasets, conversion-friendly training (ClipReLU, QCFS) and the cached model zoo."""

import gzip

import numpy as np
import pytest

import neuroconv as nc
from neuroconv import ann
from neuroconv.experiments import datasets
from neuroconv.equations import IF

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from neuroconv import training, zoo  # noqa: E402


# --- datasets ---------------------------------------------------------------

def test_digits_and_arrays():
    d = datasets.digits(image=True)
    assert d.x_train.shape[1:] == (1, 8, 8) and d.x_train.max() == 1.0 and d.n_classes == 10
    assert len(d.x_train) + len(d.x_test) == 1797
    own = datasets.from_arrays(d.x_train.reshape(len(d.x_train), -1), d.y_train, test_size=0.5)
    assert own.x_train.shape[1] == 64
    with pytest.raises(nc.NeuroconvError, match="non-negative integer class labels"):
        datasets.from_arrays(np.zeros((4, 2)), np.array([0.5, 1, 0, 1]))
    with pytest.raises(nc.NeuroconvError, match="unknown dataset 'cifar'"):
        datasets.load("cifar")


def test_fashion_mnist_missing_names_the_install_command(tmp_path):
    with pytest.raises(nc.NeuroconvError, match="apt-get install dataset-fashion-mnist"):
        datasets.fashion_mnist(directory=str(tmp_path))


def test_idx_files_are_read_from_their_header(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    for stem, arr in (("train-images-idx3-ubyte", images), ("t10k-images-idx3-ubyte", images),
                      ("train-labels-idx1-ubyte", np.array([3, 7], np.uint8)),
                      ("t10k-labels-idx1-ubyte", np.array([1, 2], np.uint8))):
        header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
        with gzip.open(tmp_path / f"{stem}.gz", "wb") as f:
            f.write(header + arr.tobytes())
    d = datasets.fashion_mnist(image=True, directory=str(tmp_path))
    np.testing.assert_allclose(d.x_train[1, 0], images[1] / 255.0)
    assert list(d.y_train) == [3, 7] and d.x_test.shape == (2, 1, 28, 28)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1])))
    with pytest.raises(nc.NeuroconvError, match="truncated"):
        datasets.fashion_mnist(directory=str(tmp_path))


# --- activations --------------------------------------------------------------

def qcfs_mlp(levels, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))
    model = training.swap_activations(model, lambda: training.QCFS(levels=levels, threshold=1.0))
    for m, lam in zip([m for m in model.modules() if isinstance(m, training.QCFS)], (0.7, 1.3)):
        m.threshold.data.fill_(lam)
    return model.eval()


@pytest.mark.parametrize("levels", [1, 2, 4, 8])
def test_qcfs_first_layer_is_exactly_the_if_count(levels):
    """A T = L step IF layer with threshold lambda and theta/2 start emits floor(z L/lambda + 1/2) clipped spikes."""
    net = ann.from_torch(qcfs_mlp(levels), (6,))
    assert net.layers[1].levels == levels and net.layers[1].threshold[0] == pytest.approx(0.7)
    x = np.random.default_rng(levels).uniform(-1, 2, (200, 6))
    snn = nc.convert(net, neuron=IF(), timesteps=levels)  # trained thresholds: no calibration data needed
    res = snn.run(x, device="reference", progress=False)
    _, acts = net.forward(x, return_activations=True)
    np.testing.assert_array_equal(res.spike_counts[0], np.rint(acts[1] * levels / 0.7).astype(int))


def test_swap_activations_handles_modules_and_functional_calls():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 5), nn.Linear(5, 2)

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    swapped = training.swap_activations(Functional(), lambda: training.ClipReLU(0.5))
    assert sum(isinstance(m, training.ClipReLU) for m in swapped.modules()) == 1
    net = ann.from_torch(swapped, (4,))
    assert net.layers[1].threshold[0] == 0.5 and net.layers[1].levels is None
    x = np.random.default_rng(0).normal(size=(5, 4)) * 3
    np.testing.assert_allclose(net.forward(x), swapped.eval().double()(torch.from_numpy(x)).detach().numpy(), atol=1e-10)
    nested = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 2)))
    out = training.swap_activations(nested, lambda: training.QCFS(4))
    assert isinstance(out[1][0], training.QCFS) and isinstance(nested[1][0], nn.ReLU), "the original stays"


def test_fit_is_reproducible_and_thresholds_train():
    d = datasets.digits()
    runs = []
    for _ in range(2):
        torch.manual_seed(5)
        model = training.swap_activations(nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)),
                                          lambda: training.QCFS(4, threshold=3.0))
        training.fit(model, d.x_train[:300], d.y_train[:300], epochs=2, progress=False, seed=1)
        runs.append(model)
    assert all(torch.equal(a, b) for a, b in zip(runs[0].state_dict().values(), runs[1].state_dict().values()))
    assert float(runs[0][1].threshold.detach()) != 3.0, "the threshold is a trained parameter"


def test_calibrate_thresholds_sets_percentiles():
    model = training.swap_activations(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)),
                                      lambda: training.QCFS(8))
    x = np.random.default_rng(0).normal(size=(500, 4))
    assert training.calibrate_thresholds(model, x, q=100) == 1
    with torch.no_grad():
        pre = model[0](torch.as_tensor(x, dtype=torch.float32)).numpy()
    assert float(model[1].threshold.detach()) == pytest.approx(pre.max(), rel=1e-5)


# --- zoo ----------------------------------------------------------------------

def test_zoo_trains_once_then_loads_without_pickle(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCONV_CACHE", str(tmp_path))
    first = zoo.load("digits_mlp", epochs=3, progress=False)
    assert first.info["test_accuracy"] > 0.8
    files = sorted(p.name for p in (tmp_path / "zoo").iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".pt")
    torch.load(tmp_path / "zoo" / files[1], weights_only=True)  # a plain state_dict

    def no_training(*args, **kwargs):
        raise AssertionError("the cached model should be loaded, not trained")

    monkeypatch.setattr(zoo, "fit", no_training)
    again = zoo.load("digits_mlp", epochs=3, progress=False)
    x = first.dataset.x_test
    np.testing.assert_array_equal(training.predict(again.module, x), training.predict(first.module, x))
    monkeypatch.undo()
    monkeypatch.setenv("NEUROCONV_CACHE", str(tmp_path))
    quantised = zoo.load("digits_mlp", variant="qcfs", levels=4, epochs=3, finetune_epochs=2, progress=False)
    net = quantised.to_ann()
    assert net.layers[1].levels == 4
    snn = nc.convert(net, timesteps=4)
    res = snn.run(x, device="reference", progress=False)
    assert res.accuracy(first.dataset.y_test) > 0.8
    with pytest.raises(nc.NeuroconvError, match="unknown zoo model"):
        zoo.load("imagenet_vit")
