"""Figure: IF vs IF with permuted spike times vs TPP, accuracy against T, and why (spike lateness per layer).

    python figures/misalignment.py docs/bench/misalignment_digits.json --out docs/figures/misalignment_digits.png
    python figures/misalignment.py --out misalignment.png        # run it (about 10 s)

The JSON comes from ``benchmarks/bench_misalignment.py``. Top row, one panel per network:
test accuracy against latency (timesteps to the readout; log-2 axis: IF reads out after T,
TPP after one phase of T per hidden layer) for IF, IF with every hidden layer permuted in time
(mean +- s.d. over repeats) and TPP (mean +- s.d. over seeds), the ANN dotted. Bottom row: the
IF network's cumulative-count deviation from the uniform-rate line, per hidden layer, against T
(0 = perfectly even firing; see neuroconv.analysis.misalignment_measures). ``--format pdf svg``
writes those formats beside ``--out``.
The drawing is neuroconv.experiments.figures.plots.plot_misalignment_report; ``neuroconv figures`` makes it too.
"""

from neuroconv.experiments.figures import plot_misalignment_report, script_main

if __name__ == "__main__":
    script_main("misalignment", __doc__.split("\n")[0], plot_report=plot_misalignment_report)
