"""Export spike trains to neo (the ``neo`` extra), to go on with elephant or any neo-based tool."""

from __future__ import annotations

import numpy as np

from neuroconv.errors import NeuroconvError

__all__ = ["to_neo"]


def to_neo(result, layer, image: int = 0) -> list:
    """One ``neo.SpikeTrain`` per neuron of ``layer`` for ``image``, in ms, from 0 to the end of the run.

    Each train carries ``name = "<layer>[<neuron>]"`` and ``annotations`` layer, neuron, image.
    Needs ``pip install "brian2-neuroconv[neo]"``.
    """
    try:
        import neo
        import quantities as pq
    except ImportError:
        raise NeuroconvError('to_neo needs neo: pip install "brian2-neuroconv[neo]".') from None
    from brian2 import ms

    from neuroconv.analysis.stats import spike_trains

    name = result.layer_names[result.layer_index(layer)]
    t_stop = float(result.duration / ms)
    trains = []
    for j, train in enumerate(spike_trains(result, layer, image=image)):
        trains.append(neo.SpikeTrain(np.asarray(train / ms), units=pq.ms, t_start=0 * pq.ms, t_stop=t_stop * pq.ms,
                                     name=f"{name}[{j}]", layer=name, neuron=j, image=int(image)))
    return trains
