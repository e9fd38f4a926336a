"""Figure: Fashion-MNIST CNN and ResNet converted to IF networks, accuracy vs T, plain ReLU vs QCFS training.

Draws the JSON of ``benchmarks/bench_fashion.py`` (which needs the ``torch`` extra and the
Debian package ``dataset-fashion-mnist``):

    python benchmarks/bench_fashion.py --out docs/bench/fashion_mnist.json
    python figures/fashion_mnist.py docs/bench/fashion_mnist.json --out docs/figures/fashion_mnist.png
"""

from neuroconv.experiments.figures import plot_timesteps_report, script_main

if __name__ == "__main__":
    script_main("fashion_mnist", __doc__.split("\n")[0], plot_report=plot_timesteps_report)
