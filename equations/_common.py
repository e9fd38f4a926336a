"""What every neuron model shares: the analog input group and plain weighted synapses."""


class AnalogInput:
    """Class attributes of the input side, the same for IF, OneSpike and TPP.

    The input neurons hold the image in ``x`` and fire once, in the first step (zeros stay
    silent); each model's ``input_on_pre`` and ``input_when`` say what that spike does.
    """

    #: Model of the synapses between spiking layers.
    synapse_model = "w : 1 (constant)"
    #: Model of the analog input group.
    input_model = "x : 1 (constant)  # analog input value, constant over the run"
    #: Input neurons fire once, in the first step, to deliver their value (zeros stay silent).
    input_threshold = "t < dt and x != 0"
    #: Model of the synapses from the input group into the first layer.
    input_synapse_model = "w : 1 (constant)"
    #: Whether the model draws random numbers (then ``run(seed=...)`` matters).
    stochastic = False

    @property
    def namespace(self) -> dict:
        """External names (functions) the Brian2 equations use; none by default."""
        return {}
