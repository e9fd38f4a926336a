"""The plotters of the figures: each takes a report dict (from :mod:`neuroconv.experiments.figures.runners`
or a benchmark's JSON) and returns what it drew on (the Axes, or the Figure it made).

All of them draw in the style of :mod:`neuroconv.experiments.figures.style` (colour-blind-safe
palette, column widths, panel letters, log-2 axes with plain-number ticks, no clipped data).
Neuron families are compared on one axis, the latency (timesteps from the input to the
readout, :attr:`~neuroconv.conversion.SpikingNetwork.latency_steps`), never on a mix of T,
phase length and window. matplotlib is imported on first use, with the Agg backend.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

from neuroconv.experiments.figures import style

__all__ = ["plot_one_spike_tradeoff", "plot_timesteps_report", "plot_accuracy_report", "plot_lowlatency_report", "plot_misalignment_report",
           "plot_reliability_report", "plot_dynamics_report", "network_label", "pow2_ticks"]

# readable names of the benchmark networks (the JSON keeps the internal ones)
NAMES = {"fashion_cnn": "Fashion-MNIST CNN", "fashion_cnn_avg": "Fashion-MNIST CNN, average pooling", "fashion_resnet": "Fashion-MNIST ResNet-style",
         "mnist_cnn": "MNIST-5k CNN", "digits_mlp": "digits MLP", "digits_cnn": "digits CNN",
         "digits_mlp6": "digits MLP, 6 hidden layers", "fashion_mnist": "Fashion-MNIST", "mnist5k": "MNIST-5k",
         "digits": "digits"}


def _plt():
    """``matplotlib.pyplot`` with the Agg backend (kept for older imports; see :func:`style.plt`)."""
    return style.plt()


def pow2_ticks(values, max_ticks: int = 8) -> list:
    """Powers of two spanning ``values`` (the ticks of a log-2 axis), every second or third one when there
    would be more than ``max_ticks``."""
    values = [float(v) for v in values if v and v > 0]
    lo, hi = math.floor(math.log2(min(values))), math.ceil(math.log2(max(values)))
    step = 1
    while (hi - lo) // step + 1 > max_ticks:
        step += 1
    return [2 ** k for k in range(lo, hi + 1, step)]


def network_label(name: str, res: dict | None = None) -> str:
    """A readable label of a benchmark network (``mlp2``, ``digits_mlp6/qcfs4``, ...)."""
    model, _, variant = name.partition("/")
    hidden = (res or {}).get("hidden_layers")
    if model in ("mlp2", "mlp6") or (model.startswith("digits_mlp") and hidden):
        text = f"MLP, {len(hidden) if hidden else model[3:]} hidden"
    elif model == "digits_cnn":
        text = "CNN, 2 conv"
    else:
        text = NAMES.get(model, model)
    if variant.startswith("qcfs"):
        text += f", QCFS L = {variant[4:]}" if variant[4:] else ", QCFS"
    elif variant == "relu" or not variant:
        text += ", ReLU"
    return text


def _legend_outside(fig, axes, **kwargs):
    """One legend for the whole figure, below the panels (entries of every Axes, deduplicated)."""
    handles = {}
    for ax in np.ravel(axes):
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    if "ANN" in handles:  # the reference line last
        handles["ANN"] = handles.pop("ANN")
    kwargs.setdefault("ncol", min(len(handles), 4))
    return fig.legend(list(handles.values()), list(handles), loc="outside lower center", **kwargs)


# --- One-Spike trade-off ----------------------------------------------------------------
def plot_one_spike_tradeoff(report, axes=None):
    """Accuracy and mean |readout - ANN| against latency, one line per base, IF dashed; returns the Axes pair."""
    with style.context():
        if axes is None:
            fig, grid = style.figure(1, 2, height=2.7)
            axes = grid[0]
        ax_acc, ax_err = axes
        rows = report["rows"]
        bases = sorted({r["base"] for r in rows if r["neuron"] == "OneSpike"})
        markers = "os^vDPXh"
        for n, base in enumerate(bases):
            sel = sorted((r for r in rows if r.get("base") == base), key=lambda r: r["latency_steps"])
            lat = [r["latency_steps"] for r in sel]
            kw = dict(color=style.color(n), marker=markers[n % len(markers)], ms=3, lw=1.1)
            ax_acc.plot(lat, [100 * r["accuracy"] for r in sel], label=f"One-Spike, B = {base:g}", **kw)
            ax_err.plot(lat, [r["mean_abs_error"] for r in sel], **kw)
        rate = sorted((r for r in rows if r["neuron"] == "IF"), key=lambda r: r["latency_steps"])
        if rate:
            lat = [r["latency_steps"] for r in rate]
            kw = dict(color="k", marker="s", ms=3, ls="--", lw=1.1)
            ax_acc.plot(lat, [100 * r["accuracy"] for r in rate], label="IF (rate), T = latency", **kw)
            ax_err.plot(lat, [r["mean_abs_error"] for r in rate], **kw)
        ax_acc.axhline(100 * report["ann_accuracy"], label="ANN", **style.ANN)
        lat_all = [r["latency_steps"] for r in rows]
        for ax in axes:
            style.log2_axis(ax, pow2_ticks(lat_all))
            ax.set_xlabel("latency (timesteps to the readout)")
        dataset = NAMES.get(report.get("dataset", "digits"), report.get("dataset", "digits"))
        ax_acc.set_ylabel(f"test accuracy (%), {dataset}, {report['n_test']} images")
        ax_err.set_yscale("log")
        ax_err.set_ylabel("mean |SNN readout − ANN output|")
        fig = ax_acc.figure
        if len(fig.axes) == 2:
            fig.legend(*ax_acc.get_legend_handles_labels(), loc="outside right upper")
            style.panel_letters(axes)
    return axes


# --- accuracy vs T of converted models (bench_fashion) ----------------------------------------
def plot_timesteps_report(report, axes=None):
    """``benchmarks/bench_fashion.py`` JSON: IF accuracy vs T per model, plain ReLU vs QCFS, ANNs dotted."""
    with style.context():
        models = list(dict.fromkeys(r["model"] for r in report["rows"]))
        own = axes is None
        if own:
            fig, grid = style.figure(1, len(models), height=2.8)
            axes = grid[0]
        for ax, model in zip(axes, models):
            for k, row in enumerate(r for r in report["rows"] if r["model"] == model):
                accuracy = {int(t): a for t, a in row["snn_accuracy"].items()}  # JSON keys are strings
                steps = sorted(accuracy)
                label = "plain ReLU" if row["variant"] == "relu" else f"QCFS L = {row['levels']}"
                colour = style.color(k)
                ax.plot(steps, [100 * accuracy[t] for t in steps], marker="os^D"[k % 4], color=colour,
                        label=f"SNN (IF), {label}")
                ax.axhline(100 * row["ann_accuracy"], color=colour, ls=":", lw=1, label=f"ANN, {label}")
            style.log2_axis(ax, steps)
            ax.set_xlabel("timesteps T (= latency)")
            ax.set_ylabel(f"test accuracy (%), {report['rows'][0]['n_test']:,} images")
            ax.set_title(NAMES.get(model, model))
        if own:
            _legend_outside(axes[0].figure, axes)
            style.panel_letters(axes)
    return axes


# --- conversion accuracy beside SpikingJelly (bench_accuracy) -------------------------------------
#: the neuroconv lines of the accuracy figure: JSON key -> (label, colour, marker)
_ACCURACY_LINES = {
    "calibrated": ('IF(shift="calibrated")', style.PALETTE[0], "o"),
    "shift/max": ("IF(), θ/2 start, max (default)", style.PALETTE[1], "s"),
    "none/99.9%": ("IF(shift=False), 99.9%", style.PALETTE[2], "^"),
    "shift/99.9%/channel": ("IF(), θ/2 start, 99.9% per channel", style.PALETTE[3], "v"),
}


def plot_accuracy_report(report):
    """``benchmarks/bench_accuracy.py`` JSON: accuracy vs T per model, neuroconv's IF starts and SpikingJelly's
    best mode at each T (dashed), ANN dotted; error bars ±1 binomial standard error. Returns the Figure."""
    with style.context():
        rows = report["rows"]
        columns = min(len(rows), 2)
        fig, grid = style.figure((len(rows) + columns - 1) // columns, columns, height=2.4 * ((len(rows) + 1) // 2))
        axes = np.ravel(grid)
        for ax, row in zip(axes, rows):
            n = row["n_test"]
            for key, (label, colour, marker) in _ACCURACY_LINES.items():
                acc = {int(t): a for t, a in row["neuroconv"].get(key, {}).items()}
                if not acc:
                    continue
                steps = sorted(acc)
                values = np.array([acc[t] for t in steps])
                se = 100 * np.sqrt(values * (1 - values) / n)
                ax.errorbar(steps, 100 * values, yerr=se, color=colour, marker=marker, ms=3, lw=1.1, capsize=1.5,
                            label=label)
            if row.get("spikingjelly"):
                modes = row["spikingjelly"]
                steps = sorted(int(t) for t in next(iter(modes.values())))
                best = [100 * max(m[str(t)] if str(t) in m else m[t] for m in modes.values()) for t in steps]
                ax.plot(steps, best, color="k", ls="--", marker="x", ms=3.5, lw=1.1,
                        label=f"SpikingJelly, best of {len(modes)} modes at each T")
            ax.axhline(100 * row["ann_accuracy"], label="ANN", **style.ANN)
            style.log2_axis(ax, steps)
            ax.set_xlabel("timesteps T (= latency)")
            ax.set_ylabel("test accuracy (%), ±1 s.e.")
            ax.set_title(f"{NAMES.get(row['model'], row['model'])}, {n:,} test images")
            low = min(min(l.get_ydata()) for l in ax.get_lines() if len(l.get_ydata()) > 1)
            ax.set_ylim(max(0.0, low - 3), 100 * max(row["ann_accuracy"], 0) + 2)
        for ax in axes[len(rows):]:
            ax.set_visible(False)
        _legend_outside(fig, axes[:len(rows)], ncol=2)
        style.panel_letters(axes[:len(rows)])
    return fig


def plot_lowlatency_report(report, axes=None):
    """``benchmarks/bench_lowlatency.py`` JSON: SNN accuracy vs T (plain ReLU, QCFS, Yan et al.), quantised ANNs dashed."""
    with style.context():
        results = report["results"]
        own = axes is None
        if own:
            fig, grid = style.figure(1, len(results), height=2.8)
            axes = grid[0]
        for ax, res in zip(axes, results):
            T = [r["timesteps"] for r in res["rows"]]
            ax.plot(T, [100 * r["relu_snn_accuracy"] for r in res["rows"]], marker="o", color="k",
                    label="plain ReLU, SNN (IF)")
            for k, (name, label) in enumerate((("qcfs", "QCFS (shift 1/2)"), ("yan", "clamp-quantise (shift 0)"))):
                colour = style.color(k)
                ax.plot(T, [100 * r[f"{name}_snn_accuracy"] for r in res["rows"]], marker="s^"[k], color=colour,
                        label=f"{label}, SNN (IF)")
                ax.plot(T, [100 * r[f"{name}_ann_accuracy"] for r in res["rows"]], ls="--", lw=1, color=colour,
                        label=f"{label}, its quantised ANN")
            ax.axhline(100 * res["ann_accuracy"], label="full-precision ANN", **style.ANN)
            style.log2_axis(ax, T)
            ax.set_xlabel("timesteps T (= quantisation levels = latency)")
            ax.set_ylabel(f"test accuracy (%), {res['n_test']:,} images")
            ax.set_title(NAMES.get(res["model"], res["model"]))
        if own:
            _legend_outside(axes[0].figure, axes, ncol=3)
            style.panel_letters(axes)
    return axes


# --- misalignment ---------------------------------------------------------------------------
def _tpp_latency(res, row):
    """TPP's latency: from the report, or (older JSON) one phase of T per hidden layer, ``(L-1)*T``."""
    if "tpp_latency_steps" in row:
        return row["tpp_latency_steps"]
    return len(res["hidden_layers"]) * row["timesteps"]


