"""Figure: conversion accuracy vs T, neuroconv's IF starts beside SpikingJelly's ann2snn on the same models.

Draws the JSON of ``benchmarks/bench_accuracy.py`` (which needs the ``torch`` extra, the Debian
package ``dataset-fashion-mnist`` and, for the peer, SpikingJelly installed with ``--no-deps``):

    python benchmarks/bench_accuracy.py --out docs/bench/accuracy.json
    python figures/accuracy.py docs/bench/accuracy.json --out docs/figures/accuracy.png --format pdf
"""

from neuroconv.experiments.figures import plot_accuracy_report, script_main

if __name__ == "__main__":
    script_main("accuracy", __doc__.split("\n")[0], plot_report=plot_accuracy_report)
