"""Figure: Fashion-MNIST CNN and ResNet converted to IF networks, accuracy vs T, plain ReLU vs QCFS training.

Draws the JSON of ``benchmarks/bench_fashion.py`` (which needs the ``torch`` extra and the
Debian package ``dataset-fashion-mnist``):

    python benchmarks/bench_fashion.py --out docs/bench/fashion_mnist.json
    python figures/fashion_mnist.py docs/bench/fashion_mnist.json --out docs/figures/fashion_mnist.png
"""

import argparse
import json

from neuroconv.figures import _plt, plot_timesteps_report

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", help="JSON written by benchmarks/bench_fashion.py")
    parser.add_argument("--out", default="fashion_mnist.png")
    args = parser.parse_args()
    with open(args.report) as fh:
        axes = plot_timesteps_report(json.load(fh))
    axes[0].figure.savefig(args.out, dpi=120)
    _plt().close(axes[0].figure)
    print(args.out)
