"""The conversion-friendly activations as PyTorch modules (extra ``torch``): the ANN vocabulary that
:func:`neuroconv.ann.from_torch` reads as ``ReLU(threshold, levels, shift)``.

* :class:`ClipReLU`: ``clip(x, 0, threshold)`` with a trainable clip level;
* :class:`QCFS`: the quantisation-clip-floor-shift activation of Bu et al. (ICLR 2022) with a
  straight-through gradient for ``floor`` (``shift = 0``: Yan, Zhou & Wong's clamp-and-quantise).

Training with them lives in :mod:`neuroconv.experiments.training`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from neuroconv.errors import NeuroconvError

__all__ = ["ClipReLU", "QCFS"]


class _FloorSTE(torch.autograd.Function):
    """floor in the forward pass, identity gradient in the backward pass (straight-through)."""

    @staticmethod
    def forward(ctx, x):
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class _Thresholded(nn.Module):
    """A trainable threshold: one value, or one per channel (axis 1) after ``calibrate_thresholds(per_channel=True)``."""

    def __init__(self, threshold: float, trainable: bool):
        super().__init__()
        if not threshold > 0:
            raise NeuroconvError(f"{type(self).__name__} threshold must be > 0, got {threshold!r}.")
        self.threshold = nn.Parameter(torch.tensor(float(threshold)), requires_grad=trainable)

    def _lam(self, x):
        lam = self.threshold.abs() + 1e-6 if self.training else self.threshold
        if lam.dim() == 1:
            lam = lam.reshape((1, -1) + (1,) * (x.dim() - 2))
        return lam

    def set_threshold(self, value) -> None:
        """Replace the threshold by ``value`` (a scalar, or one per channel)."""
        value = torch.as_tensor(np.asarray(value, dtype=np.float32))
        self.threshold = nn.Parameter(value.clone(), requires_grad=self.threshold.requires_grad)

    def _threshold_repr(self):
        t = self.threshold.detach()
        return f"threshold={float(t):.4g}" if t.dim() == 0 else f"threshold=<{t.numel()} channels>"


class ClipReLU(_Thresholded):
    """``clip(x, 0, threshold)`` with a trainable (or fixed) threshold."""

    def __init__(self, threshold: float = 1.0, trainable: bool = True):
        super().__init__(threshold, trainable)

    def forward(self, x):
        return torch.minimum(torch.relu(x), self._lam(x))

    def extra_repr(self):
        return self._threshold_repr()


class QCFS(_Thresholded):
    """``threshold * clip(floor(x * levels / threshold + shift), 0, levels) / levels`` with a
    straight-through gradient for ``floor``: QCFS (Bu et al.) with ``shift = 1/2``; with
    ``shift = 0`` the clamp-and-quantise activation of Yan, Zhou & Wong (``tau = levels /
    threshold``). An IF layer with threshold ``threshold`` run for ``T = levels`` steps
    reproduces it on a constant input: ``IF(shift=True)`` for ``shift = 1/2``,
    ``IF(shift=False)`` for ``shift = 0``.
    """

    def __init__(self, levels: int = 8, threshold: float = 1.0, trainable: bool = True, shift: float = 0.5):
        super().__init__(threshold, trainable)
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
            raise NeuroconvError(f"QCFS levels must be a positive int, got {levels!r}.")
        if not 0.0 <= shift < 1.0:
            raise NeuroconvError(f"QCFS shift must be in [0, 1), got {shift!r}.")
        self.levels = levels
        self.shift = float(shift)

    def forward(self, x):
        lam = self._lam(x)
        z = x * self.levels / lam + self.shift
        y = _FloorSTE.apply(z) if self.training else torch.floor(z)
        return torch.clamp(y, 0, self.levels) * lam / self.levels

    def extra_repr(self):
        return f"levels={self.levels}, shift={self.shift:g}, {self._threshold_repr()}"
