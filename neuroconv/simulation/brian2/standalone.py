"""Brian2's standalone devices (C++, and CUDA through brian2cuda): generate and compile a project once
(or fetch its binary from the build cache), then run the binary with new inputs from its data files.

Time-multiplexed runs (``rounds > 1``, C++ standalone) simulate many inferences of a small
batch one after the other in one binary run (see :func:`neuroconv.simulation.brian2.build.build_network`).
C++ standalone keeps each built project ready in the process (:mod:`neuroconv.simulation.brian2.program`):
a later call with the same network runs the binary straight away, for any number of images.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

import numpy as np

from neuroconv.errors import NeuroconvError
from neuroconv.simulation.brian2 import build_cache, program
from neuroconv.simulation.brian2.build import build_network, set_image_base, word_names
from neuroconv.simulation.brian2.run import _chunks, _padded_input, read_results
from neuroconv.simulation.recording import records, trim
from neuroconv.simulation.result import BatchResult

__all__ = ["standalone_device", "build_standalone", "run_standalone"]


def _holds_user_objects(device) -> bool:
    """Whether a standalone device the user activated holds objects other than its default clock."""
    for variable in getattr(device, "arrays", {}):
        try:
            name = variable.owner.name
        except (AttributeError, ReferenceError):
            continue  # its owner is gone
        if name != "defaultclock":
            return True
    return bool(getattr(device, "code_objects", None))


@contextlib.contextmanager
def standalone_device(device_name: str, directory, compute_capability=None, threads=1):
    """Activate a standalone device for one build in ``directory`` (C++: with ``threads`` OpenMP threads, 1 for
    none); always return to runtime mode after."""
    import gc

    from brian2 import device, get_device, prefs, set_device
    from brian2.devices.device import reset_device, runtime_device

    active = get_device()
    if active is not runtime_device and _holds_user_objects(active):
        raise NeuroconvError(
            f"this script has set Brian2's device to {type(active).__name__} and created objects on it; "
            f"device={device_name!r} builds its own standalone project and would reset that device. Call "
            "snn.run(...) before set_device(...), or put the network into your own standalone script with "
            "snn.to_brian2().")

    # Brian2 suffixes code-object names (``_1``) while objects of an earlier network are alive;
    # collecting them first keeps the generated sources, and so the build-cache key, stable.
    gc.collect()
    if device_name == "cuda_standalone":
        from neuroconv.simulation.brian2 import cuda

        cuda.configure(directory, compute_capability=compute_capability)
    set_device(device_name, directory=directory, build_on_run=False, with_output=False)
    previous = prefs.devices.cpp_standalone.openmp_threads
    prefs.devices.cpp_standalone.openmp_threads = 0 if threads == 1 else int(threads)
    try:
        yield device
    finally:
        prefs.devices.cpp_standalone.openmp_threads = previous
        device.reinit()
        reset_device()


def _duration(snn, rounds: int):
    """Run length of a network built for ``rounds`` (see :func:`build_network`)."""
    return (snn.run_steps * rounds + (rounds > 1)) * snn.dt


#: The progress bar's words while a project compiles.
COMPILING = "compiling the C++ standalone project for this network (first run only)"


def build_standalone(snn, n_copies, record_spikes, device_name, directory, use_cache=True, seed=0, rounds=1,
                     on_compile=None):
    """Generate and compile the project for ``n_copies`` images (times ``rounds``, see :func:`build_network`);
    must run inside :func:`standalone_device`.

    With ``use_cache`` the binary comes from :mod:`neuroconv.build_cache` when identical
    sources were compiled before (any process), and is published there otherwise. ``seed``
    (stochastic models) goes into the data files, not the code, so seeds share a binary.
    Time-multiplexed C++ projects take their run length on the command line
    (:func:`neuroconv.simulation.brian2.program.patch_duration`). ``on_compile()`` is called before the
    compiler starts (not when the binary comes from the cache).

    Returns the ``brian2.Network`` (whose variables ``device.run`` fills) and the build time in s.
    """
    from brian2 import defaultclock, device

    t0 = time.perf_counter()
    clock = None
    if device_name == "cuda_standalone":
        # brian2cuda's synapse templates refer to ``defaultclock`` by name
        defaultclock.dt = snn.dt
        clock = defaultclock
    net = build_network(snn, n_copies, record_spikes, clock=clock, rounds=rounds, seed=seed)
    net["input"].ann_input = 0.0
    net.run(_duration(snn, rounds), namespace={})
    device.build(directory=directory, compile=False, run=False, with_output=False)
    if device_name == "cuda_standalone":
        from neuroconv.simulation.brian2 import cuda

        cuda.patch_makefile(directory)
    elif rounds > 1:
        gated = _recorded_layers(snn, record_spikes)
        program.patch_duration(directory, [f"{snn.layers[k].name}_trains" for k in gated])
    key = build_cache.source_digest(directory, device_name) if use_cache else None
    if key is None or not build_cache.fetch(key, directory):
        if on_compile is not None:
            on_compile()
        _compile(device, directory, device_name)
        if key is not None:
            build_cache.publish(key, directory)
    return net, time.perf_counter() - t0


def make_command() -> list:
    """The make command of a C++ standalone compile. Brian2's default ``-j`` starts every job at once: a
    ResNet's hundreds of code objects ran 190 compilers together here (seen with ps; the 24 GB machine had
    4.7 GB left); so one job per core, unless the user set other make arguments."""
    from brian2 import prefs

    opts = prefs.devices.cpp_standalone
    extra = [str(a) for a in opts.extra_make_args_unix]
    if extra == ["-j"]:
        from neuroconv._checks import usable_cores

        extra = [f"-j{usable_cores()}"]
    return shlex.split(opts.make_cmd_unix) + extra


def _compile(device, directory, device_name):
    """Compile the generated project. With make (C++ standalone on POSIX) the compiler runs in its own
    process group, killed as a whole when this process is interrupted (Ctrl-C, a notebook's
    interrupt): Brian2's ``os.system`` call would ignore the interrupt until make finished."""
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    compiler = get_compiler_and_args()[0]
    if device_name != "cpp_standalone" or compiler == "msvc" or os.name != "posix":
        device.compile_source(directory, compiler, False, False)
        return
    proc = subprocess.Popen(make_command(), cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        log, _ = proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if proc.returncode != 0:
        tail = log.decode(errors="replace")[-2000:]
        raise RuntimeError(f"compiling the standalone project in {directory} failed "
                           f"(make exit status {proc.returncode}):\n{tail}")


def run_standalone(snn, x_flat, n_copies, rounds, record_spikes, progress_bar, seed=0, build_directory=None,
                   device_name="cpp_standalone", compute_capability=None, cache=True, keep_build=False, threads=1,
                   **_):
    """Standalone (C++ or CUDA): generate and compile once, then run the binary with new inputs until every
    image is done, ``n_copies * rounds`` images per binary run (``rounds`` inferences one after the other).
    ``threads``: OpenMP threads of a C++ standalone binary (1: no OpenMP).

    Returns the merged results and the build time in seconds (0 when this process had the program ready).
    """
    if device_name != "cpp_standalone":
        return _run_through_brian2(snn, x_flat, n_copies, rounds, record_spikes, progress_bar, seed, build_directory,
                                   device_name, compute_capability, cache, keep_build)
    # time-multiplexed binaries monitor every hidden layer and are told at run time which monitors run
    built = True if rounds > 1 else _recorded_layers(snn, record_spikes)
    prog, build_time = _program(snn, n_copies, rounds, built, progress_bar, seed, build_directory, cache,
                                keep_build, threads)
    parts = []
    for start, stop in _chunks(x_flat.shape[0], n_copies * rounds):
        used = -(-(stop - start) // n_copies)  # rounds this binary run needs
        files = prog.run(x_flat[start:stop], start, used, record=record_spikes)
        part = read_results(snn, files, stop - start, n_copies, record_spikes, used, multiplexed=rounds > 1)
        parts.append((start, trim(record_spikes, start, stop, part)))
        progress_bar.update(stop - start)
    return BatchResult.merge(parts), build_time


def _program(snn, n_copies, rounds, record_spikes, progress_bar, seed, build_directory, cache, keep_build, threads=1):
    """The ready program for this network and plan (built now, or earlier in this process) and the seconds
    spent building it now."""
    key = (program.fingerprint(snn), n_copies, rounds, _recorded_layers(snn, record_spikes), seed, threads,
           None if build_directory is None else os.path.abspath(os.fspath(build_directory)))
    ready = program.recall(key) if cache else None
    if ready is not None:
        return ready, 0.0
    own_dir = build_directory is None
    directory = tempfile.mkdtemp(prefix="neuroconv_cpp_standalone_") if own_dir else os.fspath(build_directory)
    label = getattr(progress_bar, "desc", None)  # a disabled tqdm has none

    def describe(text):
        if label is not None:
            progress_bar.set_description_str(text)

    def compiling():
        describe(f"{label}: {COMPILING}")

    try:
        with standalone_device("cpp_standalone", directory, threads=threads) as device:
            net, build_time = build_standalone(snn, n_copies, record_spikes, "cpp_standalone", directory, cache, seed,
                                               rounds, on_compile=compiling)
            prog = _describe(snn, net, device, directory, n_copies, rounds, record_spikes, own_dir and not keep_build)
    except BaseException:
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    finally:
        describe(label)
    prog.build_time = build_time
    if cache:
        program.remember(key, prog)
    elif own_dir and not keep_build:  # not kept: removed when the object goes
        import weakref

        weakref.finalize(prog, shutil.rmtree, directory, True)
    return prog, build_time


def _recorded_layers(snn, record_spikes) -> tuple:
    """``record_spikes`` (True, False or a tuple of hidden layers) as the spiking hidden layers it records: the
    layers a ``rounds = 1`` build monitors (part of its cache key), and those whose monitors a
    time-multiplexed binary runs only when asked."""
    return tuple(k for k, layer in enumerate(snn.hidden_layers) if layer.spiking and records(record_spikes, k))


def _describe(snn, net, device, directory, n_copies, rounds, record_spikes, own_directory):
    """What :class:`program.Program` needs to know of the generated project (see its module docstring)."""
    from brian2 import prefs

    n_in = int(np.prod(snn.ann.input_shape))
    if rounds > 1:
        images = net["input"].namespace["neuroconv_images"]
        input_name, input_shape = f"{images.name}.values", (rounds, n_in * n_copies)
    else:
        input_name, input_shape = "input.ann_input", (n_in * n_copies,)
    wanted = []
    for k, layer in enumerate(snn.layers):
        if layer.spiking:
            if rounds > 1:
                wanted.append((f"{layer.name}_rounds", "spike_count", layer.size * n_copies))
            else:
                wanted.append((f"{layer.name}_spikes", "count", 0))
            if rounds > 1 and layer is not snn.output_layer and records(record_spikes, k):
                wanted += [(f"{layer.name}_trains", name, layer.size * n_copies) for name in word_names(snn.run_steps)]
            elif layer is snn.output_layer or records(record_spikes, k):
                wanted += [(f"{layer.name}_spikes", "i", 0), (f"{layer.name}_spikes", "t", 0)]
    out = snn.output_layer
    if not out.spiking:
        wanted.append((f"{out.name}_rounds", "v", out.size * n_copies) if rounds > 1 else (out.name, "v", 0))
    arrays = {}
    for obj, attribute, columns in wanted:
        var = net[obj].variables[attribute]
        arrays[(obj, attribute)] = (device.get_array_filename(var), var.dtype, columns)
    bases = tuple(f"{layer.name}.image_base" for layer in snn.layers
                  if "image_base" in net[layer.name].variables)
    environment = {str(k): str(v) for k, v in prefs["devices.cpp_standalone.run_environment_variables"].items()}
    return program.Program(directory=directory, n_copies=n_copies, rounds=rounds, input_name=input_name,
                           input_shape=input_shape, image_base_names=bases, arrays=arrays, dt=float(snn.dt),
                           run_steps=snn.run_steps, own_directory=own_directory, environment=environment,
                           gated=_recorded_layers(snn, record_spikes) if rounds > 1 else ())


def _run_through_brian2(snn, x_flat, n_copies, rounds, record_spikes, progress_bar, seed, build_directory,
                        device_name, compute_capability, cache, keep_build):
    """CUDA: Brian2's own ``device.run`` for every binary run (brian2cuda's project layout differs)."""
    own_dir = build_directory is None
    directory = tempfile.mkdtemp(prefix=f"neuroconv_{device_name}_") if own_dir else os.fspath(build_directory)
    try:
        with standalone_device(device_name, directory, compute_capability) as device:
            net, build_time = build_standalone(snn, n_copies, record_spikes, device_name, directory, cache, seed,
                                               rounds)
            per_run = n_copies * rounds
            images = net["input"].namespace["neuroconv_images"] if rounds > 1 else None
            parts = []
            for start, stop in _chunks(x_flat.shape[0], per_run):
                x = _padded_input(x_flat, start, stop, per_run)
                if rounds > 1:
                    run_args = {images: x.reshape(rounds, -1)}
                else:
                    run_args = {net["input"].ann_input: x}
                set_image_base(snn, net, start, run_args)
                device.run(with_output=False, run_args=run_args)
                for name in device.run_args_arrays:  # this run's input file: not needed again
                    path = os.path.join(directory, "static_arrays", name)
                    for leftover in (path, path + ".lock"):
                        with contextlib.suppress(OSError):
                            os.remove(leftover)
                part = read_results(snn, net, stop - start, n_copies, record_spikes, rounds)
                parts.append((start, trim(record_spikes, start, stop, part)))
                progress_bar.update(stop - start)
            return BatchResult.merge(parts), build_time
    finally:
        if own_dir and not keep_build:
            shutil.rmtree(directory, ignore_errors=True)
