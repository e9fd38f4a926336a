"""Figure: IF vs IF with permuted spike times vs TPP, accuracy against T, and why (spike lateness per layer).

    python figures/misalignment.py docs/bench/misalignment_digits.json --out docs/figures/misalignment_digits.png

The JSON comes from ``benchmarks/bench_misalignment.py``. Top row, one panel per network:
test accuracy vs T (log2 axis) for IF, IF with every hidden layer permuted in time (mean
+- std over repeats) and TPP (mean +- std over seeds), the ANN as a dotted line. Bottom
row: the IF network's cumulative-count deviation from the uniform-rate line, per hidden
layer, against T (0 = perfectly even firing; see neuroconv.analysis.misalignment_measures).
"""

from __future__ import annotations

import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot(report):
    """Draw the figure from a bench_misalignment report; returns the Figure."""
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", help="JSON from benchmarks/bench_misalignment.py")
    parser.add_argument("--out", default="misalignment.png")
    args = parser.parse_args(argv)
    with open(args.report) as fh:
        report = json.load(fh)
    plot(report).savefig(args.out, dpi=120)
    print(args.out)


if __name__ == "__main__":
    main()
