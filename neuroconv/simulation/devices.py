"""One ``device=`` argument for every backend: a registry of devices, and the one place that validates,
plans (batch size, rounds), runs and assembles a :class:`SimulationResult`.

A device is a name and a runner (``"module:function"``, imported when first used, or a
callable) with the signature ``runner(snn, x_flat, n_copies, rounds, record_spikes, bar,
seed=..., **options) -> (BatchResult, build_time)``, where images in the BatchResult are
numbered from 0. ``record_spikes`` is False or the tuple of hidden layers whose trains to keep
(truthy; a runner may record every layer: the layers and images ``record=`` chose are kept after), whose
``images`` attribute holds the images chosen (None: all): the built-in runners keep only those as each batch
ends (:func:`neuroconv.simulation.recording.trim`).
``register_device`` adds one, as Brian2 registers its own devices.
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from neuroconv._checks import check_seed, memory_budget, require_memory
from neuroconv.errors import NeuroconvError
from neuroconv.simulation.recording import Recording
from neuroconv.simulation.result import SimulationResult

__all__ = ["Device", "DEVICES", "register_device", "run_on_device", "build_on_device", "estimate_resources",
           "default_max_synapses", "bucketed_copies"]

#: Peak bytes per synapse of a whole C++ standalone build and run: torchvision's resnet18 at 3x32x32 (21.7M
#: synapses per image) imported, converted, built, compiled and run peaked at 1,597 MiB resident (77 bytes per
#: synapse, the converted network itself included; ``benchmarks/bench_speed.py --resnet18``), rounded up. The
#: default synapse budget is the memory budget divided by it.
PEAK_BYTES_PER_SYNAPSE = 80


#: Synapses in one build of Brian2's runtime mode (numpy/Cython), whose batches gain nothing from being larger.
RUNTIME_MAX_SYNAPSES = 20_000_000


def default_max_synapses() -> int:
    """Synapses one Brian2 build may hold: the memory budget (``NEUROCONV_MAX_MEMORY``, default half the RAM)
    over :data:`PEAK_BYTES_PER_SYNAPSE`."""
    return _MemorySynapses(memory_budget() // PEAK_BYTES_PER_SYNAPSE)


@dataclass(frozen=True)
class Device:
    """A way to run a spiking network (see the module docstring)."""

    name: str
    runner: object
    #: Brian2 builds a project (C++ or CUDA) for it: ``SpikingNetwork.build`` works, disk space is checked.
    standalone: bool = False
    #: Simulates many rounds of a batch in one run (``rounds``).
    multiplexed: bool = False
    #: Holds synapses (Brian2): the ``max_synapses`` budget applies.
    synapses: bool = True
    #: Code generation targets it takes (``codegen_target``; the first is the default).
    targets: tuple = ("numpy",)
    #: Records each neuron's smallest ``|v - theta|`` (``record_margin``).
    margins: bool = False
    #: ``check(snn)`` runs before anything is built and raises a NeuroconvError where the device cannot
    #: run the network here (no GPU, a model without reference semantics).
    check: object = None
    #: Options passed to the runner as they are.
    options: dict = field(default_factory=dict)
    #: Its runner keeps only the images ``record`` chose as each part ends (``recording.trim``), so the memory
    #: check counts those (and the parts in flight), not every image's trains.
    trims: bool = False

    @classmethod
    def parse(cls, value) -> "Device":
        """The registered device called ``value`` (a Device is returned as it is)."""
        if isinstance(value, Device):
            return value
        if value not in DEVICES:
            raise NeuroconvError(f"unknown device {value!r}; use one of {list(DEVICES)}.")
        return DEVICES[value]

    def run(self, *args, **kwargs):
        runner = self.runner
        if isinstance(runner, str):
            module, _, function = runner.partition(":")
            runner = getattr(importlib.import_module(module), function)
        return runner(*args, **{**self.options, **kwargs})


#: Devices by name, in registration order.
DEVICES: dict = {}


def register_device(device: Device) -> Device:
    """Make ``device`` available as ``device=device.name``."""
    if not isinstance(device, Device):
        raise NeuroconvError(f"register_device takes a neuroconv.Device, got {type(device).__name__}.")
    DEVICES[device.name] = device
    return device


_TARGETS = ("numpy", "cython")


#: Memory per synapse in a Brian2 build (measured: about 25 bytes; indices, weight, delay, queue).
BYTES_PER_SYNAPSE = 25


#: Synapses in the automatic batch of a time-multiplexed cpp_standalone run. Small batches run
#: for more steps (a fixed cost per step and object) but keep the synapses in the CPU cache:
#: measured here, the digits CNN (217,664 synapses per image) ran 553 images/s with 1 copy and
#: 291 with 4, the digits MLP (6,464) 17,600 with 8 copies and 13,200 with 64
#: (``benchmarks/bench_speed.py --batch-sizes`` measures the trade-off).
STANDALONE_SYNAPSES_PER_BUILD = 65536
#: Most images one standalone binary run simulates (its inputs and per-round records are files).
MAX_IMAGES_PER_RUN = 8192
#: Most bytes of round images one binary run reads: every run writes the compiled size, zeros past its rounds.
MAX_INPUT_BYTES_PER_RUN = 16 * 2**20


def estimate_resources(snn, batch_size: int, rounds: int = 1) -> dict:
    """Synapses, neurons and an estimate of memory for a Brian2 build of ``batch_size`` copies
    (simulating ``rounds`` inferences one after the other, see ``SpikingNetwork.run``)."""
    synapses = snn.n_synapses * batch_size
    n_in = int(np.prod(snn.ann.input_shape))
    neurons = (n_in + sum(l.size for l in snn.layers)) * batch_size
    # time-multiplexed runs hold every round's input and per-round counts/readout (8 bytes each)
    per_round = 0 if rounds == 1 else neurons * 8
    state = neurons * 8 * 6 + per_round * (rounds + 1)  # neuron arrays and per-round records
    # a standalone project keeps synapse indices and weights (4 + 4 + 8 bytes) and the state as
    # files, next to a compiled binary of a few MB
    return {"batch_size": batch_size, "rounds": rounds, "synapses": synapses, "neurons": neurons,
            "memory_bytes": synapses * BYTES_PER_SYNAPSE + state, "disk_bytes": synapses * 16 + state + 20 * 2**20}


def check_resources(snn, dev, batch_size: int, rounds: int, directory=None) -> dict:
    """Refuse a build that would not fit: memory against the budget (``NEUROCONV_MAX_MEMORY``), and for
    standalone devices the project's files against the free space where it is generated."""
    est = estimate_resources(snn, batch_size, rounds)
    require_memory(est["memory_bytes"], f"a Brian2 build of batch_size={batch_size} ({est['synapses']:,} synapses)",
                   "pass a smaller batch_size.")
    if dev.standalone:
        import shutil
        import tempfile

        where = os.fspath(directory) if directory is not None else tempfile.gettempdir()
        while not os.path.exists(where):
            where = os.path.dirname(os.path.abspath(where))
        free = shutil.disk_usage(where).free
        if est["disk_bytes"] > 0.9 * free:
            raise NeuroconvError(
                f"the standalone project for batch_size={batch_size} needs about {est['disk_bytes'] / 2**30:.1f} GiB "
                f"of files and {where!r} has {free / 2**30:.1f} GiB free; pass a smaller batch_size or "
                "build_directory= on a larger disk (or set TMPDIR).")
    return est


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise NeuroconvError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def _one_round(dev, rounds) -> int:
    """Devices that run one batch per run (C++ standalone plans in :func:`_standalone_plan`): ``rounds`` may only
    be 1."""
    if rounds is not None:
        rounds = _positive_int("rounds", rounds)
        if rounds > 1:
            # brian2cuda 1.0b1's synapse templates only know ``defaultclock``; the rounds need a second clock
            raise NeuroconvError(f"rounds={rounds} applies to device='cpp_standalone' only; device={dev.name!r} "
                                 "runs one batch at a time (leave rounds out).")
    return 1


