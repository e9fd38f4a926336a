"""ANN -> device-independent spiking network."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from brian2 import Quantity, ms, second

from .ann.layers import AvgPool2d, Conv2d, Dense, Flatten, ReLU, Sequential
from .calibration import calibrate
from .connectivity import affine_chain
from .errors import NeuroconvError

__all__ = ["convert", "SpikingNetwork", "SpikingLayer", "READOUTS"]

READOUTS = ("membrane", "spikes")


@dataclass(frozen=True, eq=False)
class SpikingLayer:
    """One population of the SNN and the affine chain of ANN layers that feeds it.

    ``ops`` are the linear ANN layers between the previous population (or the analog
    input) and this one; ``shapes`` the input shape followed by each op's output shape.
    ``theta`` holds one threshold per neuron (None for the non-spiking membrane readout).
    """

    name: str
    ops: tuple
    shapes: tuple
    theta: np.ndarray | None
    ann_index: int  # index in the ANN of the layer whose output this population represents

    @property
    def in_shape(self) -> tuple:
        return self.shapes[0]

    @property
    def out_shape(self) -> tuple:
        return self.shapes[-1]

    @property
    def size(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def spiking(self) -> bool:
        return self.theta is not None

    @cached_property
    def affine(self):
        """``(matrix, bias)``: the composed sparse weight matrix (n_out, n_in) and bias."""
        return affine_chain(self.ops, self.shapes)

    def drive(self, inputs: np.ndarray) -> np.ndarray:
        """Apply the chain to a batch of flattened inputs with the ANN's own layers (reference path)."""
        out = inputs.reshape((inputs.shape[0],) + self.in_shape)
        for op in self.ops:
            out = op.forward(out)
        return out.reshape(inputs.shape[0], -1)


def _check_timesteps(timesteps) -> int:
    if isinstance(timesteps, (bool, np.bool_)) or not isinstance(timesteps, (int, np.integer)):
        raise NeuroconvError(f"timesteps must be a positive int, got {timesteps!r}.")
    if timesteps < 1:
        raise NeuroconvError(f"timesteps must be >= 1, got {timesteps}.")
    return int(timesteps)


def _check_dt(dt) -> Quantity:
    if not isinstance(dt, Quantity) or not dt.has_same_dimensions(second) or np.shape(dt) != ():
        raise NeuroconvError(f"dt must be a Brian2 time such as 1*ms, got {dt!r}.")
    if not float(dt) > 0 or not np.isfinite(float(dt)):
        raise NeuroconvError(f"dt must be positive and finite, got {dt!r}.")
    return dt