def plot_misalignment_report(report):
    """Top: IF / permuted IF / TPP accuracy against latency, one panel per network. Bottom: IF's
    cumulative-count deviation from the uniform-rate line per hidden layer, against T. Returns the Figure."""
    with style.context():
        names = list(report["networks"])
        wide = len(names) >= 3  # narrow panels: fewer ticks, wrapped labels
        fig, axes = style.figure(2, len(names), height=2.4 * 2 if not wide else 2.3 * 2)
        for col, name in enumerate(names):
            res = report["networks"][name]
            rows = res["rows"]
            n_rep = res.get("repeats", len(rows[0].get("permuted_accuracies", [])))
            T = [r["timesteps"] for r in rows]
            lat_if = [r.get("if_latency_steps", r["timesteps"]) for r in rows]
            ax = axes[0, col]
            fam = style.FAMILY
            ax.plot(lat_if, [100 * r["if_accuracy"] for r in rows], color=fam["IF"]["color"],
                    marker=fam["IF"]["marker"], label="IF")
            ax.errorbar(lat_if, [100 * r["permuted_accuracy_mean"] for r in rows],
                        yerr=[100 * r["permuted_accuracy_std"] for r in rows], color=fam["IF permuted"]["color"],
                        marker=fam["IF permuted"]["marker"], ls="--",
                        label=f"IF, spike times permuted (mean ± s.d., {n_rep} repeats)")
            lat_all = list(lat_if)
            if "tpp_accuracy_mean" in rows[0]:
                lat_tpp = [_tpp_latency(res, r) for r in rows]
                lat_all += lat_tpp
                ax.errorbar(lat_tpp, [100 * r["tpp_accuracy_mean"] for r in rows],
                            yerr=[100 * r["tpp_accuracy_std"] for r in rows], color=fam["TPP"]["color"],
                            marker=fam["TPP"]["marker"], label=f"TPP (mean ± s.d., {n_rep} seeds)")
            ax.axhline(100 * res["ann_accuracy"], label="ANN", **style.ANN)
            style.log2_axis(ax, pow2_ticks(lat_all, max_ticks=4 if wide else 8))
            ax.set_xlabel("latency (timesteps\nto the readout)" if wide else "latency (timesteps to the readout)")
            ax.set_title(textwrap.fill(network_label(name, res), 16 if wide else 40))
            ax = axes[1, col]
            n_layers = len(rows[0]["if_measures"])
            for k in range(n_layers):
                ax.plot(T, [r["if_measures"][k]["cumulative_deviation"] for r in rows], color=style.color(k),
                        marker="os^vDPXh"[k % 8], label=f"hidden layer {k + 1}")
            style.log2_axis(ax, pow2_ticks(T, max_ticks=4 if wide else 8))
            ax.set_xlabel("IF timesteps T")
        # one legend for the layers (the same colour is the same depth in every panel)
        deepest = max(range(len(names)), key=lambda c: len(axes[1, c].get_lines()))
        axes[1, -1].legend(*axes[1, deepest].get_legend_handles_labels(), loc="center left",
                           bbox_to_anchor=(1.02, 0.5), handlelength=1.2)
        axes[0, 0].set_ylabel(f"test accuracy (%), {report.get('n_test', '')} images")
        axes[1, 0].set_ylabel("IF: max |cumulative count −\nuniform line| (spikes)")
        _legend_outside(fig, axes[0], ncol=2 if len(names) < 3 else 4)
        style.panel_letters(axes)
    return fig


