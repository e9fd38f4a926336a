"""Figure: conversion error (neuroconv.experiments.figures.registry.figure_conversion_error, described in its module).

    python figures/conversion_error.py --out conversion_error.png [--full]
"""

from neuroconv.experiments.figures import script_main

if __name__ == "__main__":
    script_main("conversion_error", __doc__.split("\n")[0])
