"""What a run records: which hidden layers' spike trains, for which images (``run(..., record=...)``).

Spike counts and the readout are always returned; ``record`` chooses the spike trains kept in
``result.spikes``. It is checked, and the memory its trains need is estimated against the memory
budget, before anything runs. Trains are held as one bit per neuron and step
(:class:`~neuroconv.simulation.result.LayerSpikes`), so a layer of ``n`` neurons recorded for
``N`` images over ``S`` steps takes ``N * S * ceil(n / 8)`` bytes.

On ``cpp_standalone`` the recording is chosen when the binary runs, not when it is compiled: one
binary serves every ``record`` (see :mod:`neuroconv.simulation.brian2.program`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroconv.errors import NeuroconvError

__all__ = ["Recording", "RecordedLayers", "records", "trim"]

_SPEC_HELP = ("record is True (every hidden layer, every image), False (none), a list of hidden layers (names or "
              "indices), or a dict {'layers': ..., 'images': ...} whose 'images' is a slice or a list of image "
              "indices")


@dataclass(frozen=True)
class Recording:
    """The hidden layers (indices into ``snn.hidden_layers``) and the images (indices into the run's input,
    None: all) whose spike trains a run keeps."""

    layers: tuple = ()
    images: np.ndarray | None = None

    @property
    def any(self) -> bool:
        return bool(self.layers) and (self.images is None or len(self.images) > 0)

    @classmethod
    def parse(cls, record, snn, n_images: int) -> "Recording":
        """``record`` as given to ``run`` (see the module docstring); every name, index and image checked."""
        names = [layer.name for layer in snn.hidden_layers]
        every = tuple(range(len(names)))
        if isinstance(record, (bool, np.bool_)):
            return cls(every if record else ())
        if record is None or (isinstance(record, str) and record == "all"):
            return cls(every)
        if isinstance(record, str) and record == "none":
            return cls(())
        layers, images = record, None
        if isinstance(record, dict):
            unknown = set(record) - {"layers", "images"}
            if unknown:
                raise NeuroconvError(f"record has unknown key(s) {sorted(unknown)}; {_SPEC_HELP}.")
            layers, images = record.get("layers", "all"), record.get("images")
        if layers is True or (isinstance(layers, str) and layers == "all"):
            chosen = every
        elif isinstance(layers, (str, int, np.integer)) or layers is False or layers is None:
            chosen = () if layers is False or layers is None else (_layer(layers, names),)
        else:
            try:
                chosen = tuple(sorted({_layer(item, names) for item in layers}))
            except TypeError:
                raise NeuroconvError(f"record={record!r}: {_SPEC_HELP}.") from None
        return cls(chosen, None if images is None else _images(images, n_images))

    def nbytes(self, snn, n_images: int) -> int:
        """Bytes the recorded trains take (one bit per neuron and step, rows padded to whole bytes)."""
        n = n_images if self.images is None else len(self.images)
        return int(sum(n * snn.run_steps * -(-snn.hidden_layers[k].size // 8) for k in self.layers))

    def peak_bytes(self, snn, n_images: int, part_images: int) -> int:
        """Bytes a run's trains need at most: the chosen images' trains, and the chosen layers' trains of every
        image of the parts in flight (``part_images``), held until :func:`trim` keeps the chosen ones."""
        if not self.any:
            return 0
        part = 0 if self.images is None else Recording(self.layers).nbytes(snn, min(n_images, part_images))
        return self.nbytes(snn, n_images) + part

    def for_devices(self):
        """What device runners receive as ``record_spikes``: False, or the tuple of chosen layers (carrying the
        chosen images as ``.images`` for :func:`trim`)."""
        return RecordedLayers(self.layers, self.images) if self.any else False

    def select(self, spikes, n_hidden: int):
        """``result.spikes`` from a device's trains (one per hidden layer, or None for a layer not recorded):
        layers not chosen become None, and only the chosen images are kept (already, where the device
        trimmed each part with :func:`trim`)."""
        if not self.any or spikes is None:
            return None
        chosen = set(self.layers)

        def kept(train):
            if self.images is None or train.images is not None:
                return train
            return train.take_images(self.images)  # a runner that kept every image

        return [kept(spikes[k]) if k in chosen and spikes[k] is not None else None for k in range(n_hidden)]


class RecordedLayers(tuple):
    """The hidden layers whose trains a device keeps (a tuple, as runners have always received), and the images
    ``record`` chose (``images``: sorted indices into the run's input, None: every image)."""

    def __new__(cls, layers, images=None):
        chosen = super().__new__(cls, layers)
        chosen.images = images
        return chosen


def trim(record_spikes, start: int, stop: int, part):
    """A device's :class:`~neuroconv.simulation.result.BatchResult` of images ``start .. stop-1`` with the
    trains of the chosen images alone (``record_spikes.images``; every image when there is no such choice):
    devices call it as each part ends, so a run holds the chosen images' trains, not every image's."""
    images = getattr(record_spikes, "images", None)
    if images is None or part.spikes is None:
        return part
    lo, hi = np.searchsorted(images, [start, stop])
    local = images[lo:hi] - start
    part.spikes = [None if train is None else train.take_images(local) for train in part.spikes]
    return part


def _layer(item, names) -> int:
    if isinstance(item, str):
        if item not in names:
            raise NeuroconvError(f"record: no hidden layer named {item!r}; the layers are {names}.")
        return names.index(item)
    if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
        raise TypeError(item)
    if not -len(names) <= item < len(names):
        raise NeuroconvError(f"record: layer {item} is out of range; the network has {len(names)} hidden layers "
                             f"({names}).")
    return int(item) % len(names)


def _images(images, n_images: int) -> np.ndarray:
    if isinstance(images, slice):  # in increasing order, as trim's search needs (a slice may step backwards)
        return np.unique(np.arange(n_images)[images])
    chosen = np.asarray(images)
    if chosen.dtype == bool or chosen.ndim != 1 or (chosen.size and not np.issubdtype(chosen.dtype, np.integer)):
        raise NeuroconvError(f"record: 'images' must be a slice or a list of image indices, got {images!r}.")
    if chosen.size and (chosen.min() < -n_images or chosen.max() >= n_images):
        raise NeuroconvError(f"record: image indices must lie in 0..{n_images - 1} (the run has {n_images} images), "
                             f"got {chosen.min()}..{chosen.max()}.")
    return np.unique(chosen.astype(np.int64) % max(n_images, 1))


def records(record_spikes, k: int) -> bool:
    """Whether a device records hidden layer ``k``'s trains: ``record_spikes`` as devices receive it, True (every
    layer), False, or the tuple of chosen layers (:attr:`Recording.layers`)."""
    if isinstance(record_spikes, (bool, np.bool_)) or record_spikes is None:
        return bool(record_spikes)
    return k in record_spikes
