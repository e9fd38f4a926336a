"""Retrain the demo MLP and write neuroconv/data/digits_mlp.npz (the file the demo ships).

    python benchmarks/make_demo_model.py
"""

import os
import sys

import numpy as np

from neuroconv import ann
from neuroconv.experiments.demo import load_digits_split, train_digits_mlp

x_train, x_test, y_train, y_test = load_digits_split()
net = train_digits_mlp(x_train, y_train)
path = os.path.join(os.path.dirname(__file__), os.pardir, "neuroconv", "data", "digits_mlp.npz")
ann.save_npz(net, path)
print(f"wrote {os.path.normpath(path)}: test accuracy {np.mean(net.predict(x_test) == y_test):.4f}", file=sys.stderr)
