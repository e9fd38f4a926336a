"""Figure: One-Spike accuracy and readout error against latency, one line per base B, IF for comparison.

    python figures/one_spike_tradeoff.py docs/bench/one_spike_digits.json --out docs/figures/one_spike_digits.png

The JSON comes from ``benchmarks/bench_one_spike.py``; without a JSON path the benchmark
is run first (digits, about 10 s). Left: test accuracy vs latency in timesteps (the ANN
as a horizontal line). Right: mean absolute readout error vs latency, log scale: small B
reaches the lowest error but needs the longest windows, large B saturates early at a
higher floor.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot(report, axes=None):
    """Draw the two panels from a bench_one_spike report; returns the Axes pair."""
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
    ax_acc.set_ylabel(f"test accuracy (%), {report['dataset']}, n={report['n_test']}")
    ax_acc.legend(fontsize=7, loc="lower right")
    ax_err.set_yscale("log")
    ax_err.set_xlabel("latency (timesteps)")
    ax_err.set_ylabel("mean |SNN readout - ANN output|")
    return axes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", nargs="?", help="JSON from benchmarks/bench_one_spike.py (default: run it)")
    parser.add_argument("--out", default="one_spike_tradeoff.png")
    args = parser.parse_args(argv)
    if args.report:
        with open(args.report) as fh:
            report = json.load(fh)
    else:
        bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks", "bench_one_spike.py")
        text = subprocess.run([sys.executable, bench, "--check-device", ""], check=True, capture_output=True,
                              text=True).stdout
        report = json.loads(text)
    axes = plot(report)
    axes[0].figure.savefig(args.out, dpi=120)
    print(args.out)


if __name__ == "__main__":
    main()