# --- reliability (benchmarks/reliability.py) ---------------------------------------------------
def plot_reliability_report(report):
    """Cases handled as required (and failed) per check of ``benchmarks/reliability.py``; returns the Figure."""
    with style.context():
        rows = []
        for cat, r in report["fuzz_invalid"].items():
            rows.append((f"invalid input: {cat.replace('_', ' ')}", r["refused"], r["cases"] - r["refused"]))
        for kind, r in report["fuzz_valid"].items():
            kind = {"if": "IF", "tpp": "TPP", "one_spike": "One-Spike"}.get(kind, kind)
            rows.append((f"random {kind} networks = reference", r["matched"], r["networks"] - r["matched"]))
        m = report["malicious_files"]
        rows.append(("hostile files refused / harmless", m["refused"] + m["loaded_safely"],
                     m["files"] - m["refused"] - m["loaded_safely"] - m["skipped"]))
        i, c, d = report["interrupted_builds"], report["concurrent_builds"], report["determinism"]
        rows.append(("interrupted builds survived", i["survived"], i["runs"] - i["survived"]))
        rows.append(("concurrent builds survived", c["survived"], c["races"] - c["survived"]))
        rows.append(("determinism checks identical", d["passed"], d["checks"] - d["passed"]))
        fig, axes = style.figure(1, 1, width=style.TWO_COLUMN, height=0.2 * len(rows) + 0.8)
        ax = axes[0, 0]
        y = np.arange(len(rows))[::-1]
        good = np.array([r[1] for r in rows])
        bad = np.array([r[2] for r in rows])
        ax.barh(y, good, color="#009E73", label="handled as required")
        ax.barh(y, bad, left=good, color="#D55E00", label=f"failed ({int(bad.sum())} in all)")
        for yi, g, b in zip(y, good, bad):
            ax.text(g + b, yi, f" {g}/{g + b}", va="center", fontsize=style.SMALL_FONT_SIZE)
        ax.set_yticks(y, [r[0] for r in rows])
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(0, 4 * max(good + bad))  # room for the labels
        ax.set_xlabel("cases (symmetric log scale: linear below 10)")
        ax.legend(loc="lower right")
    return fig


