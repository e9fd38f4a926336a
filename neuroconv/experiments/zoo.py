"""A small model zoo, trained reproducibly on demand and cached locally (extra ``torch``).

Nothing is downloaded: :func:`load` builds the architecture, trains it on an offline
dataset (:mod:`neuroconv.datasets`) with a fixed seed, and caches the weights as a
``state_dict`` (``torch.save``; read back with ``torch.load(weights_only=True)``, which
executes no code from the file). Each model comes as ``variant="relu"`` (plain ReLU) or
``variant="qcfs"``: the trained ReLU model with every ReLU replaced by
:class:`neuroconv.training.QCFS` (``levels`` steps; thresholds started at the 99.9th
percentile of each ReLU's input on 2000 training samples), then fine-tuned for
``finetune_epochs`` at a tenth of the learning rate.

=================  ================  ==================================================
name               dataset           architecture
=================  ================  ==================================================
digits_mlp         digits            64-128-10 MLP
digits_mlp6        digits            6 hidden layers of 64
digits_cnn         digits            2 x (conv3-ReLU-avgpool2), dense 10
mnist_cnn          mnist5k           2 x (conv5-BN-ReLU-maxpool2), dense 10
fashion_cnn        fashion_mnist     2 x (conv3-BN-ReLU-maxpool2), dense 128, dense 10
fashion_cnn_avg    fashion_mnist     2 x (conv3-BN-ReLU-avgpool2), dense 128, dense 10
fashion_resnet     fashion_mnist     conv-BN-ReLU-maxpool stem, 2 residual blocks, global avg pool, dense 10
=================  ================  ==================================================
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from neuroconv.experiments import datasets
from neuroconv.errors import NeuroconvError

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover
    raise ImportError("neuroconv.zoo needs PyTorch: pip install 'brian2-neuroconv[torch]'.") from None

from neuroconv.experiments.training import QCFS, accuracy, calibrate_thresholds, fit, swap_activations

__all__ = ["MODELS", "load", "build", "cache_dir", "ZooModel"]

#: Bump when an architecture or the training recipe changes: cached weights are then retrained.
RECIPE_VERSION = 1


class BasicBlock(nn.Module):
    """ResNet basic block: conv-BN-ReLU-conv-BN plus an identity or 1x1-conv-BN shortcut, then ReLU."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        self.relu2 = nn.ReLU()

    def forward(self, x):
        return self.relu2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))) + self.shortcut(x))


def _conv_block(c_in, c_out, k, pool=nn.MaxPool2d):
    return [nn.Conv2d(c_in, c_out, k, padding=k // 2 if k == 3 else 0), nn.BatchNorm2d(c_out), nn.ReLU(), pool(2)]


def _digits_mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def _digits_mlp6():
    layers = []
    for n_in in (64,) + (64,) * 5:
        layers += [nn.Linear(n_in, 64), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(64, 10))


def _digits_cnn():
    # average pooling (not max): TPP and One-Spike convert it too. 8 -> pool 4 -> pool 2
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                         nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(32 * 2 * 2, 10))


def _mnist_cnn():
    # 28 -> conv5 24 -> pool 12 -> conv5 8 -> pool 4
    return nn.Sequential(*_conv_block(1, 16, 5), *_conv_block(16, 32, 5), nn.Flatten(), nn.Dropout(0.2),
                         nn.Linear(32 * 4 * 4, 10))


def _fashion_cnn():
    # 28 -> pool 14 -> pool 7
    return nn.Sequential(*_conv_block(1, 16, 3), *_conv_block(16, 32, 3), nn.Flatten(), nn.Linear(32 * 7 * 7, 128),
                         nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))


def _fashion_cnn_avg():
    # the same with average pooling: every pooled value is a mean of spike rates
    return nn.Sequential(*_conv_block(1, 16, 3, nn.AvgPool2d), *_conv_block(16, 32, 3, nn.AvgPool2d), nn.Flatten(),
                         nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))


def _fashion_resnet():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         BasicBlock(16, 16), BasicBlock(16, 32, stride=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(32, 10))


#: name -> (builder, dataset, image input, default epochs, learning rate, default QCFS fine-tuning epochs)
MODELS = {
    "digits_mlp": (_digits_mlp, "digits", False, 60, 3e-3, 20),
    "digits_mlp6": (_digits_mlp6, "digits", False, 60, 3e-3, 20),
    "digits_cnn": (_digits_cnn, "digits", True, 60, 3e-3, 20),
    "mnist_cnn": (_mnist_cnn, "mnist5k", True, 20, 3e-3, 5),
    "fashion_cnn": (_fashion_cnn, "fashion_mnist", True, 5, 2e-3, 2),
    "fashion_cnn_avg": (_fashion_cnn_avg, "fashion_mnist", True, 5, 2e-3, 2),
    "fashion_resnet": (_fashion_resnet, "fashion_mnist", True, 5, 2e-3, 2),
}


