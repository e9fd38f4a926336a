"""Figure: IF vs IF with permuted spike times vs TPP, accuracy against T, and why (spike lateness per layer).

    python figures/misalignment.py docs/bench/misalignment_digits.json --out docs/figures/misalignment_digits.png
    python figures/misalignment.py --out misalignment.png        # run it (small version)

The JSON comes from ``benchmarks/bench_misalignment.py``. Top row, one panel per network:
test accuracy vs T (log2 axis) for IF, IF with every hidden layer permuted in time (mean
+- std over repeats) and TPP (mean +- std over seeds), the ANN as a dotted line. Bottom
row: the IF network's cumulative-count deviation from the uniform-rate line, per hidden
layer, against T (0 = perfectly even firing; see neuroconv.analysis.misalignment_measures).
The drawing is neuroconv.figures.plot_misalignment_report; ``neuroconv figures`` makes it too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile

from neuroconv.figures import figure_misalignment, plot_misalignment_report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", nargs="?", help="JSON from benchmarks/bench_misalignment.py (default: run it)")
    parser.add_argument("--out", default="misalignment.png")
    args = parser.parse_args(argv)
    if args.report:
        with open(args.report) as fh:
            plot_misalignment_report(json.load(fh)).savefig(args.out, dpi=120)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.move(figure_misalignment(tmp), args.out)
    print(args.out)


if __name__ == "__main__":
    main()
