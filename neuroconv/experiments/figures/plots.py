"""The plotters of the figures: each takes a report dict (from :mod:`neuroconv.experiments.figures.runners`
or a benchmark's JSON) and returns what it drew on (the Axes, or the Figure it made).

matplotlib is imported on first use, with the non-interactive Agg backend.
"""

from __future__ import annotations

__all__ = ["plot_one_spike_tradeoff", "plot_timesteps_report", "plot_lowlatency_report", "plot_misalignment_report"]


def _plt():
    """``matplotlib.pyplot`` with the Agg backend (the figures are written to files, never shown)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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
