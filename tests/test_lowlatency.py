"""Low-latency conversion (Yan et al.): exact where theory says so, on random and trained networks."""

import numpy as np
import pytest

import neuroconv as nc
from neuroconv import ann

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from neuroconv import lowlatency, training  # noqa: E402


def random_quantised(levels, seed, cnn=True):
    """A random torch net whose ReLUs are clamp-and-quantise activations (shift 0) with per-channel thresholds."""
    torch.manual_seed(seed)
    if cnn:
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1),
                              nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 12), nn.ReLU(), nn.Linear(12, 5))
    else:
        model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 4))
    model = training.swap_activations(model, lambda: training.QCFS(levels=levels, shift=0.0))
    x = np.random.default_rng(seed).uniform(0, 1, (300, 1, 8, 8) if cnn else (300, 10))
    training.calibrate_thresholds(model, x, q="mse", per_channel=True)
    return model.eval(), x


@pytest.mark.parametrize("cnn", [True, False], ids=["cnn", "mlp"])
@pytest.mark.parametrize("seed", range(3))
def test_one_timestep_is_exact_in_every_layer(cnn, seed):
    model, x = random_quantised(1, seed, cnn)
    snn = lowlatency.convert_low_latency(model, x.shape[1:])
    assert snn.timesteps == 1 and snn.neuron.shift is False
    for device in ("reference", "runtime"):
        res = snn.run(x[:60], device=device, progress=False)
        rows = lowlatency.exactness(snn, res, x[:60])
        assert len(rows) == (3 if cnn else 2)
        assert all(r["fraction_differing"] == 0 for r in rows), rows
        np.testing.assert_array_equal(res.predictions, snn.ann.predict(x[:60]))


@pytest.mark.parametrize("levels", [2, 3, 8])
def test_first_layer_is_exact_at_any_t_and_deeper_layers_are_reported(levels):
    model, x = random_quantised(levels, 7, cnn=True)
    snn = lowlatency.convert_low_latency(model, x.shape[1:])
    ref = snn.run(x[:40], device="reference", progress=False)
    b2 = snn.run(x[:40], device="runtime", progress=False)
    for res in (ref, b2):
        rows = lowlatency.exactness(snn, res, x[:40])
        assert rows[0]["fraction_differing"] == 0
        assert all(0 <= r["fraction_early"] + r["fraction_late"] == r["fraction_differing"] <= 1 for r in rows)
    assert lowlatency.exactness(snn, ref, x[:40]) == lowlatency.exactness(snn, b2, x[:40])


def test_fine_tune_recipe_on_digits():
    data = nc.datasets.digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    training.fit(model, data.x_train, data.y_train, epochs=10, lr=3e-3, progress=False)
    tuned = lowlatency.fine_tune(model, 1, data.x_train, data.y_train, epochs=5, lr=1e-3, progress=False)
    assert isinstance(model[1], nn.ReLU), "the original model stays as it was"
    snn = lowlatency.convert_low_latency(tuned, (64,))
    res = snn.run(data.x_test, device="reference", progress=False)
    quantised_ann = float(np.mean(snn.ann.predict(data.x_test) == data.y_test))
    assert res.accuracy(data.y_test) == quantised_ann > 0.8


def test_errors():
    with pytest.raises(nc.NeuroconvError, match="no ReLU to replace"):
        lowlatency.fine_tune(nn.Sequential(nn.Linear(3, 2)), 2, np.zeros((4, 3)), np.zeros(4, int), epochs=0)
    with pytest.raises(nc.NeuroconvError, match="timesteps must be a positive int"):
        lowlatency.fine_tune(nn.Sequential(nn.Linear(3, 2)), 0, np.zeros((4, 3)), np.zeros(4, int))
    with pytest.raises(nc.NeuroconvError, match="run fine_tune first"):
        lowlatency.convert_low_latency(nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2)), (3,))
    with pytest.raises(nc.NeuroconvError, match="shift must be in"):
        ann.ReLU(threshold=1.0, levels=2, shift=1.0)
