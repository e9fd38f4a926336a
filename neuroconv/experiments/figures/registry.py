"""The figure set: every figure the README shows. ``neuroconv figures --out DIR`` writes them all.

Each ``figure_*`` function writes one figure, named like its file in ``docs/figures/``, in the
requested formats (``formats=("png", "pdf")``; PNG at 300 dpi, PDF/SVG vector) and returns the
paths. The default (``full=False``) runs the real experiments where they take seconds on 2 cores
(at the benchmarks' size: about 30 s in all), and re-plots the JSON shipped in ``docs/bench/``
(source checkout) for the benchmark figures whose experiments take far longer (or need torch,
mlxtend or the Fashion-MNIST Debian package); ``full=True`` runs those benchmark scripts of the
source checkout (JSON into ``DIR/bench/``). Simulations use the numpy reference simulator, which
the tests hold equal to Brian2 (spike for spike for IF and One-Spike, in distribution for TPP),
except the demo figure, which runs Brian2's runtime mode.

Run by default (``full=True`` is the same):

- ``demo``: Brian2 runtime, T = 4..64, 540 digits (as ``neuroconv demo``).
- ``one_spike_digits``: One-Spike, 7 bases x 6 windows, and IF at 7 T, 540 digits (the benchmark's grid).
- ``misalignment_digits``: MLPs with 2 and 6 hidden layers, T = 2..32, 5 repeats, 540 digits.
- ``statistics``: one IF run, T = 32, 540 digits; ``conversion_error``: IF, One-Spike, TPP, 540 digits.
- ``sweep_accuracy_vs_T``: the 72 cells of ``examples/accuracy_vs_T.toml``, one after another.

Re-plotted from :data:`BENCHMARK_FIGURES` by default, the benchmark run with ``full=True``:
``one_spike_mnist5k``, ``misalignment_digits_zoo``, ``fashion_mnist``, ``lowlatency``,
``reliability``, ``dynamics``, ``accuracy`` (``benchmarks/bench_accuracy.py``: about an hour here,
with SpikingJelly installed).

:data:`FIGURES` maps each name to its function, :data:`ALIASES` the old names (``one_spike``,
``misalignment``); :data:`BENCHMARK_FIGURES` says which JSON and benchmark each re-plotted figure
uses; :func:`make_figures` writes a selection.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from neuroconv.experiments.figures import style
from neuroconv.experiments.figures.plots import (plot_accuracy_report, plot_dynamics_report, plot_lowlatency_report, plot_misalignment_report,
                                                 plot_one_spike_tradeoff, plot_reliability_report, plot_timesteps_report)
from neuroconv.experiments.figures.runners import (ACCURACY_VS_T_CONFIG, deep_digits_mlp, misalignment_report,
                                                   one_spike_sweep, serial_sweep)

__all__ = ["FIGURES", "ALIASES", "BENCHMARK_FIGURES", "make_figures", "figure_demo", "figure_one_spike",
           "figure_one_spike_mnist5k", "figure_misalignment", "figure_misalignment_zoo", "figure_statistics",
           "figure_conversion_error", "figure_fashion_mnist", "figure_lowlatency", "figure_sweep",
           "figure_reliability", "figure_dynamics", "figure_accuracy", "bench_dir", "resolve_names"]

#: the source checkout (``docs/bench``, ``benchmarks``) when the package runs from one
_ROOT = Path(__file__).resolve().parents[3]

#: figures that re-plot a benchmark's JSON by default: name -> (JSON in docs/bench, benchmark command)
BENCHMARK_FIGURES = {
    "one_spike_mnist5k": ("one_spike_mnist5k.json", ["benchmarks/bench_one_spike.py", "--dataset", "mnist5k"]),
    "misalignment_digits_zoo": ("misalignment_digits_zoo.json",
                                ["benchmarks/bench_misalignment.py", "--networks", "digits_mlp/qcfs",
                                 "digits_mlp6/qcfs", "digits_cnn/qcfs", "digits_mlp6/relu", "digits_cnn/relu"]),
    "fashion_mnist": ("fashion_mnist.json", ["benchmarks/bench_fashion.py", "--no-progress"]),
    "lowlatency": ("lowlatency.json", ["benchmarks/bench_lowlatency.py"]),
    "reliability": ("reliability_2core.json", ["benchmarks/reliability.py"]),
    "dynamics": ("dynamics.json", ["benchmarks/bench_dynamics.py"]),
    "accuracy": ("accuracy.json", ["benchmarks/bench_accuracy.py", "--no-progress"]),
}

# the benchmark's One-Spike grid (benchmarks/bench_one_spike.py)
_OS_BASES = (1.05, 1.1, 1.15, 1.2, 1.3, 1.5, 2.0)
_OS_WINDOWS = (8, 16, 24, 32, 48, 64)
_OS_IF_TIMESTEPS = (8, 16, 32, 48, 64, 96, 128)


def bench_dir(path=None) -> Path | None:
    """The folder of the benchmark JSON: ``path``, else ``docs/bench`` of the source checkout or of the
    current folder; None if none exists."""
    for cand in ([Path(path)] if path else [_ROOT / "docs" / "bench", Path.cwd() / "docs" / "bench"]):
        if cand.is_dir():
            return cand
    return None


def _bench_json(name, bench=None):
    import json

    from neuroconv.errors import NeuroconvError

    filename, command = BENCHMARK_FIGURES[name]
    folder = bench_dir(bench)
    path = folder / filename if folder else None
    if path is None or not path.is_file():
        raise NeuroconvError(f"figure {name!r} re-plots docs/bench/{filename} (measured by "
                             f"`python {' '.join(command)}`), which is not here: run from the source checkout, "
                             f"pass --bench-dir, or --full to run the benchmark.")
    with open(path) as fh:
        return json.load(fh)


def _run_benchmark(name, out_dir, progress=True):
    """``full=True`` for a JSON figure: run its benchmark script (source checkout) into ``out_dir/bench``."""
    import json

    from neuroconv.errors import NeuroconvError

    filename, command = BENCHMARK_FIGURES[name]
    script = _ROOT / command[0]
    if not script.is_file():
        raise NeuroconvError(f"figure {name!r} with --full runs `python {' '.join(command)} --out {filename}` "
                             f"from the source checkout ({command[0]} is not here).")
    out = Path(out_dir) / "bench" / filename
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(script), *command[1:], "--out", str(out)]
    if progress:
        print(f"running {' '.join(cmd)}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=_ROOT, stdout=subprocess.DEVNULL, stderr=None if progress else subprocess.PIPE,
                          text=True)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or "").strip().splitlines()[-1:] if not progress else []
        raise NeuroconvError(f"`{' '.join(cmd)}` failed (exit status {proc.returncode})"
                             + (f": {tail[0]}" if tail else "") + f"; figure {name!r} not drawn.")
    with open(out) as fh:
        return json.load(fh)


def _report(name, out_dir, full, progress, bench):
    return _run_benchmark(name, out_dir, progress) if full else _bench_json(name, bench)


def _digits():
    from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp

    x_train, x_test, y_train, y_test = load_digits_split()
    return shipped_digits_mlp(), x_train, x_test, y_train, y_test


def _save(fig, out_dir, name, formats):
    return style.save(fig, os.path.join(out_dir, name), formats=formats)


# --- the figures ------------------------------------------------------------------------------------
def figure_demo(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """IF digits MLP: accuracy vs T in Brian2 (runtime) and a spike raster (as ``neuroconv demo``)."""
    from neuroconv.experiments.demo import DEMO_TIMESTEPS, run_demo, save_figure

    report, raster = run_demo(timesteps=DEMO_TIMESTEPS, progress=progress)
    return save_figure(report, raster, os.path.join(out_dir, "demo.png"), formats=formats)


def figure_one_spike(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """One-Spike accuracy and readout error vs latency per base, IF at equal latency (the benchmark's grid)."""
    net, x_train, x_test, _, y_test = _digits()
    report = one_spike_sweep(net, x_train, x_test, y_test, _OS_BASES, _OS_WINDOWS, _OS_IF_TIMESTEPS, progress=progress)
    axes = plot_one_spike_tradeoff(report)
    return _save(axes[0].figure, out_dir, "one_spike_digits", formats)


def figure_one_spike_mnist5k(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """The One-Spike trade-off on MNIST-5k (784-256-128-10 MLP, 1000 test images)."""
    axes = plot_one_spike_tradeoff(_report("one_spike_mnist5k", out_dir, full, progress, bench))
    return _save(axes[0].figure, out_dir, "one_spike_mnist5k", formats)


def figure_misalignment(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """IF, IF with permuted spike times and TPP vs latency, 2- and 6-hidden-layer MLPs; IF's count deviation."""
    net, x_train, x_test, y_train, y_test = _digits()
    networks = {"mlp2": net, "mlp6": deep_digits_mlp(x_train, y_train)}
    report = misalignment_report(networks, x_train, x_test, y_test, timesteps=[2, 4, 8, 16, 32], repeats=5,
                                 progress=progress)
    return _save(plot_misalignment_report(report), out_dir, "misalignment_digits", formats)


def figure_misalignment_zoo(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """The permutation experiment on the torch-trained zoo networks (QCFS L = 4 and plain ReLU)."""
    report = _report("misalignment_digits_zoo", out_dir, full, progress, bench)
    return _save(plot_misalignment_report(report), out_dir, "misalignment_digits_zoo", formats)


def figure_statistics(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """One IF run (T = 32): raster, firing-rate and ISI-CV distributions, misalignment measures."""
    from neuroconv.analysis import (misalignment_measures, plot_cv_histogram, plot_misalignment, plot_raster,
                                    plot_rate_histogram)
    from neuroconv.conversion.converter import convert

    net, x_train, x_test, _, _ = _digits()
    x = x_test  # all 540 test digits: seconds
    snn = convert(net, timesteps=32, calibration_data=x_train)
    res = snn.run(x, device="reference", progress=False)
    with style.context():
        fig, axes = style.figure(2, 2, height=5.0)
        plot_raster(res, image=0, ax=axes[0, 0], markersize=2.0)
        axes[0, 0].set_xlabel("time (ms), first test digit")
        plot_rate_histogram(res, ax=axes[0, 1])
        plot_cv_histogram(res, layer=1, ax=axes[1, 0])
        plot_misalignment(misalignment_measures(snn, res), ax=axes[1, 1])
        axes[1, 1].set_xlabel(f"hidden layer ({res.batch_size} digits)")
        style.panel_letters(axes)
    return _save(fig, out_dir, "statistics", formats)


def figure_conversion_error(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """SNN effective activation vs ANN activation, second hidden layer: IF T = 8, One-Spike, TPP T = 8."""
    from neuroconv.analysis import plot_conversion_error
    from neuroconv.conversion.converter import convert
    from neuroconv.equations import TPP, OneSpike

    net, x_train, x_test, _, _ = _digits()
    x = x_test  # all 540 test digits: seconds
    with style.context():
        fig, axes = style.figure(1, 3, height=2.5, sharex=True, sharey=True)
        for ax, (label, kw) in zip(axes[0], [("IF, T = 8", dict(timesteps=8)),
                                             ("One-Spike, B = 1.1, W = 48", dict(neuron=OneSpike())),
                                             ("TPP, T = 8 per phase", dict(neuron=TPP(), timesteps=8))]):
            snn = convert(net, calibration_data=x_train, **kw)
            res = snn.run(x, device="reference", seed=0, progress=False)
            plot_conversion_error(snn, res, x, layer=1, ax=ax)
            ax.set_title(f"{label}\nlatency {snn.latency_steps} steps")
            if ax is not axes[0, 0]:
                ax.set_ylabel("")
        axes[0, 1].set_xlabel(f"ANN activation ({len(x)} digits)")
        style.panel_letters(axes)
    return _save(fig, out_dir, "conversion_error", formats)


def figure_fashion_mnist(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """Fashion-MNIST CNN and ResNet-style IF networks: accuracy vs T, plain ReLU vs QCFS."""
    axes = plot_timesteps_report(_report("fashion_mnist", out_dir, full, progress, bench))
    return _save(axes[0].figure, out_dir, "fashion_mnist", formats)


def figure_lowlatency(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """Accuracy at T = 1-8: plain ReLU, QCFS and clamp-quantise fine-tuning (Yan et al.)."""
    axes = plot_lowlatency_report(_report("lowlatency", out_dir, full, progress, bench))
    return _save(axes[0].figure, out_dir, "lowlatency", formats)


def figure_sweep(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """The sweep of ``examples/accuracy_vs_T.toml`` (IF, TPP, unbiased TPP, One-Spike; 3 seeds), run serially."""
    import tempfile

    from neuroconv.experiments.sweep.plot import draw_accuracy_vs_latency
    from neuroconv.experiments.sweep.table import read_table

    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "accuracy_vs_T.toml")
        with open(config, "w") as fh:
            fh.write(ACCURACY_VS_T_CONFIG)
        rows = [r for r in read_table(serial_sweep(config, progress=progress)) if r.get("status") in ("ok", "silent")]
    with style.context():
        fig, axes = style.figure(1, 1, width=style.ONE_COLUMN * 1.4, height=3.0)
        draw_accuracy_vs_latency(rows, axes[0, 0])
    return _save(fig, out_dir, "sweep_accuracy_vs_T", formats)


def figure_reliability(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """The reliability report: cases handled as required per hardening check."""
    return _save(plot_reliability_report(_report("reliability", out_dir, full, progress, bench)), out_dir,
                 "reliability", formats)


def figure_dynamics(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """Leak, refractoriness, noise, threshold and delay jitter one at a time: accuracy and hidden spikes."""
    return _save(plot_dynamics_report(_report("dynamics", out_dir, full, progress, bench)), out_dir, "dynamics",
                 formats)


def figure_accuracy(out_dir, full=False, progress=True, formats=("png",), bench=None):
    """Conversion accuracy vs T: neuroconv's IF starts beside SpikingJelly's ann2snn on the same models."""
    return _save(plot_accuracy_report(_report("accuracy", out_dir, full, progress, bench)), out_dir, "accuracy",
                 formats)


FIGURES = {"demo": figure_demo, "one_spike_digits": figure_one_spike, "one_spike_mnist5k": figure_one_spike_mnist5k,
           "misalignment_digits": figure_misalignment, "misalignment_digits_zoo": figure_misalignment_zoo,
           "statistics": figure_statistics, "conversion_error": figure_conversion_error,
           "fashion_mnist": figure_fashion_mnist, "lowlatency": figure_lowlatency,
           "sweep_accuracy_vs_T": figure_sweep, "reliability": figure_reliability, "dynamics": figure_dynamics,
           "accuracy": figure_accuracy}

#: older names of two figures
ALIASES = {"one_spike": "one_spike_digits", "misalignment": "misalignment_digits"}


def resolve_names(only=None) -> list:
    """The figure names of ``only`` (aliases resolved, duplicates dropped), or all of them."""
    from neuroconv.errors import NeuroconvError

    names = list(FIGURES) if not only else [ALIASES.get(n, n) for n in only]
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise NeuroconvError(f"unknown figure(s) {unknown}; choose from {list(FIGURES)}.")
    return list(dict.fromkeys(names))


def make_figures(out_dir, full=False, only=None, progress=True, formats=("png",), bench=None, report=None) -> list:
    """Write the figures (all, or the names in ``only``) into ``out_dir`` in every format of ``formats``;
    returns the paths. ``bench``: the folder of the benchmark JSON (default: ``docs/bench`` of the source
    checkout). Checks first that every JSON a selected figure re-plots is there. ``report(name, paths, s)``
    is called after each figure."""
    import time

    names = resolve_names(only)
    if not full:
        for name in names:
            if name in BENCHMARK_FIGURES:
                _bench_json(name, bench)  # fail before running anything
    if isinstance(formats, str):
        formats = (formats,)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name in names:
        t0 = time.perf_counter()
        written = FIGURES[name](out_dir, full=full, progress=progress, formats=tuple(formats), bench=bench)
        written = [written] if isinstance(written, str) else list(written)
        if report is not None:
            report(name, written, time.perf_counter() - t0)
        paths += written
    return paths
