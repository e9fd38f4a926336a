"""Which torchvision architectures import and convert (a probe; issue 21's bench_models.py will supersede it).

torchvision 0.28 (the build for torch 2.13) is a CUDA build: ``import torchvision`` fails on CPU torch
while loading its C extension. Its model definitions are pure Python, so this probe loads
``torchvision.models`` from the package folder without running ``torchvision/__init__.py``: a stub
package ``torchvision`` whose ``__path__`` is that folder goes into ``sys.modules`` first. Get the
folder with ``pip install --no-deps torchvision==0.28.0`` (found without importing it) or by unpacking
the wheel from ``pip download --no-deps torchvision==0.28.0`` and passing ``--torchvision-dir``.

For each model (random weights, 3x32x32, 10 classes): whether ``from_torch`` imports it and its largest
difference from torch on 2 random inputs; with ``--convert``, the IF network's reference readout at
T = 64 on 8 random inputs (thresholds from 32 more) against the ANN (correlation), synapses per image.

    python benchmarks/torchvision_probe.py --torchvision-dir /tmp/tv/x/torchvision --convert squeezenet1_1 googlenet
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import types

import numpy as np

from _report import command, emit, machine

MODELS = ("resnet18", "resnet34", "resnet50", "vgg11_bn", "vgg16_bn", "mobilenet_v2", "squeezenet1_1", "googlenet",
          "densenet121", "shufflenet_v2_x1_0", "efficientnet_b0")


def load_models(folder=None):
    """``torchvision.models`` without ``torchvision/__init__.py`` (see the module docstring)."""
    if folder is None:
        spec = importlib.util.find_spec("torchvision")  # locates the package, runs nothing
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("torchvision is not installed: pip install --no-deps torchvision==0.28.0, "
                             "or pass --torchvision-dir")
        folder = list(spec.submodule_search_locations)[0]
    stub = types.ModuleType("torchvision")
    stub.__path__ = [str(folder)]
    sys.modules["torchvision"] = stub
    import torchvision.models as models

    return models


def probe(models, name, convert):
    import torch

    import neuroconv as nc
    from neuroconv.ann import from_torch

    torch.manual_seed(0)
    kwargs = dict(num_classes=10, **({"aux_logits": False, "init_weights": True} if name == "googlenet" else {}))
    model = getattr(models, name)(**kwargs).eval()
    row = {"model": name}
    t0 = time.perf_counter()
    try:
        net = from_torch(model, (3, 32, 32))
    except nc.NeuroconvError as exc:
        return dict(row, imports=False, reason=str(exc))
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (2, 3, 32, 32))
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x)).numpy()
    row.update(imports=True, forward_error=float(np.abs(net.forward(x) - expected).max()),
               import_seconds=round(time.perf_counter() - t0, 1))
    if convert:
        x, x_cal = rng.uniform(0, 1, (8, 3, 32, 32)), rng.uniform(0, 1, (32, 3, 32, 32))
        snn = nc.convert(net, timesteps=64, calibration_data=x_cal)
        t1 = time.perf_counter()
        out = snn.run(x, device="reference", progress=False, record_spikes=False).output
        ann = net.forward(x)
        corr = np.corrcoef(out.ravel(), ann.ravel())[0, 1] if out.std() > 0 and ann.std() > 0 else float("nan")
        row.update(readout_correlation_T64=float(corr), synapses_per_image=snn.n_synapses,
                   populations=len(snn.layers), simulate_seconds=round(time.perf_counter() - t1, 1))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--torchvision-dir", help="the torchvision package folder (default: the installed one)")
    parser.add_argument("--convert", action="store_true", help="also convert and simulate (slow for densenet121)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    models = load_models(args.torchvision_dir)
    rows = [probe(models, name, args.convert) for name in args.models]
    emit({"command": command(argv), "benchmark": "torchvision_probe", "machine": machine(), "rows": rows}, args.out)


if __name__ == "__main__":
    main()
