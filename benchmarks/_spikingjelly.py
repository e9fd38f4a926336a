"""SpikingJelly's ann2snn as a peer: the same torch model converted by SpikingJelly 2.0, simulated on the CPU.

SpikingJelly is installed in the benchmark environment only, without its dependencies (they would pull
another torch): ``pip install --no-deps spikingjelly loguru`` plus ``pip install requests tqdm``.
:func:`available` says whether it imports (and why not); a benchmark skips it with that line.

Modes (SpikingJelly's own recipes, calibrated on the same images as neuroconv):

==================  ========================================================================
``max``             ``RateCodingRecipe(mode="max")``: layer-wise maximum activation, IF, soft reset
``99.9%``           ``RateCodingRecipe(mode="99.9%")``: layer-wise 99.9th percentile
``99.9%-ch-half``   ``RateCodingRecipe(mode="99.9%", channel_wise=True, half_threshold=True)``:
                    per-channel percentile, membrane started at half the threshold
``ltb``             ``LocalThresholdBalancingRecipe``: channel-wise thresholds chosen on the SNN side
                    (Bu, Li & Yu, CVPR 2025)
==================  ========================================================================
"""

from __future__ import annotations

import copy

import numpy as np

MODES = ("max", "99.9%", "99.9%-ch-half", "ltb")


def available():
    """``(True, version)`` when SpikingJelly's ann2snn imports, else ``(False, reason)``."""
    try:
        import spikingjelly
        from spikingjelly.activation_based import ann2snn  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError, or a missing dependency of its own
        return False, (f"SpikingJelly not available ({type(exc).__name__}: {exc}); install it with "
                       "'pip install --no-deps spikingjelly loguru' and 'pip install requests'.")
    return True, getattr(spikingjelly, "__version__", "unknown")


def _recipe(mode, loader):
    from spikingjelly.activation_based import ann2snn

    if mode == "ltb":
        return ann2snn.LocalThresholdBalancingRecipe(dataloader=loader)
    if mode == "99.9%-ch-half":
        return ann2snn.RateCodingRecipe(dataloader=loader, mode="99.9%", channel_wise=True, half_threshold=True)
    return ann2snn.RateCodingRecipe(dataloader=loader, mode=mode)


def accuracy_over_time(module, x_cal, x, y, steps, mode="max", batch_size=256) -> dict:
    """SpikingJelly's accuracy after each of ``steps`` timesteps (the output summed over the steps so far,
    as its examples read it), from one run of ``max(steps)`` steps per batch: ``{t: accuracy}``."""
    import torch
    from spikingjelly.activation_based import ann2snn, functional

    if mode not in MODES:
        raise ValueError(f"unknown SpikingJelly mode {mode!r}; choose one of {MODES}.")
    with torch.no_grad():
        loader = [(torch.as_tensor(x_cal[i:i + batch_size], dtype=torch.float32),)
                  for i in range(0, len(x_cal), batch_size)]
        snn = ann2snn.FXConverter(recipe=_recipe(mode, loader)).convert(copy.deepcopy(module).eval()).eval()
        steps = sorted(set(int(t) for t in steps))
        correct = dict.fromkeys(steps, 0)
        for i in range(0, len(x), batch_size):
            xb = torch.as_tensor(x[i:i + batch_size], dtype=torch.float32)
            functional.reset_net(snn)
            total = None
            for t in range(1, steps[-1] + 1):
                out = snn(xb)
                total = out if total is None else total + out
                if t in correct:
                    correct[t] += int(np.sum(total.argmax(1).numpy() == y[i:i + batch_size]))
    return {t: correct[t] / len(x) for t in steps}


def throughput(module, x_cal, x, timesteps, mode="max", batch_size=256, threads=None) -> dict:
    """SpikingJelly's simulation speed on the CPU: ``module`` converted with ``mode``, then every image of ``x``
    simulated for ``timesteps`` steps in batches of ``batch_size`` (float32, no gradient). Returns images/s of
    the simulation (conversion excluded), its seconds and the conversion's."""
    import time

    import torch
    from spikingjelly.activation_based import ann2snn, functional

    if threads is not None:
        torch.set_num_threads(int(threads))
    with torch.no_grad():
        loader = [(torch.as_tensor(x_cal[i:i + batch_size], dtype=torch.float32),)
                  for i in range(0, len(x_cal), batch_size)]
        t0 = time.perf_counter()
        snn = ann2snn.FXConverter(recipe=_recipe(mode, loader)).convert(copy.deepcopy(module).eval()).eval()
        convert_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(0, len(x), batch_size):
            xb = torch.as_tensor(x[i:i + batch_size], dtype=torch.float32)
            functional.reset_net(snn)
            total = 0
            for _ in range(timesteps):
                total = total + snn(xb)
        seconds = time.perf_counter() - t0
    return {"mode": mode, "batch_size": batch_size, "images": len(x), "timesteps": timesteps,
            "torch_threads": torch.get_num_threads(), "seconds": round(seconds, 3),
            "images_per_s": round(len(x) / seconds, 1), "convert_s": round(convert_s, 3)}
