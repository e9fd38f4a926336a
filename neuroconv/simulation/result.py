"""What a run returns: readout, predictions, spike counts and spike trains with Brian2 units."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from brian2 import Quantity

from neuroconv.errors import NeuroconvError

__all__ = ["SimulationResult", "LayerSpikes", "BatchResult", "first_spike_steps"]


#: Booleans :func:`event_blocks` sets at a time.
_EVENT_BLOCK = 32 * 2**20


def event_blocks(flat, total: int, unit: int):
    """The booleans ``[0, total)`` with the positions ``flat`` (sorted ints; those past ``total`` ignored) set, in
    blocks of whole ``unit`` s (an image's or a round's booleans), as many as fit in :data:`_EVENT_BLOCK`: yields
    ``(start, booleans)``. How spike events become bits without an array of every neuron and step: the caller
    reshapes each block and packs it."""
    block = max(1, _EVENT_BLOCK // max(int(unit), 1)) * max(int(unit), 1)
    bounds = np.searchsorted(flat, np.append(np.arange(0, total, block), total))
    for b, start in enumerate(range(0, total, block)):
        booleans = np.zeros(min(block, total - start), dtype=bool)
        booleans[flat[bounds[b]:bounds[b + 1]] - start] = True
        yield start, booleans


class LayerSpikes:
    """All spikes of one layer: parallel int arrays ``image``, ``neuron``, ``step``, sorted by (image, step, neuron).

    ``step`` counts timesteps from 0; the spike time is ``step * dt``. A layer recorded by the reference
    simulator is kept compactly, one bit per neuron and step (:meth:`from_bits`; ``nbytes``), and expanded
    into the three arrays when one of them is first read. Unpacks as ``image, neuron, step = spikes``.
    """

    __slots__ = ("_bits", "_n_neurons", "_arrays", "_images")
    #: The field names, as the NamedTuple this class was.
    _fields = ("image", "neuron", "step")

    def __init__(self, image, neuron, step):
        self._bits, self._n_neurons, self._images = None, None, None
        self._arrays = tuple(np.asarray(a, dtype=np.int64) for a in (image, neuron, step))

    @classmethod
    def from_unsorted(cls, image, neuron, step) -> "LayerSpikes":
        """Build from arrays in any order, sorting them into the canonical (image, step, neuron) order."""
        image, neuron, step = (np.asarray(a, dtype=np.int64) for a in (image, neuron, step))
        order = np.lexsort((neuron, step, image))
        return cls(image[order], neuron[order], step[order])

    @classmethod
    def from_bits(cls, bits, n_neurons: int) -> "LayerSpikes":
        """From ``np.packbits(trains, axis=-1)`` of boolean trains ``(images, steps, n_neurons)``."""
        spikes = cls.__new__(cls)
        spikes._bits, spikes._n_neurons, spikes._arrays = np.asarray(bits, dtype=np.uint8), int(n_neurons), None
        spikes._images = None
        return spikes

    @classmethod
    def from_events(cls, image, neuron, step, n_images: int, n_steps: int, n_neurons: int) -> "LayerSpikes":
        """From spike events in any order (each (image, step, neuron) at most once), as bits."""
        n_images, n_steps, n_neurons = int(n_images), int(n_steps), int(n_neurons)
        bits = np.empty((n_images, n_steps, -(-n_neurons // 8)), dtype=np.uint8)
        flat = np.sort((np.asarray(image, dtype=np.int64) * n_steps + np.asarray(step, dtype=np.int64)) * n_neurons
                       + np.asarray(neuron, dtype=np.int64))
        per_image = n_steps * n_neurons
        for start, trains in event_blocks(flat, n_images * per_image, per_image):
            first = start // max(per_image, 1)
            trains = trains.reshape(-1, n_steps, n_neurons)
            bits[first:first + len(trains)] = np.packbits(trains, axis=-1)
        return cls.from_bits(bits, n_neurons)

    def take_images(self, images) -> "LayerSpikes":
        """The spikes of ``images`` (sorted indices into this layer's images) alone; their ``image`` values stay
        the run's image indices."""
        images = np.asarray(images, dtype=np.int64)
        if self._bits is not None:
            kept = LayerSpikes.from_bits(self._bits[images], self._n_neurons)
        else:
            image, neuron, step = self._expand()
            keep = np.isin(image, images if self._images is None else self._images[images])
            kept = LayerSpikes(image[keep], neuron[keep], step[keep])
        kept._images = images if self._images is None else self._images[images]
        return kept

    @property
    def images(self) -> np.ndarray | None:
        """The images this layer's trains were kept for (``run(record={'images': ...})``), or None: every image
        of the run."""
        return self._images

    def _expand(self):
        if self._arrays is None:
            trains = np.unpackbits(self._bits, axis=-1, count=self._n_neurons)
            image, step, neuron = (a.astype(np.int64) for a in np.nonzero(trains))  # C order: sorted as documented
            if self._images is not None:
                image = self._images[image]
            self._arrays = (image, neuron, step)
        return self._arrays

    @property
    def image(self) -> np.ndarray:
        return self._expand()[0]

    @property
    def neuron(self) -> np.ndarray:
        return self._expand()[1]

    @property
    def step(self) -> np.ndarray:
        return self._expand()[2]

    @property
    def compact(self) -> bool:
        """Held as bits (not yet expanded)."""
        return self._arrays is None

    @property
    def nbytes(self) -> int:
        """Bytes held now (bits, and the arrays once expanded)."""
        return (0 if self._bits is None else self._bits.nbytes) + sum(a.nbytes for a in self._arrays or ())

    def __iter__(self):
        return iter(self._expand())

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index):
        return self._expand()[index]

    def __eq__(self, other):
        if not isinstance(other, LayerSpikes):
            return NotImplemented
        return all(np.array_equal(a, b) for a, b in zip(self, other))

    __hash__ = None

    def __repr__(self) -> str:
        held = f"{self._bits.shape[0]} images x {self._bits.shape[1]} steps as bits" if self.compact else \
            f"{len(self.image)} spikes"
        return f"LayerSpikes({held})"

    @staticmethod
    def merge(parts) -> "LayerSpikes":
        """One layer's spikes from ``[(first_image, LayerSpikes), ...]`` of consecutive images."""
        parts = list(parts)
        bits = [p._bits for _, p in parts]
        if all(b is not None for b in bits) and len({b.shape[1:] for b in bits}) == 1:
            merged = LayerSpikes.from_bits(np.concatenate(bits), parts[0][1]._n_neurons)
        else:
            merged = LayerSpikes.from_unsorted(np.concatenate([p.image + start for start, p in parts]),
                                               np.concatenate([p.neuron for _, p in parts]),
                                               np.concatenate([p.step for _, p in parts]))
        if all(p._images is not None for _, p in parts):  # parts that kept some of their images (take_images)
            merged._images = np.concatenate([p._images + start for start, p in parts])
        return merged


