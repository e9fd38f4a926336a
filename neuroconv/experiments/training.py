"""Conversion-friendly training in PyTorch (extra ``torch``).

An ANN trained with plain ReLUs needs many timesteps after conversion: its activations are
unbounded and continuous, while an IF layer run for T steps can only send ``0, theta/T, ...,
theta``. Training with the activation the SNN will actually compute closes that gap:

* :class:`ClipReLU`: ``clip(x, 0, lambda)`` with a trainable clip level ``lambda`` (the
  layer's threshold after conversion, so no calibration statistic is needed);
* :class:`QCFS`: the quantisation-clip-floor-shift activation of Bu et al. (ICLR 2022),
  ``lambda * clip(floor(x * L / lambda + 1/2), 0, L) / L`` with L levels and a
  straight-through gradient for ``floor``. An IF neuron with threshold ``lambda`` and
  ``theta/2`` initial membrane (neuroconv's default ``IF(shift=True)``) run for ``T = L``
  steps on a constant input emits exactly this many spikes.

:func:`swap_activations` replaces the ReLUs of a model (``nn.ReLU`` modules and functional
``relu`` calls, via ``torch.fx``) by one of these; :func:`fit` trains a model on arrays;
:func:`neuroconv.ann.from_torch` imports both activations as ``ReLU(threshold, levels)``.
"""

from __future__ import annotations

import math

import numpy as np

from neuroconv.errors import NeuroconvError

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - the message names the extra
    raise ImportError("neuroconv.training needs PyTorch: pip install 'brian2-neuroconv[torch]' "
                      "(it pins torch==2.13.0).") from None

from neuroconv.ann.torch_activations import QCFS, ClipReLU, _Thresholded  # noqa: F401  (QCFS, ClipReLU: re-exported)

__all__ = ["ClipReLU", "QCFS", "swap_activations", "calibrate_thresholds", "fit", "accuracy", "predict"]


#: activation module -> (its functional forms, its tensor methods), for ``swap_activations(replace=...)``
_FUNCTIONAL = {
    nn.ReLU: ({torch.relu, torch.nn.functional.relu, torch.relu_}, {"relu", "relu_"}),
    nn.SiLU: ({torch.nn.functional.silu}, set()),
    nn.GELU: ({torch.nn.functional.gelu}, set()),
    nn.Hardswish: ({torch.nn.functional.hardswish}, set()),
    nn.Sigmoid: ({torch.sigmoid, torch.nn.functional.sigmoid}, {"sigmoid"}),
    nn.Tanh: ({torch.tanh, torch.nn.functional.tanh}, {"tanh"}),
    nn.ReLU6: ({torch.nn.functional.relu6}, set()),
}


def swap_activations(model: nn.Module, factory, replace=(nn.ReLU,)) -> nn.Module:
    """A copy of ``model`` in which every activation of the classes in ``replace`` (default: ReLU; modules and
    functional calls) is ``factory()``.

    ``factory`` makes one new activation module per activation, e.g. ``lambda: QCFS(levels=8)``, or
    ``torch.nn.ReLU`` with ``replace=(torch.nn.SiLU, torch.nn.Hardswish)`` to make a model with smooth
    activations convertible (fine-tune it afterwards: :func:`fit`). Modules are swapped in place of
    children of exactly those classes; functional calls through a ``torch.fx`` trace (the result is then a
    ``GraphModule``).
    """
    import copy

    replace = tuple(replace) if isinstance(replace, (tuple, list)) else (replace,)
    if not replace or not all(isinstance(c, type) and issubclass(c, nn.Module) for c in replace):
        raise NeuroconvError(f"replace must be activation module classes such as torch.nn.SiLU, got {replace!r}.")
    model = copy.deepcopy(model)
    swapped = _swap_modules(model, factory, replace)
    functional = set().union(*(_FUNCTIONAL.get(c, (set(), set()))[0] for c in replace))
    methods = set().union(*(_FUNCTIONAL.get(c, (set(), set()))[1] for c in replace))
    try:
        from torch import fx

        traced = fx.symbolic_trace(model)
    except Exception:  # untraceable: module swapping is all we can do
        if not swapped:
            raise NeuroconvError(f"{type(model).__name__} has no {'/'.join(c.__name__ for c in replace)} modules "
                                 "and torch.fx cannot trace it; replace its activations by hand.") from None
        return model
    calls = [n for n in traced.graph.nodes if (n.op == "call_function" and n.target in functional)
             or (n.op == "call_method" and n.target in methods)]
    if not calls:
        return model
    for k, node in enumerate(calls):
        name = f"swapped_relu_{k}"
        traced.add_submodule(name, factory())
        with traced.graph.inserting_after(node):
            new = traced.graph.call_module(name, (node.args[0],))
        node.replace_all_uses_with(new)
        traced.graph.erase_node(node)
    traced.recompile()
    return traced


