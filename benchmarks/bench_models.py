"""Which torchvision architectures import and convert: the README's coverage table (issue 21).

For each model (random weights, 3x32x32 inputs, 10 classes): whether ``from_torch`` imports it (or the
refusal, which names the module and the fix), its largest difference from torch's own forward (float64,
2 random inputs), and, unless ``--no-convert``, the IF network (``IF()``, thresholds the 99.9th
percentile per channel of 32 random calibration inputs: the recipe that is cheap at any depth;
``IF(shift="calibrated")`` re-simulates the network once per population, which takes minutes per
model past 30 populations) simulated by the numpy reference at T = 64 on 8 more: the correlation of
its readout with the ANN's outputs, synapses per image, populations and seconds.

Random weights give meaningless BatchNorm statistics (mobilenet_v2's outputs are ~1e-25 with them), so
every BatchNorm first takes its running statistics from 64 random inputs (a train-mode forward with
cumulative averaging, no gradient): the activations are then of order one, as in a trained network.

torchvision 0.28 (the build for torch 2.13) is a CUDA build: ``import torchvision`` fails on CPU torch
while loading its C extension ("operator torchvision::nms does not exist"). Its model definitions are
pure Python, so this script loads ``torchvision.models`` from the package folder without running
``torchvision/__init__.py``: a stub package ``torchvision`` whose ``__path__`` is that folder goes into
``sys.modules`` first. Install the folder with ``pip install --no-deps torchvision==0.28.0`` (found
without importing it) or unpack the wheel from ``pip download --no-deps torchvision==0.28.0`` and pass
``--torchvision-dir``.

    python benchmarks/bench_models.py --out docs/bench/models.json        # every model (about 20 min)
    python benchmarks/bench_models.py --table docs/bench/models.json      # the README table
    python benchmarks/bench_models.py resnet18 squeezenet1_1 --no-convert
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import types

import numpy as np

from _report import command, emit, machine

MODELS = ("resnet18", "resnet34", "resnet50", "vgg11_bn", "vgg16_bn", "mobilenet_v2", "squeezenet1_1", "googlenet",
          "densenet121", "shufflenet_v2_x1_0", "efficientnet_b0")
SHAPE = (3, 32, 32)
T = 64


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


def batchnorm_statistics(model, rng, n=64):
    """Every BatchNorm's running statistics from ``n`` random inputs (cumulative average), then eval mode."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(n // 16):
            model(torch.from_numpy(rng.uniform(0, 1, (16, *SHAPE))).float())
    return model.eval()


def build(models, name):
    import torch

    torch.manual_seed(0)
    kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    model = getattr(models, name)(num_classes=10, **kwargs)
    return batchnorm_statistics(model, np.random.default_rng(1))


def probe(models, name, convert):
    import torch

    import neuroconv as nc
    from neuroconv.ann import from_torch
    from neuroconv.equations import IF

    model = build(models, name)
    row = {"model": name, "parameters": int(sum(p.numel() for p in model.parameters()))}
    t0 = time.perf_counter()
    try:
        net = from_torch(model, SHAPE)
    except nc.NeuroconvError as exc:
        return dict(row, imports=False, reason=str(exc))
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (2, *SHAPE))
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x)).numpy()
    row.update(imports=True, forward_error=float(np.abs(net.forward(x) - expected).max()),
               output_scale=float(np.abs(expected).max()), import_seconds=round(time.perf_counter() - t0, 1))
    if not convert:
        return row
    x, x_cal = rng.uniform(0, 1, (8, *SHAPE)), rng.uniform(0, 1, (32, *SHAPE))
    t1 = time.perf_counter()
    try:
        snn = nc.convert(net, neuron=IF(), timesteps=T, calibration_data=x_cal, method="99.9%", per_channel=True,
                         progress=False)
    except nc.NeuroconvError as exc:
        return dict(row, converts=False, reason=str(exc))
    t2 = time.perf_counter()
    out = snn.run(x, device="reference", progress=False, record_spikes=False).output
    ann = net.forward(x)
    row.update(converts=True, readout_correlation=float(np.corrcoef(out.ravel(), ann.ravel())[0, 1]),
               synapses_per_image=int(snn.n_synapses), populations=len(snn.layers),
               convert_seconds=round(t2 - t1, 1), simulate_seconds=round(time.perf_counter() - t2, 1))
    return row


def table(report) -> str:
    """The README's coverage table from a report."""
    lines = [f"| model ({SHAPE[1]}x{SHAPE[2]}, random weights) | imports | forward error | converts | readout "
             f"correlation, T = {T} | synapses per image | refused because |",
             "|---|---|---:|---|---:|---:|---|"]
    for r in report["rows"]:
        if not r["imports"]:
            lines.append(f"| {r['model']} | no | | | | | {r['reason']} |")
            continue
        err = f"{r['forward_error']:.1e}"
        if "converts" not in r:
            lines.append(f"| {r['model']} | yes | {err} | not run | | | |")
        elif not r["converts"]:
            lines.append(f"| {r['model']} | yes | {err} | no | | | {r['reason']} |")
        else:
            lines.append(f"| {r['model']} | yes | {err} | yes | {r['readout_correlation']:.3f} | "
                         f"{r['synapses_per_image']:.2e} | |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--torchvision-dir", help="the torchvision package folder (default: the installed one)")
    parser.add_argument("--no-convert", action="store_true", help="import and compare forwards only")
    parser.add_argument("--table", metavar="JSON", help="print the README table of a report and exit")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.table:
        with open(args.table) as fh:
            print(table(json.load(fh)))
        return
    models = load_models(args.torchvision_dir)
    rows = []
    for name in args.models:
        rows.append(probe(models, name, not args.no_convert))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    emit({"command": command(argv), "benchmark": "bench_models", "machine": machine(), "timesteps": T,
          "rows": rows}, args.out)


if __name__ == "__main__":
    main()