def _expand_threshold(value, layer_index: int, out_shape: tuple) -> np.ndarray:
    """Scalar, per-channel or per-neuron threshold -> one value per neuron."""
    what = f"thresholds[{layer_index}]"
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NeuroconvError(f"{what} must be a positive number or array, got {value!r}.") from None
    if not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise NeuroconvError(f"{what} must be finite and > 0 everywhere, got {value!r}.")
    n = int(np.prod(out_shape))
    channels = out_shape[0]
    if arr.size == 1:
        return np.full(n, float(arr.reshape(())))
    if arr.shape == (channels,):
        return np.repeat(arr, n // channels)
    if arr.size == n:
        return arr.reshape(n).copy()
    raise NeuroconvError(
        f"{what} has shape {arr.shape}; expected a scalar, one value per channel ({channels},) "
        f"or one per neuron {tuple(out_shape)}."
    )


def _split(net: Sequential):
    """Group the ANN into (ops, shapes, ann_index, spiking) chains that end at a ReLU or the output."""
    chains = []
    ops, shapes = [], [net.input_shape]
    for k, layer in enumerate(net.layers):
        if isinstance(layer, ReLU):
            if not any(isinstance(op, (Dense, Conv2d, AvgPool2d, Flatten)) for op in ops):
                raise NeuroconvError(
                    f"layer {k} (ReLU) has no Dense/Conv2d/AvgPool2d/Flatten layer before it since the previous "
                    "ReLU or the input; remove the duplicate ReLU."
                )
            chains.append((tuple(ops), tuple(shapes), k - 1, True))
            ops, shapes = [], [net.shapes[k]]
        else:
            ops.append(layer)
            shapes.append(net.shapes[k])
    if not ops:
        raise NeuroconvError(
            f"the network ends with a ReLU (layer {len(net.layers) - 1}); the output layer must be Dense or "
            "Conv2d (its pre-activation is read out). Remove the final ReLU."
        )
    chains.append((tuple(ops), tuple(shapes), len(net.layers) - 1, False))
    return chains


def convert(net: Sequential, neuron=None, timesteps: int | None = None, calibration_data=None, thresholds=None,
            method="max", per_channel: bool = False, readout: str = "membrane", dt=1 * ms) -> "SpikingNetwork":
    """Convert an ANN into a spiking network (threshold balancing / weight normalisation).

    Parameters
    ----------
    net : neuroconv.ann.Sequential
        The trained ANN (ReLU hidden layers, linear output).
    neuron : neuron model, default ``IF()``
        A model from :mod:`neuroconv.equations`: ``IF()`` (rate coding over T steps) or
        ``OneSpike(base, window)`` (one phase-coded spike per neuron; its window sets the
        timing: the run lasts ``window`` steps per spiking layer, see ``latency``) or
        ``TPP()`` (two-phase probabilistic; ``timesteps`` is the phase length, the run lasts
        ``timesteps`` per spiking layer).
    timesteps : int
        Simulation length T of IF networks, phase length T of TPP networks (default 32).
        Not used with ``OneSpike``.
    calibration_data : array (n, *input_shape), optional
        Sample inputs for threshold balancing (each spiking layer's scale is its
        ``method`` activation statistic: the IF threshold, or One-Spike's ``M``).
    thresholds : list, optional
        Explicit scales on the ANN activation scale, one entry per spiking layer
        (scalar, per channel or per neuron); with ``readout="spikes"`` one more for the output.
        For ``OneSpike`` this is ``M``, the value of a spike in the window's first step
        (the neuron's firing threshold is ``M * (1 + 1/base) / 2``).
    method : "max" or percentile
        Calibration statistic, e.g. ``"max"``, ``99.9`` or ``"99.9%"``.
    per_channel : bool
        Calibrate one threshold per channel instead of per layer.
    readout : {"membrane", "spikes"}
        ``"membrane"``: the output layer does not spike, its readout is the input averaged
        over T (One-Spike: the decoded input). ``"spikes"``: the output layer spikes too,
        readout ``count * theta / T`` (One-Spike: the decoded spike, 0 without one).
    dt : Brian2 time
        Duration of one timestep (default 1 ms).
    """
    from neuroconv.equations import IF, TPP, OneSpike

    if not isinstance(net, Sequential):
        raise NeuroconvError(f"net must be a neuroconv.ann.Sequential, got {type(net).__name__}; "
                             "use neuroconv.ann.from_sklearn / from_npz to import a model.")
    neuron = IF() if neuron is None else neuron
    if not isinstance(neuron, (IF, OneSpike, TPP)):
        raise NeuroconvError(f"neuron must be a model from neuroconv.equations (IF(), OneSpike() or TPP()), "
                             f"got {neuron!r}.")
    dt = _check_dt(dt)
    if readout not in READOUTS:
        raise NeuroconvError(f"readout must be one of {READOUTS}, got {readout!r}.")
    chains = _split(net)
    n_thresholds = sum(spiking for *_, spiking in chains) + (readout == "spikes")
    if isinstance(neuron, OneSpike):
        if timesteps is not None:
            raise NeuroconvError(
                f"timesteps={timesteps!r} does not apply to OneSpike: its window sets the timing "
                f"({neuron.window} steps per spiking layer). Pass OneSpike(window=...) instead.")
        neuron.check_latency(n_thresholds)
        timesteps = n_thresholds * neuron.window
    elif isinstance(neuron, TPP):
        if neuron.timesteps is not None and timesteps is not None and neuron.timesteps != timesteps:
            raise NeuroconvError(f"TPP(timesteps={neuron.timesteps}) and timesteps={timesteps!r} disagree; "
                                 "give the phase length once.")
        phase = _check_timesteps(32 if timesteps is None and neuron.timesteps is None else
                                 (timesteps if timesteps is not None else neuron.timesteps))
        neuron = dataclasses.replace(neuron, timesteps=phase)
        timesteps = n_thresholds * phase
    timesteps = _check_timesteps(32 if timesteps is None else timesteps)
    if thresholds is None:
        if calibration_data is None:
            raise NeuroconvError("pass calibration_data (sample inputs) or thresholds=[...] (one per spiking layer).")
        thresholds = calibrate(net, calibration_data, method=method, per_channel=per_channel,
                               include_output=readout == "spikes")
    elif calibration_data is not None:
        raise NeuroconvError("pass either calibration_data or thresholds, not both.")
    thresholds = list(thresholds) if np.iterable(thresholds) else [thresholds]
    if len(thresholds) != n_thresholds:
        raise NeuroconvError(
            f"thresholds has {len(thresholds)} entries; this network has {n_thresholds} spiking layer(s)"
            + (" including the spike-count output" if readout == "spikes" else "") + "."
        )
    layers = []
    t_iter = iter(thresholds)
    n_hidden = sum(spiking for *_, spiking in chains)
    for k, (ops, shapes, ann_index, spiking) in enumerate(chains):
        is_output = k == len(chains) - 1
        theta = None
        if spiking or (is_output and readout == "spikes"):
            theta = _expand_threshold(next(t_iter), k, shapes[-1])
        name = "output" if is_output else f"layer{k}"
        layers.append(SpikingLayer(name=name, ops=ops, shapes=shapes, theta=theta, ann_index=ann_index))
    assert len(layers) == n_hidden + 1
    if isinstance(neuron, OneSpike) and calibration_data is not None:
        _warn_below_range(net, neuron, layers, calibration_data)
    return SpikingNetwork(ann=net, layers=tuple(layers), neuron=neuron, timesteps=timesteps, dt=dt, readout=readout)


#: One-Spike warns when more than this fraction of a layer's positive calibration activations is sent as zero.
BELOW_RANGE_WARNING = 0.05


def _warn_below_range(net, neuron, layers, calibration_data):
    """Warn, with the numbers, about layers whose window is too short for the calibration data's range."""
    import warnings

    from .errors import NeuroconvWarning

    _, acts = net.forward(net.check_input(calibration_data, name="calibration_data"), return_activations=True)
    for layer in layers:
        if not layer.spiking:
            continue
        act = acts[layer.ann_index]  # pre-activation: its positive part is the activation
        act = act.reshape(act.shape[0], -1)
        positive = act > 0
        lost = positive & (act < neuron.smallest_sent(layer.theta))
        fraction = lost.sum() / max(positive.sum(), 1)
        if fraction > BELOW_RANGE_WARNING:
            ratio = np.percentile((layer.theta / np.where(positive, act, 1.0))[positive], 95)
            warnings.warn(
                f"OneSpike(base={neuron.base:g}, window={neuron.window}): {layer.name} sends {fraction:.1%} of its "
                f"positive calibration activations as zero (below M*base**-(window-1)*(1+1/base)/2, a range of "
                f"{neuron.base ** (neuron.window - 1):.3g}); covering 95% of them needs a range of {ratio:.3g}, "
                f"i.e. window >= {neuron.window_for_range(max(ratio, 1.0))} at this base.",
                NeuroconvWarning, stacklevel=3)


@dataclass(frozen=True, eq=False)
class SpikingNetwork:
    """A converted network, independent of any device.

    ``layers`` are the spiking hidden populations in order, then the output population.
    :meth:`run` simulates it on a device; :meth:`to_brian2` hands out the Brian2 objects.
    """

    ann: Sequential
    layers: tuple
    neuron: object
    timesteps: int
    dt: Quantity
    readout: str = "membrane"

    @property
    def hidden_layers(self) -> tuple:
        return self.layers[:-1]

    @property
    def output_layer(self) -> SpikingLayer:
        return self.layers[-1]

    @property
    def thresholds(self) -> list:
        """Per-neuron thresholds of every spiking population (hidden layers, then a spiking output)."""
        return [layer.theta for layer in self.layers if layer.spiking]

    @property
    def n_synapses(self) -> int:
        """Synapses per image (one copy of the network)."""
        return int(sum(layer.affine[0].nnz for layer in self.layers))

    @property
    def latency_steps(self) -> int:
        """Timesteps from the input to the readout, the length of a run: ``T`` for IF; ``window``
        (One-Spike) or the phase length ``T`` (TPP) per spiking layer, i.e. ``(L-1) * window``
        or ``(L-1) * T`` with the membrane readout (``L`` weight layers; input window 0)."""
        return self.timesteps

    @property
    def latency(self) -> Quantity:
        """:attr:`latency_steps` as a Brian2 time (``latency_steps * dt``)."""
        return self.timesteps * self.dt

    def with_timesteps(self, timesteps: int) -> "SpikingNetwork":
        """The same network simulated for a different number of timesteps (IF networks)."""
        from neuroconv.equations import TPP, OneSpike

        if isinstance(self.neuron, OneSpike):
            raise NeuroconvError("a One-Spike network's timing is set by its window; convert again with "
                                 "OneSpike(window=...) instead of with_timesteps().")
        if isinstance(self.neuron, TPP):
            phase = _check_timesteps(timesteps)
            n_spiking = sum(layer.spiking for layer in self.layers)
            return SpikingNetwork(self.ann, self.layers, dataclasses.replace(self.neuron, timesteps=phase),
                                  n_spiking * phase, self.dt, self.readout)
        return SpikingNetwork(self.ann, self.layers, self.neuron, _check_timesteps(timesteps), self.dt, self.readout)

    def run(self, x, device: str = "runtime", batch_size: int | None = None, codegen_target: str = "numpy",
            record_spikes: bool = True, progress: bool = True, **options):
        """Simulate the network on inputs ``x`` (batch, *input_shape) and return a SimulationResult.

        Parameters
        ----------
        device : {"runtime", "cpp_standalone", "cuda_standalone", "reference"}
            Brian2 runtime mode, Brian2 C++ standalone (compiled once per call, re-run per
            batch with new inputs), brian2cuda's CUDA standalone (needs the ``cuda`` extra,
            nvcc and a GPU), or the numpy reference simulator.
        batch_size : int, optional
            Images simulated together (Brian2: replicated populations). Default: chosen so
            that one build holds at most ``max_synapses`` synapses (option, default 2e7,
            about 0.5 GiB); an explicit batch over that budget is refused before building.
        codegen_target : {"numpy", "cython"}
            Brian2 code generation target for ``device="runtime"``.
        record_spikes : bool
            Keep every spike (``result.spikes``); counts are always returned.
        progress : bool
            Show a progress bar over batches.
        **options
            ``max_synapses`` (synapse budget per build, default 2e7), ``cache`` (reuse
            compiled standalone binaries, default True), ``build_directory`` (standalone
            project folder, kept), ``compute_capability`` (CUDA), ``record_margin``
            (reference only: smallest ``|v - theta|`` per neuron, for tie diagnosis), ``seed``
            (random numbers of stochastic models such as TPP: the same seed gives the same
            spikes on the same device and batch size; standalone binaries re-seed for every batch).
        """
        from .devices import run_on_device

        return run_on_device(self, x, device=device, batch_size=batch_size, codegen_target=codegen_target,
                             record_spikes=record_spikes, progress=progress, **options)

    def build(self, device: str = "cpp_standalone", directory=None, batch_size: int = 1, record_spikes: bool = True,
              compute_capability=None) -> str:
        """Generate and compile the standalone project for ``batch_size`` images without running it.

        For ``device="cuda_standalone"`` this works without a GPU (nvcc is enough):
        brian2cuda's GPU detection is turned off and ``compute_capability`` (default 9.0)
        chosen. Returns the project directory (a new temporary one unless given).
        """
        import tempfile

        from .brian2_backend import build_standalone, standalone_device
        from .devices import Device, _choose_batch

        dev = Device.parse(device)
        if not dev.standalone:
            raise NeuroconvError(f"build() is for standalone devices ('cpp_standalone', 'cuda_standalone'), got {device!r}.")
        if dev is Device.CUDA_STANDALONE:
            from . import cuda

            cuda.require_brian2cuda()
        n_copies = _choose_batch(self, batch_size, batch_size, float("inf"))
        directory = tempfile.mkdtemp(prefix=f"neuroconv_{dev.value}_") if directory is None else str(directory)
        with standalone_device(dev.value, directory, compute_capability):
            build_standalone(self, n_copies, record_spikes, dev.value, directory)
        return directory

    def to_brian2(self, x=None, batch_size: int | None = None):
        """The converted network as a ``brian2.Network`` for your own scripts.

        Groups are named ``input``, ``layer0``, ... , ``output``; synapses
        ``input_to_layer0``, ``layer0_to_layer1``, ...; spike monitors ``layer0_spikes``, ...
        The analog input lives in ``net['input'].x`` (``batch_size`` copies, image-major).
        With ``x`` given the input values are set. Run it for ``timesteps * dt``.
        """
        from .brian2_backend import build_network

        if x is not None:
            x = self.ann.check_input(x)
            batch_size = x.shape[0] if batch_size is None else batch_size
            if batch_size != x.shape[0]:
                raise NeuroconvError(f"batch_size={batch_size} but x holds {x.shape[0]} images.")
        batch_size = 1 if batch_size is None else batch_size
        net = build_network(self, batch_size)
        if x is not None:
            net["input"].x = x.reshape(-1)
        return net