# --- dynamics (benchmarks/bench_dynamics.py) -----------------------------------------------------
def _dyn_positions(factor, values):
    """x positions and tick labels of one factor (ordinal for tau, noise and delay jitter)."""
    if factor == "tau":  # ordinal: inf is one of the values
        return list(range(len(values))), ["∞" if v == "inf" or (isinstance(v, float) and math.isinf(v))
                                          else f"{v:g}" for v in values]
    if factor in ("noise", "delay_jitter", "threshold_jitter"):  # ordinal: 0, 0.05 and 0.1 would crowd
        return list(range(len(values))), ["none" if v is None else f"{v:g}" for v in values]
    return list(values), [f"{v:g}" for v in values]


def _dyn_key(value):
    if value is None:
        return "none"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return value


def plot_dynamics_report(report):
    """Rows: accuracy and hidden spikes per image of each network; columns: the factors; lines: T. Returns the Figure."""
    with style.context():
        nets = report["networks"]
        factors = {f: (spec["label"], spec["values"]) for f, spec in report["factors"].items()}
        cols = list(factors)
        seeds = len(report.get("noise_seeds", [])) or None
        fig, axes = style.figure(2 * len(nets), len(cols), height=1.45 * 2 * len(nets), sharey="row")
        for i, net in enumerate(nets):
            for j, factor in enumerate(cols):
                ax_acc, ax_spk = axes[2 * i, j], axes[2 * i + 1, j]
                label, values = factors[factor]
                if factor in net.get("skipped", {}):
                    for ax in (ax_acc, ax_spk):
                        ax.text(0.5, 0.5, "not applicable\n(no delays with\nmax-pool relays)"
                                if "relay" in net["skipped"][factor] else "not measured", transform=ax.transAxes,
                                ha="center", va="center", color="0.4", fontsize=style.SMALL_FONT_SIZE)
                        ax.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)
                        for spine in ax.spines.values():
                            spine.set_visible(False)
                    ax_spk.set_xlabel(textwrap.fill(label, 24))
                    continue
                pos, ticks = _dyn_positions(factor, values)
                for k, T in enumerate(report["timesteps"]):
                    rows = {_dyn_key(r["value"]): r for r in net["rows"]
                            if r["factor"] == factor and r["timesteps"] == T}
                    xs = [p for p, v in zip(pos, values) if _dyn_key(v) in rows]
                    sel = [rows[_dyn_key(v)] for v in values if _dyn_key(v) in rows]
                    colour, marker = style.color(k), "os^D"[k % 4]
                    acc = [100 * r["accuracy"] for r in sel]
                    if factor == "noise":
                        per_seed = [r.get("accuracy_per_seed", [r["accuracy"]]) for r in sel]
                        lo = [max(100 * (r["accuracy"] - min(a)), 0.0) for r, a in zip(sel, per_seed)]
                        hi = [max(100 * (max(a) - r["accuracy"]), 0.0) for r, a in zip(sel, per_seed)]
                        ax_acc.errorbar(xs, acc, yerr=[lo, hi], marker=marker, color=colour, ms=3, label=f"T = {T}")
                    else:
                        ax_acc.plot(xs, acc, marker=marker, color=colour, ms=3, label=f"T = {T}")
                    ax_spk.plot(xs, [r["hidden_spikes_per_image"] for r in sel], marker=marker, color=colour, ms=3)
                ax_acc.axhline(100 * net["ann_accuracy"], label="ANN", **style.ANN)
                for ax in (ax_acc, ax_spk):
                    ax.set_xticks(pos, ticks)
                    ax.grid(alpha=0.3, lw=0.4)
                ax_spk.set_xlabel(textwrap.fill(label, 24))
                if j == 0:
                    name = NAMES.get(net["name"], net["name"])
                    ax_acc.set_ylabel(f"{name}\naccuracy (%)")
                    ax_spk.set_ylabel("hidden spikes\nper image")
            top = max(r["hidden_spikes_per_image"] for r in net["rows"])
            axes[2 * i + 1, 0].set_ylim(0, 1.1 * top)  # the row shares it
        if "noise" in cols and seeds:
            axes[0, cols.index("noise")].plot([], [], ls="none", label=f"noise: mean, bars min–max over {seeds} seeds")
        _legend_outside(fig, axes[0], ncol=len(report["timesteps"]) + 2)
        style.panel_letters(axes)
    return fig
