"""The figure set, each figure from real runs: ``neuroconv figures --out DIR`` writes them all.

Every ``figure_*`` function runs what it shows on the digits data shipped with
scikit-learn and writes one PNG into ``out_dir``; the defaults are small (the whole set
takes about a minute on 2 cores), ``full=True`` runs the benchmark-sized versions
(``benchmarks/bench_one_spike.py`` and ``benchmarks/bench_misalignment.py`` run the same
code and keep the JSON). Simulations use the numpy reference simulator, which the tests
hold equal to Brian2 (spike for spike for IF and One-Spike, in distribution for TPP),
except the demo figure, which runs Brian2's runtime mode.

- ``demo``: accuracy vs T of the IF-converted digits MLP, and a spike raster.
- ``one_spike``: One-Spike accuracy and readout error vs latency, one line per base, IF for comparison.
- ``misalignment``: IF vs IF with permuted spike times vs TPP, accuracy vs T; IF's cumulative-count deviation.
- ``statistics``: raster, firing-rate and ISI-CV distributions and misalignment measures of one IF run.
- ``conversion_error``: SNN effective activation vs ANN activation (IF, One-Spike, TPP), second hidden layer.

:data:`FIGURES` maps each name to its function; :func:`make_figures` writes a selection.
"""

from __future__ import annotations

import os

from neuroconv.experiments.figures.plots import _plt, plot_misalignment_report, plot_one_spike_tradeoff
from neuroconv.experiments.figures.runners import deep_digits_mlp, misalignment_report, one_spike_sweep

__all__ = ["FIGURES", "make_figures", "figure_demo", "figure_one_spike", "figure_misalignment", "figure_statistics",
           "figure_conversion_error"]


def _digits():
    from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp

    x_train, x_test, y_train, y_test = load_digits_split()
    return shipped_digits_mlp(), x_train, x_test, y_train, y_test


def _save(fig, out_dir, name):
    path = os.path.join(out_dir, f"{name}.png")
    fig.savefig(path, dpi=120)
    _plt().close(fig)
    return path


def figure_demo(out_dir, full=False, progress=True):
    from neuroconv.experiments.demo import DEMO_TIMESTEPS, run_demo, save_figure

    report, raster = run_demo(timesteps=DEMO_TIMESTEPS if full else (4, 8, 16, 32), progress=progress)
    path = os.path.join(out_dir, "demo.png")
    save_figure(report, raster, path)
    return path


def figure_one_spike(out_dir, full=False, progress=True):
    net, x_train, x_test, _, y_test = _digits()
    if full:
        bases, windows, ifs = (1.05, 1.1, 1.15, 1.2, 1.3, 1.5, 2.0), (8, 16, 24, 32, 48, 64), (8, 16, 32, 48, 64, 96, 128)
    else:
        bases, windows, ifs = (1.05, 1.1, 1.2, 1.5, 2.0), (8, 16, 32, 48), (8, 16, 32, 64, 96)
    report = one_spike_sweep(net, x_train, x_test, y_test, bases, windows, ifs, progress=progress)
    axes = plot_one_spike_tradeoff(report)
    return _save(axes[0].figure, out_dir, "one_spike")


def figure_misalignment(out_dir, full=False, progress=True):
    net, x_train, x_test, y_train, y_test = _digits()
    networks = {"mlp2": net}
    if full:
        networks["mlp6"] = deep_digits_mlp(x_train, y_train)
    report = misalignment_report(networks, x_train, x_test, y_test, timesteps=[2, 4, 8, 16, 32] if full else [2, 4, 8, 16],
                                 repeats=5 if full else 3, progress=progress)
    return _save(plot_misalignment_report(report), out_dir, "misalignment")


def figure_statistics(out_dir, full=False, progress=True):
    from neuroconv.analysis import misalignment_measures, plot_cv_histogram, plot_misalignment, plot_raster, plot_rate_histogram
    from neuroconv.conversion.converter import convert

    net, x_train, x_test, _, _ = _digits()
    x = x_test if full else x_test[:100]
    snn = convert(net, timesteps=32, calibration_data=x_train)
    res = snn.run(x, device="reference", progress=False)
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    plot_raster(res, image=0, ax=axes[0, 0])
    plot_rate_histogram(res, ax=axes[0, 1])
    plot_cv_histogram(res, layer=1, ax=axes[1, 0])
    plot_misalignment(misalignment_measures(snn, res), ax=axes[1, 1])
    axes[1, 1].set_title(f"IF, T = 32, {res.batch_size} digits", fontsize=9)
    return _save(fig, out_dir, "statistics")


def figure_conversion_error(out_dir, full=False, progress=True):
    from neuroconv.analysis import plot_conversion_error
    from neuroconv.conversion.converter import convert
    from neuroconv.equations import TPP, OneSpike

    net, x_train, x_test, _, _ = _digits()
    x = x_test if full else x_test[:100]
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    for ax, (label, kw) in zip(axes, [("IF, T = 8", dict(timesteps=8)), ("One-Spike(1.1, 48)", dict(neuron=OneSpike())),
                                      ("TPP, T = 8", dict(neuron=TPP(), timesteps=8))]):
        snn = convert(net, calibration_data=x_train, **kw)
        res = snn.run(x, device="reference", seed=0, progress=False)
        plot_conversion_error(snn, res, x, layer=1, ax=ax)
        ax.set_title(f"{label}: {ax.get_title()}", fontsize=9)
    return _save(fig, out_dir, "conversion_error")


FIGURES = {"demo": figure_demo, "one_spike": figure_one_spike, "misalignment": figure_misalignment,
           "statistics": figure_statistics, "conversion_error": figure_conversion_error}


def make_figures(out_dir, full=False, only=None, progress=True) -> list:
    """Write the figures (all, or the names in ``only``) into ``out_dir``; returns the paths."""
    from neuroconv.errors import NeuroconvError

    names = list(FIGURES) if not only else list(only)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise NeuroconvError(f"unknown figure(s) {unknown}; choose from {list(FIGURES)}.")
    os.makedirs(out_dir, exist_ok=True)
    return [FIGURES[name](out_dir, full=full, progress=progress) for name in names]
