"""Neuron models for converted networks: Brian2 equations, thresholds, resets and parameters.

Each model is a small value object whose strings a Brian2 user can copy into a script;
each has the matching numpy semantics that :mod:`neuroconv.reference` runs.
"""

from .if_neuron import IF
from .one_spike import OneSpike
from .tpp import TPP

__all__ = ["IF", "OneSpike", "TPP"]
