"""The figures, each from real runs: ``neuroconv figures --out DIR`` writes them all.

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
"""

from __future__ import annotations

import os
import warnings

import numpy as np

__all__ = ["FIGURES", "make_figures", "one_spike_sweep", "plot_one_spike_tradeoff", "plot_misalignment_report",
           "deep_digits_mlp", "measure_run", "misalignment_report", "script_main"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def deep_digits_mlp(x_train, y_train, depth: int = 6, width: int = 64, seed: int = 0):
    """A deeper plain-ReLU digits MLP (``depth`` hidden layers of ``width``), trained with scikit-learn."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from neuroconv.ann import from_sklearn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(width,) * depth, max_iter=400, alpha=1e-3, random_state=seed)
        clf.fit(x_train, y_train)
    return from_sklearn(clf)


# --- One-Spike trade-off ----------------------------------------------------------------
def measure_run(snn, x_test, y_test, ann_out, ann_acc, device="reference"):
    from neuroconv.analysis import estimate_energy

    res = snn.run(x_test, device=device, progress=False)
    est = estimate_energy(snn, res)
    n_hidden = sum(c.shape[1] for c in res.spike_counts)
    acc = res.accuracy(y_test)
    return res, {
        "accuracy": acc,
        "loss_pp": 100 * (ann_acc - acc),
        "latency_steps": snn.latency_steps,
        "mean_abs_error": float(np.mean(np.abs(res.output - ann_out))),
        "spikes_per_neuron": float(sum(c.sum() for c in res.spike_counts) / (n_hidden * res.batch_size)),
        "sops": est.sops,
        "energy_ratio": est.ratio,
    }


def one_spike_sweep(net, x_train, x_test, y_test, bases, windows, if_timesteps=(), progress=True) -> dict:
    """One-Spike over a (base, window) grid plus IF rows at the given T (reference simulator)."""
    from tqdm.auto import tqdm

    from neuroconv.conversion.converter import convert
    from neuroconv.equations import IF, OneSpike
    from neuroconv.errors import NeuroconvWarning

    ann_out = net.forward(x_test)
    ann_acc = float(np.mean(ann_out.argmax(1) == y_test))
    rows = []
    for base, window in tqdm([(b, w) for b in bases for w in windows], desc="OneSpike grid", disable=not progress):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NeuroconvWarning)  # short windows are part of the sweep
            snn = convert(net, neuron=OneSpike(base=base, window=window), calibration_data=x_train)
        rows.append({"neuron": "OneSpike", "base": base, "window": window,
                     **measure_run(snn, x_test, y_test, ann_out, ann_acc)[1]})
    for T in tqdm(list(if_timesteps), desc="IF baseline", disable=not progress):
        snn = convert(net, neuron=IF(), timesteps=T, calibration_data=x_train)
        rows.append({"neuron": "IF", "timesteps": T, **measure_run(snn, x_test, y_test, ann_out, ann_acc)[1]})
    return {"n_test": int(len(y_test)), "ann_accuracy": ann_acc,
            "ann_layers": [type(layer).__name__ for layer in net.layers], "rows": rows}


def plot_one_spike_tradeoff(report, axes=None):
    """Accuracy and mean |readout - ANN| against latency, one line per base, IF dashed; returns the Axes pair."""
    plt = _plt()
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax_acc, ax_err = axes
    rows = report["rows"]
    bases = sorted({r["base"] for r in rows if r["neuron"] == "OneSpike"})
    cmap = plt.get_cmap("viridis")
    for n, base in enumerate(bases):
        sel = sorted((r for r in rows if r.get("base") == base), key=lambda r: r["latency_steps"])
        color = cmap(n / max(len(bases) - 1, 1))
        lat = [r["latency_steps"] for r in sel]
        ax_acc.plot(lat, [100 * r["accuracy"] for r in sel], "o-", color=color, ms=3, label=f"One-Spike B={base:g}")
        ax_err.plot(lat, [r["mean_abs_error"] for r in sel], "o-", color=color, ms=3)
    rate = sorted((r for r in rows if r["neuron"] == "IF"), key=lambda r: r["latency_steps"])
    if rate:
        lat = [r["latency_steps"] for r in rate]
        ax_acc.plot(lat, [100 * r["accuracy"] for r in rate], "s--", color="k", ms=3, label="IF (rate), T = latency")
        ax_err.plot(lat, [r["mean_abs_error"] for r in rate], "s--", color="k", ms=3)
    ax_acc.axhline(100 * report["ann_accuracy"], color="0.5", lw=1, ls=":", label="ANN")
    ax_acc.set_ylim(max(0, 100 * report["ann_accuracy"] - 10), 100 * report["ann_accuracy"] + 2)
    ax_acc.set_xlabel("latency (timesteps)")
    ax_acc.set_ylabel(f"test accuracy (%), {report.get('dataset', 'digits')}, n={report['n_test']}")
    ax_acc.legend(fontsize=7, loc="lower right")
    ax_err.set_yscale("log")
    ax_err.set_xlabel("latency (timesteps)")
    ax_err.set_ylabel("mean |SNN readout - ANN output|")
    return axes


def plot_timesteps_report(report, axes=None):
    """``benchmarks/bench_fashion.py`` JSON: IF accuracy vs T per model, plain ReLU vs QCFS, ANNs dotted."""
    plt = _plt()
    models = list(dict.fromkeys(r["model"] for r in report["rows"]))
    if axes is None:
        _, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), constrained_layout=True, squeeze=False)
        axes = axes[0]
    for ax, model in zip(axes, models):
        for row, color in zip((r for r in report["rows"] if r["model"] == model), ("C0", "C3", "C2", "C1")):
            accuracy = {int(t): a for t, a in row["snn_accuracy"].items()}  # JSON keys are strings
            steps = sorted(accuracy)
            label = "plain ReLU" if row["variant"] == "relu" else f"QCFS L={row['levels']}"
            ax.plot(steps, [100 * accuracy[t] for t in steps], "o-", color=color, label=f"IF, {label}")
            ax.axhline(100 * row["ann_accuracy"], color=color, ls=":", lw=1, label=f"ANN, {label}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("timesteps T")
        ax.set_ylabel(f"test accuracy (%), n={report['rows'][0]['n_test']}")
        ax.set_title(model)
        ax.legend(fontsize=7, loc="lower right")
    return axes


def plot_lowlatency_report(report, axes=None):
    """``benchmarks/bench_lowlatency.py`` JSON: SNN accuracy vs T (plain ReLU, QCFS, Yan et al.), quantised ANNs dashed."""
    plt = _plt()
    results = report["results"]
    if axes is None:
        _, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4), constrained_layout=True, squeeze=False)
        axes = axes[0]
    for ax, res in zip(axes, results):
        T = [r["timesteps"] for r in res["rows"]]
        ax.plot(T, [100 * r["relu_snn_accuracy"] for r in res["rows"]], "o-", color="k", label="plain ReLU, IF")
        for name, color, label in (("qcfs", "C0", "QCFS (shift 1/2), IF"), ("yan", "C3", "clamp-quantise (shift 0), IF")):
            ax.plot(T, [100 * r[f"{name}_snn_accuracy"] for r in res["rows"]], "s-", color=color, label=label)
            ax.plot(T, [100 * r[f"{name}_ann_accuracy"] for r in res["rows"]], "--", color=color, lw=1,
                    label=label.replace(", IF", ", its ANN"))
        ax.axhline(100 * res["ann_accuracy"], color="0.5", ls=":", lw=1, label="full-precision ANN")
        ax.set_xscale("log", base=2)
        ax.set_xticks(T, [str(t) for t in T])
        ax.set_xlabel("timesteps T (= quantisation levels)")
        ax.set_ylabel(f"test accuracy (%), n={res['n_test']}")
        ax.set_title(f"{res['model']} ({res['dataset']})")
        ax.legend(fontsize=7, loc="lower right")
    return axes


# --- misalignment ---------------------------------------------------------------------------
def plot_misalignment_report(report):
    """IF / permuted IF / TPP accuracy vs T (top) and IF's cumulative-count deviation per layer (bottom)."""
    plt = _plt()
    names = list(report["networks"])
    fig, axes = plt.subplots(2, len(names), figsize=(5 * len(names), 7), squeeze=False, constrained_layout=True)
    for col, name in enumerate(names):
        res = report["networks"][name]
        rows = res["rows"]
        T = [r["timesteps"] for r in rows]
        ax = axes[0, col]
        ax.plot(T, [100 * r["if_accuracy"] for r in rows], "o-", color="k", label="IF")
        ax.errorbar(T, [100 * r["permuted_accuracy_mean"] for r in rows],
                    yerr=[100 * r["permuted_accuracy_std"] for r in rows], fmt="s--", color="C1", capsize=3,
                    label="IF, spike times permuted")
        if "tpp_accuracy_mean" in rows[0]:
            ax.errorbar(T, [100 * r["tpp_accuracy_mean"] for r in rows], yerr=[100 * r["tpp_accuracy_std"] for r in rows],
                        fmt="^-", color="C2", capsize=3, label="TPP")
        ax.axhline(100 * res["ann_accuracy"], color="0.5", ls=":", lw=1, label="ANN")
        ax.set_xscale("log", base=2)
        ax.set_xticks(T, [str(t) for t in T])
        ax.set_xlabel("T (timesteps per phase)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{name}: hidden {res['hidden_layers']}, {res['repeats']} repeats")
        ax.legend(fontsize=8, loc="lower right")
        ax = axes[1, col]
        n_layers = len(rows[0]["if_measures"])
        cmap = plt.get_cmap("viridis")
        for k in range(n_layers):
            ax.plot(T, [r["if_measures"][k]["cumulative_deviation"] for r in rows], "o-",
                    color=cmap(k / max(n_layers - 1, 1)), label=rows[0]["if_measures"][k]["layer"])
        ax.set_xscale("log", base=2)
        ax.set_xticks(T, [str(t) for t in T])
        ax.set_xlabel("T")
        ax.set_ylabel("IF: max |cumulative count - uniform line| (spikes)")
        ax.legend(fontsize=7, ncol=2)
    return fig


def misalignment_report(networks, x_train, x_test, y_test, timesteps, repeats, seed=0, device="reference",
                        shift=True, method="max", tpp=None, progress=True) -> dict:
    """The permutation experiment on each ``{name: ann}`` network (see neuroconv.analysis.permutation_experiment)."""
    from neuroconv.analysis import permutation_experiment
    from neuroconv.conversion.converter import convert
    from neuroconv.equations import IF, TPP

    report = {"dataset": "digits", "n_test": int(len(y_test)), "if_shift": shift, "calibration": method,
              "networks": {}}
    for name, net in networks.items():
        snn = convert(net, neuron=IF(shift=shift), timesteps=timesteps[0], calibration_data=x_train, method=method)
        result = permutation_experiment(snn, x_test, y_test, timesteps=timesteps, repeats=repeats, seed=seed,
                                        device=device, tpp=TPP() if tpp is None else tpp, progress=progress)
        result["ann_accuracy"] = float(np.mean(net.forward(x_test).argmax(1) == y_test))
        result["hidden_layers"] = [layer.size for layer in snn.hidden_layers]
        report["networks"][name] = result
    return report


# --- the figure set ------------------------------------------------------------------------------
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


def script_main(name: str, description: str, argv=None, plot_report=None) -> str:
    """The command line of a ``figures/`` script: ``[REPORT.json] --out PNG [--full]``.

    With a report (JSON from the matching benchmark) and ``plot_report`` it only draws;
    otherwise it runs ``FIGURES[name]`` (figures not in FIGURES need the report).
    Prints and returns the path written.
    """
    import argparse
    import json
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(description=description)
    if plot_report is not None:
        # figures whose benchmark needs optional data (torch, datasets) only draw a given report
        optional = "?" if name in FIGURES else None
        parser.add_argument("report", nargs=optional, help="JSON from the matching benchmark"
                            + (" (default: run it)" if optional else ""))
    parser.add_argument("--out", default=f"{name}.png")
    parser.add_argument("--full", action="store_true", help="the benchmark-sized version")
    args = parser.parse_args(argv)
    if getattr(args, "report", None):
        with open(args.report) as fh:
            drawn = plot_report(json.load(fh))
        fig = drawn if hasattr(drawn, "savefig") else drawn[0].figure
        fig.savefig(args.out, dpi=120)
        _plt().close(fig)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.move(FIGURES[name](tmp, full=args.full), args.out)
    print(args.out)
    return args.out