class ZooModel:
    """A trained zoo model: the torch ``module``, its ``dataset`` and training ``info``."""

    def __init__(self, name, module, dataset, info):
        self.name, self.module, self.dataset, self.info = name, module, dataset, info

    @property
    def input_shape(self) -> tuple:
        return tuple(self.dataset.input_shape)

    def to_ann(self):
        """The model imported with :func:`neuroconv.ann.from_torch`."""
        from neuroconv.ann.importers.torch_importer import from_torch

        return from_torch(self.module, self.input_shape)

    def __repr__(self):
        return f"ZooModel({self.name!r}, test accuracy {self.info.get('test_accuracy', float('nan')):.4f})"


def cache_dir() -> str:
    """``$NEUROCONV_CACHE/zoo``, default ``~/.cache/neuroconv/zoo``."""
    root = os.environ.get("NEUROCONV_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "neuroconv")
    return os.path.join(root, "zoo")


def _entry(name: str) -> tuple:
    if name not in MODELS:
        raise NeuroconvError(f"unknown zoo model {name!r}; choose one of {sorted(MODELS)}.")
    return MODELS[name]


def build(name: str, seed: int = 0) -> nn.Module:
    """The untrained architecture (plain ReLUs)."""
    builder = _entry(name)[0]
    torch.manual_seed(seed)
    return builder()


def load_state(path) -> dict:
    """A cached ``state_dict``, read with ``torch.load(weights_only=True)``: tensors and plain
    containers only, never arbitrary pickled objects."""
    try:
        return torch.load(path, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, ...
        raise NeuroconvError(f"zoo cache file {os.fspath(path)!r} is not a plain state_dict "
                             f"({type(exc).__name__}); delete it (and its .json) to retrain.") from None


def load(name: str, variant: str = "relu", levels: int = 8, epochs: int | None = None, finetune_epochs: int | None = None,
         seed: int = 0, n_train: int | None = None, retrain: bool = False, progress: bool = True) -> ZooModel:
    """A trained zoo model, from the cache or trained now (and cached).

    ``epochs`` (ReLU training), ``finetune_epochs`` (QCFS) and ``n_train`` (use only the
    first ``n_train`` training samples) make quick, small versions for tests; they are part
    of the cache key, as are ``variant``, ``levels``, ``seed``, the torch version and
    :data:`RECIPE_VERSION`.
    """
    if variant not in ("relu", "qcfs"):
        raise NeuroconvError(f"variant must be 'relu' or 'qcfs', got {variant!r}.")
    _, dataset_name, image, default_epochs, lr, default_finetune = _entry(name)
    epochs = default_epochs if epochs is None else int(epochs)
    finetune = default_finetune if finetune_epochs is None else int(finetune_epochs)
    if variant == "qcfs":  # the trained ReLU model, its activations swapped (its dataset is ours)
        base = load(name, "relu", epochs=epochs, seed=seed, n_train=n_train, retrain=retrain, progress=progress)
        model, data = swap_activations(base.module, lambda: QCFS(levels=levels)), base.dataset
    else:
        model, data = build(name, seed), datasets.load(dataset_name, image=image)
    x_train, y_train = data.x_train, data.y_train
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    spec = dict(name=name, variant=variant, epochs=epochs, seed=seed, n_train=len(x_train), lr=lr,
                recipe=RECIPE_VERSION, torch=torch.__version__.split("+")[0])
    if variant == "qcfs":
        spec.update(levels=levels, finetune_epochs=finetune)
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    stem = os.path.join(cache_dir(), f"{name}-{variant}{levels if variant == 'qcfs' else ''}-{key}")
    if not retrain and os.path.exists(stem + ".pt") and os.path.exists(stem + ".json"):
        model.load_state_dict(load_state(stem + ".pt"))
        model.eval()
        with open(stem + ".json") as f:
            info = json.load(f)
        return ZooModel(name, model, data, info)
    t0 = time.perf_counter()
    if variant == "qcfs":
        calibrate_thresholds(model, x_train[:2000])
        history = fit(model, x_train, y_train, epochs=finetune, lr=lr / 10, seed=seed, progress=progress)
    else:
        history = fit(model, x_train, y_train, epochs=epochs, lr=lr, seed=seed, progress=progress)
    info = dict(spec, train_seconds=round(time.perf_counter() - t0, 1), final_loss=history["loss"][-1],
                test_accuracy=accuracy(model, data.x_test, data.y_test), n_test=len(data.x_test))
    os.makedirs(cache_dir(), exist_ok=True)
    tmp = f"{stem}.{os.getpid()}.tmp"
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, stem + ".pt")  # atomic: a concurrent reader sees the old file or the new one
    with open(tmp, "w") as f:
        json.dump(info, f, indent=1)
    os.replace(tmp, stem + ".json")
    return ZooModel(name, model, data, info)
