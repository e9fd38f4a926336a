"""Neuron models for converted networks: Brian2 equations, thresholds, resets and their numpy semantics.

Every model implements one interface, :class:`NeuronModel` (``equations/model.py``); each
built-in model lives in its own file and is registered here by name, the name the CLI's
``--neuron``, sweep configs and saved networks use. ``NeuronModel.from_brian2(...)`` makes a
model from your own Brian2 strings (``equations/brian2_model.py``).
"""

from neuroconv.equations.brian2_model import Brian2Model
from neuroconv.equations.if_neuron import IF
from neuroconv.equations.lif import LIF
from neuroconv.equations.maxpool import MAXPOOL_RELAY, MaxPoolRelay
from neuroconv.equations.model import DEFAULT_TIMESTEPS, NeuronModel
from neuroconv.equations.one_spike import OneSpike
from neuroconv.equations.registry import MODELS, model_from_spec, model_spec, register, registered
from neuroconv.equations.tpp import TPP

#: ``NeuronModel.from_brian2(equations, threshold, reset, method="euler", namespace=None, initial_v=0.0,
#: reference_step=None, name=None, output_equations=None)``: a model from your own Brian2 strings.
NeuronModel.from_brian2 = staticmethod(Brian2Model)

register("if", IF)
register("one_spike", OneSpike)
register("tpp", TPP)
register("lif", LIF)
register("brian2", Brian2Model)

__all__ = ["NeuronModel", "IF", "LIF", "OneSpike", "TPP", "MaxPoolRelay", "MAXPOOL_RELAY", "Brian2Model", "register",
           "registered", "model_spec", "model_from_spec", "MODELS", "DEFAULT_TIMESTEPS"]