@dataclass
class SimulationResult:
    """The outcome of :meth:`neuroconv.SpikingNetwork.run`.

    Attributes
    ----------
    output : ndarray (batch, n_out)
        The readout on the ANN's output scale (membrane input averaged over T, or
        ``count * theta / T`` with the spike-count readout).
    predictions : ndarray (batch,)
        ``argmax`` of ``output`` (ties go to the lowest index).
    spike_counts : list of int ndarrays (batch, n_neurons)
        One per spiking hidden layer, in order.
    spikes : list of LayerSpikes or None
        The spike trains of every spiking hidden layer (``record=True``, the default), or of the layers
        and images ``record`` chose (an entry is None for a layer not recorded; ``spikes[k].images``
        lists the images kept, None for all); None when nothing was recorded.
    layer_names : list of str
        Names of the spiking hidden layers (the Brian2 group names).
    timesteps, dt, device : the run's settings (``timesteps``: T, see ``neuroconv.convert``);
        ``run_steps`` the length of the run in timesteps; ``wall_time`` the seconds it took
        (``build_time`` the part spent building/compiling, where that applies; ``simulation_time`` the rest,
        and ``images_per_second`` the images per second of simulation).
    output_spike_counts : int ndarray (batch, n_out) or None
        With the spike-count readout, the output layer's counts.
    threshold_margin : list of ndarrays or None
        Reference simulator only, with ``record_margin=True``: per neuron, the smallest
        ``|v - theta|`` seen at a threshold check (diagnoses float ties); one array per spiking
        hidden layer, then one for the output layer when it spikes (``readout="spikes"``).
    seed : int or None
        Stochastic models (TPP): the seed of the run's random numbers (drawn when ``seed=None``
        was passed); running again with it reproduces every spike, on any device and batch size.
    """

    output: np.ndarray
    spike_counts: list
    layer_names: list
    timesteps: int
    dt: Quantity
    device: str
    spikes: list | None = None
    output_spike_counts: np.ndarray | None = None
    wall_time: float = float("nan")
    build_time: float = 0.0
    threshold_margin: list | None = None
    seed: int | None = None
    run_steps: int | None = None
    predictions: np.ndarray = field(init=False)

    def __post_init__(self):
        self.predictions = np.argmax(self.output, axis=1)
        if self.run_steps is None:
            self.run_steps = self.timesteps

    @property
    def duration(self):
        """The simulated time of one inference, ``run_steps * dt``."""
        return self.run_steps * self.dt

    @property
    def batch_size(self) -> int:
        return self.output.shape[0]

    @property
    def simulation_time(self) -> float:
        """Seconds of the call not spent building or compiling: ``wall_time - build_time``."""
        return self.wall_time - self.build_time

    @property
    def images_per_second(self) -> float:
        """Images per second of simulation (``simulation_time``; a compile does not count)."""
        return self.batch_size / self.simulation_time if self.simulation_time > 0 else float("inf")

    def accuracy(self, labels) -> float:
        """Fraction of predictions equal to ``labels``."""
        labels = np.asarray(labels)
        if labels.shape != self.predictions.shape:
            raise NeuroconvError(f"labels has shape {labels.shape}, expected {self.predictions.shape}.")
        return float(np.mean(self.predictions == labels))

    def layer_index(self, layer) -> int:
        """Index of a spiking layer given by position or by name."""
        if isinstance(layer, str):
            if layer not in self.layer_names:
                raise NeuroconvError(f"no spiking layer named {layer!r}; layers are {self.layer_names}.")
            return self.layer_names.index(layer)
        k = int(layer)
        if not -len(self.layer_names) <= k < len(self.layer_names):
            raise NeuroconvError(f"layer {layer} out of range: the network has {len(self.layer_names)} spiking layers.")
        return k % len(self.layer_names)

    def spike_times(self, layer, image: int = 0):
        """Spike times and neuron indices of one image in one layer: ``(neuron, times)``, times in Brian2 units."""
        rec = self._trains(layer)
        if isinstance(image, bool) or not isinstance(image, (int, np.integer)) \
                or not -self.batch_size <= image < self.batch_size:
            raise NeuroconvError(f"image {image!r} out of range: the result holds {self.batch_size} images "
                                 f"(0..{self.batch_size - 1}).")
        image = int(image) % self.batch_size
        if rec.images is not None and image not in set(rec.images.tolist()):
            raise NeuroconvError(f"image {image}'s spike trains were not recorded: the run kept images "
                                 f"{_listed(rec.images)} (record={{'images': ...}}).")
        sel = rec.image == image
        return rec.neuron[sel], rec.step[sel] * self.dt

    def _trains(self, layer):
        """The recorded trains of ``layer``, or a clear error where the run did not keep them."""
        if self.spikes is None:
            raise NeuroconvError("spike trains were not recorded: run with record=True (the default) or choose "
                                 "layers and images with record={'layers': [...], 'images': [...]}.")
        k = self.layer_index(layer)
        if self.spikes[k] is None:
            recorded = [n for n, s in zip(self.layer_names, self.spikes) if s is not None]
            raise NeuroconvError(f"layer {self.layer_names[k]!r}'s spike trains were not recorded: the run recorded "
                                 f"{recorded} (record=...).")
        return self.spikes[k]

    def first_spike_steps(self, layer) -> np.ndarray:
        """Step of each neuron's first spike, ``(batch, n)`` ints, -1 where it never fired.

        For One-Spike networks this is *the* spike; its phase in the layer's window is
        ``step - index * window``.
        """
        k = self.layer_index(layer)
        rec = self._trains(layer)
        if rec.images is not None and len(rec.images) != self.batch_size:
            raise NeuroconvError(f"first_spike_steps gives a row per image, but layer {self.layer_names[k]!r} was "
                                 f"recorded for {len(rec.images)} of {self.batch_size} images; read "
                                 "result.spikes[k] for those, or record every image.")
        return first_spike_steps(rec.image, rec.neuron, rec.step, self.batch_size, self.spike_counts[k].shape[1])

    def rates(self, layer):
        """Firing rate of every neuron over the run, ``(batch, n)`` in Hz (count / (run_steps * dt))."""
        return self.spike_counts[self.layer_index(layer)] / self.duration