def _threads(dev, threads):
    """``threads=`` of a C++ standalone run (OpenMP): a positive int, default 1; None elsewhere.

    One thread is the default because it was the fastest measured here: on 2 cores, 2 OpenMP threads ran the
    digits MLP at 0.6x and the digits CNN far slower than one thread, the small per-step work of a round not
    paying for the threads' synchronisation (``benchmarks/bench_speed.py --threads 1 2``)."""
    if dev.name != "cpp_standalone":
        if threads is not None:
            raise NeuroconvError(f"threads={threads!r} applies to device='cpp_standalone' only (OpenMP).")
        return None
    return 1 if threads is None else _positive_int("threads", threads)


def _standalone_plan(snn, batch_size, rounds, max_synapses):
    """Copies per round and most rounds per binary run of a C++ standalone build: from the network alone,
    never from the number of images, so one binary serves every call (a run simulates the rounds its images
    need, padding the last one)."""
    if rounds is not None:
        rounds = _positive_int("rounds", rounds)
    if snn.delays is not None and rounds is not None and rounds > 1:
        raise NeuroconvError(f"rounds={rounds}: a network with synaptic delays runs one round per binary run "
                             "(spikes in flight would cross into the next round); leave rounds out.")
    if batch_size is None:
        batch_size = int(max(1, STANDALONE_SYNAPSES_PER_BUILD // max(snn.n_synapses, 1)))
    n_copies = _choose_batch(snn, _positive_int("batch_size", batch_size), batch_size, max_synapses)
    if rounds is None:
        n_in = int(np.prod(snn.ann.input_shape))
        rounds = 1 if snn.delays is not None else int(max(1, min(MAX_IMAGES_PER_RUN // n_copies,
                                                                   MAX_INPUT_BYTES_PER_RUN // (8 * n_in * n_copies))))
    return n_copies, rounds


def _choose_batch(snn, n_images, batch_size, max_synapses):
    """Images per build: ``batch_size`` if given, else as many as fit ``max_synapses``; refuse what does not fit."""
    per_image = max(snn.n_synapses, 1)
    if batch_size is not None:
        chosen = int(min(_positive_int("batch_size", batch_size), n_images))
    else:
        chosen = int(max(1, min(n_images, max_synapses // per_image)))
    if chosen * per_image > max_synapses:
        est = estimate_resources(snn, chosen)
        fits = int(max_synapses // per_image)
        if fits >= 1:
            advice = f"pass a smaller batch_size (at most {fits}) or raise max_synapses."
        else:
            advice = ("one image alone is over the budget: raise max_synapses if the memory allows it, or run "
                      "device='reference' (it holds activations, not synapses).")
        origin = ""
        if getattr(max_synapses, "from_memory", False):
            origin = (f" (the memory budget of {memory_budget()} bytes, NEUROCONV_MAX_MEMORY, at "
                      f"{PEAK_BYTES_PER_SYNAPSE} bytes per synapse)")
            advice = advice.replace("raise max_synapses", "raise NEUROCONV_MAX_MEMORY")
        raise NeuroconvError(
            f"a build of batch_size={chosen} needs {est['synapses']:,} synapses (about "
            f"{est['memory_bytes'] / 2**30:.1f} GiB), over max_synapses={int(max_synapses):,}{origin}; {advice}"
        )
    return chosen


def bucketed_copies(snn, n_images, max_synapses) -> int:
    """Copies of a standalone build that runs one batch per binary run (``cuda_standalone``), by default: the
    smallest power of two that holds ``n_images``, at most what ``max_synapses`` allows. The image count of a
    call then picks one of a few builds (at most ``log2`` of the budget's copies plus one) instead of a build
    of its own; the last batch is padded. A network over the budget at one copy is refused as
    :func:`_choose_batch` refuses it."""
    fits = int(max_synapses // max(snn.n_synapses, 1))
    if fits < 1:
        return _choose_batch(snn, 1, 1, max_synapses)  # raises, with the advice
    return int(min(fits, 1 << max(0, int(n_images) - 1).bit_length()))


class _MemorySynapses(int):
    """A synapse budget derived from the memory budget (its refusals say so)."""

    from_memory = True


def check_cuda_runnable(snn=None):
    """Raise a clear error unless brian2cuda, nvcc and a GPU are all present (before building anything)."""
    from neuroconv.simulation.brian2 import cuda

    cuda.require_brian2cuda()
    if not cuda.gpu_available():
        raise NeuroconvError(
            "device='cuda_standalone' needs an NVIDIA GPU to run, and nvidia-smi lists none here. Use "
            "device='cpp_standalone', or SpikingNetwork.build(device='cuda_standalone') to only generate and compile."
        )


def resolve_codegen_target(codegen_target, dev):
    """``codegen_target=None``: the device's default, except that Brian2's runtime follows the user's
    ``prefs.codegen.target`` when it is ``"numpy"`` or ``"cython"`` (Brian2's default ``"auto"`` means
    numpy here: it starts at once, while Cython compiles for minutes the first time)."""
    if codegen_target is not None:
        return codegen_target
    if len(dev.targets) > 1:
        from brian2 import prefs

        chosen = prefs.codegen.target
        if isinstance(chosen, str) and chosen in dev.targets:
            return chosen
    return dev.targets[0]


def run_on_device(snn, x, device="runtime", batch_size=None, codegen_target=None, record_spikes=None,
                  progress=True, max_synapses=None, record_margin=False, build_directory=None,
                  compute_capability=None, cache=True, seed=None, rounds=None, check_range=True, threads=None,
                  record=None):
    """Validate everything, then simulate on the chosen device (see SpikingNetwork.run)."""
    if record is not None and record_spikes is not None:
        raise NeuroconvError("pass record= alone (record_spikes=True/False is its older form, record=True/False).")
    dev = Device.parse(device)
    threads = _threads(dev, threads)
    codegen_target = resolve_codegen_target(codegen_target, dev)
    if codegen_target not in _TARGETS:
        raise NeuroconvError(f"codegen_target must be one of {_TARGETS}, got {codegen_target!r}.")
    if codegen_target not in dev.targets:
        takes = [name for name, d in DEVICES.items() if codegen_target in d.targets]
        raise NeuroconvError(f"codegen_target={codegen_target!r} applies to device={takes[0]!r} only." if takes else
                             f"device={dev.name!r} takes codegen_target in {dev.targets}.")
    if record_margin and not dev.margins:
        raise NeuroconvError("record_margin=True is available with device='reference' only.")
    model = snn.neuron
    if record_margin and model.stochastic and model.pipelined:
        raise NeuroconvError("record_margin=True diagnoses float ties of deterministic models; "
                             f"{type(model).__name__} is stochastic.")
    check_seed(seed)
    if model.stochastic:
        from neuroconv.equations._random import random_seed

        seed = random_seed() if seed is None else int(seed)
    else:
        seed = None
    series = _is_series(snn, x)
    if series:
        x_flat = _check_series(snn, x, dev)
    else:
        x = snn.ann.check_input(x)
        x_flat = x.reshape(x.shape[0], -1)
    if check_range:
        from neuroconv._checks import check_input_range

        check_input_range(snn.input_range, x_flat)
    if dev.check is not None:
        dev.check(snn)
    n = x_flat.shape[0]
    recording = Recording.parse(record if record is not None else record_spikes, snn, n)
    require_memory(8.0 * n * (sum(l.size for l in snn.layers) + snn.output_layer.size), f"the results of {n:,} images",
                   "run fewer images per call.")
    if not dev.synapses:
        max_synapses = float("inf")  # the reference holds activations, not synapses
    elif max_synapses is None:  # Brian2's runtime mode keeps its batches at most RUNTIME_MAX_SYNAPSES
        budget = default_max_synapses()
        max_synapses = budget if dev.standalone or budget <= RUNTIME_MAX_SYNAPSES else RUNTIME_MAX_SYNAPSES
    if dev.standalone and dev.multiplexed:
        n_copies, rounds = _standalone_plan(snn, batch_size, rounds, max_synapses)
    else:
        rounds = _one_round(dev, rounds)
        if batch_size is None and not dev.synapses:  # array devices: batches whose working set stays in cache
            from neuroconv.simulation.reference import default_batch

            batch_size = default_batch(snn, n)
        if batch_size is None and dev.standalone:  # one batch per binary run (CUDA): a build per bucket
            n_copies = bucketed_copies(snn, n, max_synapses)
        else:
            n_copies = _choose_batch(snn, n, batch_size, max_synapses)
    # the chosen images' trains, and every image's trains of the parts in flight (a binary run's rounds; the
    # reference's batches, one per core), which devices trim to the chosen images as each part ends
    from neuroconv._checks import usable_cores

    in_flight = n_copies * rounds * (1 if dev.synapses else usable_cores()) if dev.trims else n
    require_memory(recording.peak_bytes(snn, n, in_flight), f"the spike trains of {n:,} images",
                   "record fewer layers (record=['layer', ...]) or images (record={'layers': ..., 'images': ...}) or "
                   "none (record=False), or run fewer images per call.")
    if dev.synapses:
        check_resources(snn, dev, n_copies, rounds, build_directory)
    t0 = time.perf_counter()
    label = dev.name if len(dev.targets) < 2 else f"{dev.name}/{codegen_target}"
    with tqdm(total=n, desc=f"neuroconv {label} T={snn.timesteps}", unit="img", disable=not progress,
              leave=False) as bar:
        batch, build_time = dev.run(snn, x_flat, n_copies, rounds, recording.for_devices(), bar,
                                    seed=seed,
                                    codegen_target=codegen_target, record_margin=record_margin,
                                    build_directory=build_directory, compute_capability=compute_capability,
                                    cache=cache, **({"threads": threads} if threads is not None else {}))
    return SimulationResult(
        output=batch.output, spike_counts=batch.spike_counts, layer_names=[l.name for l in snn.hidden_layers],
        timesteps=snn.timesteps, run_steps=snn.run_steps, dt=snn.dt, device=label,
        spikes=recording.select(batch.spikes, len(snn.hidden_layers)),
        output_spike_counts=batch.output_spike_counts, wall_time=time.perf_counter() - t0, build_time=build_time,
        threshold_margin=batch.threshold_margin, seed=seed,
    )


#: Devices that take a time series as input (one frame per step).
SERIES_DEVICES = ("runtime", "reference")


def _is_series(snn, x) -> bool:
    """Whether ``x`` is ``(batch, steps, *input_shape)``: a time series, one frame per step."""
    shape = getattr(x, "shape", None)
    return shape is not None and len(shape) == len(snn.ann.input_shape) + 2


def _check_series(snn, x, dev) -> np.ndarray:
    """A time series ``(batch, steps, *input_shape)`` as ``(batch, steps, n_in)``, or a clear error."""
    if dev.name not in SERIES_DEVICES:
        raise NeuroconvError(f"time-series input (batch, steps, *input) runs on device in {SERIES_DEVICES}; "
                             f"device={dev.name!r} takes a constant input (batch, *input).")
    if snn.neuron.pipelined or snn.delays is not None:
        raise NeuroconvError("time-series input drives networks whose layers work together, without delays "
                             f"(IF, LIF, NIR networks); this one has {snn.neuron!r}"
                             + (" and delays." if snn.delays is not None else "."))
    if x.shape[1] != snn.run_steps:
        raise NeuroconvError(f"x has {x.shape[1]} steps per sample; this network runs {snn.run_steps} steps "
                             f"(timesteps): pass x of shape (batch, {snn.run_steps}, *{snn.ann.input_shape}).")
    frames = snn.ann.check_input(np.asarray(x).reshape((-1,) + snn.ann.input_shape))
    return frames.reshape(x.shape[0], x.shape[1], -1)


def build_on_device(snn, device="cpp_standalone", directory=None, batch_size=1, record_spikes=True,
                    compute_capability=None, rounds=1) -> str:
    """Generate and compile a standalone project without running it (see ``SpikingNetwork.build``)."""
    import tempfile

    from neuroconv.simulation.brian2.standalone import build_standalone, standalone_device

    dev = Device.parse(device)
    if not dev.standalone:
        raise NeuroconvError(f"build() is for standalone devices ({[d for d in DEVICES if DEVICES[d].standalone]}), "
                             f"got {device!r}.")
    if dev.name == "cuda_standalone":
        from neuroconv.simulation.brian2 import cuda

        cuda.require_brian2cuda()
    n_copies = _choose_batch(snn, batch_size, batch_size, float("inf"))
    rounds = _positive_int("rounds", rounds)
    if rounds > 1 and not dev.multiplexed:
        raise NeuroconvError(f"rounds={rounds} applies to device='cpp_standalone' only.")
    check_resources(snn, dev, n_copies, rounds, directory)
    directory = tempfile.mkdtemp(prefix=f"neuroconv_{dev.name}_") if directory is None else str(directory)
    with standalone_device(dev.name, directory, compute_capability):
        build_standalone(snn, n_copies, record_spikes, dev.name, directory, rounds=rounds)
    return directory


def _check_reference(snn):
    from neuroconv.simulation.reference import check_runnable

    check_runnable(snn)


register_device(Device("runtime", "neuroconv.simulation.brian2.run:run_runtime", targets=_TARGETS, trims=True))
register_device(Device("cpp_standalone", "neuroconv.simulation.brian2.standalone:run_standalone", standalone=True,
                       multiplexed=True, options={"device_name": "cpp_standalone"}, trims=True))
register_device(Device("cuda_standalone", "neuroconv.simulation.brian2.standalone:run_standalone", standalone=True,
                       check=check_cuda_runnable, options={"device_name": "cuda_standalone"}, trims=True))
register_device(Device("reference", "neuroconv.simulation.reference:run_reference", synapses=False, margins=True,
                       check=_check_reference, trims=True))
