"""Figure: One-Spike accuracy and readout error against latency, one line per base B, IF for comparison.

    python figures/one_spike_tradeoff.py docs/bench/one_spike_digits.json --out docs/figures/one_spike_digits.png
    python figures/one_spike_tradeoff.py --out one_spike.png       # run the benchmark's grid (seconds)

The JSON comes from ``benchmarks/bench_one_spike.py``. Left: test accuracy vs latency in
timesteps (the ANN dotted). Right: mean absolute readout error vs latency, log scale: small B
reaches the lowest error but needs the longest windows, large B saturates early at a higher
floor. ``--format pdf svg`` writes those formats beside ``--out``. The drawing is
neuroconv.experiments.figures.plots.plot_one_spike_tradeoff; ``neuroconv figures`` makes it too.
"""

from neuroconv.experiments.figures import plot_one_spike_tradeoff, script_main

if __name__ == "__main__":
    script_main("one_spike", __doc__.split("\n")[0], plot_report=plot_one_spike_tradeoff)
