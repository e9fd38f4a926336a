"""Figure: conversion error (neuroconv.figures.figure_conversion_error; the module docstring says what it shows).

    python figures/conversion_error.py --out conversion_error.png [--full]
"""

from neuroconv.experiments.figures import script_main

if __name__ == "__main__":
    script_main("conversion_error", __doc__.split("\n")[0])
