"""Figure: One-Spike accuracy and readout error against latency, one line per base B, IF for comparison.

    python figures/one_spike_tradeoff.py docs/bench/one_spike_digits.json --out docs/figures/one_spike_digits.png
    python figures/one_spike_tradeoff.py --out one_spike.png       # run the sweep (small grid)

The JSON comes from ``benchmarks/bench_one_spike.py``. Left: test accuracy vs latency in
timesteps (the ANN as a horizontal line). Right: mean absolute readout error vs latency,
log scale: small B reaches the lowest error but needs the longest windows, large B
saturates early at a higher floor. The drawing is neuroconv.figures.plot_one_spike_tradeoff;
``neuroconv figures`` makes it too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile

from neuroconv.figures import figure_one_spike, plot_one_spike_tradeoff


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", nargs="?", help="JSON from benchmarks/bench_one_spike.py (default: run it)")
    parser.add_argument("--out", default="one_spike_tradeoff.png")
    args = parser.parse_args(argv)
    if args.report:
        with open(args.report) as fh:
            axes = plot_one_spike_tradeoff(json.load(fh))
        axes[0].figure.savefig(args.out, dpi=120)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.move(figure_one_spike(tmp), args.out)
    print(args.out)


if __name__ == "__main__":
    main()