def calibrate_thresholds(model: nn.Module, x, q=99.9, per_channel: bool = False, batch_size: int = 1000) -> int:
    """Set the threshold of every ClipReLU/QCFS in ``model`` from its positive inputs on ``x``
    (a starting point for fine-tuning a model whose ReLUs were just swapped): their ``q``-th
    percentile, or with ``q="mse"`` the percentile (from 50 to 100) whose quantisation of
    ``relu(x)`` has the least squared error (for QCFS with few levels the 99.9th percentile
    leaves almost everything in the lowest level). ``per_channel`` gives each channel
    (axis 1) its own trainable threshold. Returns the number of activations set."""
    acts = [m for m in model.modules() if isinstance(m, _Thresholded)]
    seen = {id(m): [] for m in acts}
    hooks = [m.register_forward_hook(lambda m, inp, out: seen[id(m)].append(inp[0].detach()))
             for m in acts]
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                model(_tensor(x[start:start + batch_size]))
    finally:
        for h in hooks:
            h.remove()

    def level(values, m):
        positive = values[values > 0]
        if not positive.size:
            return 1.0
        if q != "mse":
            return max(float(np.percentile(positive, q)), 1e-3)
        sample = np.random.default_rng(0).choice(positive, min(positive.size, 20000), replace=False)
        candidates = np.maximum(np.percentile(sample, np.linspace(50, 100, 26)), 1e-3)
        return float(min(candidates, key=lambda lam: _quantisation_error(sample, lam, m)))

    for m in acts:
        values = torch.cat(seen[id(m)]).numpy()
        if per_channel:
            channels = np.moveaxis(values, 1, 0).reshape(values.shape[1], -1)
            m.set_threshold([level(c, m) for c in channels])
        else:
            m.set_threshold(level(values, m))
    return len(acts)


def _quantisation_error(values, lam, m) -> float:
    """Squared error of the activation ``m`` with threshold ``lam`` against ``relu`` on positive ``values``."""
    if isinstance(m, QCFS):
        y = np.clip(np.floor(values * m.levels / lam + m.shift), 0, m.levels) * lam / m.levels
    else:
        y = np.minimum(values, lam)
    return float(np.mean((y - values) ** 2))


def _swap_modules(module, factory, replace=(nn.ReLU,)) -> int:
    count = 0
    for name, child in module.named_children():
        if type(child) in replace:
            setattr(module, name, factory())
            count += 1
        else:
            count += _swap_modules(child, factory, replace)
    return count


def _tensor(x):
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


def fit(model: nn.Module, x, y, epochs: int = 5, lr: float = 1e-3, batch_size: int = 128, weight_decay: float = 0.0,
        seed: int = 0, progress: bool = True, x_val=None, y_val=None) -> dict:
    """Train ``model`` in place on arrays ``x`` (n, ...) and integer labels ``y`` with Adam and
    cross-entropy (cosine learning-rate decay); reproducible on CPU for a given ``seed``.

    Returns the history: training loss per epoch, and validation accuracy when ``x_val`` is given.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    x_t, y_t = _tensor(x), torch.as_tensor(np.asarray(y), dtype=torch.long)
    if x_t.shape[0] != y_t.shape[0]:
        raise NeuroconvError(f"x has {x_t.shape[0]} samples, y {y_t.shape[0]}.")
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(len(x_t) / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(steps, 1))
    generator = torch.Generator().manual_seed(seed)
    history = {"loss": [], "val_accuracy": []}
    bar = tqdm(total=steps, desc="training", disable=not progress, unit="batch")
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_t), generator=generator)
        total = 0.0
        for start in range(0, len(x_t), batch_size):
            idx = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(x_t[idx]), y_t[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
            bar.update(1)
        history["loss"].append(total / len(x_t))
        if x_val is not None:
            history["val_accuracy"].append(accuracy(model, x_val, y_val))
        bar.set_postfix(loss=f"{history['loss'][-1]:.4f}")
    bar.close()
    model.eval()
    return history


def predict(model: nn.Module, x, batch_size: int = 1000) -> np.ndarray:
    """Class predictions of ``model`` (in eval mode) on ``x``."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(_tensor(x[start:start + batch_size])).argmax(1).numpy())
    return np.concatenate(out)


def accuracy(model: nn.Module, x, y) -> float:
    """Fraction of ``x`` that ``model`` classifies as ``y``."""
    return float(np.mean(predict(model, x) == np.asarray(y)))