def _listed(images, shown: int = 8) -> str:
    items = [str(i) for i in images[:shown]]
    return "[" + ", ".join(items) + (", ...]" if len(images) > shown else "]")


def first_spike_steps(image, neuron, step, n_images: int, n_neurons: int) -> np.ndarray:
    """``(n_images, n_neurons)`` int array: the step of each neuron's first spike, -1 where it never fired."""
    first = np.full(n_images * n_neurons, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, np.asarray(image, np.int64) * n_neurons + np.asarray(neuron, np.int64),
                  np.asarray(step, np.int64))
    first[first == np.iinfo(np.int64).max] = -1
    return first.reshape(n_images, n_neurons)


@dataclass
class BatchResult:
    """What a backend returns for consecutive images, numbered from 0 (see :meth:`merge`).

    ``output`` (batch, n_out) is the readout; ``spike_counts`` one (batch, n) array per spiking
    hidden layer; ``spikes`` (``record_spikes``) one :class:`LayerSpikes` per hidden layer (None where not recorded);
    ``output_spike_counts`` the output's counts when it spikes; ``threshold_margin`` the
    reference's tie diagnosis (``record_margin``).
    """

    output: np.ndarray
    spike_counts: list
    spikes: list | None = None
    output_spike_counts: np.ndarray | None = None
    threshold_margin: list | None = None

    @staticmethod
    def merge(parts) -> "BatchResult":
        """One result from ``[(first_image, BatchResult), ...]``: the one place where each part's
        images are moved to their position in the run's input."""
        parts = list(parts)
        first = parts[0][1]

        def cat(get):
            return None if get(first) is None else [np.concatenate([get(p)[k] for _, p in parts])
                                                      for k in range(len(get(first)))]

        spikes = None
        if first.spikes is not None:
            spikes = [None if first.spikes[k] is None else LayerSpikes.merge((start, p.spikes[k]) for start, p in parts)
                      for k in range(len(first.spikes))]
        out_counts = None if first.output_spike_counts is None else np.concatenate(
            [p.output_spike_counts for _, p in parts])
        return BatchResult(np.concatenate([p.output for _, p in parts]), cat(lambda p: p.spike_counts), spikes,
                           out_counts, cat(lambda p: p.threshold_margin))
